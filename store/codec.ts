/**
 * How records are checked and encoded, shared by every backend so they all store the same bytes.
 *
 * A stored frame is `[crc32 of body: u32 big-endian][body: msgpack]`. The checksum lets a reader
 * tell a damaged record from a valid one (log invariant 6); the body is a msgpack array rather than
 * a map because it is written for every event and positional fields cost nothing to name. The
 * global position is not in the body: it is the record's key in LMDB and is derived from the
 * message sequence in JetStream, so it can be assigned by whichever side commits.
 */
import { crc32 } from 'node:zlib';
import { Packr } from 'msgpackr';
import { assert } from '../src/lib/errors.js';
import { limits } from '../src/lib/limits.js';
import { logErrors } from './errors.js';
import { type AppendOptions, type AppendResult, type ExpectedVersion, LOG_FORMAT_VERSION, type LogRecord, type NewEvent, type ReadAllOptions, type ReadStreamOptions, type Snapshot } from './log.js';

/**
 * Plain msgpack (no record extension), so stored bytes are readable by any msgpack decoder, and
 * 64-bit integers decode as numbers rather than BigInt.
 */
const packr = new Packr({ useRecords: false, int64AsType: 'number' });

export const encodeValue = (value: unknown): Buffer => packr.pack(value);
export const decodeValue = (bytes: Uint8Array): unknown => packr.unpack(bytes);

const CHECKSUM_BYTES = 4;

/** Frames a body given in one or more parts (joined in order). */
export function frame(...parts: Buffer[]): Buffer {
  const length = parts.reduce((sum, part) => sum + part.length, 0);
  const out = Buffer.allocUnsafe(CHECKSUM_BYTES + length);
  let offset = CHECKSUM_BYTES;
  for (const part of parts) offset += part.copy(out, offset);
  out.writeUInt32BE(crc32(out.subarray(CHECKSUM_BYTES)), 0);
  return out;
}

/** Verifies a frame's checksum and returns its decoded body. `where` names it in the error. */
export function unframe(bytes: Uint8Array, where: string): unknown {
  if (bytes.length <= CHECKSUM_BYTES) throw logErrors.corruptRecord(where, `only ${bytes.length} bytes`);
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const body = buffer.subarray(CHECKSUM_BYTES);
  if (buffer.readUInt32BE(0) !== crc32(body)) throw logErrors.corruptRecord(where, 'checksum mismatch');
  try {
    return packr.unpack(body);
  } catch (error) {
    throw logErrors.corruptRecord(where, `undecodable body (${(error as Error).message})`);
  }
}

// ---------------------------------------------------------------------------------------------
// Validation of what callers pass in. Every backend calls these before touching storage, so a bad
// input is rejected identically everywhere and never reaches disk (DESIGN invariant 6).

/** Letters, digits and `_ - : = @ + /`, starting with a letter or digit: safe as an LMDB key and
 * as a single NATS subject token (which may not hold `.`, `*`, `>` or whitespace). */
const STREAM_NAME = /^[A-Za-z0-9][A-Za-z0-9_\-:=@+/]*$/;
const EVENT_TYPE = /^[A-Za-z][A-Za-z0-9_.:-]*$/;

export function checkStreamName(stream: unknown): asserts stream is string {
  if (typeof stream !== 'string' || stream.length === 0) throw logErrors.invalidStreamName(stream, 'it must be a non-empty string');
  if (Buffer.byteLength(stream) > limits.streamNameBytesMax) {
    throw logErrors.invalidStreamName(stream, `it is longer than ${limits.streamNameBytesMax} bytes`);
  }
  if (!STREAM_NAME.test(stream)) {
    throw logErrors.invalidStreamName(stream, 'use letters, digits and _ - : = @ + /, starting with a letter or digit');
  }
}

function checkExpectedVersion(expected: unknown): asserts expected is ExpectedVersion {
  if (expected === 'any' || expected === 'no-stream') return;
  if (typeof expected === 'number' && Number.isSafeInteger(expected) && expected >= 0) return;
  throw logErrors.invalidAppend(`expectedVersion must be a version (an integer >= 0), 'no-stream' or 'any', not ${JSON.stringify(expected)}`);
}

/** Throws the conflict error unless a stream at `actual` satisfies `expected`. */
export function checkVersion(stream: string, expected: ExpectedVersion, actual: number): void {
  if (expected === 'any') return;
  const wanted = expected === 'no-stream' ? 0 : expected;
  if (wanted !== actual) throw logErrors.conflict(stream, expected, actual);
}

