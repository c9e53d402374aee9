/**
 * The in-memory log: the reference backend. Unit and simulation tests run the engine on it, and the
 * conformance suite holds the other backends to what it does.
 *
 * It keeps the encoded frames, not the caller's objects, so it copies values exactly as LMDB and
 * JetStream do and runs every record through the same checksum and decoder. Nothing survives the
 * process; `close()` discards everything.
 */
import { checkSnapshot, checkStreamName, decodeRecord, decodeSnapshot, encodeSnapshot, logWindow, planRecords, prepareAppend, type StreamHead, streamWindow } from './codec.js';
import { logErrors } from './errors.js';
import type { AppendOptions, AppendResult, Clock, EventLog, LogRecord, NewEvent, ReadAllOptions, ReadStreamOptions, Snapshot, Tail } from './log.js';
import { CommitSignal, pollingTail } from './tail.js';

interface MemoryStream extends StreamHead {
  /** Positions of the stream's records, by seq - 1. */
  positions: number[];
  appendsByKey: Map<string, AppendResult>;
  snapshot?: Buffer;
}

export interface MemoryLogOptions {
  readonly clock?: Clock;
}

export class MemoryLog implements EventLog {
  readonly backend = 'memory';
  readonly #clock: Clock;
  readonly #signal = new CommitSignal();
  /** Every live record in position order; deleted streams' entries are removed. */
  #log: Array<{ position: number; frame: Buffer }> = [];
  readonly #streams = new Map<string, MemoryStream>();
  #lastPosition = 0;
  #closed = false;

  constructor(options: MemoryLogOptions = {}) {
    this.#clock = options.clock ?? Date.now;
  }

  async append(stream: string, events: readonly NewEvent[], options: AppendOptions): Promise<AppendResult> {
    this.#assertOpen();
    const prepared = prepareAppend(stream, events, options);
    const state = this.#stream(stream);
    const prior = prepared.idempotencyKey === undefined ? undefined : state.appendsByKey.get(prepared.idempotencyKey);
    if (prior !== undefined) return { ...prior, duplicate: true };
    const { records, result } = planRecords(prepared, state, this.#lastPosition, this.#clock());
    for (const record of records) {
      this.#log.push({ position: record.position, frame: Buffer.from(record.frame) });
      state.positions.push(record.position);
    }
    state.version = result.lastSeq;
    this.#lastPosition = result.lastPosition;
    if (prepared.idempotencyKey !== undefined) state.appendsByKey.set(prepared.idempotencyKey, result);
    this.#signal.notify();
    return result;
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<LogRecord[]> {
    this.#assertOpen();
    const { from, limit } = streamWindow(stream, options);
    const state = this.#streams.get(stream);
    if (state === undefined || state.deleted) return [];
    const positions = state.positions.slice(from - 1, from - 1 + limit);
    const first = this.#indexAfter(positions[0] === undefined ? Infinity : positions[0] - 1);
    const out: LogRecord[] = [];
    for (let i = first; i < this.#log.length && out.length < positions.length; i++) {
      const entry = this.#log[i];
      if (entry !== undefined && entry.position === positions[out.length]) out.push(decodeRecord(entry.frame, entry.position));
    }
    return out;
  }

  async streamVersion(stream: string): Promise<number> {
    this.#assertOpen();
    checkStreamName(stream);
    const state = this.#streams.get(stream);
    return state === undefined || state.deleted ? 0 : state.version;
  }

  async readAll(options: ReadAllOptions = {}): Promise<LogRecord[]> {
    this.#assertOpen();
    const { after, limit } = logWindow(options);
    const start = this.#indexAfter(after);
    return this.#log.slice(start, start + limit).map((entry) => decodeRecord(entry.frame, entry.position));
  }

  async headPosition(): Promise<number> {
    this.#assertOpen();
    return this.#log[this.#log.length - 1]?.position ?? 0;
  }

  tail(options: { readonly after?: number } = {}): Tail {
    this.#assertOpen();
    const { after } = logWindow({ ...(options.after === undefined ? {} : { after: options.after }) });
    return pollingTail((from, limit) => this.readAll({ after: from, limit }), this.#signal, after);
  }

  async saveSnapshot(snapshot: Omit<Snapshot, 'timestampMs'>): Promise<void> {
    this.#assertOpen();
    const state = this.#streams.get(snapshot?.stream);
    const stateBytes = checkSnapshot(snapshot, state === undefined || state.deleted ? 0 : state.version);
    (state as MemoryStream).snapshot = Buffer.from(encodeSnapshot(snapshot.stream, snapshot.seq, this.#clock(), stateBytes));
  }

  async loadSnapshot(stream: string): Promise<Snapshot | undefined> {
    this.#assertOpen();
    checkStreamName(stream);
    const snapshot = this.#streams.get(stream)?.snapshot;
    return snapshot === undefined ? undefined : decodeSnapshot(snapshot, stream);
  }

  async deleteStream(stream: string): Promise<void> {
    this.#assertOpen();
    checkStreamName(stream);
    const state = this.#stream(stream);
    if (state.positions.length > 0) {
      const doomed = new Set(state.positions);
      this.#log = this.#log.filter((entry) => !doomed.has(entry.position));
    }
    this.#streams.set(stream, { version: state.version, deleted: true, positions: [], appendsByKey: new Map() });
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#signal.close();
    this.#log = [];
    this.#streams.clear();
  }

  #stream(stream: string): MemoryStream {
    let state = this.#streams.get(stream);
    if (state === undefined) {
      state = { version: 0, deleted: false, positions: [], appendsByKey: new Map() };
      this.#streams.set(stream, state);
    }
    return state;
  }

  /** Index of the first log entry whose position is greater than `position` (binary search). */
  #indexAfter(position: number): number {
    let low = 0;
    let high = this.#log.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((this.#log[mid] as { position: number }).position <= position) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  #assertOpen(): void {
    if (this.#closed) throw logErrors.closed();
  }
}
