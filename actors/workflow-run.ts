/**
 * The workflow run actor: one run of a workflow (a DAG of tasks; a standalone task is a one-task
 * workflow), as a pure decider. Stream: `run:<runId>`.
 *
 * Owns: each task's lifecycle within the run — queued, assigned, running, retrying, and how it
 * ended — and the run's own status and output. Does not own: which worker runs a task (the tenant
 * queue decides and sends `AssignTask`), time (`ctx.nowMs`), or ids (in the commands).
 *
 * Invariants:
 *  1. A task's `attempt` only grows. Every command about a task names its attempt; one for an
 *     attempt that is not the current one is stale and decides nothing (a late result from a worker
 *     whose task was reassigned is fenced, DESIGN invariant 3).
 *  2. A task is queued only once every parent has completed.
 *  3. The run finishes exactly once, when no task can make progress; `RunFinished` is its last
 *     event.
 *  4. Deadlines (retry at, execution timeout, schedule timeout, sleeps) are in the events, so
 *     timers are rebuilt from the log after a restart.
 *  5. A task with conditions is queued, skipped or cancelled only once its parents completed; what
 *     decides it is recorded (events matched) or recomputed from recorded times (sleeps).
 *  6. A durable task's checkpoints are events of its run, numbered 1, 2, 3… (node ids); only the
 *     last one may be pending, and a task whose last checkpoint is pending is evicted (it holds no
 *     slot) or, under an eviction policy, resident (`TaskResident`: it keeps its slot and its
 *     invocation until `evictAtMs`, when it is evicted; a wait that ends before resumes it in
 *     place). A checkpoint is replayed only by the same operation (its signature); anything else is
 *     a non-determinism error.
 */
import { assert, assertNever, KindlingError } from '../src/lib/errors.js';
import type { Condition, DesiredLabel, FinishedRun, RunStatus, TaskSpec, WorkflowSpec } from '../protocol/frames.js';
import { NULL_PAYLOAD, type Payload } from '../protocol/payload.js';
import { type ConditionMatch, conditionsResult, EventView, eventMatches, groupsHold, type Judge, nextSleepDeadline, type OccurredEvent } from './conditions.js';

export type { OccurredEvent } from './conditions.js';

export const ON_FAILURE_TASK = 'on-failure-task';

export type TaskStatus = 'pending' | 'waiting' | 'queued' | 'assigned' | 'running' | 'evicted' | 'retrying' | 'completed' | 'failed' | 'cancelled';

/** The output of a task a `skipIf` condition skipped. */
export const SKIPPED_OUTPUT: Payload = Buffer.from('{"skipped":true}', 'utf8');

/** One checkpoint of a durable task. */
export interface DurableCheckpoint {
  readonly nodeId: number;
  readonly signature: string;
  /** Set once the checkpoint is done. */
  readonly result?: Payload | undefined;
  readonly wait?: { readonly conditions: readonly Condition[]; readonly sinceMs: number; readonly matches: Readonly<Record<number, ConditionMatch>> } | undefined;
  readonly children?: { readonly runIds: readonly string[]; readonly results: Readonly<Record<string, Payload>> } | undefined;
}

/** A durable task's progress: how many times it was started, and its checkpoints in order. */
export interface DurableLog {
  readonly invocation: number;
  readonly checkpoints: readonly DurableCheckpoint[];
}

/** What started a run, when it was not a direct call. */
export type RunTrigger =
  | { readonly kind: 'event'; readonly eventId: string; readonly eventKey: string; readonly filterId?: string; readonly filterPayload?: Payload }
  | { readonly kind: 'cron'; readonly cronId: string }
  | { readonly kind: 'schedule'; readonly scheduleId: string };

/** A durable checkpoint as the engine resolved it: children are already triggered. */
export type CheckpointOp =
  | { readonly kind: 'now' }
  | { readonly kind: 'wait'; readonly conditions: readonly Condition[] }
  | { readonly kind: 'children'; readonly runIds: readonly string[]; readonly finished: Readonly<Record<string, Payload>> };

export class NonDeterminismError extends KindlingError {
  override readonly name = 'NonDeterminismError';
  constructor(
    readonly taskId: string,
    readonly nodeId: number,
    message: string,
  ) {
    super('NON_DETERMINISM', message, false);
  }
}

export interface TaskState {
  readonly name: string;
  readonly taskId: string;
  readonly spec: TaskSpec;
  readonly status: TaskStatus;
  readonly attempt: number;
  readonly workerId?: string | undefined;
  /** When a queued task fails for waiting too long. */
  readonly scheduleDeadlineMs?: number | undefined;
  /** When an assigned or running task times out. */
  readonly timeoutAtMs?: number | undefined;
  /** When a retrying task is queued again. */
  readonly retryAtMs?: number | undefined;
  /** A completed task's output (JSON bytes, never parsed here). */
  readonly output?: Payload | undefined;
  readonly error?: string | undefined;
  /** Why a queued attempt is waiting, as its last `TaskWaiting` said (a Hatchet event type). */
  readonly waitingFor?: string | undefined;
  /** The attempt gave its worker slot back (`ctx.releaseSlot()`): a lost worker does not take it along. */
  readonly slotReleased?: boolean | undefined;
  /** When a task with conditions began waiting (its parents had completed); sleeps count from here. */
  readonly waitingSinceMs?: number | undefined;
  /** Event conditions already matched, by index into `spec.conditions`. */
  readonly matches?: Readonly<Record<number, ConditionMatch>> | undefined;
  readonly durable?: DurableLog | undefined;
  /**
   * A durable task waiting on its worker (its eviction policy): since when, which invocation, and
   * when it is evicted. Its execution timeout does not run meanwhile.
   */
  readonly resident?: Resident | undefined;
}

export interface Resident {
  readonly invocation: number;
  readonly sinceMs: number;
  readonly evictAtMs: number;
}

/**
 * A run's flow-control inputs, rendered from its input and metadata when it was triggered (CEL is
 * evaluated once, by the engine): concurrency keys aligned with the specs' `concurrency` arrays,
 * each task's rate-limit keys and units, and where the run wants to run.
 */
export interface RunPolicy {
  readonly concurrencyKeys?: readonly string[];
  readonly tasks?: Readonly<Record<string, { readonly concurrencyKeys?: readonly string[]; readonly rateLimits?: ReadonlyArray<{ readonly key: string; readonly units: number }> }>>;
  /** A sticky child run: the worker of the task that spawned it. */
  readonly desiredWorkerId?: string;
  readonly desiredWorkerLabels?: Readonly<Record<string, DesiredLabel>>;
}

export type RunState =
  | { readonly kind: 'none' }
  | {
      readonly kind: 'active' | 'finished';
      readonly runId: string;
      readonly tenantId: string;
      readonly workflow: WorkflowSpec;
      readonly input: Payload;
      readonly additionalMetadata: Record<string, string>;
      readonly priority: number;
      readonly createdAtMs: number;
      readonly tasks: Readonly<Record<string, TaskState>>;
      readonly parentTaskId?: string;
      readonly childIndex?: number;
      readonly childKey?: string;
      readonly trigger?: RunTrigger;
      readonly finished?: FinishedRun | undefined;
      readonly policy?: RunPolicy;
      /** A sticky run's worker: the one its first task was assigned to (or its parent's, for a sticky child). */
      readonly stickyWorkerId?: string | undefined;
    };

export type ActiveRun = Extract<RunState, { kind: 'active' | 'finished' }>;

// ---------------------------------------------------------------------------------------------
// Commands

/** What a run is created with: in the `CreateRun` command and, as decided, in `RunCreated`. */
export interface RunCreation {
  readonly runId: string;
  /** The tenant the run belongs to; nothing of it is visible to another tenant. */
  readonly tenantId: string;
  /** The task run id of each task, by name (on-failure included when the workflow has one). */
  readonly taskIds: Record<string, string>;
  readonly workflow: WorkflowSpec;
  readonly input: Payload;
  readonly additionalMetadata: Record<string, string>;
  readonly priority: number;
  readonly parentTaskId?: string;
  readonly childIndex?: number;
  readonly childKey?: string;
  readonly policy?: RunPolicy;
  readonly trigger?: RunTrigger;
}

