/**
 * The worker protocol: every frame either side may send, as zod schemas (the single registry of
 * frame types) and the TypeScript types derived from them. `protocol/PROTOCOL.md` is the prose
 * version of this file. No I/O here.
 *
 * Frames are msgpack maps tagged by `t`. A frame that carries `req` asks for a `reply` with the
 * same `req`.
 */
import { z } from 'zod';
import { engineLimits } from '../src/lib/limits.js';
import type { Payload } from './payload.js';

/** The protocol versions this build speaks, newest last. */
export const PROTOCOL_VERSIONS = [1] as const;
export const PROTOCOL_VERSION = 1;

const id = z.string().min(1).max(200);
const req = z.number().int().nonnegative();
const attempt = z.number().int().nonnegative();
const metadata = z.record(z.string(), z.string());
const labels = z.record(z.string(), z.union([z.string(), z.number()]));
const taskRef = z.object({ taskId: id, attempt });
/** A payload: JSON text as msgpack `bin` (payload.ts); held to `payloadBytesMax` by the engine. */
const payload = z.custom<Payload>((value) => value instanceof Uint8Array, 'a payload is JSON text as msgpack bin');
/** A worker id names its stream (`worker:<id>`), so it uses the stream-name alphabet. */
const workerId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_\-:=@+/]{0,150}$/, 'a worker id is 1-151 letters, digits or _ - : = @ + /, starting with a letter or digit');

export const TaskSpec = z.object({
  name: z.string().min(1).max(200),
  parents: z.array(z.string()).max(engineLimits.workflowTasksMax).default([]),
  executionTimeoutMs: z.number().int().positive().default(60_000),
  scheduleTimeoutMs: z.number().int().positive().default(300_000),
  retries: z.number().int().min(0).max(engineLimits.retriesMax).default(0),
  backoff: z.object({ factor: z.number().positive().optional(), maxSeconds: z.number().positive().optional() }).optional(),
  slotCost: z.number().int().positive().default(1),
});
export type TaskSpec = z.infer<typeof TaskSpec>;

export const WorkflowSpec = z.object({
  name: z.string().min(1).max(200),
  description: z.string().max(10_000).optional(),
  version: z.string().max(200).optional(),
  tasks: z.array(TaskSpec).min(1).max(engineLimits.workflowTasksMax),
  /** Runs after any task fails, with the errors; its name is always `on-failure-task`. */
  onFailure: TaskSpec.optional(),
  /**
   * The JSON Schema of the workflow's input, for tools that trigger runs (the SDK checks inputs
   * against its own validator in the worker; the engine stores the schema and returns it).
   */
  inputJsonSchema: z
    .record(z.string(), z.unknown())
    .refine((schema) => new TextEncoder().encode(JSON.stringify(schema)).length <= engineLimits.inputJsonSchemaBytesMax, `the input JSON Schema is at most ${engineLimits.inputJsonSchemaBytesMax} bytes of JSON`)
    .optional(),
});
export type WorkflowSpec = z.infer<typeof WorkflowSpec>;

export const TriggerRun = z.object({
  workflow: z.string().min(1).max(200),
  input: payload,
  additionalMetadata: metadata.optional(),
  priority: z.number().int().min(1).max(3).optional(),
  /** The task run that triggers this one as a child, and its de-duplication key. */
  parentTaskId: id.optional(),
  childIndex: z.number().int().nonnegative().optional(),
  childKey: z.string().max(200).optional(),
});
export type TriggerRun = z.infer<typeof TriggerRun>;

