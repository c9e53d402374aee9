/**
 * The Kindling SDK: source-compatible with Hatchet's TypeScript v1 SDK for what it implements.
 * `import Hatchet from 'kindling'` or `import { HatchetClient } from 'kindling/v1'`.
 */
import { HatchetClient } from './client.js';

export { HatchetClient } from './client.js';
export type { ClientConfig } from './config.js';
export { Context } from './context.js';
export type { ChildRunOpts } from './context.js';
export {
  BaseWorkflowDeclaration,
  type CreateBaseTaskOpts,
  type CreateTaskWorkflowOpts,
  type CreateWorkflowOpts,
  type CreateWorkflowTaskOpts,
  type RunOpts,
  TaskWorkflowDeclaration,
  WorkflowDeclaration,
} from './declaration.js';
export { type Duration, durationToMs, durationToString } from './duration.js';
export { HatchetError, NonRetryableError, TaskRunTerminatedError } from './errors.js';
export { WorkflowRunRef } from './run-ref.js';
export { type CreateWorkerOpts, Worker } from './worker.js';
export { HatchetClient as Hatchet };
export default HatchetClient;