/** A rate limit an assignment consumed. */
export interface RateLimitUse {
  readonly key: string;
  readonly units: number;
}

export type RunCommand =
  | ({ readonly type: 'CreateRun' } & RunCreation)
  | {
      readonly type: 'AssignTask';
      readonly task: string;
      readonly attempt: number;
      readonly workerId: string;
      readonly rateLimits?: readonly RateLimitUse[];
      readonly note?: string;
      /** The worker already runs this attempt (it said so reconnecting): nothing is sent to it. */
      readonly adopted?: boolean;
    }
  /** The tenant queue says why a queued attempt waits (recorded once per reason). */
  | { readonly type: 'NoteWaiting'; readonly task: string; readonly attempt: number; readonly eventType: string; readonly message: string }
  /** The attempt's units exceed its rate limit's whole limit: it can never run. */
  | { readonly type: 'RejectQueuedTask'; readonly task: string; readonly attempt: number; readonly error: string }
  | { readonly type: 'ReleaseSlot'; readonly task: string; readonly attempt: number }
  | { readonly type: 'StartTask'; readonly task: string; readonly attempt: number }
  | { readonly type: 'CompleteTask'; readonly task: string; readonly attempt: number; readonly output: Payload }
  | { readonly type: 'FailTask'; readonly task: string; readonly attempt: number; readonly error: string; readonly nonRetryable: boolean }
  | { readonly type: 'RefreshTimeout'; readonly task: string; readonly attempt: number; readonly incrementMs: number }
  | { readonly type: 'WorkerLost'; readonly workerId: string }
  /** The worker holding this attempt does not know of it (it never got the assignment): queue it again. */
  | { readonly type: 'RequeueTask'; readonly task: string; readonly attempt: number }
  | { readonly type: 'CancelRun'; readonly reason: string }
  | { readonly type: 'CancelTask'; readonly task: string; readonly reason: string }
  /** Runs a finished run again from the tasks that did not complete (Hatchet's replay). */
  | { readonly type: 'ReplayRun' }
  /** Fires whatever deadlines have passed at `ctx.nowMs`. */
  | { readonly type: 'Tick' }
  /** An event was pushed that this run's conditions or durable waits may be waiting for. */
  | { readonly type: 'EventOccurred'; readonly event: OccurredEvent }
  /** A durable task reached checkpoint `nodeId` (recorded if new, replayed if known). */
  | { readonly type: 'Checkpoint'; readonly task: string; readonly attempt: number; readonly invocation: number; readonly nodeId: number; readonly signature: string; readonly op: CheckpointOp }
  /** A child run a durable checkpoint spawned has finished; `result` is its outcome as JSON. */
  | { readonly type: 'ChildFinished'; readonly runId: string; readonly result: Payload }
  /** Runs a durable task again from checkpoint `nodeId`: earlier checkpoints are kept and replayed. */
  | { readonly type: 'BranchDurable'; readonly task: string; readonly nodeId: number }
  /** Queued work needs the durable slot this resident task holds: evict it (if it still waits, and its policy allows it). */
  | { readonly type: 'EvictResident'; readonly task: string; readonly attempt: number; readonly invocation: number };

// ---------------------------------------------------------------------------------------------
// Events (past-tense facts, stored in the run's stream)

export type RunEvent =
  | ({ readonly type: 'RunCreated'; readonly atMs: number } & RunCreation)
  | { readonly type: 'TaskQueued'; readonly task: string; readonly attempt: number; readonly atMs: number; readonly scheduleDeadlineMs: number }
  | {
      readonly type: 'TaskAssigned';
      readonly task: string;
      readonly attempt: number;
      readonly workerId: string;
      readonly atMs: number;
      readonly timeoutAtMs: number;
      /** Rate limits the assignment consumed (recovery counts them against their windows). */
      readonly rateLimits?: readonly RateLimitUse[];
      /** Why this worker, when a policy chose it (sticky, labels). */
      readonly note?: string;
      /** The worker was already running the attempt when it was assigned (after a restart). */
      readonly adopted?: boolean;
    }
  | { readonly type: 'TaskWaiting'; readonly task: string; readonly attempt: number; readonly eventType: string; readonly message: string; readonly atMs: number }
  | { readonly type: 'TaskRateLimitError'; readonly task: string; readonly attempt: number; readonly error: string; readonly atMs: number }
  | { readonly type: 'TaskSlotReleased'; readonly task: string; readonly attempt: number; readonly atMs: number }
  | { readonly type: 'TaskStarted'; readonly task: string; readonly attempt: number; readonly atMs: number }
  | { readonly type: 'TaskCompleted'; readonly task: string; readonly attempt: number; readonly output: Payload; readonly atMs: number }
  | { readonly type: 'TaskFailed'; readonly task: string; readonly attempt: number; readonly error: string; readonly atMs: number }
  | { readonly type: 'TaskRetrying'; readonly task: string; readonly attempt: number; readonly retryAtMs: number; readonly atMs: number }
  | { readonly type: 'TaskTimedOut'; readonly task: string; readonly attempt: number; readonly workerId: string; readonly atMs: number }
  | { readonly type: 'TaskSchedulingTimedOut'; readonly task: string; readonly attempt: number; readonly atMs: number }
  | { readonly type: 'TaskReassigned'; readonly task: string; readonly attempt: number; readonly workerId: string; readonly atMs: number }
  | { readonly type: 'TimeoutRefreshed'; readonly task: string; readonly attempt: number; readonly timeoutAtMs: number; readonly atMs: number }
  | { readonly type: 'TaskCancelled'; readonly task: string; readonly attempt: number; readonly reason: string; readonly workerId?: string; readonly atMs: number }
  | { readonly type: 'RunFinished'; readonly status: FinishedRun['status']; readonly atMs: number }
  /** A finished run is active again; `tasks` go back to waiting for their parents, each at `attempt`. */
  | { readonly type: 'RunReplayed'; readonly tasks: ReadonlyArray<{ readonly task: string; readonly attempt: number }>; readonly atMs: number }
  /** A task with conditions has its parents done and waits for its conditions. */
  | { readonly type: 'TaskAwaitingConditions'; readonly task: string; readonly attempt: number; readonly atMs: number }
  /** An event matched a task's event condition (`index` into its conditions). */
  | { readonly type: 'ConditionMatched'; readonly task: string; readonly index: number; readonly eventId: string; readonly payload: Payload; readonly atMs: number }
  /** A `skipIf` held: the task completes with `{ skipped: true }`. */
  | { readonly type: 'TaskSkipped'; readonly task: string; readonly attempt: number; readonly atMs: number }
  /** A durable task recorded checkpoint `nodeId`: done at once (`result`), or pending. */
  | {
      readonly type: 'DurableCheckpointed';
      readonly task: string;
      readonly nodeId: number;
      readonly signature: string;
      readonly conditions?: readonly Condition[];
      readonly children?: readonly string[];
      readonly childResults?: Readonly<Record<string, Payload>>;
      readonly result?: Payload;
      readonly atMs: number;
    }
  | { readonly type: 'DurableMatched'; readonly task: string; readonly nodeId: number; readonly index: number; readonly eventId: string; readonly payload: Payload; readonly atMs: number }
  | { readonly type: 'DurableChildFinished'; readonly task: string; readonly nodeId: number; readonly runId: string; readonly result: Payload; readonly atMs: number }
  | { readonly type: 'DurableCompleted'; readonly task: string; readonly nodeId: number; readonly result: Payload; readonly atMs: number }
  /**
   * A durable task waits on its last checkpoint: invocation `invocation` leaves its worker and frees
   * its slot. `reason` is set when it was resident: its ttl passed, queued work needed the slot, or
   * its worker was lost or let it go.
   */
  | {
      readonly type: 'TaskEvicted';
      readonly task: string;
      readonly attempt: number;
      readonly invocation: number;
      readonly workerId: string;
      readonly reason?: EvictionReason;
      readonly atMs: number;
    }
  /** A durable task waits on its last checkpoint on its worker, keeping its slot, until `evictAtMs` at the latest. */
  | { readonly type: 'TaskResident'; readonly task: string; readonly attempt: number; readonly invocation: number; readonly nodeId: number; readonly evictAtMs: number; readonly atMs: number }
  /** A durable task keeps only its first `keep` checkpoints and runs again from there. */
  | { readonly type: 'DurableBranched'; readonly task: string; readonly keep: number; readonly atMs: number };

