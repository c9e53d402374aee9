/**
 * A run's summary: what lists, filters and metrics need of a run, folded from its events alone —
 * the same fold whether the events come from the engine's effects or are read back from the log.
 *
 * Owns: the `RunSummary` shape and `summarize`. Pure: no I/O, no clock.
 *
 * Invariants:
 *  1. `seq` is the number of the run's events folded in; an event is folded only if its seq is
 *     `seq + 1` (the caller skips older ones), so folding is exactly once in stream order.
 *  2. A run's status here is what `runStatus` of the run actor reports for the same events.
 */
import type { RunEvent } from '../../actors/workflow-run.js';
import type { RunStatus } from '../../protocol/frames.js';

export type TaskRunStatus = 'QUEUED' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED';

export interface TaskSummary {
  readonly name: string;
  readonly taskId: string;
  readonly status: TaskRunStatus;
  readonly attempt: number;
  readonly workerId?: string;
  readonly error?: string;
  readonly startedAtMs?: number;
  readonly finishedAtMs?: number;
}

export interface RunSummary {
  readonly runId: string;
  readonly tenantId: string;
  readonly workflow: string;
  readonly status: RunStatus;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
  readonly startedAtMs?: number;
  readonly finishedAtMs?: number;
  readonly additionalMetadata: Record<string, string>;
  readonly parentTaskId?: string;
  /** The event that triggered the run (its `hatchet__event_id` metadata), if one did. */
  readonly triggeringEventId?: string;
  readonly tasks: readonly TaskSummary[];
  /** The run's events folded in so far (invariant 1). */
  readonly seq: number;
}

export const TRIGGERING_EVENT_KEY = 'hatchet__event_id';

/**
 * What `summarize` reads of a run event: the fields it folds and nothing else — no payloads, no
 * workflow spec — so the read models can hand events to their writer thread cheaply.
 */
export type SummaryEvent =
  | {
      readonly type: 'RunCreated';
      readonly atMs: number;
      readonly runId: string;
      readonly tenantId: string;
      readonly workflow: string;
      readonly additionalMetadata: Record<string, string>;
      readonly parentTaskId?: string;
      readonly taskIds: Readonly<Record<string, string>>;
    }
  | { readonly type: 'TaskQueued' | 'TaskRetrying' | 'TaskReassigned'; readonly task: string; readonly attempt: number; readonly atMs: number }
  | { readonly type: 'TaskAssigned'; readonly task: string; readonly workerId: string; readonly atMs: number }
  | { readonly type: 'TaskStarted' | 'TaskCompleted'; readonly task: string; readonly atMs: number }
  | { readonly type: 'TaskFailed'; readonly task: string; readonly error: string; readonly atMs: number }
  | { readonly type: 'TaskCancelled'; readonly task: string; readonly reason: string; readonly atMs: number }
  | { readonly type: 'RunReplayed'; readonly tasks: ReadonlyArray<{ readonly task: string; readonly attempt: number }>; readonly atMs: number }
  | { readonly type: 'RunFinished'; readonly status: RunStatus; readonly atMs: number }
  /** Any other event: it only moves `updatedAtMs` and `seq`. */
  | { readonly type: 'Other'; readonly atMs: number };

