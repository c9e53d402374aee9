/**
 * Flow-control options as the engine takes them: Hatchet's numeric enums (`ConcurrencyLimitStrategy`,
 * `RateLimitDuration`, `WorkerLabelComparator`) become the names the wire speaks, and Hatchet's
 * spellings (`key` for `staticKey`, `'SOFT'`/`0` for `'soft'`) become one. Values the engine does
 * not know are passed on by name, so the engine's refusal names them.
 */
import type { ConcurrencySpec, DesiredLabel, RateLimitSpec, WorkflowSpec } from '../../protocol/frames.js';
import { ConcurrencyLimitStrategy, RateLimitDuration, type StickyStrategyInput, WorkerLabelComparator } from './enums.js';
import { HatchetError } from './errors.js';
import type { Concurrency, RateLimit } from './task.js';
import type { DesiredWorkerLabel } from './types.js';

type WireConcurrency = Omit<ConcurrencySpec, 'maxRuns' | 'limitStrategy'> & { maxRuns?: number; limitStrategy?: ConcurrencySpec['limitStrategy'] };
type WireLabel = Omit<DesiredLabel, 'required' | 'weight' | 'comparator'> & Partial<Pick<DesiredLabel, 'required' | 'weight' | 'comparator'>>;

const nameOf = <E extends Record<string | number, string | number>>(values: E, value: unknown): string => (typeof value === 'number' ? String(values[value] ?? value) : String(value));

/** A concurrency option (one or a list) as the engine's `concurrency` list; undefined when none. */
export function concurrencySpecs(concurrency: Concurrency | Concurrency[] | undefined): WireConcurrency[] | undefined {
  if (concurrency === undefined) return undefined;
  const list = Array.isArray(concurrency) ? concurrency : [concurrency];
  if (list.length === 0) return undefined;
  return list.map((limit) => ({
    expression: limit.expression,
    ...(limit.maxRuns === undefined ? {} : { maxRuns: limit.maxRuns }),
    ...(limit.limitStrategy === undefined ? {} : { limitStrategy: nameOf(ConcurrencyLimitStrategy, limit.limitStrategy) as ConcurrencySpec['limitStrategy'] }),
  }));
}

/** A task's rate limits as the engine takes them; undefined when none. */
export function rateLimitSpecs(rateLimits: RateLimit[] | undefined): Array<Partial<RateLimitSpec>> | undefined {
  if (rateLimits === undefined || rateLimits.length === 0) return undefined;
  return rateLimits.map((limit) => {
    const staticKey = limit.staticKey ?? limit.key;
    return {
      ...(staticKey === undefined ? {} : { staticKey }),
      ...(limit.dynamicKey === undefined ? {} : { dynamicKey: limit.dynamicKey }),
      units: limit.units,
      ...(limit.limit === undefined ? {} : { limit: limit.limit }),
      ...(limit.duration === undefined ? {} : { duration: rateLimitDurationName(limit.duration, 'MINUTE') as RateLimitSpec['duration'] }),
    };
  });
}

/** Desired worker labels as the engine takes them; undefined when none. */
export function desiredLabels(labels: Record<string, DesiredWorkerLabel> | undefined): Record<string, WireLabel> | undefined {
  if (labels === undefined || Object.keys(labels).length === 0) return undefined;
  const out: Record<string, WireLabel> = {};
  for (const [key, label] of Object.entries(labels)) {
    if (label === null || typeof label !== 'object') throw new HatchetError(`desired worker label '${key}' must be an object { value, required?, weight?, comparator? }`);
    out[key] = {
      value: label.value,
      ...(label.required === undefined ? {} : { required: label.required }),
      ...(label.weight === undefined ? {} : { weight: label.weight }),
      ...(label.comparator === undefined ? {} : { comparator: nameOf(WorkerLabelComparator, label.comparator) as DesiredLabel['comparator'] }),
    };
  }
  return out;
}

/** Hatchet's sticky spellings as the engine's. */
export function stickyName(sticky: StickyStrategyInput | undefined): WorkflowSpec['sticky'] {
  if (sticky === undefined) return undefined;
  if (sticky === 'soft' || sticky === 'SOFT' || sticky === 0) return 'soft';
  if (sticky === 'hard' || sticky === 'HARD' || sticky === 1) return 'hard';
  throw new HatchetError(`unknown sticky strategy ${JSON.stringify(sticky)}; use StickyStrategy.SOFT or StickyStrategy.HARD`);
}

/** The name of a `RateLimitDuration` (the wire and the REST API speak names). */
export function rateLimitDurationName(duration: RateLimitDuration | string | undefined, fallback: string): string {
  if (duration === undefined) return fallback;
  if (typeof duration === 'string') return duration;
  const name = RateLimitDuration[duration];
  if (name === undefined || duration === RateLimitDuration.UNRECOGNIZED) throw new HatchetError(`unknown rate limit duration ${duration}; use RateLimitDuration.SECOND … YEAR`);
  return name;
}