export type RunEventType = RunEvent['type'];

export type EvictionReason = 'ttl' | 'capacity' | 'worker lost';

export interface DecideContext {
  readonly nowMs: number;
}

// ---------------------------------------------------------------------------------------------
// Helpers

const TERMINAL: ReadonlySet<TaskStatus> = new Set(['completed', 'failed', 'cancelled']);
const ACTIVE: ReadonlySet<TaskStatus> = new Set(['waiting', 'queued', 'assigned', 'running', 'evicted', 'retrying']);

export const isTerminal = (task: TaskState) => TERMINAL.has(task.status);

/** Delay before retry `attempt` (1-based): factor^attempt seconds, capped at maxSeconds. */
export function backoffMs(spec: TaskSpec, attempt: number): number {
  if (spec.backoff === undefined) return 0;
  const factor = spec.backoff.factor ?? 2;
  const seconds = factor ** attempt;
  return Math.round(Math.min(seconds, spec.backoff.maxSeconds ?? Number.POSITIVE_INFINITY) * 1000);
}

function allTaskSpecs(workflow: WorkflowSpec): TaskSpec[] {
  return workflow.onFailure === undefined ? workflow.tasks : [...workflow.tasks, { ...workflow.onFailure, name: ON_FAILURE_TASK, parents: [] }];
}

/** The run's status as Hatchet reports it, aggregated from its tasks. */
export function runStatus(state: ActiveRun): RunStatus {
  if (state.finished !== undefined) return state.finished.status;
  const tasks = Object.values(state.tasks);
  if (tasks.some((t) => t.status === 'assigned' || t.status === 'running' || t.status === 'evicted')) return 'RUNNING';
  if (tasks.some((t) => t.status === 'completed' || t.status === 'failed')) return 'RUNNING';
  return 'QUEUED';
}

function queue(task: TaskState, attempt: number, nowMs: number): RunEvent {
  return { type: 'TaskQueued', task: task.name, attempt, atMs: nowMs, scheduleDeadlineMs: nowMs + task.spec.scheduleTimeoutMs };
}

/** The fate of a failed attempt: a retry (now or after backoff), or the task's final failure. */
function failOrRetry(task: TaskState, error: string, nonRetryable: boolean, nowMs: number): RunEvent[] {
  const events: RunEvent[] = [{ type: 'TaskFailed', task: task.name, attempt: task.attempt, error, atMs: nowMs }];
  if (!nonRetryable && task.attempt < task.spec.retries) {
    const next = task.attempt + 1;
    const retryAtMs = nowMs + backoffMs(task.spec, next);
    events.push({ type: 'TaskRetrying', task: task.name, attempt: next, retryAtMs, atMs: nowMs });
    if (retryAtMs <= nowMs) events.push(queue(task, next, nowMs));
  }
  return events;
}

/** Events that follow from a state: newly ready children, the on-failure task, or the finish. */
function progress(state: ActiveRun, nowMs: number): RunEvent[] {
  const tasks = state.tasks;
  const specs = state.workflow.tasks;
  const events: RunEvent[] = [];
  let anyFailed = false;
  let anyCancelled = false;
  let anyActive = false;
  for (const spec of specs) {
    const status = tasks[spec.name]?.status;
    if (status === 'failed') anyFailed = true;
    else if (status === 'cancelled') anyCancelled = true;
    else if (status !== undefined && ACTIVE.has(status)) anyActive = true;
  }
  if (!anyFailed && !anyCancelled) {
    for (const spec of specs) {
      const task = tasks[spec.name];
      if (task?.status === 'pending' && spec.parents.every((parent) => tasks[parent]?.status === 'completed')) {
        events.push(...ready(state, task, nowMs));
      }
    }
  }
  if (events.length > 0 || anyActive) return events;
  if (anyFailed || anyCancelled) {
    // Tasks that can no longer run (downstream of a failure) are cancelled.
    for (const spec of specs) {
      const task = tasks[spec.name] as TaskState;
      if (task.status === 'pending') {
        events.push({ type: 'TaskCancelled', task: task.name, attempt: task.attempt, reason: 'an upstream task did not complete', atMs: nowMs });
      }
    }
    const onFailure = tasks[ON_FAILURE_TASK];
    if (anyFailed && onFailure !== undefined) {
      if (onFailure.status === 'pending') {
        events.push(queue(onFailure, onFailure.attempt, nowMs));
        return events;
      }
      if (ACTIVE.has(onFailure.status)) return events;
    }
    events.push({ type: 'RunFinished', status: anyFailed ? 'FAILED' : 'CANCELLED', atMs: nowMs });
    return events;
  }
  const onFailure = tasks[ON_FAILURE_TASK];
  if (onFailure?.status === 'pending') events.push({ type: 'TaskCancelled', task: ON_FAILURE_TASK, attempt: 0, reason: 'the run succeeded', atMs: nowMs });
  events.push({ type: 'RunFinished', status: 'COMPLETED', atMs: nowMs });
  return events;
}

/** Events decided together with the state they lead to (what evolving them one by one gives). */
export interface Decided {
  readonly events: RunEvent[];
  readonly after: RunState;
}

/**
 * Applies `events` (a fresh array: what follows is pushed onto it) to the state, then what follows,
 * until nothing more does; with the state all of them lead to, so the host need not evolve them
 * again.
 */
function withProgress(state: RunState, events: RunEvent[], nowMs: number): RunEvent[] | Decided {
  if (events.length === 0) return events;
  let next: RunState = state;
  for (const event of events) next = evolve(next, event);
  // A skipped task completes at once, so what follows may make more tasks ready: settle.
  for (let round = 0; round <= engineRounds; round++) {
    assert(next.kind !== 'none', 'a run stays created');
    if (next.kind === 'finished') break;
    const more = progress(next, nowMs);
    if (more.length === 0) break;
    for (const event of more) {
      events.push(event);
      next = evolve(next, event);
    }
  }
  return { events, after: next };
}

/** More rounds than a DAG has tasks cannot be needed (each round settles at least one task). */
const engineRounds = 1024;

// ---------------------------------------------------------------------------------------------
// Conditions of DAG tasks (invariant 5)

function indexesOf(spec: TaskSpec, action: 'queue' | 'skip' | 'cancel'): number[] {
  const out: number[] = [];
  (spec.conditions ?? []).forEach((condition, index) => {
    if (condition.action === action) out.push(index);
  });
  return out;
}

function judgeOf(state: ActiveRun, task: TaskState, sinceMs: number, nowMs: number): Judge {
  return {
    sinceMs,
    nowMs,
    matches: task.matches ?? {},
    input: state.input,
    parentOutput: (parent) => {
      const other = state.tasks[parent];
      return other?.status === 'completed' ? (other.output ?? NULL_PAYLOAD) : undefined;
    },
  };
}

/** A task whose parents completed: queued at once, or waiting for its conditions. */
function ready(state: ActiveRun, task: TaskState, nowMs: number): RunEvent[] {
  if ((task.spec.conditions ?? []).length === 0) return [queue(task, task.attempt, nowMs)];
  return [{ type: 'TaskAwaitingConditions', task: task.name, attempt: task.attempt, atMs: nowMs }, ...judgeConditions(state, task, nowMs, nowMs)];
}

