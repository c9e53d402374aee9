/**
 * The worker actor: one worker's registration and liveness, as a pure decider. Stream:
 * `worker:<workerId>`.
 *
 * Owns: what a worker said it runs (name, actions, slots, labels) and whether the engine still
 * counts it as alive. Does not own: heartbeats (too frequent to log; the engine keeps the last one
 * in memory and, after a restart, gives every registered worker a fresh liveness window) or the
 * tasks it holds (those are in the runs' streams).
 *
 * Invariants:
 *  1. A reconnect that registers the same configuration decides nothing: the log grows only when a
 *     worker appears, changes, or expires.
 *  2. An expired worker registers again as a new registration (same id), never silently revived.
 */
import { assertNever } from '../src/lib/errors.js';

export interface WorkerRegistration {
  readonly workerId: string;
  readonly tenantId: string;
  readonly name: string;
  readonly actions: readonly string[];
  readonly slots: number;
  readonly labels: Readonly<Record<string, string | number>>;
}

export type WorkerState =
  | { readonly kind: 'none' }
  | ({ readonly kind: 'registered'; readonly registeredAtMs: number } & WorkerRegistration)
  | ({ readonly kind: 'expired'; readonly registeredAtMs: number; readonly expiredAtMs: number; readonly reason: string } & WorkerRegistration);

export type WorkerCommand = ({ readonly type: 'RegisterWorker' } & WorkerRegistration) | { readonly type: 'ExpireWorker'; readonly reason: string };

export type WorkerEvent =
  | ({ readonly type: 'WorkerRegistered'; readonly atMs: number } & WorkerRegistration)
  | { readonly type: 'WorkerExpired'; readonly reason: string; readonly atMs: number };

export const initialWorkerState = (): WorkerState => ({ kind: 'none' });

const sameRegistration = (a: WorkerRegistration, b: WorkerRegistration) =>
  a.tenantId === b.tenantId &&
  a.name === b.name && a.slots === b.slots && JSON.stringify(a.actions) === JSON.stringify(b.actions) && JSON.stringify(a.labels) === JSON.stringify(b.labels);

export function decideWorker(state: WorkerState, command: WorkerCommand, ctx: { nowMs: number }): WorkerEvent[] {
  switch (command.type) {
    case 'RegisterWorker': {
      const { type: _, ...registration } = command;
      if (state.kind === 'registered' && sameRegistration(state, registration)) return [];
      return [{ type: 'WorkerRegistered', ...registration, atMs: ctx.nowMs }];
    }
    case 'ExpireWorker':
      return state.kind === 'registered' ? [{ type: 'WorkerExpired', reason: command.reason, atMs: ctx.nowMs }] : [];
    default:
      return assertNever(command, 'worker command');
  }
}

export function evolveWorker(state: WorkerState, event: WorkerEvent): WorkerState {
  switch (event.type) {
    case 'WorkerRegistered': {
      const { type: _, atMs, ...registration } = event;
      return { kind: 'registered', registeredAtMs: atMs, ...registration };
    }
    case 'WorkerExpired':
      return state.kind === 'registered' ? { ...state, kind: 'expired', expiredAtMs: event.atMs, reason: event.reason } : state;
    default:
      return assertNever(event, 'worker event');
  }
}