/** The part of a run event its summary needs. */
export function summaryEvent(event: RunEvent): SummaryEvent {
  switch (event.type) {
    case 'RunCreated':
      return {
        type: 'RunCreated',
        atMs: event.atMs,
        runId: event.runId,
        tenantId: event.tenantId,
        workflow: event.workflow.name,
        additionalMetadata: event.additionalMetadata,
        ...(event.parentTaskId === undefined ? {} : { parentTaskId: event.parentTaskId }),
        taskIds: event.taskIds,
      };
    case 'TaskQueued':
    case 'TaskRetrying':
    case 'TaskReassigned':
      return { type: event.type, task: event.task, attempt: event.attempt, atMs: event.atMs };
    case 'TaskAssigned':
      return { type: event.type, task: event.task, workerId: event.workerId, atMs: event.atMs };
    case 'TaskStarted':
    case 'TaskCompleted':
      return { type: event.type, task: event.task, atMs: event.atMs };
    case 'TaskFailed':
      return { type: event.type, task: event.task, error: event.error, atMs: event.atMs };
    case 'TaskCancelled':
      return { type: event.type, task: event.task, reason: event.reason, atMs: event.atMs };
    case 'RunReplayed':
      return { type: event.type, tasks: event.tasks, atMs: event.atMs };
    case 'RunFinished':
      return { type: event.type, status: event.status, atMs: event.atMs };
    default:
      return { type: 'Other', atMs: 'atMs' in event ? event.atMs : 0 };
  }
}

/** A summary being folded, in place: every field there, an absent one undefined. */
type Draft<T> = { -readonly [K in keyof T]-?: Record<never, never> extends Pick<T, K> ? T[K] | undefined : T[K] };
type RunDraft = Omit<Draft<RunSummary>, 'tasks'> & { tasks: Array<Draft<TaskSummary>> };

/** The run's status from its tasks while it has not finished (invariant 2). */
function liveStatus(tasks: ReadonlyArray<{ readonly status: TaskRunStatus }>): RunStatus {
  if (tasks.some((task) => task.status === 'RUNNING')) return 'RUNNING';
  if (tasks.some((task) => task.status === 'COMPLETED' || task.status === 'FAILED')) return 'RUNNING';
  return 'QUEUED';
}

function created(event: Extract<SummaryEvent, { type: 'RunCreated' }>): RunDraft {
  const eventId = event.additionalMetadata[TRIGGERING_EVENT_KEY];
  return {
    runId: event.runId,
    tenantId: event.tenantId,
    workflow: event.workflow,
    status: 'QUEUED',
    createdAtMs: event.atMs,
    updatedAtMs: event.atMs,
    startedAtMs: undefined,
    finishedAtMs: undefined,
    additionalMetadata: event.additionalMetadata,
    parentTaskId: event.parentTaskId,
    triggeringEventId: eventId,
    tasks: Object.entries(event.taskIds).map(([name, taskId]) => ({ name, taskId, status: 'QUEUED', attempt: 0, workerId: undefined, error: undefined, startedAtMs: undefined, finishedAtMs: undefined })),
    seq: 1,
  };
}

function draftOf(run: RunSummary): RunDraft {
  return {
    runId: run.runId,
    tenantId: run.tenantId,
    workflow: run.workflow,
    status: run.status,
    createdAtMs: run.createdAtMs,
    updatedAtMs: run.updatedAtMs,
    startedAtMs: run.startedAtMs,
    finishedAtMs: run.finishedAtMs,
    additionalMetadata: run.additionalMetadata,
    parentTaskId: run.parentTaskId,
    triggeringEventId: run.triggeringEventId,
    tasks: run.tasks.map((task) => ({
      name: task.name,
      taskId: task.taskId,
      status: task.status,
      attempt: task.attempt,
      workerId: task.workerId,
      error: task.error,
      startedAtMs: task.startedAtMs,
      finishedAtMs: task.finishedAtMs,
    })),
    seq: run.seq,
  };
}