/** What a waiting task's conditions decide now: cancel, skip, queue, or nothing yet. */
function judgeConditions(state: ActiveRun, task: TaskState, sinceMs: number, nowMs: number): RunEvent[] {
  const all = task.spec.conditions ?? [];
  const judge = judgeOf(state, task, sinceMs, nowMs);
  const cancel = indexesOf(task.spec, 'cancel');
  if (cancel.length > 0 && groupsHold(all, cancel, judge)) {
    return [{ type: 'TaskCancelled', task: task.name, attempt: task.attempt, reason: 'a cancelIf condition matched', atMs: nowMs }];
  }
  const skip = indexesOf(task.spec, 'skip');
  if (skip.length > 0 && groupsHold(all, skip, judge)) return [{ type: 'TaskSkipped', task: task.name, attempt: task.attempt, atMs: nowMs }];
  const wait = indexesOf(task.spec, 'queue');
  if (wait.length === 0 || groupsHold(all, wait, judge)) return [queue(task, task.attempt, nowMs)];
  return [];
}

/** The data that satisfied a task's `waitFor` conditions (`ctx.triggers()`), JSON. */
export function conditionTriggers(state: ActiveRun, task: TaskState, nowMs: number): Payload | undefined {
  const wait = indexesOf(task.spec, 'queue');
  if (wait.length === 0) return undefined;
  return conditionsResult(task.spec.conditions ?? [], wait, judgeOf(state, task, task.waitingSinceMs ?? nowMs, nowMs));
}

// ---------------------------------------------------------------------------------------------
// Durable tasks (invariant 6)

function lastCheckpoint(task: TaskState): DurableCheckpoint | undefined {
  const checkpoints = task.durable?.checkpoints ?? [];
  return checkpoints[checkpoints.length - 1];
}

function waitJudge(wait: NonNullable<DurableCheckpoint['wait']>, nowMs: number): Judge {
  return { sinceMs: wait.sinceMs, nowMs, matches: wait.matches };
}

const allIndexes = (conditions: readonly Condition[]) => conditions.map((_, index) => index);

/** The result of a pending checkpoint once it is done, or undefined while it is not. */
function checkpointResult(checkpoint: DurableCheckpoint, nowMs: number): Payload | undefined {
  if (checkpoint.result !== undefined) return checkpoint.result;
  if (checkpoint.wait !== undefined) {
    const judge = waitJudge(checkpoint.wait, nowMs);
    const indexes = allIndexes(checkpoint.wait.conditions);
    return groupsHold(checkpoint.wait.conditions, indexes, judge) ? conditionsResult(checkpoint.wait.conditions, indexes, judge) : undefined;
  }
  if (checkpoint.children !== undefined) {
    const { runIds, results } = checkpoint.children;
    if (!runIds.every((runId) => results[runId] !== undefined)) return undefined;
    return Buffer.concat([Buffer.from('['), ...runIds.flatMap((runId, i) => [i === 0 ? Buffer.alloc(0) : Buffer.from(','), Buffer.from(results[runId] as Payload)]), Buffer.from(']')]);
  }
  return undefined;
}

/**
 * A waiting task whose pending checkpoint is now done: an evicted one is queued again to resume; a
 * resident one goes on where it is (the engine hands the result to its invocation).
 */
function resumeIfDone(task: TaskState, checkpoint: DurableCheckpoint, nowMs: number, recorded: RunEvent[]): RunEvent[] {
  let after = checkpoint;
  for (const event of recorded) after = applyToCheckpoint(after, event);
  const result = checkpointResult(after, nowMs);
  if (result === undefined) return recorded;
  const completed: RunEvent = { type: 'DurableCompleted', task: task.name, nodeId: checkpoint.nodeId, result, atMs: nowMs };
  return isResident(task) ? [...recorded, completed] : [...recorded, completed, queue(task, task.attempt, nowMs)];
}

/** Whether a durable task waits on its worker (invariant 6). */
export function isResident(task: TaskState): task is TaskState & { resident: Resident } {
  return task.resident !== undefined && (task.status === 'running' || task.status === 'assigned');
}

/** How a durable task waits on its pending checkpoint: on its worker for its policy's ttl, else evicted at once. */
function waitOn(task: TaskState, invocation: number, nodeId: number, nowMs: number): RunEvent {
  const ttlMs = task.spec.eviction?.ttlMs ?? 0;
  if (ttlMs > 0) return { type: 'TaskResident', task: task.name, attempt: task.attempt, invocation, nodeId, evictAtMs: nowMs + ttlMs, atMs: nowMs };
  return { type: 'TaskEvicted', task: task.name, attempt: task.attempt, invocation, workerId: task.workerId ?? '', atMs: nowMs };
}

function evictResident(task: TaskState & { resident: Resident }, reason: EvictionReason, nowMs: number): RunEvent {
  return { type: 'TaskEvicted', task: task.name, attempt: task.attempt, invocation: task.resident.invocation, workerId: task.workerId ?? '', reason, atMs: nowMs };
}

function applyToCheckpoint(checkpoint: DurableCheckpoint, event: RunEvent): DurableCheckpoint {
  if (event.type === 'DurableMatched' && checkpoint.wait !== undefined) {
    return { ...checkpoint, wait: { ...checkpoint.wait, matches: { ...checkpoint.wait.matches, [event.index]: { eventId: event.eventId, payload: event.payload } } } };
  }
  if (event.type === 'DurableChildFinished' && checkpoint.children !== undefined) {
    return { ...checkpoint, children: { ...checkpoint.children, results: { ...checkpoint.children.results, [event.runId]: event.result } } };
  }
  if (event.type === 'DurableCompleted') return { ...checkpoint, result: event.result };
  return checkpoint;
}

function decideCheckpoint(state: ActiveRun, command: Extract<RunCommand, { type: 'Checkpoint' }>, nowMs: number): RunEvent[] {
  const task = current(state, command.task, command.attempt, ['assigned', 'running']);
  if (task === undefined || task.durable === undefined || task.durable.invocation !== command.invocation) return [];
  const checkpoints = task.durable.checkpoints;
  const known = checkpoints[command.nodeId - 1];
  const started = startedIfAssigned(task, nowMs);
  if (known !== undefined) {
    if (known.signature !== command.signature) {
      throw new NonDeterminismError(
        task.taskId,
        command.nodeId,
        `non-determinism at checkpoint ${command.nodeId} of task '${task.name}': the replay did ${command.signature}, the recorded run did ${known.signature}`,
      );
    }
    if (known.result !== undefined) return started;
    // Asked again (a retried request, a worker back after a lost connection): it waits as it did.
    if (isResident(task) && task.resident.invocation === command.invocation) return [];
    return [...started, waitOn(task, command.invocation, command.nodeId, nowMs)];
  }
  if (command.nodeId !== checkpoints.length + 1) {
    throw new KindlingError('INVALID_INPUT', `task '${task.name}' has ${checkpoints.length} checkpoints; the next is ${checkpoints.length + 1}, not ${command.nodeId}`, false);
  }
  const base = { type: 'DurableCheckpointed', task: task.name, nodeId: command.nodeId, signature: command.signature, atMs: nowMs } as const;
  const op = command.op;
  let recorded: Extract<RunEvent, { type: 'DurableCheckpointed' }>;
  if (op.kind === 'now') recorded = { ...base, result: Buffer.from(String(nowMs), 'utf8') };
  else if (op.kind === 'wait') recorded = { ...base, conditions: op.conditions };
  else recorded = { ...base, children: op.runIds, childResults: op.finished };
  const checkpoint = checkpointOf(recorded);
  const result = checkpointResult(checkpoint, nowMs);
  if (result !== undefined) return [...started, { ...recorded, result }];
  return [...started, recorded, waitOn(task, command.invocation, command.nodeId, nowMs)];
}

function checkpointOf(event: Extract<RunEvent, { type: 'DurableCheckpointed' }>): DurableCheckpoint {
  return {
    nodeId: event.nodeId,
    signature: event.signature,
    result: event.result,
    wait: event.conditions === undefined ? undefined : { conditions: event.conditions, sinceMs: event.atMs, matches: {} },
    children: event.children === undefined ? undefined : { runIds: event.children, results: event.childResults ?? {} },
  };
}

