/**
 * The fixed vocabularies Hatchet programs import, with Hatchet's exact values. Those Hatchet
 * declares as TypeScript enums are enums here too (numeric where Hatchet's are numeric), so a value
 * written as `ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN` or as `3` means the same on both.
 */

/** A run's priority; the engine's default is `LOW`. */
export enum Priority {
  LOW = 1,
  MEDIUM = 2,
  HIGH = 3,
}

/** What happens to runs over a concurrency limit (server default `CANCEL_IN_PROGRESS`). */
export enum ConcurrencyLimitStrategy {
  CANCEL_IN_PROGRESS = 0,
  /** @deprecated */
  DROP_NEWEST = 1,
  /** @deprecated */
  QUEUE_NEWEST = 2,
  GROUP_ROUND_ROBIN = 3,
  CANCEL_NEWEST = 4,
  CANCEL_QUEUED_EXCEPT_NEWEST = 5,
  CANCEL_QUEUED_EXCEPT_OLDEST = 6,
  UNRECOGNIZED = -1,
}

/** How a desired worker label compares with a worker's label (server default `EQUAL`). */
export enum WorkerLabelComparator {
  EQUAL = 0,
  NOT_EQUAL = 1,
  GREATER_THAN = 2,
  GREATER_THAN_OR_EQUAL = 3,
  LESS_THAN = 4,
  LESS_THAN_OR_EQUAL = 5,
  UNRECOGNIZED = -1,
}

/** The window of a rate limit. */
export enum RateLimitDuration {
  SECOND = 0,
  MINUTE = 1,
  HOUR = 2,
  DAY = 3,
  WEEK = 4,
  MONTH = 5,
  YEAR = 6,
  UNRECOGNIZED = -1,
}

/** Sticky assignment of a workflow's tasks to one worker. */
export const StickyStrategy = { SOFT: 'soft', HARD: 'hard' } as const;
export type StickyStrategy = (typeof StickyStrategy)[keyof typeof StickyStrategy];
/** What `sticky` accepts: the strategy, or the legacy spellings `'SOFT'`/`'HARD'`/`0`/`1`. */
export type StickyStrategyInput = StickyStrategy | 'SOFT' | 'HARD' | 0 | 1;

/** The slot pools of a worker. */
export enum SlotType {
  Default = 'default',
  Durable = 'durable',
}
export type SlotConfig = Partial<Record<SlotType, number>>;

/** Engine versions that gate SDK features in Hatchet. */
export const MinEngineVersion = { SLOT_CONFIG: 'v0.78.23', DURABLE_EVICTION: 'v0.80.0' } as const;

/** A task run's status, as runs and the REST API name it. */
export enum V1TaskStatus {
  QUEUED = 'QUEUED',
  RUNNING = 'RUNNING',
  COMPLETED = 'COMPLETED',
  CANCELLED = 'CANCELLED',
  FAILED = 'FAILED',
}

/** A worker's status, as the workers API names it. */
export enum WorkerStatus {
  ACTIVE = 'ACTIVE',
  INACTIVE = 'INACTIVE',
  PAUSED = 'PAUSED',
}

/** The level of a task's log line. */
export enum V1LogLineLevel {
  DEBUG = 'DEBUG',
  INFO = 'INFO',
  WARN = 'WARN',
  ERROR = 'ERROR',
}

export enum V1LogLineOrderByDirection {
  ASC = 'ASC',
  DESC = 'DESC',
}

export enum RateLimitOrderByField {
  Key = 'key',
  Value = 'value',
  LimitValue = 'limitValue',
}

export enum RateLimitOrderByDirection {
  Asc = 'asc',
  Desc = 'desc',
}