/** Folds one event other than RunCreated into a draft, in place. */
function apply(run: RunDraft, event: Exclude<SummaryEvent, { type: 'RunCreated' }>): void {
  const at = event.atMs;
  run.updatedAtMs = at;
  run.seq += 1;
  if (event.type === 'RunFinished') {
    run.status = event.status;
    run.finishedAtMs = at;
    return;
  }
  if (event.type === 'RunReplayed') {
    const again = new Map(event.tasks.map((task) => [task.task, task.attempt]));
    for (const task of run.tasks) {
      const attempt = again.get(task.name);
      if (attempt === undefined) continue;
      task.status = 'QUEUED';
      task.attempt = attempt;
      task.error = undefined;
      task.finishedAtMs = undefined;
      task.workerId = undefined;
    }
    run.finishedAtMs = undefined;
  } else if (event.type !== 'Other') {
    for (const task of run.tasks) {
      if (task.name !== event.task) continue;
      switch (event.type) {
        case 'TaskQueued':
        case 'TaskRetrying':
        case 'TaskReassigned':
          task.status = 'QUEUED';
          task.attempt = event.attempt;
          task.workerId = undefined;
          break;
        case 'TaskAssigned':
          task.status = 'RUNNING';
          task.workerId = event.workerId;
          break;
        case 'TaskStarted':
          task.status = 'RUNNING';
          task.startedAtMs = at;
          break;
        case 'TaskCompleted':
          task.status = 'COMPLETED';
          task.error = undefined;
          task.finishedAtMs = at;
          break;
        case 'TaskFailed':
          task.status = 'FAILED';
          task.error = event.error;
          task.finishedAtMs = at;
          break;
        case 'TaskCancelled':
          task.status = 'CANCELLED';
          task.error = event.reason;
          task.finishedAtMs = at;
          break;
      }
    }
    if (event.type === 'TaskStarted' && run.startedAtMs === undefined) run.startedAtMs = at;
  }
  run.status = liveStatus(run.tasks);
}

/** The summary a draft stands for: its absent fields left out rather than undefined. */
function summaryOf(run: RunDraft): RunSummary {
  return {
    runId: run.runId,
    tenantId: run.tenantId,
    workflow: run.workflow,
    status: run.status,
    createdAtMs: run.createdAtMs,
    updatedAtMs: run.updatedAtMs,
    ...(run.startedAtMs === undefined ? {} : { startedAtMs: run.startedAtMs }),
    ...(run.finishedAtMs === undefined ? {} : { finishedAtMs: run.finishedAtMs }),
    additionalMetadata: run.additionalMetadata,
    ...(run.parentTaskId === undefined ? {} : { parentTaskId: run.parentTaskId }),
    ...(run.triggeringEventId === undefined ? {} : { triggeringEventId: run.triggeringEventId }),
    tasks: run.tasks.map((task) => ({
      name: task.name,
      taskId: task.taskId,
      status: task.status,
      attempt: task.attempt,
      ...(task.workerId === undefined ? {} : { workerId: task.workerId }),
      ...(task.error === undefined ? {} : { error: task.error }),
      ...(task.startedAtMs === undefined ? {} : { startedAtMs: task.startedAtMs }),
      ...(task.finishedAtMs === undefined ? {} : { finishedAtMs: task.finishedAtMs }),
    })),
    seq: run.seq,
  };
}

/**
 * Folds a run's events numbered `firstSeq`, `firstSeq + 1`, … into its summary, each only if it is
 * the next one (invariant 1; the others are skipped): the same as `summarize` one event at a time,
 * with one copy of the summary for them all rather than one per event. Answers `summary` itself
 * when none is folded.
 */
export function summarizeFrom(summary: RunSummary | undefined, events: readonly SummaryEvent[], firstSeq: number): RunSummary | undefined {
  let draft: RunDraft | undefined;
  for (let i = 0; i < events.length; i++) {
    const event = events[i] as SummaryEvent;
    if (firstSeq + i !== (draft?.seq ?? summary?.seq ?? 0) + 1) continue;
    if (event.type === 'RunCreated') {
      draft = created(event);
      continue;
    }
    if (draft === undefined) {
      if (summary === undefined) throw new Error(`a run summary starts with RunCreated, not ${event.type}`);
      draft = draftOf(summary);
    }
    apply(draft, event);
  }
  return draft === undefined ? summary : summaryOf(draft);
}

/** Folds one event (the run's event number `summary.seq + 1`) into the summary. */
export function summarize(summary: RunSummary | undefined, event: SummaryEvent): RunSummary {
  return summarizeFrom(summary, [event], (summary?.seq ?? 0) + 1) as RunSummary;
}