/** Events the pushed event causes: matched DAG conditions and durable waits, and what those decide. */
function decideEvent(state: ActiveRun, occurred: OccurredEvent, nowMs: number): RunEvent[] {
  const view = new EventView(occurred);
  const events: RunEvent[] = [];
  for (const task of Object.values(state.tasks)) {
    if (task.status === 'pending' || task.status === 'waiting') {
      const matched: RunEvent[] = [];
      (task.spec.conditions ?? []).forEach((condition, index) => {
        if (task.matches?.[index] === undefined && eventMatches(condition, view)) {
          matched.push({ type: 'ConditionMatched', task: task.name, index, eventId: occurred.eventId, payload: occurred.payload, atMs: nowMs });
        }
      });
      if (matched.length === 0) continue;
      events.push(...matched);
      if (task.status === 'waiting') {
        let updated = task;
        for (const event of matched) if (event.type === 'ConditionMatched') updated = { ...updated, matches: { ...updated.matches, [event.index]: { eventId: event.eventId, payload: event.payload } } };
        events.push(...judgeConditions(state, updated, task.waitingSinceMs ?? nowMs, nowMs));
      }
    } else if (task.status === 'evicted' || isResident(task)) {
      const checkpoint = lastCheckpoint(task);
      if (checkpoint?.wait === undefined || checkpoint.result !== undefined) continue;
      const matched: RunEvent[] = [];
      checkpoint.wait.conditions.forEach((condition, index) => {
        if (checkpoint.wait?.matches[index] === undefined && eventMatches(condition, view)) {
          matched.push({ type: 'DurableMatched', task: task.name, nodeId: checkpoint.nodeId, index, eventId: occurred.eventId, payload: occurred.payload, atMs: nowMs });
        }
      });
      if (matched.length > 0) events.push(...resumeIfDone(task, checkpoint, nowMs, matched));
    }
  }
  return events;
}

function decideChildFinished(state: ActiveRun, runId: string, result: Payload, nowMs: number): RunEvent[] {
  for (const task of Object.values(state.tasks)) {
    if (task.status !== 'evicted' && task.status !== 'assigned' && task.status !== 'running') continue;
    for (const checkpoint of task.durable?.checkpoints ?? []) {
      const children = checkpoint.children;
      if (children === undefined || checkpoint.result !== undefined || !children.runIds.includes(runId) || children.results[runId] !== undefined) continue;
      const finished: RunEvent = { type: 'DurableChildFinished', task: task.name, nodeId: checkpoint.nodeId, runId, result, atMs: nowMs };
      if (task.status !== 'evicted' && !isResident(task)) return [finished];
      return resumeIfDone(task, checkpoint, nowMs, [finished]);
    }
  }
  return [];
}

function decideBranch(state: ActiveRun, command: Extract<RunCommand, { type: 'BranchDurable' }>, nowMs: number): RunEvent[] | Decided {
  const task = state.tasks[command.task];
  if (task?.durable === undefined) throw new KindlingError('INVALID_INPUT', `task '${command.task}' is not a durable task that has run`, false);
  const count = task.durable.checkpoints.length;
  if (!Number.isInteger(command.nodeId) || command.nodeId < 1 || command.nodeId > count + 1) {
    throw new KindlingError('INVALID_INPUT', `task '${task.name}' has checkpoints 1 to ${count}; branch from one of them (or ${count + 1}, after the last)`, false);
  }
  if (task.status === 'assigned' || task.status === 'running' || task.status === 'queued' || task.status === 'retrying' || task.status === 'waiting') {
    throw new KindlingError('INVALID_INPUT', `task '${task.name}' is ${task.status}; branch a durable task that is evicted or has finished`, false);
  }
  const branched: RunEvent = { type: 'DurableBranched', task: task.name, keep: command.nodeId - 1, atMs: nowMs };
  if (task.status === 'evicted') return [branched, queue(task, task.attempt + 1, nowMs)];
  // A finished task runs again as a new attempt, and so does every task downstream of it.
  return withProgress(state, [replayedFrom(state, [task.name], nowMs), branched], nowMs);
}

/**
 * The tasks `from` and every task downstream of them (and the on-failure task, if the workflow
 * has one) run again, each as its next attempt.
 */
function replayedFrom(state: RunState & { kind: 'active' | 'finished' }, from: readonly string[], nowMs: number): RunEvent {
  const again = new Set(from);
  for (let grew = true; grew; ) {
    grew = false;
    for (const spec of state.workflow.tasks) {
      if (!again.has(spec.name) && spec.parents.some((parent) => again.has(parent))) {
        again.add(spec.name);
        grew = true;
      }
    }
  }
  if (state.tasks[ON_FAILURE_TASK] !== undefined) again.add(ON_FAILURE_TASK);
  return { type: 'RunReplayed', tasks: [...again].map((name) => ({ task: name, attempt: (state.tasks[name]?.attempt ?? 0) + 1 })), atMs: nowMs };
}

function current(state: ActiveRun, name: string, attempt: number, statuses: readonly TaskStatus[]): TaskState | undefined {
  const task = state.tasks[name];
  return task !== undefined && task.attempt === attempt && statuses.includes(task.status) ? task : undefined;
}

// ---------------------------------------------------------------------------------------------
// decide

export function decide(state: RunState, command: RunCommand, ctx: DecideContext): RunEvent[] {
  const decided = decideRun(state, command, ctx);
  return Array.isArray(decided) ? decided : decided.events;
}

/** `decide`, with the state its events lead to: `after` equals evolving `state` by each of `events`. */
export function decideEvolved(state: RunState, command: RunCommand, ctx: DecideContext): Decided {
  const decided = decideRun(state, command, ctx);
  if (!Array.isArray(decided)) return decided;
  let after = state;
  for (const event of decided) after = evolve(after, event);
  return { events: decided, after };
}

