/** The SDK's error classes, with the names and shapes Hatchet programs match on. */

export class HatchetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HatchetError';
  }
}

/** Thrown from a task: fail it now, with no retry left or not. */
export class NonRetryableError extends Error {
  constructor(message?: string) {
    super(message);
    this.name = 'NonRetryableError';
  }
}

/** The reason a task's abort signal fires. */
export class TaskRunTerminatedError extends Error {
  constructor(readonly reason: 'cancelled' | 'evicted' | 'timeout' = 'cancelled') {
    super(`task run was ${reason}`);
    this.name = 'TaskRunTerminatedError';
  }
}
