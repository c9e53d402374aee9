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
export function summarize(summary: RunSummary | undefined, event: RunEvent): RunSummary {
  if (event.type === 'RunCreated') {
    const eventId = event.additionalMetadata[TRIGGERING_EVENT_KEY];
    return {
      runId: event.runId,
      tenantId: event.tenantId,
      workflow: event.workflow.name,
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
    case 'TaskTimedOut':
    case 'TaskSchedulingTimedOut':
    case 'TimeoutRefreshed':
      break;
    default:
      break;
  }
  return { ...run, tasks, status: liveStatus(tasks), updatedAtMs: at, seq: run.seq + 1 };
}