function decideRun(state: RunState, command: RunCommand, ctx: DecideContext): RunEvent[] | Decided {
  const now = ctx.nowMs;
  if (command.type === 'CreateRun') {
    if (state.kind !== 'none') return [];
    const { type: _, ...fields } = command;
    const created: RunEvent = { type: 'RunCreated', ...fields, atMs: now };
    return withProgress(state, [created], now);
  }
  if (command.type === 'ReplayRun') {
    if (state.kind !== 'finished') return [];
    // Every task that did not complete, and everything downstream of one, runs again.
    const unfinished = Object.values(state.tasks).filter((task) => task.status !== 'completed' && task.name !== ON_FAILURE_TASK);
    return withProgress(state, [replayedFrom(state, unfinished.map((task) => task.name), now)], now);
  }
  if (command.type === 'BranchDurable') {
    if (state.kind === 'none') return [];
    return decideBranch(state, command, now);
  }
  if (state.kind !== 'active') return [];
  switch (command.type) {
    case 'AssignTask': {
      const task = current(state, command.task, command.attempt, ['queued']);
      if (task === undefined) return [];
      return [
        {
          type: 'TaskAssigned',
          task: task.name,
          attempt: task.attempt,
          workerId: command.workerId,
          atMs: now,
          timeoutAtMs: now + task.spec.executionTimeoutMs,
          ...(command.rateLimits === undefined || command.rateLimits.length === 0 ? {} : { rateLimits: command.rateLimits }),
          ...(command.note === undefined ? {} : { note: command.note }),
          ...(command.adopted === true ? { adopted: true } : {}),
        },
      ];
    }
    case 'NoteWaiting': {
      const task = current(state, command.task, command.attempt, ['queued']);
      if (task === undefined || task.waitingFor === command.eventType) return [];
      return [{ type: 'TaskWaiting', task: task.name, attempt: task.attempt, eventType: command.eventType, message: command.message, atMs: now }];
    }
    case 'RejectQueuedTask': {
      const task = current(state, command.task, command.attempt, ['queued']);
      if (task === undefined) return [];
      return withProgress(
        state,
        [
          { type: 'TaskRateLimitError', task: task.name, attempt: task.attempt, error: command.error, atMs: now },
          { type: 'TaskFailed', task: task.name, attempt: task.attempt, error: command.error, atMs: now },
        ],
        now,
      );
    }
    case 'ReleaseSlot': {
      const task = current(state, command.task, command.attempt, ['assigned', 'running']);
      if (task === undefined || task.slotReleased === true) return [];
      return [{ type: 'TaskSlotReleased', task: task.name, attempt: task.attempt, atMs: now }];
    }
    case 'StartTask': {
      const task = current(state, command.task, command.attempt, ['assigned']);
      return task === undefined ? [] : [{ type: 'TaskStarted', task: task.name, attempt: task.attempt, atMs: now }];
    }
    case 'CompleteTask': {
      const task = current(state, command.task, command.attempt, ['assigned', 'running']);
      if (task === undefined) return [];
      return withProgress(state, [...startedIfAssigned(task, now), { type: 'TaskCompleted', task: task.name, attempt: task.attempt, output: command.output, atMs: now }], now);
    }
    case 'FailTask': {
      const task = current(state, command.task, command.attempt, ['assigned', 'running']);
      if (task === undefined) return [];
      return withProgress(state, [...startedIfAssigned(task, now), ...failOrRetry(task, command.error, command.nonRetryable, now)], now);
    }
    case 'RefreshTimeout': {
      const task = current(state, command.task, command.attempt, ['assigned', 'running']);
      if (task === undefined) return [];
      const timeoutAtMs = (task.timeoutAtMs ?? now) + command.incrementMs;
      return [{ type: 'TimeoutRefreshed', task: task.name, attempt: task.attempt, timeoutAtMs, atMs: now }];
    }
    case 'WorkerLost': {
      const events: RunEvent[] = [];
      for (const task of Object.values(state.tasks)) {
        // A task that gave its slot back stays with its worker (and RUNNING) even when the worker
        // is lost: it is not run again elsewhere.
        if (isResident(task) && task.workerId === command.workerId) {
          // A resident waiter lost with its worker is evicted: it is queued again when its wait is over.
          events.push(evictResident(task, 'worker lost', now));
        } else if ((task.status === 'assigned' || task.status === 'running') && task.workerId === command.workerId && task.slotReleased !== true) {
          const next = task.attempt + 1;
          events.push({ type: 'TaskReassigned', task: task.name, attempt: next, workerId: command.workerId, atMs: now }, queue(task, next, now));
        }
      }
      return events;
    }
    case 'RequeueTask': {
      const task = current(state, command.task, command.attempt, ['assigned', 'running']);
      if (task === undefined) return [];
      // A resident waiter its worker let go (it is stopping) is evicted, to resume when its wait is over.
      if (isResident(task)) return [evictResident(task, 'worker lost', now)];
      const next = task.attempt + 1;
      return [{ type: 'TaskReassigned', task: task.name, attempt: next, workerId: task.workerId ?? '', atMs: now }, queue(task, next, now)];
    }
    case 'CancelRun': {
      const events: RunEvent[] = [];
      for (const task of Object.values(state.tasks)) {
        if (!isTerminal(task)) events.push(cancelled(task, command.reason, now));
      }
      return [...events, { type: 'RunFinished', status: 'CANCELLED', atMs: now }];
    }
    case 'CancelTask': {
      const task = state.tasks[command.task];
      if (task === undefined || isTerminal(task)) return [];
      return withProgress(state, [cancelled(task, command.reason, now)], now);
    }
    case 'Tick':
      return withProgress(state, fireDeadlines(state, now), now);
    case 'EventOccurred':
      return withProgress(state, decideEvent(state, command.event, now), now);
    case 'Checkpoint':
      return withProgress(state, decideCheckpoint(state, command, now), now);
    case 'ChildFinished':
      return withProgress(state, decideChildFinished(state, command.runId, command.result, now), now);
    case 'EvictResident': {
      const task = state.tasks[command.task];
      if (task === undefined || !isResident(task) || task.attempt !== command.attempt || task.resident.invocation !== command.invocation) return [];
      if (task.spec.eviction?.allowCapacityEviction === false) return [];
      return [evictResident(task, 'capacity', now)];
    }
    default:
      return assertNever(command, 'run command');
  }
}

/**
 * A result for an attempt that never reported its start implies it: a worker whose task finishes
 * before its next flush reports only the result, and the history still shows the start.
 */
function startedIfAssigned(task: TaskState, nowMs: number): RunEvent[] {
  return task.status === 'assigned' ? [{ type: 'TaskStarted', task: task.name, attempt: task.attempt, atMs: nowMs }] : [];
}

function cancelled(task: TaskState, reason: string, nowMs: number): RunEvent {
  const running = task.status === 'assigned' || task.status === 'running';
  return {
    type: 'TaskCancelled',
    task: task.name,
    attempt: task.attempt,
    reason,
    ...(running && task.workerId !== undefined ? { workerId: task.workerId } : {}),
    atMs: nowMs,
  };
}

function fireDeadlines(state: ActiveRun, now: number): RunEvent[] {
  const events: RunEvent[] = [];
  for (const task of Object.values(state.tasks)) {
    if (task.status === 'retrying' && task.retryAtMs !== undefined && task.retryAtMs <= now) {
      events.push(queue(task, task.attempt, now));
    } else if (task.status === 'queued' && task.scheduleDeadlineMs !== undefined && task.scheduleDeadlineMs <= now) {
      events.push(
        { type: 'TaskSchedulingTimedOut', task: task.name, attempt: task.attempt, atMs: now },
        { type: 'TaskFailed', task: task.name, attempt: task.attempt, error: `task was not assigned within its schedule timeout of ${task.spec.scheduleTimeoutMs} ms`, atMs: now },
      );
    } else if (isResident(task)) {
      // A wait that ended resumes it where it is; else its ttl evicts it.
      const checkpoint = lastCheckpoint(task);
      const resumed = checkpoint !== undefined && checkpoint.result === undefined && checkpoint.wait !== undefined ? resumeIfDone(task, checkpoint, now, []) : [];
      if (resumed.length > 0) events.push(...resumed);
      else if (task.resident.evictAtMs <= now) events.push(evictResident(task, 'ttl', now));
    } else if ((task.status === 'assigned' || task.status === 'running') && task.timeoutAtMs !== undefined && task.timeoutAtMs <= now) {
      events.push(
        { type: 'TaskTimedOut', task: task.name, attempt: task.attempt, workerId: task.workerId ?? '', atMs: now },
        ...failOrRetry(task, `task exceeded its execution timeout of ${task.spec.executionTimeoutMs} ms`, false, now),
      );
    } else if (task.status === 'waiting') {
      events.push(...judgeConditions(state, task, task.waitingSinceMs ?? now, now));
    } else if (task.status === 'evicted') {
      const checkpoint = lastCheckpoint(task);
      if (checkpoint !== undefined && checkpoint.result === undefined && checkpoint.wait !== undefined) events.push(...resumeIfDone(task, checkpoint, now, []));
    }
  }
  return events;
}

/**
 * The earliest deadline of the run, for the host's timer; undefined when it has none. Sleeps count
 * only when they end after `nowMs`: one that ended already was judged (and waits for something
 * else, such as an event, that no timer brings).
 */