/** Bytes an encoded batch adds once (its header: format, kind, seq, timestamp, array prefixes). */
const BATCH_OVERHEAD_BYTES = 64;

export interface PreparedAppend {
  readonly stream: string;
  readonly eventCount: number;
  /** The events, encoded once as a msgpack array of `[type, data]`; every backend stores these bytes. */
  readonly eventsBytes: Buffer;
  readonly expectedVersion: ExpectedVersion;
  readonly idempotencyKey: string | undefined;
}

/** Validates an append and encodes its events once; backends store these bytes as they are. */
export function prepareAppend(stream: string, events: readonly NewEvent[], options: AppendOptions): PreparedAppend {
  checkStreamName(stream);
  if (options === null || typeof options !== 'object') throw logErrors.invalidAppend('options with an expectedVersion are required');
  checkExpectedVersion(options.expectedVersion);
  const key = options.idempotencyKey;
  if (key !== undefined && (typeof key !== 'string' || key.length === 0 || Buffer.byteLength(key) > limits.idempotencyKeyBytesMax)) {
    throw logErrors.invalidAppend(`idempotencyKey must be a non-empty string of at most ${limits.idempotencyKeyBytesMax} bytes`);
  }
  if (!Array.isArray(events) || events.length === 0) throw logErrors.invalidAppend('it must hold at least one event');
  if (events.length > limits.appendEventsMax) {
    throw logErrors.appendTooLarge(stream, `${events.length} events; at most ${limits.appendEventsMax} per append`);
  }
  const pairs: Array<[string, unknown]> = new Array(events.length);
  // An index loop, not map(): a sparse array's holes must be refused, not skipped.
  for (let index = 0; index < events.length; index++) {
    const event: unknown = events[index];
    if (event === null || typeof event !== 'object') throw logErrors.invalidAppend(`event ${index} is not an object`);
    const { type, data } = event as { type?: unknown; data?: unknown };
    if (typeof type !== 'string' || !EVENT_TYPE.test(type) || Buffer.byteLength(type) > limits.eventTypeBytesMax) {
      throw logErrors.invalidAppend(
        `event ${index} has type ${JSON.stringify(type)}; a type is a name of letters, digits and _ . : - of at most ${limits.eventTypeBytesMax} bytes`,
      );
    }
    pairs[index] = [type, data];
  }
  let eventsBytes: Buffer;
  try {
    eventsBytes = packr.pack(pairs);
  } catch {
    throw unencodable(pairs);
  }
  // Only an append this large can hold an event over the per-event bound: find it.
  if (eventsBytes.length > limits.eventDataBytesMax) {
    pairs.forEach(([, data], index) => {
      const bytes = packr.pack(data).length;
      if (bytes > limits.eventDataBytesMax) throw logErrors.eventTooLarge(stream, index, bytes, limits.eventDataBytesMax);
    });
  }
  // Counted as the largest backend stores it (a JetStream batch): envelope, name and key included.
  const totalBytes = BATCH_OVERHEAD_BYTES + Buffer.byteLength(stream) + (key === undefined ? 0 : Buffer.byteLength(key)) + eventsBytes.length;
  if (totalBytes > limits.appendBytesMax) {
    throw logErrors.appendTooLarge(stream, `${totalBytes} bytes of events; at most ${limits.appendBytesMax} per append`);
  }
  return { stream, eventCount: events.length, eventsBytes, expectedVersion: options.expectedVersion, idempotencyKey: key };
}

/** The error for an append msgpack cannot encode, naming the first event that is the cause. */
function unencodable(pairs: ReadonlyArray<[string, unknown]>): Error {
  for (let index = 0; index < pairs.length; index++) {
    try {
      packr.pack(pairs[index]?.[1]);
    } catch (error) {
      return logErrors.invalidAppend(`event ${index} has data msgpack cannot encode (${(error as Error).message})`);
    }
  }
  return logErrors.invalidAppend('msgpack cannot encode the events');
}

function wholeNumber(value: unknown, name: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || (value as number) < min) throw logErrors.invalidRead(`${name} must be a whole number >= ${min}, not ${JSON.stringify(value)}`);
  return value as number;
}

/** Checks a read's limit and caps it at `limits.readRecordsMax`. */
export function readLimit(limit: unknown): number {
  return Math.min(wholeNumber(limit, 'limit', 1) ?? limits.readRecordsMax, limits.readRecordsMax);
}

