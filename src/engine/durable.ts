/**
 * Durable tasks, engine side: a worker's `checkpoint` requests become `Checkpoint` commands of the
 * task's run (actors/workflow-run.ts keeps the checkpoints as events of the run's own stream), the
 * children a checkpoint spawns are triggered first, and a finished child is reported to its durable
 * parent so the parent resumes.
 *
 * Owns: the translation of a request into a command and of the run's state into the reply, and the
 * durable slot pool's name in the tenant queue (a worker's durable tasks take slots of a pool of
 * their own, `<workerId>#durable`, so a parent waiting on children never holds the slots the
 * children need). Talks to: the run host, and the engine for creating runs.
 *
 * Invariants:
 *  1. A checkpoint's children are created before the checkpoint is recorded, with ids derived from
 *     the parent task and the checkpoint, so a retried request finds the same runs.
 *  2. A child that finishes is reported to its parent after the child's end is durable; a report
 *     lost to a crash is made again at start (`recheckChildren`), and a second report changes nothing.
 */
import { isResident, type OccurredEvent, type RunState } from '../../actors/workflow-run.js';
import { opSignature } from '../../protocol/durable.js';
import type { CheckpointReply, ClientFrame, FinishedRun } from '../../protocol/frames.js';
import type { Payload } from '../../protocol/payload.js';
import type { RunHost } from './run-host.js';
import type { InternalRun } from './triggers.js';

const POOL_SUFFIX = '#durable';

/** The tenant queue's name for a worker's durable slot pool. */
export const durablePool = (workerId: string) => `${workerId}${POOL_SUFFIX}`;

/** The worker a queue entry (its default or its durable pool) belongs to. */
export function workerOfPool(pool: string | undefined): string | undefined {
  return pool?.endsWith(POOL_SUFFIX) ? pool.slice(0, -POOL_SUFFIX.length) : pool;
}

/** A finished child run as its durable parent's checkpoint records it: JSON built from the payloads' bytes. */
export function childResult(finished: FinishedRun): Payload {
  if (finished.status === 'COMPLETED') {
    const parts: Buffer[] = [];
    for (const [task, output] of Object.entries(finished.output ?? {})) {
      if (parts.length > 0) parts.push(Buffer.from(','));
      parts.push(Buffer.from(`${JSON.stringify(task)}:`), Buffer.from(output));
    }
    return Buffer.concat([Buffer.from(`{"runId":${JSON.stringify(finished.runId)},"status":"COMPLETED","output":{`), ...parts, Buffer.from('}}')]);
  }
  return Buffer.from(JSON.stringify({ runId: finished.runId, status: finished.status, errors: finished.errors ?? [] }));
}

type CheckpointFrame = Omit<Extract<ClientFrame, { t: 'checkpoint' }>, 't' | 'req'>;

/** Children of checkpoint `nodeId` get child indexes `nodeId × CHILD_INDEX_STRIDE + i`. */
const CHILD_INDEX_STRIDE = 10_000;

export class DurableTasks {
  constructor(
    private readonly engine: {
      readonly host: RunHost;
      createRuns(tenantId: string, runs: readonly InternalRun[]): Promise<string[]>;
      readRun(runId: string): Promise<RunState>;
      /** A recently finished run, if the engine still remembers it. */
      finished(runId: string): FinishedRun | undefined;
      /** The tenant's events with one of `keys` pushed since `sinceMs`, oldest first. */
      eventsSince(tenantId: string, keys: readonly string[], sinceMs: number): Promise<OccurredEvent[]>;
    },
  ) {}

