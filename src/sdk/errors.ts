/**
 * The SDK's error classes, with the names and shapes Hatchet programs match on (`instanceof`,
 * `name`, and their fields).
 */

export class HatchetError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HatchetError';
  }
}

/**
 * What the SDK throws where a program uses a feature this engine does not carry out yet: the
 * program compiles and imports, and the call (or the worker's registration) says so plainly.
 */
export class NotSupportedError extends HatchetError {
  constructor(
    readonly feature: string,
    message = `${feature} is not supported by this engine yet`,
  ) {
    super(message);
    this.name = 'NotSupportedError';
  }
}

/** Thrown from a task: fail it now, whether or not it has retries left. */
export class NonRetryableError extends Error {
  constructor(message?: string) {
    super(message);
    this.name = 'NonRetryableError';
  }
}

export type TaskRunTerminationReason = 'cancelled' | 'evicted' | 'timeout';

/** The reason a task's abort signal fires. */
export class TaskRunTerminatedError extends Error {
  constructor(
    readonly reason: TaskRunTerminationReason = 'cancelled',
    message?: string,
  ) {
    super(message ?? `task run was ${reason}`);
    this.name = 'TaskRunTerminatedError';
  }
}

export function isTaskRunTerminatedError(error: unknown): error is TaskRunTerminatedError {
  return error instanceof TaskRunTerminatedError;
}

/** A durable task replayed differently from its recorded checkpoints. */
export class NonDeterminismError extends HatchetError {
  constructor(
    readonly taskExternalId: string,
    readonly invocationCount: number,
    readonly nodeId: number,
    message: string,
  ) {
    super(message);
    this.name = 'NonDeterminismError';
  }
}

/** The engine cannot evict durable tasks. */
export class EvictionNotSupportedError extends HatchetError {
  constructor(readonly engineVersion?: string) {
    super(`durable task eviction is not supported by this engine${engineVersion === undefined ? '' : ` (${engineVersion})`}`);
    this.name = 'EvictionNotSupportedError';
  }
}

/** A trigger collided with an existing run's idempotency key. */
export class IdempotencyCollisionError extends HatchetError {
  constructor(readonly existingRunExternalId: string) {
    super(`a run with the same idempotency key already exists: ${existingRunExternalId}`);
    this.name = 'IdempotencyCollisionError';
  }
}

/** Some runs of a bulk trigger collided; the others were created. Extends `Error`, as in Hatchet. */
export class BulkTriggerIdempotencyCollisionError extends Error {
  constructor(
    readonly successfulWorkflowRunExternalIds: string[],
    readonly collisions: IdempotencyCollisionError[],
  ) {
    super(`${collisions.length} of the runs collided with existing runs' idempotency keys`);
    this.name = 'BulkTriggerIdempotencyCollisionError';
  }
}

/** A child run with the same key already exists. */
export class DedupeViolationErr extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DedupeViolationErr';
  }
}

/** Rejected by an abort signal. */
export class AbortError extends Error {
  constructor(message = 'Operation cancelled by AbortSignal') {
    super(message);
    this.name = 'AbortError';
  }
}
