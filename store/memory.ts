/**
 * The in-memory log: the reference backend. Unit and simulation tests run the engine on it, and the
 * conformance suite holds the other backends to what it does.
 *
 * It keeps the encoded frames, not the caller's objects — one batch per append, numbered in order,
 * as LMDB and JetStream store them — so it copies values exactly as they do and runs every record
 * through the same checksum and decoder. Nothing survives the process; `close()` discards everything.
 */
import {
  batchOfPosition,
  checkSnapshot,
  checkStreamName,
  decodeSnapshot,
  encodeSnapshot,
  logWindow,
  planBatch,
  prepareAppend,
  recordsOfBatch,
  type StreamHead,
  streamWindow,
} from './codec.js';
import { logErrors } from './errors.js';
import type { AppendOptions, AppendResult, Clock, EventLog, LogRecord, NewEvent, ReadAllOptions, ReadStreamOptions, Snapshot, Tail } from './log.js';
import { CommitSignal, pollingTail } from './tail.js';

interface MemoryStream extends StreamHead {
  /** The stream's batches, in seq order: their numbers and the last seq each holds. */
  batches: Array<{ batchNo: number; lastSeq: number }>;
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
  /** Every live batch in order; deleted streams' batches are removed. */
  #log: Array<{ batchNo: number; frame: Buffer }> = [];
  readonly #streams = new Map<string, MemoryStream>();
  #lastBatch = 0;
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
    const batchNo = this.#lastBatch + 1;
    const { frame, result } = planBatch(prepared, state, batchNo, this.#clock());
    this.#log.push({ batchNo, frame: Buffer.from(frame) });
    state.batches.push({ batchNo, lastSeq: result.lastSeq });
    state.version = result.lastSeq;
    this.#lastBatch = batchNo;
    if (prepared.idempotencyKey !== undefined) state.appendsByKey.set(prepared.idempotencyKey, result);
    this.#signal.notify();
    return result;
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<LogRecord[]> {
    this.#assertOpen();
    const { from, limit } = streamWindow(stream, options);
    const state = this.#streams.get(stream);
    if (state === undefined || state.deleted) return [];
    const out: LogRecord[] = [];
    for (const { batchNo, lastSeq } of state.batches) {
      if (lastSeq < from) continue;
      const entry = this.#log[this.#indexOf(batchNo)] as { frame: Buffer };
      for (const record of recordsOfBatch(entry.frame, batchNo)) {
        if (record.seq < from) continue;
        if (out.length >= limit) return out;
        out.push(record);
      }
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
    const out: LogRecord[] = [];
    for (let i = this.#indexOf(batchOfPosition(after + 1)); i < this.#log.length && out.length < limit; i++) {
      const { batchNo, frame } = this.#log[i] as { batchNo: number; frame: Buffer };
      for (const record of recordsOfBatch(frame, batchNo)) {
        if (record.position > after && out.length < limit) out.push(record);
      }
    }
    return out;
  }

  async headPosition(): Promise<number> {
    this.#assertOpen();
    const last = this.#log[this.#log.length - 1];
    return last === undefined ? 0 : (recordsOfBatch(last.frame, last.batchNo).pop()?.position ?? 0);
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
    if (state.batches.length > 0) {
      const doomed = new Set(state.batches.map((batch) => batch.batchNo));
      this.#log = this.#log.filter((entry) => !doomed.has(entry.batchNo));
    }
    this.#streams.set(stream, { version: state.version, deleted: true, batches: [], appendsByKey: new Map() });
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
      state = { version: 0, deleted: false, batches: [], appendsByKey: new Map() };
      this.#streams.set(stream, state);
    }
    return state;
  }

  /** Index of the first batch numbered `batchNo` or later (binary search). */
  #indexOf(batchNo: number): number {
    let low = 0;
    let high = this.#log.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((this.#log[mid] as { batchNo: number }).batchNo < batchNo) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  #assertOpen(): void {
    if (this.#closed) throw logErrors.closed();
  }
}