export function nextDeadline(state: RunState, nowMs: number): number | undefined {
  if (state.kind !== 'active') return undefined;
  let earliest: number | undefined;
  for (const task of Object.values(state.tasks)) {
    let due =
      task.status === 'retrying' ? task.retryAtMs : task.status === 'queued' ? task.scheduleDeadlineMs : task.status === 'assigned' || task.status === 'running' ? task.timeoutAtMs : undefined;
    if (task.status === 'waiting') {
      // Due now if a tick now would decide something (a sleep ended before its timer was armed).
      const all = task.spec.conditions ?? [];
      due = judgeConditions(state, task, task.waitingSinceMs ?? 0, nowMs).length > 0 ? nowMs : nextSleepDeadline(all, allIndexes(all), task.waitingSinceMs ?? 0, nowMs);
    } else if (task.status === 'evicted' || isResident(task)) {
      const checkpoint = lastCheckpoint(task);
      const wait = checkpoint?.wait;
      due = undefined;
      if (wait !== undefined && checkpoint !== undefined && checkpoint.result === undefined) {
        due = checkpointResult(checkpoint, nowMs) !== undefined ? nowMs : nextSleepDeadline(wait.conditions, allIndexes(wait.conditions), wait.sinceMs, nowMs);
      }
      // A resident waiter is evicted at its ttl, whatever it waits for.
      if (task.resident !== undefined && task.status !== 'evicted' && (due === undefined || task.resident.evictAtMs < due)) due = task.resident.evictAtMs;
    }
    if (due !== undefined && (earliest === undefined || due < earliest)) earliest = due;
  }
  return earliest;
}

// ---------------------------------------------------------------------------------------------
// evolve: one handler per event type; a missing one is a compile error (STYLE practice 2).

type Evolvers = { [K in RunEventType]: (state: ActiveRun, event: Extract<RunEvent, { type: K }>) => RunState };

function taskOf(state: ActiveRun, name: string): TaskState {
  const task = state.tasks[name];
  assert(task !== undefined, `task ${name} exists in run ${state.runId}`);
  return task;
}

function withTask(state: ActiveRun, task: TaskState): ActiveRun {
  return { ...state, tasks: { ...state.tasks, [task.name]: task } };
}

/**
 * A task's next state, built whole: every field, in one order, so task states share one shape and
 * evolve stays cheap (it runs for every event, and again on every activation). A status's worker
 * and deadlines are given by the caller; the others are cleared.
 */
function moved(
  task: TaskState,
  status: TaskStatus,
  attempt: number,
  at: {
    workerId?: string | undefined;
    scheduleDeadlineMs?: number | undefined;
    timeoutAtMs?: number | undefined;
    retryAtMs?: number | undefined;
    waitingFor?: string | undefined;
    slotReleased?: boolean | undefined;
    resident?: Resident | undefined;
  },
  output: Payload | undefined = task.output,
  error: string | undefined = task.error,
  keep: Pick<TaskState, 'waitingSinceMs' | 'matches' | 'durable'> = task,
): TaskState {
  return {
    name: task.name,
    taskId: task.taskId,
    spec: task.spec,
    status,
    attempt,
    workerId: at.workerId,
    scheduleDeadlineMs: at.scheduleDeadlineMs,
    timeoutAtMs: at.timeoutAtMs,
    retryAtMs: at.retryAtMs,
    output,
    error,
    waitingFor: at.waitingFor,
    slotReleased: at.slotReleased,
    waitingSinceMs: keep.waitingSinceMs,
    matches: keep.matches,
    durable: keep.durable,
    resident: at.resident,
  };
}

/** A durable task's checkpoint `nodeId`, changed by `change`. */
function withCheckpoint(task: TaskState, nodeId: number, change: (checkpoint: DurableCheckpoint) => DurableCheckpoint): TaskState {
  const durable = task.durable;
  assert(durable !== undefined && durable.checkpoints[nodeId - 1] !== undefined, `task ${task.name} has checkpoint ${nodeId}`);
  const checkpoints = durable.checkpoints.map((checkpoint) => (checkpoint.nodeId === nodeId ? change(checkpoint) : checkpoint));
  return { ...task, durable: { ...durable, checkpoints } };
}

const NONE = {};

const evolvers: Evolvers = {
  RunCreated: (state) => state,
  TaskQueued: (s, e) => withTask(s, moved(taskOf(s, e.task), 'queued', e.attempt, { scheduleDeadlineMs: e.scheduleDeadlineMs })),
  TaskAssigned: (s, e) => {
    const task = taskOf(s, e.task);
    // Each assignment of a durable task is a new invocation of its function, replaying its checkpoints.
    const durable = task.spec.durable === true ? { invocation: (task.durable?.invocation ?? 0) + 1, checkpoints: task.durable?.checkpoints ?? [] } : task.durable;
    const next = withTask(s, moved(task, 'assigned', task.attempt, { workerId: e.workerId, timeoutAtMs: e.timeoutAtMs }, task.output, task.error, { ...task, durable }));
    // A sticky run stays on the worker its first task went to.
    return s.workflow.sticky !== undefined && s.stickyWorkerId === undefined ? { ...next, stickyWorkerId: e.workerId } : next;
  },
  TaskWaiting: (s, e) => {
    const task = taskOf(s, e.task);
    return withTask(s, moved(task, task.status, task.attempt, { ...task, waitingFor: e.eventType }));
  },
  TaskRateLimitError: (s) => s,
  TaskSlotReleased: (s, e) => {
    const task = taskOf(s, e.task);
    return withTask(s, moved(task, task.status, task.attempt, { ...task, slotReleased: true }));
  },
  TaskStarted: (s, e) => {
    const task = taskOf(s, e.task);
    return withTask(s, moved(task, 'running', task.attempt, task));
  },
  TaskCompleted: (s, e) => {
    const task = taskOf(s, e.task);
    return withTask(s, moved(task, 'completed', task.attempt, NONE, e.output));
  },
  TaskFailed: (s, e) => {
    const task = taskOf(s, e.task);
    return withTask(s, moved(task, 'failed', task.attempt, NONE, task.output, e.error));
  },
  TaskRetrying: (s, e) => withTask(s, moved(taskOf(s, e.task), 'retrying', e.attempt, { retryAtMs: e.retryAtMs })),
  TaskTimedOut: (s) => s,
  TaskSchedulingTimedOut: (s) => s,
  TaskReassigned: (s, e) => withTask(s, moved(taskOf(s, e.task), 'retrying', e.attempt, { retryAtMs: e.atMs })),
  TimeoutRefreshed: (s, e) => {
    const task = taskOf(s, e.task);
    return withTask(s, moved(task, task.status, task.attempt, { ...task, timeoutAtMs: e.timeoutAtMs }));
  },
  TaskCancelled: (s, e) => {
    const task = taskOf(s, e.task);
    return withTask(s, moved(task, 'cancelled', task.attempt, NONE, task.output, e.reason));
  },
  RunFinished: (s, e) => ({ ...s, kind: 'finished', finished: finishedRun(s, e.status) }),
  RunReplayed: (s, e) => {
    let next: ActiveRun = { ...s, kind: 'active', finished: undefined };
    for (const { task, attempt } of e.tasks) {
      const before = taskOf(next, task);
      // A durable task keeps its checkpoints: the replay resumes from them (a sleep keeps its end).
      next = withTask(next, moved(before, 'pending', attempt, NONE, undefined, undefined, { durable: before.durable }));
    }
    return next;
  },
  TaskAwaitingConditions: (s, e) => {
    const task = taskOf(s, e.task);
    return withTask(s, moved(task, 'waiting', task.attempt, NONE, task.output, task.error, { ...task, waitingSinceMs: e.atMs }));
  },
  ConditionMatched: (s, e) => {
    const task = taskOf(s, e.task);
    return withTask(s, { ...task, matches: { ...task.matches, [e.index]: { eventId: e.eventId, payload: e.payload } } });
  },
  TaskSkipped: (s, e) => {
    const task = taskOf(s, e.task);
    return withTask(s, moved(task, 'completed', task.attempt, NONE, SKIPPED_OUTPUT));
  },
  DurableCheckpointed: (s, e) => {
    const task = taskOf(s, e.task);
    const durable = task.durable ?? { invocation: 1, checkpoints: [] };
    return withTask(s, { ...task, durable: { ...durable, checkpoints: [...durable.checkpoints, checkpointOf(e)] } });
  },
  DurableMatched: (s, e) => withTask(s, withCheckpoint(taskOf(s, e.task), e.nodeId, (checkpoint) => applyToCheckpoint(checkpoint, e))),
  DurableChildFinished: (s, e) => withTask(s, withCheckpoint(taskOf(s, e.task), e.nodeId, (checkpoint) => applyToCheckpoint(checkpoint, e))),
  DurableCompleted: (s, e) => {
    const task = withCheckpoint(taskOf(s, e.task), e.nodeId, (checkpoint) => applyToCheckpoint(checkpoint, e));
    if (!isResident(task)) return withTask(s, task);
    // A resident waiter goes on: its execution timeout runs again, from now.
    return withTask(s, moved(task, task.status, task.attempt, { workerId: task.workerId, timeoutAtMs: e.atMs + task.spec.executionTimeoutMs, slotReleased: task.slotReleased }));
  },
  TaskResident: (s, e) => {
    const task = taskOf(s, e.task);
    return withTask(s, moved(task, task.status, task.attempt, { workerId: task.workerId, slotReleased: task.slotReleased, resident: { invocation: e.invocation, sinceMs: e.atMs, evictAtMs: e.evictAtMs } }));
  },
  TaskEvicted: (s, e) => {
    const task = taskOf(s, e.task);
    return withTask(s, moved(task, 'evicted', task.attempt, NONE));
  },
  DurableBranched: (s, e) => {
    const task = taskOf(s, e.task);
    const durable = task.durable ?? { invocation: 0, checkpoints: [] };
    return withTask(s, { ...task, durable: { ...durable, checkpoints: durable.checkpoints.slice(0, e.keep) } });
  },
};