/** Checks a `readStream` call and resolves the window it asks for. */
export function streamWindow(stream: string, options: ReadStreamOptions): { from: number; limit: number } {
  checkStreamName(stream);
  return { from: wholeNumber(options.fromSeq, 'fromSeq', 1) ?? 1, limit: readLimit(options.limit) };
}

/** Checks a `readAll` call and resolves the window it asks for. */
export function logWindow(options: ReadAllOptions): { after: number; limit: number } {
  return { after: wholeNumber(options.after, 'after', 0) ?? 0, limit: readLimit(options.limit) };
}

export function checkSnapshot(snapshot: Omit<Snapshot, 'timestampMs'>, streamVersion: number): Buffer {
  if (snapshot === null || typeof snapshot !== 'object') throw logErrors.invalidSnapshot(String(snapshot), 'not an object');
  checkStreamName(snapshot.stream);
  const { stream, seq } = snapshot;
  if (!Number.isSafeInteger(seq) || seq < 1) throw logErrors.invalidSnapshot(stream, `seq must be an integer >= 1, not ${JSON.stringify(seq)}`);
  if (seq > streamVersion) throw logErrors.invalidSnapshot(stream, `seq ${seq} is ahead of the stream, which is at version ${streamVersion}`);
  let stateBytes: Buffer;
  try {
    stateBytes = packr.pack(snapshot.state);
  } catch (error) {
    throw logErrors.invalidSnapshot(stream, `msgpack cannot encode the state (${(error as Error).message})`);
  }
  if (stateBytes.length > limits.snapshotBytesMax) {
    throw logErrors.invalidSnapshot(stream, `the state encodes to ${stateBytes.length} bytes; the limit is ${limits.snapshotBytesMax}`);
  }
  return stateBytes;
}

function checkFormat(version: unknown, where: string): void {
  if (version !== LOG_FORMAT_VERSION) {
    throw logErrors.corruptRecord(where, `log format ${JSON.stringify(version)}; this build reads format ${LOG_FORMAT_VERSION}`);
  }
}

function decodeData(bytes: unknown, where: string): unknown {
  if (!(bytes instanceof Uint8Array)) throw logErrors.corruptRecord(where, 'event data is not bytes');
  try {
    return packr.unpack(bytes);
  } catch (error) {
    throw logErrors.corruptRecord(where, `undecodable event data (${(error as Error).message})`);
  }
}

// ---------------------------------------------------------------------------------------------
// Batches: every backend stores one frame per append (a JetStream message, an LMDB value), which
// is what makes an append atomic and costs one envelope, one checksum and one write per append.
// Appends are numbered in commit order; event `i` of append `n` is at position
// `n * POSITION_STRIDE + i`, so positions strictly increase, with gaps.

/** Positions per append; an append never holds more events than this. */
export const POSITION_STRIDE = 1024;
assert(limits.appendEventsMax <= POSITION_STRIDE, 'an append fits in the positions of one batch');

/** The number of the append that holds `position`. */
export const batchOfPosition = (position: number): number => Math.floor(position / POSITION_STRIDE);

export type DecodedBatch =
  | {
      readonly kind: 'events';
      readonly stream: string;
      readonly firstSeq: number;
      readonly timestampMs: number;
      readonly idempotencyKey: string | undefined;
      readonly events: ReadonlyArray<{ readonly type: string; readonly data: unknown }>;
    }
  | { readonly kind: 'tombstone'; readonly stream: string; readonly timestampMs: number };

const BATCH_EVENTS = 0;
const BATCH_TOMBSTONE = 1;

/**
 * A batch body is the msgpack array `[format, kind, stream, firstSeq, timestampMs, key, events]`.
 * The events were encoded once when the append was prepared, so the header is encoded as a
 * six-element array whose length byte then says seven, and the events follow it as they are.
 */
export function encodeBatch(append: PreparedAppend, firstSeq: number, timestampMs: number): Buffer {
  const header = packr.pack([LOG_FORMAT_VERSION, BATCH_EVENTS, append.stream, firstSeq, timestampMs, append.idempotencyKey ?? null]);
  assert(header[0] === FIXARRAY_6, 'a batch header encodes as a six-element array');
  header[0] = FIXARRAY_7;
  return frame(header, append.eventsBytes);
}

const FIXARRAY_6 = 0x96;
const FIXARRAY_7 = 0x97;

export function encodeTombstone(stream: string, timestampMs: number): Buffer {
  return frame(packr.pack([LOG_FORMAT_VERSION, BATCH_TOMBSTONE, stream, timestampMs]));
}

