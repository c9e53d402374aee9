/**
 * Workflow runs as actors: the run decider (`actors/workflow-run.ts`) hosted by the actor host,
 * one stream per run (`run:<runId>`). A run stays in memory while it is active and leaves it once
 * it has finished and nothing is in flight.
 */
import { decide, decideEvolved, evolve, initialState, type RunCommand, type RunEvent, type RunState } from '../../actors/workflow-run.js';
import type { EventLog, LogRecord } from '../../store/log.js';
import { engineLimits } from '../lib/limits.js';
import { type ActorEffects, ActorHost, type Decider, loadActor } from './actor-host.js';

export const runStream = (runId: string) => `run:${runId}`;

export const runDecider: Decider<RunState, RunCommand, RunEvent> = {
  initialState,
  decide,
  decideEvolved,
  evolve,
  isActive: (state) => state.kind === 'active',
  // An assignment and a start acknowledge nothing (DESIGN: "assignment is not an acknowledgement"):
  // they are written with the run's next append — a short task's result — or a moment later.
  // A note of why a task waits, and a released slot, acknowledge nothing either.
  deferrable: (event) => event.type === 'TaskAssigned' || event.type === 'TaskStarted' || event.type === 'TaskWaiting' || event.type === 'TaskSlotReleased',
};

export type RunHost = ActorHost<RunState, RunCommand, RunEvent>;
export type RunEffects = ActorEffects<RunState, RunEvent, RunCommand>;

/** What an idle run holds in memory, roughly: its state, its input and its tasks' outputs. */
function runBytes(state: RunState): number {
  if (state.kind === 'none') return 0;
  let bytes = 1024 + state.input.length;
  for (const task of Object.values(state.tasks)) bytes += 256 + (task.output?.length ?? 0);
  return bytes;
}

/**
 * A run none of whose tasks is on a worker — queued, retrying, asleep, waiting for events or
 * children — waits for its turn: it keeps to the budget of waiting runs (actor-host invariant 5).
 */
export function runWaits(state: RunState): boolean {
  if (state.kind !== 'active') return false;
  for (const task of Object.values(state.tasks)) if (task.status === 'assigned' || task.status === 'running') return false;
  return true;
}

export interface RunMemory {
  /** Idle runs with a task on a worker (default `engineLimits.idleRunsBytesMax`). */
  readonly idleBytesMax?: number;
  /** Idle runs waiting for their turn (default `engineLimits.idleWaitingRunsBytesMax`). */
  readonly waitingBytesMax?: number;
}

export function createRunHost(log: EventLog, clock: () => number, effects: RunEffects, memory: RunMemory = {}): RunHost {
  return new ActorHost({
    log,
    clock,
    decider: runDecider,
    stream: runStream,
    effects,
    memory: {
      bytesMax: memory.idleBytesMax ?? engineLimits.idleRunsBytesMax,
      sizeOf: runBytes,
      waiting: { bytesMax: memory.waitingBytesMax ?? engineLimits.idleWaitingRunsBytesMax, is: runWaits },
    },
  });
}

/** A run's state from the log: its newest snapshot, then the events after it. */
export function loadRun(log: EventLog, runId: string): Promise<{ state: RunState; version: number; records: LogRecord[] }> {
  return loadActor(log, runStream(runId), initialState(), evolve);
}
