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
const labels = z
  .record(z.string().min(1).max(engineLimits.labelKeyCharsMax), z.union([z.string().max(engineLimits.labelValueCharsMax), z.number()], { error: 'a worker label value is a string or a number' }))
  .refine((l) => Object.keys(l).length <= engineLimits.labelsMax, `at most ${engineLimits.labelsMax} labels`);
const taskRef = z.object({ taskId: id, attempt });
/** Raw bytes (msgpack `bin`): a stream chunk. Its size is checked by the engine, with its own code. */
const bytes = z.custom<Uint8Array>((value) => value instanceof Uint8Array, 'stream data is msgpack bin');
/** A CEL expression over `input` and `additional_metadata` (the engine parses it at registration). */
const cel = z.string().min(1).max(engineLimits.celExpressionCharsMax);
/** A payload: JSON text as msgpack `bin` (payload.ts); held to `payloadBytesMax` by the engine. */
const payload = z.custom<Payload>((value) => value instanceof Uint8Array, 'a payload is JSON text as msgpack bin');
/** A worker id names its stream (`worker:<id>`), so it uses the stream-name alphabet. */
const workerId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_\-:=@+/]{0,150}$/, 'a worker id is 1-151 letters, digits or _ - : = @ + /, starting with a letter or digit');

/** Flow control: how many runs of a key may be in progress, and what happens to the rest. */
export const ConcurrencyStrategies = ['GROUP_ROUND_ROBIN', 'CANCEL_IN_PROGRESS', 'CANCEL_NEWEST'] as const;
export const ConcurrencySpec = z.object({
  /** CEL that makes the key, e.g. `input.userId`. */
  expression: cel,
  maxRuns: z.number().int().positive().max(engineLimits.workerSlotsMax).default(1),
  limitStrategy: z.enum(ConcurrencyStrategies, { error: (issue) => `unknown concurrency limitStrategy ${JSON.stringify(issue.input)}; use one of ${ConcurrencyStrategies.join(', ')}` }).default('CANCEL_IN_PROGRESS'),
});
export type ConcurrencySpec = z.infer<typeof ConcurrencySpec>;

export const RateLimitDurations = ['SECOND', 'MINUTE', 'HOUR', 'DAY', 'WEEK', 'MONTH', 'YEAR'] as const;
export type RateLimitDurationName = (typeof RateLimitDurations)[number];
const rateLimitDuration = z.enum(RateLimitDurations, { error: (issue) => `unknown rate limit duration ${JSON.stringify(issue.input)}; use one of ${RateLimitDurations.join(', ')}` });
const rateLimitKey = z.string().min(1).max(engineLimits.rateLimitKeyCharsMax);

/** A rate limit a task consumes: a static key made with `putRateLimit`, or a dynamic key (CEL) with its own limit. */
export const RateLimitSpec = z
  .object({
    staticKey: rateLimitKey.optional(),
    dynamicKey: cel.optional(),
    /** Units each run consumes: a whole number, or CEL that makes one. */
    units: z.union([z.number().int().nonnegative(), cel]).default(1),
    /** A dynamic key's limit: a whole number, or CEL that makes one. */
    limit: z.union([z.number().int().positive(), cel]).optional(),
    duration: rateLimitDuration.optional(),
  })
  .refine((spec) => (spec.staticKey === undefined) !== (spec.dynamicKey === undefined), 'a rate limit names exactly one of staticKey and dynamicKey')
  .refine((spec) => spec.dynamicKey === undefined || spec.limit !== undefined, 'a rate limit with a dynamicKey needs a limit');
export type RateLimitSpec = z.infer<typeof RateLimitSpec>;

