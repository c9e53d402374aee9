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

function withTask(run: RunSummary, name: string, change: (task: TaskSummary) => TaskSummary): RunSummary['tasks'] {
  return run.tasks.map((task) => (task.name === name ? change(task) : task));
}

/** The run's status from its tasks while it has not finished (invariant 2). */
function liveStatus(tasks: readonly TaskSummary[]): RunStatus {
  if (tasks.some((task) => task.status === 'RUNNING')) return 'RUNNING';
  if (tasks.some((task) => task.status === 'COMPLETED' || task.status === 'FAILED')) return 'RUNNING';
  return 'QUEUED';
}

/** Folds one event (the run's event number `summary.seq + 1`) into the summary. */
export function summarize(summary: RunSummary | undefined, event: SummaryEvent): RunSummary {
  if (event.type === 'RunCreated') {
    const eventId = event.additionalMetadata[TRIGGERING_EVENT_KEY];
    return {
      runId: event.runId,
      tenantId: event.tenantId,
      workflow: event.workflow,
      status: 'QUEUED',
      createdAtMs: event.atMs,
      updatedAtMs: event.atMs,
      additionalMetadata: event.additionalMetadata,
      ...(event.parentTaskId === undefined ? {} : { parentTaskId: event.parentTaskId }),
      ...(eventId === undefined ? {} : { triggeringEventId: eventId }),
      tasks: Object.entries(event.taskIds).map(([name, taskId]) => ({ name, taskId, status: 'QUEUED' as const, attempt: 0 })),
      seq: 1,
    };
  }
  if (summary === undefined) throw new Error(`a run summary starts with RunCreated, not ${event.type}`);
  const at = event.atMs;
  let tasks = summary.tasks;
  let run: RunSummary = summary;
  switch (event.type) {
    case 'TaskQueued':
    case 'TaskRetrying':
    case 'TaskReassigned':
      tasks = withTask(run, event.task, ({ workerId: _w, ...task }) => ({ ...task, status: 'QUEUED', attempt: event.attempt }));
      break;
    case 'TaskAssigned':
      tasks = withTask(run, event.task, (task) => ({ ...task, status: 'RUNNING', workerId: event.workerId }));
      break;
    case 'TaskStarted':
      tasks = withTask(run, event.task, (task) => ({ ...task, status: 'RUNNING', startedAtMs: at }));
      if (run.startedAtMs === undefined) run = { ...run, startedAtMs: at };
      break;
    case 'TaskCompleted':
      tasks = withTask(run, event.task, ({ error: _e, ...task }) => ({ ...task, status: 'COMPLETED', finishedAtMs: at }));
      break;
    case 'TaskFailed':
      tasks = withTask(run, event.task, (task) => ({ ...task, status: 'FAILED', error: event.error, finishedAtMs: at }));
      break;
    case 'TaskCancelled':
      tasks = withTask(run, event.task, (task) => ({ ...task, status: 'CANCELLED', error: event.reason, finishedAtMs: at }));
      break;
    case 'RunReplayed': {
      const again = new Map(event.tasks.map((task) => [task.task, task.attempt]));
      tasks = run.tasks.map((task) => {
        const attempt = again.get(task.name);
        if (attempt === undefined) return task;
        const { error: _e, finishedAtMs: _f, workerId: _w, ...rest } = task;
        return { ...rest, status: 'QUEUED' as const, attempt };
      });
      const { finishedAtMs: _f, ...rest } = run;
      run = rest;
      break;
    }
    case 'RunFinished':
      return { ...run, status: event.status, finishedAtMs: at, updatedAtMs: at, seq: run.seq + 1 };
    case 'Other':
      break;
  }
  return { ...run, tasks, status: liveStatus(tasks), updatedAtMs: at, seq: run.seq + 1 };
}
