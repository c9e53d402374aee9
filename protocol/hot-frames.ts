/**
 * A cheaper check of the three frames a busy engine receives most (`results`, `started`,
 * `trigger`), beside the zod schemas of `frames.ts`, which stay the schema of record.
 *
 * `hotClientFrame` only ever accepts: it returns the frame zod would return (a copy in schema
 * order, unknown keys dropped) when it is sure the frame is valid, and `undefined` otherwise —
 * for anything invalid, anything it does not handle, or anything it is unsure of (a field
 * present but undefined, an object that is not a plain one, a run with `desiredWorkerLabels`).
 * The caller then asks zod, which gives the error (or, rarely, accepts what this is unsure of).
 * So acceptance and error codes are zod's by construction; this only skips zod's copying work
 * on the common valid frame.
 */
import { engineLimits } from '../src/lib/limits.js';
import type { ClientFrame, TriggerRun } from './frames.js';

type Plain = Record<string, unknown>;

const isPlain = (value: unknown): value is Plain => value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype;
/** `z.string().min(1).max(200)`: a task or run id. */
const isId = (value: unknown): value is string => typeof value === 'string' && value.length >= 1 && value.length <= 200;
/** `z.number().int().nonnegative()`, for the values it is sure of. */
const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;
const isPriority = (value: unknown): value is number => value === 1 || value === 2 || value === 3;
const WORKER_ID = /^[A-Za-z0-9][A-Za-z0-9_\-:=@+/]{0,150}$/;

/** The number of enumerable keys of `object` if every one is in `known`; -1 otherwise. */
function knownKeys(object: Plain, known: ReadonlySet<string>): number {
  let count = 0;
  for (const key in object) {
    if (!known.has(key)) return -1;
    count++;
  }
  return count;
}

const RESULTS_KEYS = new Set(['t', 'items']);
const STARTED_KEYS = new Set(['t', 'tasks']);
const TRIGGER_KEYS = new Set(['t', 'req', 'runs', 'each']);
const RESULT_KEYS = new Set(['taskId', 'attempt', 'ok', 'output', 'error', 'nonRetryable']);
const ERROR_KEYS = new Set(['message', 'stack']);
const TASK_REF_KEYS = new Set(['taskId', 'attempt']);
const RUN_KEYS = new Set(['workflow', 'input', 'additionalMetadata', 'priority', 'parentTaskId', 'childIndex', 'childKey', 'desiredWorkerId']);

/** A `results`, `started` or `trigger` frame as zod would give it back, or `undefined` (ask zod). */
export function hotClientFrame(frame: unknown): ClientFrame | undefined {
  if (!isPlain(frame)) return undefined;
  switch (frame.t) {
    case 'results':
      return results(frame);
    case 'started':
      return started(frame);
    case 'trigger':
      return trigger(frame);
    default:
      return undefined;
  }
}

function results(frame: Plain): ClientFrame | undefined {
  const items = frame.items;
  if (knownKeys(frame, RESULTS_KEYS) !== 2 || !Array.isArray(items) || items.length > engineLimits.frameItemsMax) return undefined;
  const out: Array<Extract<ClientFrame, { t: 'results' }>['items'][number]> = new Array(items.length);
  for (let i = 0; i < items.length; i++) {
    const item: unknown = items[i];
    if (!isPlain(item)) return undefined;
    const { taskId, attempt, ok, output, error, nonRetryable } = item;
    if (!isId(taskId) || !isCount(attempt) || typeof ok !== 'boolean') return undefined;
    let expected = 3;
    const result: (typeof out)[number] = { taskId, attempt, ok };
    if (output !== undefined) {
      if (!(output instanceof Uint8Array)) return undefined;
      result.output = output;
      expected++;
    }
    if (error !== undefined) {
      if (!isPlain(error)) return undefined;
      const { message, stack } = error;
      if (typeof message !== 'string' || knownKeys(error, ERROR_KEYS) !== (stack === undefined ? 1 : 2)) return undefined;
      if (stack === undefined) result.error = { message };
      else if (typeof stack === 'string') result.error = { message, stack };
      else return undefined;
      expected++;
    }
    if (nonRetryable !== undefined) {
      if (typeof nonRetryable !== 'boolean') return undefined;
      result.nonRetryable = nonRetryable;
      expected++;
    }
    if (knownKeys(item, RESULT_KEYS) !== expected) return undefined;
    out[i] = result;
  }
  return { t: 'results', items: out };
}