export const LabelComparators = ['EQUAL', 'NOT_EQUAL', 'GREATER_THAN', 'GREATER_THAN_OR_EQUAL', 'LESS_THAN', 'LESS_THAN_OR_EQUAL'] as const;
export type LabelComparator = (typeof LabelComparators)[number];
/** A label a task wants of the worker it runs on (worker affinity). */
export const DesiredLabel = z
  .object({
    value: z.union([z.string().max(engineLimits.labelValueCharsMax), z.number()], { error: 'a desired worker label value is a string or a number' }),
    /** Default true: without a matching worker the task waits. */
    required: z.boolean().default(true),
    /** Default 100; counts only when not required. */
    weight: z.number().int().nonnegative().default(100),
    comparator: z.enum(LabelComparators, { error: (issue) => `unknown label comparator ${JSON.stringify(issue.input)}; use one of ${LabelComparators.join(', ')}` }).default('EQUAL'),
  })
  .refine((label) => typeof label.value === 'number' || label.comparator === 'EQUAL' || label.comparator === 'NOT_EQUAL', 'comparators other than EQUAL and NOT_EQUAL compare numbers: give a number value');
export type DesiredLabel = z.infer<typeof DesiredLabel>;
const desiredLabels = z.record(z.string().min(1).max(engineLimits.labelKeyCharsMax), DesiredLabel).refine((labels) => Object.keys(labels).length <= engineLimits.labelsMax, `at most ${engineLimits.labelsMax} labels`);
const concurrencyList = z.array(ConcurrencySpec).max(engineLimits.concurrencyLimitsMax);
/** A CEL expression, checked when the definition holding it is registered. */
const celExpression = z.string().max(4096);

/**
 * A condition of a DAG task (`waitFor`, `skipIf`, `cancelIf`) or of a durable wait: a sleep, a user
 * event (by key, with a CEL expression over it, optionally only in one scope) or, for DAG tasks, a
 * parent's output. Conditions sharing an `orGroupId` are OR-ed; the groups are AND-ed.
 */
export const Condition = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('sleep'), orGroupId: z.string().min(1).max(100), readableDataKey: z.string().max(200), sleepForMs: z.number().int().nonnegative() }),
  z.object({
    kind: z.literal('event'),
    orGroupId: z.string().min(1).max(100),
    readableDataKey: z.string().max(200),
    eventKey: z.string().min(1).max(engineLimits.eventKeyCharsMax),
    expression: celExpression.default(''),
    scope: z.string().max(200).optional(),
  }),
  z.object({ kind: z.literal('parent'), orGroupId: z.string().min(1).max(100), readableDataKey: z.string().max(200), parent: z.string().min(1).max(200), expression: celExpression.default('') }),
]);
export type Condition = z.infer<typeof Condition>;

/** A DAG task's condition with what it does: queue the task, skip it, or cancel it. */
export const TaskCondition = z.intersection(Condition, z.object({ action: z.enum(['queue', 'skip', 'cancel']) }));
export type TaskCondition = z.infer<typeof TaskCondition>;

export const TaskSpec = z.object({
  name: z.string().min(1).max(200),
  parents: z.array(z.string()).max(engineLimits.workflowTasksMax).default([]),
  executionTimeoutMs: z.number().int().positive().default(60_000),
  scheduleTimeoutMs: z.number().int().positive().default(300_000),
  retries: z.number().int().min(0).max(engineLimits.retriesMax).default(0),
  backoff: z.object({ factor: z.number().positive().optional(), maxSeconds: z.number().positive().optional() }).optional(),
  slotCost: z.number().int().positive().default(1),
  /** Concurrency limits of this task alone; all must hold. */
  concurrency: concurrencyList.optional(),
  rateLimits: z.array(RateLimitSpec).max(engineLimits.rateLimitsPerTaskMax).optional(),
  desiredWorkerLabels: desiredLabels.optional(),
  /** A durable task: it takes a durable slot, and its checkpoints are events in its run's stream. */
  durable: z.boolean().optional(),
  /**
   * A durable task's eviction policy: while a checkpoint waits, the task stays on its worker (its
   * slot held, its invocation alive) for up to `ttlMs`, then is evicted. Without one (or with
   * `ttlMs: 0`) it is evicted at once. `allowCapacityEviction` lets queued work that needs the
   * durable slot evict it earlier, lowest `priority` first.
   */
  eviction: z
    .strictObject({
      ttlMs: z.number().int().nonnegative().max(engineLimits.durableResidentTtlMsMax),
      allowCapacityEviction: z.boolean().default(true),
      priority: z.number().int().min(-1000).max(1000).default(0),
    })
    .optional(),
  conditions: z.array(TaskCondition).max(engineLimits.conditionsPerTaskMax).optional(),
});
export type TaskSpec = z.infer<typeof TaskSpec>;

