/**
 * The event log: the one interface every piece of Kindling's state is stored behind.
 *
 * Owns: the contract of named, append-only streams and of the whole log in global order. Does not
 * own: what events mean (that is `actors/`), nor who may write a stream (that is `src/engine`).
 *
 * Invariants every backend keeps (the conformance suite in `test/contract/` checks each):
 *  1. A stream's records have sequence numbers 1, 2, 3, … with no gap, in append order.
 *  2. Global positions strictly increase in commit order. They may skip numbers (a deleted stream,
 *     a failed write, a backend's encoding), so read "after position P", never "position P + 1".
 *  3. An append is atomic: all of its events are stored, or none, and only if the expected version
 *     held at the moment of the write.
 *  4. An append resolves only once its events are durable (for LMDB: flushed to disk) and visible
 *     to every read and tail that starts afterwards (read-your-writes).
 *  5. An append carrying an `idempotencyKey` the stream already stored returns the original result
 *     with `duplicate: true` and writes nothing. (JetStream keeps keys for its duplicate window, and
 *     beyond it still detects a retry that names the version it originally expected.)
 *  6. A record read back equals, field for field, the record written; a record that fails its
 *     checksum raises `LOG_CORRUPT_RECORD` instead of being skipped or repaired.
 *  7. A tail delivers every record after its start position exactly once, in global order,
 *     including records appended while it catches up.
 */

/** The version the stream must be at for an append to go through. */
export type ExpectedVersion =
  /** Exactly this many events are in the stream. */
  | number
  /** The stream has no events (it was never written, or holds none). */
  | 'no-stream'
  /** No check: append after whatever is there. */
  | 'any';

export interface NewEvent<T = unknown> {
  /** A past-tense fact, such as `TaskQueued`. */
  readonly type: string;
  /** Any value msgpack can encode. It is stored encoded and decoded on read (so it is a copy). */
  readonly data: T;
}

export interface AppendOptions {
  readonly expectedVersion: ExpectedVersion;
  /** Makes a retried append safe: the second one returns the first one's result (invariant 5). */
  readonly idempotencyKey?: string;
}

export interface AppendResult {
  readonly stream: string;
  readonly firstSeq: number;
  readonly lastSeq: number;
  /** The global position of the append's last event. A tail started here sees what comes next. */
  readonly lastPosition: number;
  /** True when the idempotency key matched an earlier append and nothing was written now. */
  readonly duplicate: boolean;
}

/** The envelope of one stored event. */
export interface LogRecord<T = unknown> {
  readonly position: number;
  readonly stream: string;
  readonly seq: number;
  readonly type: string;
  readonly timestampMs: number;
  readonly data: T;
  /** The log format this record was written with (see `LOG_FORMAT_VERSION`). */
  readonly formatVersion: number;
}

export interface Snapshot<S = unknown> {
  readonly stream: string;
  /** The state is the fold of the stream's events 1…seq. */
  readonly seq: number;
  readonly state: S;
  readonly timestampMs: number;
}

export interface ReadStreamOptions {
  /** First sequence number to return; default 1. */
  readonly fromSeq?: number;
  /** Most records to return; default and cap `limits.readRecordsMax`. */
  readonly limit?: number;
}

export interface ReadAllOptions {
  /** Return records whose position is greater than this; default 0 (from the beginning). */
  readonly after?: number;
  readonly limit?: number;
}

/** A live, ordered feed of the whole log. Iterate it; `close()` ends the iteration. */
export interface Tail extends AsyncIterable<LogRecord> {
  close(): Promise<void>;
}

export type LogBackend = 'memory' | 'lmdb' | 'jetstream';

export interface EventLog {
  readonly backend: LogBackend;
  append(stream: string, events: readonly NewEvent[], options: AppendOptions): Promise<AppendResult>;
  /** The stream's records from `fromSeq`, in order. An unknown or deleted stream reads as empty. */
  readStream(stream: string, options?: ReadStreamOptions): Promise<LogRecord[]>;
  /** How many events the stream holds: 0 for an unknown or deleted stream. */
  streamVersion(stream: string): Promise<number>;
  /** Records of every stream after a position, in global order. */
  readAll(options?: ReadAllOptions): Promise<LogRecord[]>;
  /** The position of the newest record in the log, 0 when it is empty. */
  headPosition(): Promise<number>;
  /** Follows the log from `after` (exclusive): first what is stored, then what is appended. */
  tail(options?: { readonly after?: number }): Tail;
  /** Stores the state of a stream at `seq`, replacing any earlier snapshot of it. */
  saveSnapshot(snapshot: Omit<Snapshot, 'timestampMs'>): Promise<void>;
  loadSnapshot(stream: string): Promise<Snapshot | undefined>;
  /** Removes a stream's events and snapshot for retention. Its name can never be appended again. */
  deleteStream(stream: string): Promise<void>;
  close(): Promise<void>;
}

/** Bumped whenever the stored encoding of records changes; readers refuse a newer format. */
export const LOG_FORMAT_VERSION = 2;

/** Where time comes from, so tests and simulations can fix it (STYLE practice 10). */
export type Clock = () => number;
