/**
 * A tenant's rate limits, as a pure decider. Stream: `ratelimits:<tenantId>`.
 *
 * Owns: each rate limit's definition — its key, its limit and its window — made by
 * `hatchet.ratelimits.upsert` (static keys) or by the first run that rendered a dynamic key. Does
 * not own: how much of a window is used (the tenant queue counts that in memory, and each
 * assignment that consumed units says so in its run's `TaskAssigned`, which is what recovery
 * counts again).
 *
 * Invariants:
 *  1. An upsert that changes nothing decides nothing: the stream grows only when a limit is new
 *     or changed.
 *  2. A limit is a positive whole number of units per window; a window is one of the durations.
 */
import { assertNever } from '../src/lib/errors.js';
import type { RateLimitDurationName } from '../protocol/frames.js';

export interface RateLimitDefinition {
  readonly key: string;
  readonly limit: number;
  readonly duration: RateLimitDurationName;
  /** Made by a run's dynamic key rather than by an upsert. */
  readonly dynamic: boolean;
  readonly updatedAtMs: number;
}

export interface RateLimitsState {
  readonly definitions: Readonly<Record<string, RateLimitDefinition>>;
}

export type RateLimitsCommand = { readonly type: 'UpsertRateLimit'; readonly key: string; readonly limit: number; readonly duration: RateLimitDurationName; readonly dynamic: boolean };

export type RateLimitsEvent = { readonly type: 'RateLimitUpserted'; readonly key: string; readonly limit: number; readonly duration: RateLimitDurationName; readonly dynamic: boolean; readonly atMs: number };

const SECOND = 1000;
const DAY = 86_400 * SECOND;
const WINDOW_MS: Record<RateLimitDurationName, number> = {
  SECOND,
  MINUTE: 60 * SECOND,
  HOUR: 3600 * SECOND,
  DAY,
  WEEK: 7 * DAY,
  MONTH: 30 * DAY,
  YEAR: 365 * DAY,
};

/** A window's length. A month is 30 days and a year 365: windows are fixed lengths, not calendar periods. */
export const windowMs = (duration: RateLimitDurationName) => WINDOW_MS[duration];

export const initialRateLimitsState = (): RateLimitsState => ({ definitions: {} });

export function decideRateLimits(state: RateLimitsState, command: RateLimitsCommand, ctx: { nowMs: number }): RateLimitsEvent[] {
  switch (command.type) {
    case 'UpsertRateLimit': {
      if (!Number.isSafeInteger(command.limit) || command.limit <= 0) throw new RangeError(`a rate limit is a positive whole number, not ${command.limit}`);
      const current = state.definitions[command.key];
      // A dynamic key never overrides a limit someone upserted by hand.
      if (current !== undefined && command.dynamic && !current.dynamic) return [];
      if (current !== undefined && current.limit === command.limit && current.duration === command.duration && current.dynamic === command.dynamic) return [];
      return [{ type: 'RateLimitUpserted', key: command.key, limit: command.limit, duration: command.duration, dynamic: command.dynamic, atMs: ctx.nowMs }];
    }
    default:
      return assertNever(command.type, 'rate limits command');
  }
}

export function evolveRateLimits(state: RateLimitsState, event: RateLimitsEvent): RateLimitsState {
  switch (event.type) {
    case 'RateLimitUpserted':
      return {
        definitions: { ...state.definitions, [event.key]: { key: event.key, limit: event.limit, duration: event.duration, dynamic: event.dynamic, updatedAtMs: event.atMs } },
      };
    default:
      return assertNever(event.type, 'rate limits event');
  }
}