export const WorkflowSpec = z.object({
  name: z.string().min(1).max(200),
  description: z.string().max(10_000).optional(),
  version: z.string().max(200).optional(),
  tasks: z.array(TaskSpec).min(1).max(engineLimits.workflowTasksMax),
  /** Runs after any task fails, with the errors; its name is always `on-failure-task`. */
  onFailure: TaskSpec.optional(),
  /** Concurrency limits on whole runs; all must hold. */
  concurrency: concurrencyList.optional(),
  /** Keep a run's tasks on the worker its first task ran on: `soft` prefers it, `hard` insists. */
  sticky: z.enum(['soft', 'hard']).optional(),
  /** The priority of runs triggered without one (1–3; 1 when unset). */
  defaultPriority: z.number().int().min(1).max(3).optional(),
  /**
   * The JSON Schema of the workflow's input, for tools that trigger runs (the SDK checks inputs
   * against its own validator in the worker; the engine stores the schema and returns it).
   */
  /** Event keys that trigger a run (`*` matches any characters). */
  onEvents: z.array(z.string().min(1).max(engineLimits.eventKeyCharsMax)).max(engineLimits.workflowTriggersMax).optional(),
  /** Cron expressions (UTC) that trigger a run; they replace the previous version's. */
  onCrons: z.array(z.string().min(1).max(200)).max(engineLimits.workflowTriggersMax).optional(),
  /**
   * Idempotent triggers: the key is this CEL expression over `input` and `additional_metadata`; a
   * trigger whose key another run holds is refused (IDEMPOTENCY_COLLISION) — for `ttlMs` (`ttl`),
   * or until that run finishes (`status`, with `ttlMs` as a fallback).
   */
  idempotency: z.object({ expression: celExpression.min(1), strategy: z.enum(['ttl', 'status']), ttlMs: z.number().int().positive().optional() }).optional(),
  /** Event filters created with the workflow; they replace the previous version's. */
  defaultFilters: z
    .array(z.object({ expression: celExpression, scope: z.string().min(1).max(200), payload: z.record(z.string(), z.unknown()).optional() }))
    .max(engineLimits.workflowTriggersMax)
    .optional(),
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
  /** Run on this worker (a sticky child run: the worker of its parent task). */
  desiredWorkerId: workerId.optional(),
  /** Desired worker labels for every task of this run, over those the tasks declare. */
  desiredWorkerLabels: desiredLabels.optional(),
});
export type TriggerRun = z.infer<typeof TriggerRun>;

/** An event pushed to the engine. */
export const PushedEvent = z.object({
  key: z.string().min(1).max(engineLimits.eventKeyCharsMax),
  payload,
  additionalMetadata: metadata.optional(),
  scope: z.string().max(200).optional(),
  priority: z.number().int().min(1).max(3).optional(),
});
export type PushedEvent = z.infer<typeof PushedEvent>;

/** A child run a durable checkpoint spawns. */
export const DurableChild = z.object({
  workflow: z.string().min(1).max(200),
  input: payload,
  additionalMetadata: metadata.optional(),
  priority: z.number().int().min(1).max(3).optional(),
  key: z.string().max(200).optional(),
});
export type DurableChild = z.infer<typeof DurableChild>;

/** What a durable task does at a checkpoint: read the time once, wait for conditions, or spawn children and wait for them. */
export const DurableOp = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('now') }),
  z.object({ kind: z.literal('wait'), conditions: z.array(Condition).min(1).max(engineLimits.conditionsPerTaskMax), considerEventsSinceMs: z.number().int().optional() }),
  z.object({ kind: z.literal('children'), children: z.array(DurableChild).min(1).max(engineLimits.durableChildrenPerCheckpointMax) }),
]);
export type DurableOp = z.infer<typeof DurableOp>;

