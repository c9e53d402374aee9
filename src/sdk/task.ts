/**
 * The options of tasks (Hatchet's `v1/task`): what a program writes in `hatchet.task({...})`,
 * `wf.task({...})`, `wf.durableTask({...})`, `wf.onFailure({...})`. Which of them this engine
 * carries out is decided at registration (`declaration.ts`, `unsupportedOptions`).
 */
import type { Conditions } from './conditions.js';
import type { Context, DurableContext } from './context.js';
import type { Duration } from './duration.js';
import type { ConcurrencyLimitStrategy, RateLimitDuration } from './enums.js';
import type { DesiredWorkerLabel, InputType, OutputType, UnknownInputType } from './types.js';

/** A concurrency limit: a CEL key over the input, at most `maxRuns` (default 1) per key. */
export type Concurrency = {
  expression: string;
  maxRuns?: number;
  limitStrategy?: ConcurrencyLimitStrategy;
};

/** @deprecated use Concurrency */
export type TaskConcurrency = Concurrency;

export type BaseIdempotencyConfig = {
  /** CEL over the input and metadata that makes the idempotency key. */
  expression: string;
};
export type TTLBasedIdempotencyConfig = BaseIdempotencyConfig & { strategy: 'ttl'; ttlMs: number };
export type StatusBasedIdempotencyConfig = BaseIdempotencyConfig & { strategy: 'status'; fallbackTtlMs?: number };
export type IdempotencyConfig = TTLBasedIdempotencyConfig | StatusBasedIdempotencyConfig;

/** Batching of a batch task (preview in Hatchet). */
export type BatchTaskConfig = {
  maxSize: number;
  maxInterval?: Duration;
  groupKey?: string;
  groupMaxRuns?: number;
  broadcastOutput?: boolean;
};

export type RateLimit = {
  units: string | number;
  key?: string;
  staticKey?: string;
  dynamicKey?: string;
  limit?: string | number;
  duration?: RateLimitDuration;
};

export type TaskFn<I extends InputType = UnknownInputType, O extends OutputType = void, C = Context<I>> = (input: I, ctx: C) => O | Promise<O>;
export type DurableTaskFn<I extends InputType = UnknownInputType, O extends OutputType = void> = TaskFn<I, O, DurableContext<I>>;
export type BatchTaskFn<I extends InputType = UnknownInputType, O extends OutputType = void> = (
  inputs: Record<string, I>,
  ctx: Context<Record<string, I>>,
) => O | Record<string, O> | Promise<O | Record<string, O>>;

export type CreateBaseTaskOpts<I extends InputType = UnknownInputType, O extends OutputType = void, C = TaskFn<I, O>> = {
  name: string;
  fn?: C;
  /** @deprecated use executionTimeout */
  timeout?: Duration;
  /** Default 60 s. */
  executionTimeout?: Duration;
  /** How long the task may wait in the queue; default 5 m. */
  scheduleTimeout?: Duration;
  /** Default 0. */
  retries?: number;
  backoff?: { factor?: number | undefined; maxSeconds?: number | undefined };
  rateLimits?: RateLimit[];
  desiredWorkerLabels?: Record<string, DesiredWorkerLabel>;
  concurrency?: Concurrency | Concurrency[];
  /** A CEL expression naming the run; cosmetic, not applied by this engine yet. */
  displayName?: string;
  /** Slots of the worker the task takes; default 1. */
  slotCost?: number;
  /** @internal */
  slotRequests?: Record<string, number>;
};

export type CreateWorkflowTaskOpts<
  I extends InputType = UnknownInputType,
  O extends OutputType = void,
  C extends TaskFn<I, O> | DurableTaskFn<I, O> = TaskFn<I, O>,
> = CreateBaseTaskOpts<I, O, C> & {
  /** Tasks that must complete before this one runs: the edges of the DAG. */
  // biome-ignore lint/suspicious/noExplicitAny: a parent's input and output are its own.
  parents?: CreateWorkflowTaskOpts<I, any, any>[];
  /** Queue the task only once these conditions match (an array is AND, `Or(...)` is OR). */
  waitFor?: Conditions | Conditions[];
  /** Cancel the task if these conditions match. */
  cancelIf?: Conditions | Conditions[];
  /** Skip the task (output `{ skipped: true }`) if these conditions match. */
  skipIf?: Conditions | Conditions[];
};

export type EvictionPolicy = {
  ttl?: Duration;
  /** Default true. */
  allowCapacityEviction?: boolean;
  /** Default 0. */
  priority?: number;
};

/** How a worker evicts waiting durable tasks. */
export type DurableEvictionConfig = {
  /** How often to look for a task to evict; default 1000 ms. */
  checkIntervalMs?: number;
  /** Slots kept out of capacity-based eviction decisions; default 0. */
  reserveSlots?: number;
  /** How long a task that just began waiting is spared from capacity eviction; default 10000 ms. */
  minWaitForCapacityEvictionMs?: number;
};

export const DEFAULT_DURABLE_TASK_EVICTION_POLICY: EvictionPolicy = { ttl: '15m', allowCapacityEviction: true, priority: 0 };

export type CreateWorkflowDurableTaskOpts<I extends InputType = UnknownInputType, O extends OutputType = void, C extends DurableTaskFn<I, O> = DurableTaskFn<I, O>> = Omit<
  CreateWorkflowTaskOpts<I, O, C>,
  'slotCost'
> & { evictionPolicy?: EvictionPolicy };

export type CreateOnSuccessTaskOpts<I extends InputType = UnknownInputType, O extends OutputType = void, C extends TaskFn<I, O> = TaskFn<I, O>> = Omit<
  CreateBaseTaskOpts<I, O, C>,
  'name'
> & { name?: string };

export type CreateOnFailureTaskOpts<I extends InputType = UnknownInputType, O extends OutputType = void, C extends TaskFn<I, O> = TaskFn<I, O>> = Omit<
  CreateBaseTaskOpts<I, O, C>,
  'name'
> & { name?: string };
