/**
 * The idempotency keys of one tenant's triggers, as a pure decider. Stream: `idempotency:<tenant>`.
 *
 * Owns: which run holds each key (a CEL expression over a trigger's input and metadata makes it, as
 * the workflow's `idempotency` says), until when (`ttl`), or until the run finishes (`status`, with
 * an optional fallback TTL). Does not own: computing keys or creating runs (the engine claims a key
 * before it creates the run that holds it, and releases it when that run finishes).
 *
 * Invariants:
 *  1. A key is held by at most one run at a time; a claim of a held key decides nothing, and the
 *     claimer learns the holder from the state.
 *  2. A claim that expired or was released is free; expired claims are dropped as new ones come.
 */
import { assertNever } from '../src/lib/errors.js';

export interface Claim {
  readonly runId: string;
  /** When the key is free again (undefined: only when the run finishes). */
  readonly expiresAtMs?: number | undefined;
  /** Released when the run finishes (`status` strategy). */
  readonly untilFinished: boolean;
}

export interface IdempotencyState {
  readonly claims: Readonly<Record<string, Claim>>;
}

export type IdempotencyCommand =
  | { readonly type: 'ClaimKeys'; readonly claims: ReadonlyArray<{ readonly key: string } & Claim> }
  | { readonly type: 'ReleaseKey'; readonly key: string; readonly runId: string };

export type IdempotencyEvent =
  | ({ readonly type: 'KeyClaimed'; readonly key: string; readonly atMs: number } & Claim)
  | { readonly type: 'KeyReleased'; readonly key: string; readonly atMs: number };

export const initialIdempotencyState = (): IdempotencyState => ({ claims: {} });

/** How many expired claims one command drops at most (bounded work per decision). */
const PRUNE_MAX = 100;

const held = (claim: Claim | undefined, nowMs: number) => claim !== undefined && (claim.expiresAtMs === undefined || claim.expiresAtMs > nowMs);

export function decideIdempotency(state: IdempotencyState, command: IdempotencyCommand, ctx: { nowMs: number }): IdempotencyEvent[] {
  const now = ctx.nowMs;
  switch (command.type) {
    case 'ClaimKeys': {
      const events: IdempotencyEvent[] = [];
      const taken = new Set<string>();
      for (const { key, ...claim } of command.claims) {
        if (taken.has(key) || held(state.claims[key], now)) continue;
        taken.add(key);
        events.push({ type: 'KeyClaimed', key, ...claim, atMs: now });
      }
      let pruned = 0;
      for (const [key, claim] of Object.entries(state.claims)) {
        if (pruned >= PRUNE_MAX) break;
        if (!held(claim, now) && !taken.has(key)) {
          events.push({ type: 'KeyReleased', key, atMs: now });
          pruned += 1;
        }
      }
      return events;
    }
    case 'ReleaseKey':
      return state.claims[command.key]?.runId === command.runId ? [{ type: 'KeyReleased', key: command.key, atMs: now }] : [];
    default:
      return assertNever(command, 'idempotency command');
  }
}

export function evolveIdempotency(state: IdempotencyState, event: IdempotencyEvent): IdempotencyState {
  switch (event.type) {
    case 'KeyClaimed': {
      const { type: _, key, atMs: _at, ...claim } = event;
      return { claims: { ...state.claims, [key]: claim } };
    }
    case 'KeyReleased': {
      const { [event.key]: _gone, ...rest } = state.claims;
      return { claims: rest };
    }
    default:
      return assertNever(event, 'idempotency event');
  }
}