export const ClientFrame = z.discriminatedUnion('t', [
  z.object({ t: z.literal('hello'), versions: z.array(z.number().int()).min(1).max(32), token: z.string().max(8192), client: z.object({ sdk: z.string().max(100), version: z.string().max(100) }) }),
  z.object({ t: z.literal('register'), req, name: z.string().min(1).max(200), actions: z.array(z.string().max(400)).max(10_000), slots: z.number().int().positive().max(engineLimits.workerSlotsMax), labels: labels.default({}), workerId: workerId.optional(), running: z.array(taskRef).max(engineLimits.workerSlotsMax).default([]) }),
  z.object({ t: z.literal('heartbeat') }),
  z.object({ t: z.literal('started'), tasks: z.array(taskRef).max(engineLimits.frameItemsMax) }),
  z.object({
    t: z.literal('results'),
    items: z
      .array(
        z.object({
          taskId: id,
          attempt,
          ok: z.boolean(),
          output: payload.optional(),
          error: z.object({ message: z.string(), stack: z.string().optional() }).optional(),
          nonRetryable: z.boolean().optional(),
        }),
      )
      .max(engineLimits.frameItemsMax),
  }),
  z.object({ t: z.literal('refresh'), taskId: id, attempt, incrementMs: z.number().int().positive() }),
  z.object({ t: z.literal('release'), taskId: id, attempt }),
  z.object({ t: z.literal('putWorkflow'), req, workflow: WorkflowSpec }),
  /** `each: true` creates every run it can and answers each run on its own (`{results}`); otherwise all or nothing (`{runIds}`). */
  z.object({ t: z.literal('trigger'), req, runs: z.array(TriggerRun).min(1).max(engineLimits.triggerRunsMax), each: z.boolean().optional() }),
  z.object({ t: z.literal('subscribe'), req: req.optional(), runIds: z.array(id).max(engineLimits.frameItemsMax) }),
  z.object({ t: z.literal('cancel'), req, runIds: z.array(id).max(engineLimits.frameItemsMax).default([]), taskIds: z.array(id).max(engineLimits.frameItemsMax).default([]) }),
  z.object({ t: z.literal('getRun'), req, runId: id }),
  z.object({ t: z.literal('getWorkflow'), req, name: z.string().min(1).max(200) }),
  z.object({ t: z.literal('log'), taskId: id, attempt, level: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR']), message: z.string().max(engineLimits.logMessageCharsMax) }),
  z.object({ t: z.literal('listLogs'), req, taskId: id, limit: z.number().int().positive().max(engineLimits.logLinesPerRequestMax).default(engineLimits.logLinesPerRequestMax) }),
  z.object({ t: z.literal('replay'), req, runIds: z.array(id).min(1).max(engineLimits.frameItemsMax) }),
]);
export type ClientFrame = z.infer<typeof ClientFrame>;
export type ClientFrameType = ClientFrame['t'];

export interface AssignedTask {
  readonly taskId: string;
  readonly attempt: number;
  readonly runId: string;
  readonly workflow: string;
  readonly task: string;
  readonly action: string;
  readonly input: Payload;
  readonly parents: Record<string, Payload>;
  readonly additionalMetadata: Record<string, string>;
  /** Errors of the run's failed tasks, by task name; set for on-failure tasks. */
  readonly errors?: Record<string, string>;
  readonly priority: number;
  readonly parentTaskId?: string;
  readonly childIndex?: number;
  readonly childKey?: string;
}

export type RunStatus = 'QUEUED' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED';

/** One line a task logged (`ctx.log`), as `listLogs` returns it. */
export interface LogLine {
  readonly taskId: string;
  readonly attempt: number;
  readonly level: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  readonly message: string;
  readonly timestampMs: number;
}

/** The body of a `getRun` reply. */
export interface RunDetails {
  readonly runId: string;
  readonly status: string;
  readonly workflow: string;
  readonly input: Payload;
  readonly additionalMetadata: Record<string, string>;
  readonly createdAtMs: number;
  /** Each task's status is one of QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED. */
  readonly tasks: Array<{ name: string; taskId: string; status: string; attempt: number; output?: Payload; error?: string; workerId?: string }>;
  /** The run's task events in order: QUEUED, ASSIGNED, STARTED, FINISHED, FAILED, RETRYING, … */
  readonly taskEvents: Array<{ taskId: string; taskName: string; eventType: string; attempt: number; timestampMs: number; message?: string }>;
  readonly finished?: FinishedRun;
}

/** The body of a `getWorkflow` reply: the workflow's current definition. */
export interface RegisteredWorkflow {
  readonly name: string;
  readonly version: number;
  readonly spec: WorkflowSpec;
}

export interface FinishedRun {
  readonly runId: string;
  readonly status: 'COMPLETED' | 'FAILED' | 'CANCELLED';
  /** The output of every task, by name (COMPLETED). */
  readonly output?: Record<string, Payload>;
  /** Error messages of the failed or cancelled tasks. */
  readonly errors?: string[];
}

export type ServerFrame =
  | { t: 'welcome'; version: number; tenantId: string; sessionId: string; heartbeatMs: number; limits: { frameBytesMax: number; payloadBytesMax: number } }
  | { t: 'reply'; req: number; ok: true; body: unknown }
  | { t: 'reply'; req: number; ok: false; error: { code: string; message: string } }
  | { t: 'assign'; tasks: AssignedTask[] }
  | { t: 'cancelTasks'; tasks: Array<{ taskId: string; attempt: number }> }
  | { t: 'runFinished'; runs: FinishedRun[] }
  | { t: 'error'; code: string; message: string };
