/**
 * The JSON and declaration types Hatchet programs name (`JsonObject`, `InputType`, `OutputType`,
 * `Resolved`, `RunOpts`, …). Inputs and outputs travel as JSON, so task inputs are JSON objects and
 * outputs are JSON objects or nothing, as in Hatchet's SDK.
 */
import type { Priority, WorkerLabelComparator } from './enums.js';

/**
 * Any object type, interfaces included: the bound of global and middleware types, which programs
 * declare both ways.
 */
// biome-ignore lint/suspicious/noExplicitAny: `unknown` values would reject interfaces, which have no index signature.
export type AnyRecord = Record<string, any>;

export type JsonPrimitive = string | number | boolean | null | undefined;
export type JsonArray = JsonValue[];
export type JsonValue = JsonPrimitive | JsonObject | JsonArray;
export type JsonObject = { [Key in string]: JsonValue } & { [Key in string]?: JsonValue | undefined };

/** What a task's input may be: a JSON object. */
export type InputType = JsonObject;
/** The input of a task that declared none: any object. */
export type UnknownInputType = {};
/** What a task may return: a JSON object, or nothing (reported as `null`). */
export type OutputType = JsonObject | void;

export interface WorkflowInputType extends InputType {}
export interface WorkflowOutputType {
  [taskName: string]: JsonObject;
}

/**
 * The type a task sees once middleware has run: a `before` hook's return value replaces the input
 * (and an `after` hook's the output), so with middleware attached the middleware's type wins;
 * without any (`{}`), the base type stands.
 */
export type Resolved<Base extends AnyRecord, Middleware extends AnyRecord> = [keyof Middleware] extends [never] ? Base : Middleware;

/** `Base & Extra`, or just `Base` while `Extra` has no keys. */
export type MergeIfNonEmpty<Base, Extra extends AnyRecord> = keyof Extra extends never ? Base : Base & Extra;

type IsValidWorkflowOutput<T> = T extends Record<string, JsonObject> ? true : false;
declare const ERROR_WORKFLOW_OUTPUT: unique symbol;

/** A workflow's output: task names to each task's (object) output. */
export type StrictWorkflowOutputType<T = Record<string, JsonObject>> =
  IsValidWorkflowOutput<T> extends true
    ? T
    : (Record<string, JsonObject> | void) & {
        [ERROR_WORKFLOW_OUTPUT]?: 'Workflow output must be shaped as Record<"task-name", JsonObject>. Each property must be an object, not a primitive value.';
      };

/** A desired label of the worker a run's tasks go to. */
export type DesiredWorkerLabel = {
  value: string | number;
  /** Default true: the task waits for a worker with the label (as the seeds' worker-affinity page says). */
  required?: boolean;
  /** Default 100. */
  weight?: number;
  /** Default EQUAL. */
  comparator?: WorkerLabelComparator;
};

/** Options of one run. */
export type RunOpts = {
  additionalMetadata?: Record<string, string>;
  /** 1–3 (`Priority.LOW` … `Priority.HIGH`). */
  priority?: Priority;
  /** Inside a task: run the child on this worker. */
  sticky?: boolean;
  /** Inside a task: the child's de-duplication key. */
  childKey?: string;
  /** For bulk runs: resolve failed runs to `Error`s instead of rejecting. */
  returnExceptions?: boolean;
  desiredWorkerLabels?: Record<string, DesiredWorkerLabel>;
};

export type RunManyOpt<I extends InputType = UnknownInputType> = { input: I; opts?: RunOpts };

/**
 * Something that can be run: a workflow or task declaration, as `ctx.runChild` and friends take it.
 * `__types` exists only in the type system: it carries the run's input and output types.
 */
export interface WorkflowRef<I = unknown, O = unknown> {
  readonly name: string;
  readonly __types?: { readonly input: I; readonly output: O };
}
