/**
 * The base of every typed error Kindling raises to a caller.
 *
 * An operating error (bad input, a conflict, an unavailable store) is a `KindlingError` with a
 * stable `code` that callers and other runtimes can match on, and an explicit `retryable` meaning:
 * `true` when the same request may succeed if sent again unchanged. Programmer errors are
 * assertions (`assert` below), not `KindlingError`s.
 */
export class KindlingError extends Error {
  override readonly name: string = 'KindlingError';

  constructor(
    readonly code: string,
    message: string,
    readonly retryable: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** An invariant the code relies on. Failing one is a bug in Kindling, never a user's mistake. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}

export function assertNever(value: never, what: string): never {
  throw new Error(`assertion failed: unhandled ${what}: ${JSON.stringify(value)}`);
}