export const ClientFrame = z.discriminatedUnion('t', [
  z.object({ t: z.literal('hello'), versions: z.array(z.number().int()).min(1).max(32), token: z.string().max(8192), client: z.object({ sdk: z.string().max(100), version: z.string().max(100) }) }),
  z.object({ t: z.literal('register'), req, name: z.string().min(1).max(200), actions: z.array(z.string().max(400)).max(10_000), slots: z.number().int().positive().max(engineLimits.workerSlotsMax), labels: labels.default({}), workerId: workerId.optional(), running: z.array(taskRef).max(engineLimits.workerSlotsMax).default([]), durableActions: z.array(z.string().max(400)).max(10_000).default([]), durableSlots: z.number().int().positive().max(engineLimits.workerDurableSlotsMax).default(1000) }),
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
  z.object({ t: z.literal('upsertLabels'), req, labels }),
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
  z.object({ t: z.literal('pushEvents'), req, events: z.array(PushedEvent).min(1).max(engineLimits.eventsPerPushMax) }),
  /** A chunk of a task attempt's live output; from the worker holding that attempt. With `req`, the reply says whether it was taken. */
  z.object({ t: z.literal('putStream'), req: req.optional(), taskId: id, attempt, index: z.number().int().nonnegative(), data: bytes }),
  z.object({ t: z.literal('subscribeStream'), req, runId: id }),
  z.object({ t: z.literal('unsubscribeStream'), req: req.optional(), runId: id }),
  z.object({ t: z.literal('checkpoint'), req, taskId: id, attempt, invocation: z.number().int().positive(), nodeId: z.number().int().positive().max(engineLimits.durableCheckpointsMax), op: DurableOp }),
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
  /** The run of the parent task. */
  readonly parentRunId?: string;
  readonly childIndex?: number;
  readonly childKey?: string;
  /** What started the run, when not a direct call: an event, a cron or a schedule. */
  readonly triggeredBy?: 'event' | 'cron' | 'schedule';
  readonly eventId?: string;
  readonly eventKey?: string;
  /** The payload of the event filter that matched (event-triggered runs with filters). */
  readonly filterPayload?: Payload;
  /** For tasks that waited on conditions: what satisfied them, by readable data key. */
  readonly triggers?: Payload;
  /** For durable tasks: this invocation's number and the checkpoints recorded so far. */
  readonly durable?: { readonly invocation: number; readonly checkpoints: readonly DurableCheckpointView[] };
}

/** A recorded durable checkpoint, as a replaying worker receives it. */
export interface DurableCheckpointView {
  readonly nodeId: number;
  /** The operation's identity; a replay that reaches this node with another is non-deterministic. */
  readonly signature: string;
  /** Set once the checkpoint is done: its result, JSON. */
  readonly result?: Payload;
}

/**
 * The reply to a `checkpoint` request: done, with its result; or waiting — evicted (drop the
 * invocation), or `resident` (keep it: a `checkpointResult` or an `evictTasks` frame follows).
 */
export type CheckpointReply = { readonly done: true; readonly result: Payload } | { readonly done: false; readonly resident?: true };

/** A resident durable task's checkpoint is done: its invocation goes on with `result`. */
export interface CheckpointResult {
  readonly taskId: string;
  readonly attempt: number;
  readonly invocation: number;
  readonly nodeId: number;
  readonly result: Payload;
}

/** A resident durable task is evicted: its worker drops the invocation (the engine queues it again when its wait is over). */
export interface EvictedInvocation {
  readonly taskId: string;
  readonly attempt: number;
  readonly invocation: number;
  readonly reason: 'ttl' | 'capacity';
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
  | { t: 'checkpointResult'; items: CheckpointResult[] }
  | { t: 'evictTasks'; tasks: EvictedInvocation[] }
  | { t: 'runFinished'; runs: FinishedRun[] }
  | { t: 'streamChunk'; runId: string; taskId: string; attempt: number; index: number; data: Uint8Array }
  | { t: 'streamEnd'; runId: string; status?: FinishedRun['status']; error?: { code: string; message: string } }
  | { t: 'error'; code: string; message: string };