function finishedRun(state: ActiveRun, status: FinishedRun['status']): FinishedRun {
  const tasks = state.workflow.tasks.map((spec) => state.tasks[spec.name] as TaskState);
  if (status === 'COMPLETED') {
    return { runId: state.runId, status, output: Object.fromEntries(tasks.map((task) => [task.name, task.output ?? NULL_PAYLOAD])) };
  }
  const errors = tasks.filter((task) => task.status === 'failed' || (status === 'CANCELLED' && task.status === 'cancelled')).map((task) => task.error ?? task.status);
  return { runId: state.runId, status, errors: errors.length > 0 ? errors : [`run ${status.toLowerCase()}`] };
}

export function evolve(state: RunState, event: RunEvent): RunState {
  if (event.type === 'RunCreated') {
    assert(state.kind === 'none', 'RunCreated is the first event of a run');
    const tasks: Record<string, TaskState> = {};
    for (const spec of allTaskSpecs(event.workflow)) {
      const taskId = event.taskIds[spec.name];
      assert(taskId !== undefined, `task ${spec.name} has an id`);
      tasks[spec.name] = moved({ name: spec.name, taskId, spec, status: 'pending', attempt: 0 }, 'pending', 0, NONE);
    }
    return {
      kind: 'active',
      runId: event.runId,
      tenantId: event.tenantId,
      workflow: event.workflow,
      input: event.input,
      additionalMetadata: event.additionalMetadata,
      priority: event.priority,
      createdAtMs: event.atMs,
      tasks,
      ...(event.parentTaskId === undefined ? {} : { parentTaskId: event.parentTaskId }),
      ...(event.childIndex === undefined ? {} : { childIndex: event.childIndex }),
      ...(event.childKey === undefined ? {} : { childKey: event.childKey }),
      ...(event.policy === undefined ? {} : { policy: event.policy }),
      ...(event.policy?.desiredWorkerId === undefined ? {} : { stickyWorkerId: event.policy.desiredWorkerId }),
      ...(event.trigger === undefined ? {} : { trigger: event.trigger }),
    };
  }
  assert(state.kind !== 'none', `${event.type} follows RunCreated`);
  const handler = evolvers[event.type] as (state: ActiveRun, event: RunEvent) => RunState;
  return handler(state, event);
}

export const initialState = (): RunState => ({ kind: 'none' });

// ---------------------------------------------------------------------------------------------
// How Hatchet reports tasks: five statuses, and named task events.

export type TaskRunStatus = 'QUEUED' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED';

const STATUS_OF: Record<TaskStatus, TaskRunStatus> = {
  pending: 'QUEUED',
  waiting: 'QUEUED',
  evicted: 'RUNNING',
  queued: 'QUEUED',
  retrying: 'QUEUED',
  assigned: 'RUNNING',
  running: 'RUNNING',
  completed: 'COMPLETED',
  failed: 'FAILED',
  cancelled: 'CANCELLED',
};

export const taskRunStatus = (task: TaskState): TaskRunStatus => STATUS_OF[task.status];

export interface TaskEventView {
  readonly task: string;
  readonly attempt: number;
  readonly eventType: string;
  readonly timestampMs: number;
  readonly message?: string;
}

const EVICTION_MESSAGES: Record<EvictionReason, string> = {
  ttl: 'it waited on its worker for its eviction ttl',
  capacity: 'queued work needed its durable slot',
  'worker lost': 'its worker stopped or was lost while it waited',
};

/** A run event as the task events Hatchet lists (`QUEUED`, `ASSIGNED`, `STARTED`, `FINISHED`, …). */
export function taskEventsOf(event: RunEvent): TaskEventView[] {
  const view = (task: string, attempt: number, eventType: string, message?: string): TaskEventView => ({
    task,
    attempt,
    eventType,
    timestampMs: event.atMs,
    ...(message === undefined ? {} : { message }),
  });
  switch (event.type) {
    case 'RunCreated':
    case 'RunFinished':
      return [];
    case 'RunReplayed':
      return event.tasks.map((task) => view(task.task, task.attempt, 'RETRIED_BY_USER'));
    case 'TaskQueued':
      return [view(event.task, event.attempt, 'QUEUED')];
    case 'TaskAssigned':
      return [view(event.task, event.attempt, 'ASSIGNED', `assigned to worker ${event.workerId}${event.note === undefined ? '' : ` (${event.note})`}`)];
    case 'TaskWaiting':
      return [view(event.task, event.attempt, event.eventType, event.message)];
    case 'TaskRateLimitError':
      return [view(event.task, event.attempt, 'RATE_LIMIT_ERROR', event.error)];
    case 'TaskSlotReleased':
      return [view(event.task, event.attempt, 'SLOT_RELEASED')];
    case 'TaskStarted':
      return [view(event.task, event.attempt, 'STARTED')];
    case 'TaskCompleted':
      return [view(event.task, event.attempt, 'FINISHED')];
    case 'TaskFailed':
      return [view(event.task, event.attempt, 'FAILED', event.error)];
    case 'TaskRetrying':
      return [view(event.task, event.attempt, 'RETRYING', `retry at ${new Date(event.retryAtMs).toISOString()}`)];
    case 'TaskTimedOut':
      return [view(event.task, event.attempt, 'TIMED_OUT')];
    case 'TaskSchedulingTimedOut':
      return [view(event.task, event.attempt, 'SCHEDULING_TIMED_OUT')];
    case 'TaskReassigned':
      return [view(event.task, event.attempt, 'REASSIGNED', `worker ${event.workerId} was lost`)];
    case 'TimeoutRefreshed':
      return [view(event.task, event.attempt, 'TIMEOUT_REFRESHED')];
    case 'TaskCancelled':
      return [view(event.task, event.attempt, 'CANCELLED', event.reason)];
    case 'TaskSkipped':
      return [view(event.task, event.attempt, 'SKIPPED')];
    case 'TaskEvicted':
      return [view(event.task, event.attempt, 'DURABLE_EVICTED', event.reason === undefined ? undefined : EVICTION_MESSAGES[event.reason])];
    case 'DurableBranched':
      return [view(event.task, 0, 'DURABLE_RESTORING', `from checkpoint ${event.keep + 1}`)];
    case 'TaskAwaitingConditions':
    case 'ConditionMatched':
    case 'DurableCheckpointed':
    case 'DurableMatched':
    case 'DurableChildFinished':
    case 'DurableCompleted':
    case 'TaskResident':
      return [];
    default:
      return assertNever(event, 'run event');
  }
}
