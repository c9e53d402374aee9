/**
 * The worker actor: one worker's registration and liveness, as a pure decider. Stream:
 * `worker:<workerId>`.
 *
 * Owns: what a worker said it runs (name, actions, slots, labels), the labels it changed since
 * (`upsertLabels`), whether it is paused (it keeps its tasks but is given no new ones), and whether
 * the engine still counts it as alive. Does not own: heartbeats (too frequent to log; the engine keeps the last one
 * in memory and, after a restart, gives every registered worker a fresh liveness window) or the
 * tasks it holds (those are in the runs' streams).
 *
 * Invariants:
 *  1. A reconnect that registers the same configuration decides nothing: the log grows only when a
 *     worker appears, changes, or expires.
 *  2. An expired worker registers again as a new registration (same id), never silently revived.
 *  3. Pausing outlives reconnects and re-registrations: only `UnpauseWorker` ends it.
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
  | ({ readonly kind: 'registered'; readonly registeredAtMs: number; readonly paused?: boolean } & WorkerRegistration)
  | ({ readonly kind: 'expired'; readonly registeredAtMs: number; readonly expiredAtMs: number; readonly reason: string; readonly paused?: boolean } & WorkerRegistration);

export type WorkerCommand =
  | ({ readonly type: 'RegisterWorker' } & WorkerRegistration)
  | { readonly type: 'ExpireWorker'; readonly reason: string }
  | { readonly type: 'UpsertLabels'; readonly labels: Readonly<Record<string, string | number>> }
  | { readonly type: 'PauseWorker' }
  | { readonly type: 'UnpauseWorker' };

export type WorkerEvent =
  | ({ readonly type: 'WorkerRegistered'; readonly atMs: number } & WorkerRegistration)
  | { readonly type: 'WorkerExpired'; readonly reason: string; readonly atMs: number }
  /** The worker's labels after an upsert (all of them). */
  | { readonly type: 'WorkerLabelsUpserted'; readonly labels: Readonly<Record<string, string | number>>; readonly atMs: number }
  | { readonly type: 'WorkerPaused'; readonly atMs: number }
  | { readonly type: 'WorkerUnpaused'; readonly atMs: number };

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
    case 'UpsertLabels': {
      if (state.kind === 'none') return [];
      const labels = { ...state.labels, ...command.labels };
      return JSON.stringify(labels) === JSON.stringify(state.labels) ? [] : [{ type: 'WorkerLabelsUpserted', labels, atMs: ctx.nowMs }];
    }
    case 'PauseWorker':
      return state.kind === 'none' || state.paused === true ? [] : [{ type: 'WorkerPaused', atMs: ctx.nowMs }];
    case 'UnpauseWorker':
      return state.kind === 'none' || state.paused !== true ? [] : [{ type: 'WorkerUnpaused', atMs: ctx.nowMs }];
    default:
      return assertNever(command, 'worker command');
  }
}

export function evolveWorker(state: WorkerState, event: WorkerEvent): WorkerState {
  switch (event.type) {
    case 'WorkerRegistered': {
      const { type: _, atMs, ...registration } = event;
      // Invariant 3: a paused worker that registers again is still paused.
      return { kind: 'registered', registeredAtMs: atMs, ...registration, ...(state.kind !== 'none' && state.paused === true ? { paused: true } : {}) };
    }
    case 'WorkerExpired':
      return state.kind === 'registered' ? { ...state, kind: 'expired', expiredAtMs: event.atMs, reason: event.reason } : state;
    case 'WorkerLabelsUpserted':
      return state.kind === 'none' ? state : { ...state, labels: event.labels };
    case 'WorkerPaused':
      return state.kind === 'none' ? state : { ...state, paused: true };
    case 'WorkerUnpaused':
      return state.kind === 'none' ? state : { ...state, paused: false };
    default:
      return assertNever(event, 'worker event');
  }
}