function started(frame: Plain): ClientFrame | undefined {
  const tasks = frame.tasks;
  if (knownKeys(frame, STARTED_KEYS) !== 2 || !Array.isArray(tasks) || tasks.length > engineLimits.frameItemsMax) return undefined;
  const out: Array<{ taskId: string; attempt: number }> = new Array(tasks.length);
  for (let i = 0; i < tasks.length; i++) {
    const task: unknown = tasks[i];
    if (!isPlain(task)) return undefined;
    const { taskId, attempt } = task;
    if (!isId(taskId) || !isCount(attempt) || knownKeys(task, TASK_REF_KEYS) !== 2) return undefined;
    out[i] = { taskId, attempt };
  }
  return { t: 'started', tasks: out };
}

function trigger(frame: Plain): ClientFrame | undefined {
  const { req, runs, each } = frame;
  if (!isCount(req) || !Array.isArray(runs) || runs.length < 1 || runs.length > engineLimits.triggerRunsMax) return undefined;
  if (each !== undefined && typeof each !== 'boolean') return undefined;
  if (knownKeys(frame, TRIGGER_KEYS) !== (each === undefined ? 3 : 4)) return undefined;
  const out: TriggerRun[] = new Array(runs.length);
  for (let i = 0; i < runs.length; i++) {
    const run = triggerRun(runs[i]);
    if (run === undefined) return undefined;
    out[i] = run;
  }
  return each === undefined ? { t: 'trigger', req, runs: out } : { t: 'trigger', req, runs: out, each };
}

function triggerRun(run: unknown): TriggerRun | undefined {
  if (!isPlain(run)) return undefined;
  const { workflow, input, additionalMetadata, priority, parentTaskId, childIndex, childKey, desiredWorkerId } = run;
  if (typeof workflow !== 'string' || workflow.length < 1 || workflow.length > 200 || !(input instanceof Uint8Array)) return undefined;
  let expected = 2;
  const out: TriggerRun = { workflow, input };
  if (additionalMetadata !== undefined) {
    const metadata = stringRecord(additionalMetadata);
    if (metadata === undefined) return undefined;
    out.additionalMetadata = metadata;
    expected++;
  }
  if (priority !== undefined) {
    if (!isPriority(priority)) return undefined;
    out.priority = priority;
    expected++;
  }
  if (parentTaskId !== undefined) {
    if (!isId(parentTaskId)) return undefined;
    out.parentTaskId = parentTaskId;
    expected++;
  }
  if (childIndex !== undefined) {
    if (!isCount(childIndex)) return undefined;
    out.childIndex = childIndex;
    expected++;
  }
  if (childKey !== undefined) {
    if (typeof childKey !== 'string' || childKey.length > 200) return undefined;
    out.childKey = childKey;
    expected++;
  }
  if (desiredWorkerId !== undefined) {
    if (typeof desiredWorkerId !== 'string' || !WORKER_ID.test(desiredWorkerId)) return undefined;
    out.desiredWorkerId = desiredWorkerId;
    expected++;
  }
  // desiredWorkerLabels (defaults, refinements) and any unknown key: zod's to handle.
  return knownKeys(run, RUN_KEYS) === expected ? out : undefined;
}

/** `z.record(z.string(), z.string())` over a plain object, copied. */
function stringRecord(value: unknown): Record<string, string> | undefined {
  if (!isPlain(value)) return undefined;
  const out: Record<string, string> = {};
  for (const key in value) {
    const entry = value[key];
    if (typeof entry !== 'string' || key === '__proto__') return undefined;
    out[key] = entry;
  }
  return out;
}