export function decodeBatch(bytes: Uint8Array, where: string): DecodedBatch {
  const body = unframe(bytes, where);
  if (!Array.isArray(body)) throw logErrors.corruptRecord(where, 'not a batch');
  const [formatVersion, kind, stream] = body as unknown[];
  checkFormat(formatVersion, where);
  if (typeof stream !== 'string') throw logErrors.corruptRecord(where, 'batch has no stream name');
  if (kind === BATCH_TOMBSTONE && body.length === 4 && typeof body[3] === 'number') {
    return { kind: 'tombstone', stream, timestampMs: body[3] };
  }
  const [, , , firstSeq, timestampMs, key, events] = body as unknown[];
  if (kind !== BATCH_EVENTS || body.length !== 7 || !Number.isSafeInteger(firstSeq) || typeof timestampMs !== 'number' || !Array.isArray(events)) {
    throw logErrors.corruptRecord(where, 'batch fields have the wrong types');
  }
  return {
    kind: 'events',
    stream,
    firstSeq: firstSeq as number,
    timestampMs,
    idempotencyKey: typeof key === 'string' ? key : undefined,
    events: events.map((event: unknown) => {
      if (!Array.isArray(event) || event.length !== 2 || typeof event[0] !== 'string') throw logErrors.corruptRecord(where, 'batch event is malformed');
      return { type: event[0], data: event[1] };
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// Snapshots.

export function encodeSnapshot(stream: string, seq: number, timestampMs: number, stateBytes: Buffer): Buffer {
  return frame(packr.pack([LOG_FORMAT_VERSION, stream, seq, timestampMs, stateBytes]));
}

export function decodeSnapshot(bytes: Uint8Array, stream: string): Snapshot {
  const where = `snapshot of '${stream}'`;
  const body = unframe(bytes, where);
  if (!Array.isArray(body) || body.length !== 5) throw logErrors.corruptRecord(where, 'not a snapshot');
  const [formatVersion, storedStream, seq, timestampMs, stateBytes] = body as unknown[];
  checkFormat(formatVersion, where);
  if (storedStream !== stream || !Number.isSafeInteger(seq) || typeof timestampMs !== 'number') {
    throw logErrors.corruptRecord(where, 'snapshot fields have the wrong types or name another stream');
  }
  return { stream, seq: seq as number, timestampMs, state: decodeData(stateBytes, where) };
}

// ---------------------------------------------------------------------------------------------
// Planning an append for the backends that number appends themselves (memory, LMDB).

export interface StreamHead {
  /** Events in the stream. */
  version: number;
  deleted: boolean;
}

/** Checks the head against the append and lays it out as batch `batchNo`. */
export function planBatch(append: PreparedAppend, head: StreamHead, batchNo: number, timestampMs: number): { frame: Buffer; result: AppendResult } {
  if (head.deleted) throw logErrors.streamDeleted(append.stream);
  checkVersion(append.stream, append.expectedVersion, head.version);
  const firstSeq = head.version + 1;
  return {
    frame: encodeBatch(append, firstSeq, timestampMs),
    result: {
      stream: append.stream,
      firstSeq,
      lastSeq: head.version + append.eventCount,
      lastPosition: batchNo * POSITION_STRIDE + append.eventCount - 1,
      duplicate: false,
    },
  };
}

/** The records of a stored batch; an error names the positions it would hold. */
export function recordsOfBatch(bytes: Uint8Array, batchNo: number): LogRecord[] {
  const first = batchNo * POSITION_STRIDE;
  const batch = decodeBatch(bytes, `positions ${first}-${first + POSITION_STRIDE - 1}`);
  return recordsOf(batch, batchNo);
}

export function recordsOf(batch: DecodedBatch, batchNo: number): LogRecord[] {
  if (batch.kind === 'tombstone') return [];
  return batch.events.map((event, index) => ({
    position: batchNo * POSITION_STRIDE + index,
    stream: batch.stream,
    seq: batch.firstSeq + index,
    type: event.type,
    timestampMs: batch.timestampMs,
    data: event.data,
    formatVersion: LOG_FORMAT_VERSION,
  }));
}

export function resultOfBatch(batch: DecodedBatch & { kind: 'events' }, batchNo: number, duplicate: boolean): AppendResult {
  return {
    stream: batch.stream,
    firstSeq: batch.firstSeq,
    lastSeq: batch.firstSeq + batch.events.length - 1,
    lastPosition: batchNo * POSITION_STRIDE + batch.events.length - 1,
    duplicate,
  };
}