  async checkpoint(runId: string, taskName: string, frame: CheckpointFrame): Promise<CheckpointReply> {
    const { host } = this.engine;
    // An active run may have left memory (it was idle); the log has it.
    const state = host.peek(runId) ?? (await this.engine.readRun(runId));
    if (state.kind !== 'active') return { done: false };
    const task = state.tasks[taskName];
    const signature = opSignature(frame.op);
    const known = task?.durable?.checkpoints[frame.nodeId - 1];
    const op = frame.op;
    let command: Parameters<RunHost['send']>[1];
    const base = { type: 'Checkpoint', task: taskName, attempt: frame.attempt, invocation: frame.invocation, nodeId: frame.nodeId, signature } as const;
    if (op.kind === 'children') {
      let runIds = known?.children?.runIds ?? [];
      if (known === undefined && task !== undefined) {
        // Invariant 1: the children exist before the checkpoint that waits for them.
        const runs: InternalRun[] = op.children.map((child, i) => ({
          workflow: child.workflow,
          input: child.input,
          additionalMetadata: { ...state.additionalMetadata, ...(child.additionalMetadata ?? {}) },
          ...(child.priority === undefined ? {} : { priority: child.priority }),
          parentTaskId: task.taskId,
          childIndex: frame.nodeId * CHILD_INDEX_STRIDE + i,
          ...(child.key === undefined ? {} : { childKey: child.key }),
        }));
        runIds = await this.engine.createRuns(state.tenantId, runs);
      }
      const finished: Record<string, Payload> = {};
      for (const child of runIds) {
        const done = this.engine.finished(child);
        if (done !== undefined) finished[child] = childResult(done);
      }
      command = { ...base, op: { kind: 'children', runIds, finished } };
    } else if (op.kind === 'wait') {
      command = { ...base, op: { kind: 'wait', conditions: op.conditions } };
    } else {
      command = { ...base, op: { kind: 'now' } };
    }
    // The reply follows from what the command decided (the run may leave memory right after).
    const events = await host.send(runId, command);
    if (op.kind === 'wait' && op.considerEventsSinceMs !== undefined && known === undefined && events.some((event) => event.type === 'TaskEvicted')) {
      // A look back: events pushed since then are handed to the wait now, oldest first.
      const keys = op.conditions.flatMap((condition) => (condition.kind === 'event' ? [condition.eventKey] : []));
      for (const past of await this.engine.eventsSince(state.tenantId, keys, op.considerEventsSinceMs)) await host.send(runId, { type: 'EventOccurred', event: past });
    }
    if (events.some((event) => event.type === 'TaskEvicted')) return { done: false };
    const recorded = events.find((event) => event.type === 'DurableCheckpointed');
    if (recorded?.result !== undefined) return { done: true, result: recorded.result };
    if (events.some((event) => event.type === 'TaskResident')) return { done: false, resident: true };
    if (recorded !== undefined) return { done: false };
    // A replayed checkpoint: done (its result was recorded before the task was queued again), or
    // asked again while it waits on its worker (the result may have come meanwhile), or fenced.
    if (known?.result !== undefined) return { done: true, result: known.result };
    const now = host.peek(runId) ?? (await this.engine.readRun(runId));
    const after = now.kind === 'active' ? now.tasks[taskName] : undefined;
    const result = after?.durable?.checkpoints[frame.nodeId - 1]?.result;
    if (after === undefined || after.attempt !== frame.attempt || after.durable?.invocation !== frame.invocation) return { done: false };
    if (result !== undefined) return { done: true, result };
    return isResident(after) ? { done: false, resident: true } : { done: false };
  }

  /** A child run finished: its durable parent, if it has one that is active, records it. */
  childFinished(parentTaskId: string, parentRunId: string | undefined, childRunId: string, finished: FinishedRun): void {
    if (parentRunId === undefined) return;
    // A parent that is in memory and not durable waits through its subscription instead.
    const parent = this.engine.host.peek(parentRunId);
    if (parent !== undefined && parent.kind !== 'none' && Object.values(parent.tasks).find((t) => t.taskId === parentTaskId)?.spec.durable !== true) return;
    this.engine.host.send(parentRunId, { type: 'ChildFinished', runId: childRunId, result: childResult(finished) }).catch(() => {});
  }

  /** Reports children of pending checkpoints that have finished (invariant 2). */
  recheckChildren(runId: string, state: RunState): void {
    if (state.kind !== 'active') return;
    for (const task of Object.values(state.tasks)) {
      for (const checkpoint of task.durable?.checkpoints ?? []) {
        if (checkpoint.result !== undefined || checkpoint.children === undefined) continue;
        for (const child of checkpoint.children.runIds) {
          if (checkpoint.children.results[child] !== undefined) continue;
          const report = (finished: FinishedRun | undefined) => {
            if (finished !== undefined) this.engine.host.send(runId, { type: 'ChildFinished', runId: child, result: childResult(finished) }).catch(() => {});
          };
          const known = this.engine.finished(child);
          if (known !== undefined) report(known);
          else {
            this.engine
              .readRun(child)
              .then((childState) => report(childState.kind === 'finished' ? childState.finished : undefined))
              .catch(() => {});
          }
        }
      }
    }
  }

  /** Where a task of a run no longer in memory is: a standalone task's id is its run's. */
  async findTask(taskId: string): Promise<{ runId: string; task: string } | undefined> {
    const state = await this.engine.readRun(taskId);
    if (state.kind === 'none') return undefined;
    const task = Object.values(state.tasks).find((t) => t.taskId === taskId);
    return task === undefined ? undefined : { runId: taskId, task: task.name };
  }
}
