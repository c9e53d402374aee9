/** `kindling/v1/types`: the JSON and declaration types, where Hatchet programs import them from. */
export type {
  InputType,
  JsonArray,
  JsonObject,
  JsonPrimitive,
  JsonValue,
  OutputType,
  Resolved,
  StrictWorkflowOutputType,
  UnknownInputType,
  WorkflowInputType,
  WorkflowOutputType,
} from './types.js';
export type { TaskMiddleware as HatchetMiddleware } from './middleware.js';
