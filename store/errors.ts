/**
 * The log's error vocabulary. Every backend maps its native failures (LMDB, NATS, JetStream API
 * codes) onto these codes, so a caller never needs to know which backend it talks to.
 */
import { KindlingError } from '../src/lib/errors.js';

export const LogErrorCode = {
  /** The stream's version is not the expected one. Reload the stream and decide again. */
  Conflict: 'LOG_CONFLICT',
  /** The stream name is empty, too long, or holds a character outside the allowed set. */
  InvalidStreamName: 'LOG_INVALID_STREAM_NAME',
  /** An event, an append or its options are malformed (empty append, bad type, bad version). */
  InvalidAppend: 'LOG_INVALID_APPEND',
  /** A read's options are malformed (a limit or position that is not a whole number). */
  InvalidRead: 'LOG_INVALID_READ',
  /** One event's data is larger than `limits.eventDataBytesMax`. */
  EventTooLarge: 'LOG_EVENT_TOO_LARGE',
  /** An append holds more events or bytes than one append may. */
  AppendTooLarge: 'LOG_APPEND_TOO_LARGE',
  /** A snapshot is malformed, too large, or ahead of its stream. */
  InvalidSnapshot: 'LOG_INVALID_SNAPSHOT',
  /** A stored record failed its checksum or shape check. Replay stops rather than skip it. */
  CorruptRecord: 'LOG_CORRUPT_RECORD',
  /** The stream was deleted (retention); it cannot be appended to again. */
  StreamDeleted: 'LOG_STREAM_DELETED',
  /** The log cannot be reached or is recovering from a failed write. Retry later. */
  Unavailable: 'LOG_UNAVAILABLE',
  /** The disk or the LMDB map is full. Retry once space is freed. */
  StorageFull: 'LOG_STORAGE_FULL',
  /** The log was closed. */
  Closed: 'LOG_CLOSED',
  /** Another process (or another handle in this one) already has this log open for writing. */
  Locked: 'LOG_LOCKED',
  /** The log's configuration or the server's cannot hold Kindling's log (say, a small max_payload). */
  Misconfigured: 'LOG_MISCONFIGURED',
} as const;

export type LogErrorCode = (typeof LogErrorCode)[keyof typeof LogErrorCode];

const retryableCodes: ReadonlySet<LogErrorCode> = new Set([LogErrorCode.Unavailable, LogErrorCode.StorageFull]);

export class LogError extends KindlingError {
  override readonly name = 'LogError';
  declare readonly code: LogErrorCode;

  constructor(code: LogErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, retryableCodes.has(code), options);
  }
}

export function isLogError(error: unknown, code?: LogErrorCode): error is LogError {
  return error instanceof LogError && (code === undefined || error.code === code);
}

export const logErrors = {
  conflict: (stream: string, expected: string | number, actual: number) =>
    new LogError(
      LogErrorCode.Conflict,
      `stream '${stream}' is at version ${actual}, but the append expected ${expected}; reload the stream and retry`,
    ),
  invalidStreamName: (name: unknown, why: string) =>
    new LogError(LogErrorCode.InvalidStreamName, `invalid stream name ${JSON.stringify(name)}: ${why}`),
  invalidAppend: (why: string) => new LogError(LogErrorCode.InvalidAppend, `invalid append: ${why}`),
  invalidRead: (why: string) => new LogError(LogErrorCode.InvalidRead, `invalid read: ${why}`),
  eventTooLarge: (stream: string, index: number, bytes: number, max: number) =>
    new LogError(
      LogErrorCode.EventTooLarge,
      `event ${index} of the append to '${stream}' encodes to ${bytes} bytes; the limit is ${max}`,
    ),
  appendTooLarge: (stream: string, what: string) =>
    new LogError(LogErrorCode.AppendTooLarge, `append to '${stream}' is too large: ${what}`),
  invalidSnapshot: (stream: string, why: string) =>
    new LogError(LogErrorCode.InvalidSnapshot, `invalid snapshot of '${stream}': ${why}`),
  corruptRecord: (where: string, why: string) =>
    new LogError(
      LogErrorCode.CorruptRecord,
      `corrupt record at ${where}: ${why}; the log refuses to skip it — restore the store from a backup or remove the record deliberately`,
    ),
  streamDeleted: (stream: string) =>
    new LogError(LogErrorCode.StreamDeleted, `stream '${stream}' was deleted and cannot be appended to`),
  unavailable: (why: string, cause?: unknown) =>
    new LogError(LogErrorCode.Unavailable, `the log is unavailable: ${why}; retry later`, { cause }),
  storageFull: (why: string, cause?: unknown) =>
    new LogError(LogErrorCode.StorageFull, `the log's storage is full: ${why}; free space and retry`, { cause }),
  closed: () => new LogError(LogErrorCode.Closed, 'the log is closed'),
  locked: (path: string, holder: string) =>
    new LogError(LogErrorCode.Locked, `the log at ${path} is already open in ${holder}; one process owns a log at a time`),
  misconfigured: (why: string) => new LogError(LogErrorCode.Misconfigured, `the log is misconfigured: ${why}`),
} as const;
