/**
 * The LMDB log: Kindling's embedded default, one directory on one machine, no server.
 *
 * Owns: the files under its directory, and the single-writer lock on them. Talks to: lmdb-js, which
 * batches every write made in one event-loop turn into one transaction and commits it on a
 * background thread — Kindling's group commit.
 *
 * Layout (four named databases in one environment; `LAYOUT_VERSION` in `meta` names it):
 *  - `records`:   batch number → framed batch (codec.ts): one value per append, numbered here in
 *                 append order; event `i` of batch `n` is at position `n * POSITION_STRIDE + i`.
 *  - `streams`:   [stream, last seq of a batch] → batch number, so one stream reads in seq order
 *                 without a scan (the first entry at or after [stream, s] holds seq s).
 *  - `meta`:      ['deleted', stream] → version at deletion; ['key', stream, key] → AppendResult;
 *                 ['batch'] → the highest batch number assigned when a stream was last deleted, so
 *                 positions of deleted records are never given out again; ['layout'] → the layout.
 *
 * Invariants (beyond those of log.ts):
 *  1. Only one handle in one process writes a directory (a pid lock file). That is what lets stream
 *     heads and the next position live in memory, so an append is checked and laid out
 *     synchronously and all appends of a turn join one transaction.
 *  2. `durability: 'fsync'` (the default) opens LMDB with `overlappingSync: false`: a commit returns
 *     only after fsync, so an append's promise means the events are on disk.
 *  3. Each append is a conditional write that LMDB applies only if the stream's previous seq is
 *     stored (or, for a first append, seq 1 is free), so an append planned on top of one whose
 *     commit failed is refused rather than leaving a gap. After a failure, new appends are refused with
 *     LOG_UNAVAILABLE until every write in flight has settled; then heads are reloaded from disk
 *     and appends resume.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { type Database, type Key, type RootDatabase, open } from 'lmdb';
import { limits } from '../src/lib/limits.js';
import {
  batchOfPosition,
  checkSnapshot,
  checkStreamName,
  decodeSnapshot,
  encodeSnapshot,
  logWindow,
  planBatch,
  prepareAppend,
  type PreparedAppend,
  recordsOfBatch,
  type StreamHead,
  streamWindow,
} from './codec.js';
import { LogError, logErrors } from './errors.js';
import type { AppendOptions, AppendResult, Clock, EventLog, LogRecord, NewEvent, ReadAllOptions, ReadStreamOptions, Snapshot, Tail } from './log.js';
import { CommitSignal, pollingTail } from './tail.js';

export interface LmdbLogOptions {
  /** A directory; created if missing. */
  readonly path: string;
  /**
   * `'fsync'` (default): an append resolves once its transaction is flushed to disk; nothing
   * acknowledged is lost to a process crash, an OS crash or a power cut.
   * `'relaxed'`: an append resolves once its transaction is committed, and LMDB flushes it an
   * instant later. A process crash (`kill -9`) still loses nothing; an OS crash or power cut loses
   * the appends acknowledged since the last flush — in practice the last few milliseconds — and
   * leaves the log consistent at that earlier point.
   */
  readonly durability?: 'fsync' | 'relaxed';
  readonly clock?: Clock;
}

interface CachedHead extends StreamHead {
  /** Appends to this stream whose commit has not settled; such a head is never evicted. */
  inFlight: number;
}

const openPaths = new Set<string>();
/** Every stream index entry carries this version, so a conditional write can require one to exist. */
const INDEX_VERSION = 1;
/** The highest batch number ever assigned, in `meta`. */
const HIGH_WATER_KEY = ['batch'];
/** How records are laid out, in `meta`: a directory written another way is refused, not misread. */
const LAYOUT_KEY = ['layout'];
const LAYOUT_VERSION = 2;

export class LmdbLog implements EventLog {
  readonly backend = 'lmdb';
  readonly path: string;
  readonly #clock: Clock;
  readonly #root: RootDatabase;
  readonly #records: Database<Buffer, number>;
  readonly #streams: Database<number, [string, number]>;
  readonly #meta: Database<unknown, Key>;
  readonly #snapshots: Database<Buffer, string>;
  readonly #signal = new CommitSignal();
  readonly #heads = new Map<string, CachedHead>();
  /** Appends with an idempotency key whose commit has not settled, by `stream \0 key`. */
  readonly #pendingKeys = new Map<string, Promise<AppendResult>>();
  readonly #lockPath: string;
  #lastBatch: number;
  #inFlight = 0;
  #failure: LogError | undefined;
  #closed = false;

  private constructor(options: LmdbLogOptions) {
    this.path = options.path;
    this.#clock = options.clock ?? Date.now;
    mkdirSync(this.path, { recursive: true });
    this.#lockPath = join(this.path, 'kindling.lock');
    acquireLock(this.path, this.#lockPath);
    try {
      this.#root = open({
        path: join(this.path, 'log.mdb'),
        maxDbs: 8,
        overlappingSync: options.durability === 'relaxed',
      });
      this.#records = this.#root.openDB<Buffer, number>({ name: 'records', encoding: 'binary' });
      this.#streams = this.#root.openDB<number, [string, number]>({ name: 'streams', useVersions: true });
      this.#meta = this.#root.openDB<unknown, Key>({ name: 'meta' });
      this.#snapshots = this.#root.openDB<Buffer, string>({ name: 'snapshots', encoding: 'binary' });
      this.#checkLayout();
      this.#lastBatch = this.#readLastBatch();
    } catch (error) {
      releaseLock(this.path, this.#lockPath);
      throw error;
    }
  }

  static async open(options: LmdbLogOptions): Promise<LmdbLog> {
    return new LmdbLog(options);
  }

  append(stream: string, events: readonly NewEvent[], options: AppendOptions): Promise<AppendResult> {
    try {
      this.#assertWritable();
      const prepared = prepareAppend(stream, events, options);
      const key = prepared.idempotencyKey;
      if (this.#head(stream).deleted) throw logErrors.streamDeleted(stream);
      if (key === undefined) return this.#write(prepared);
      const pendingKey = `${stream}\u0000${key}`;
      const pending = this.#pendingKeys.get(pendingKey);
      if (pending !== undefined) return pending.then((result) => ({ ...result, duplicate: true }));
      const prior = this.#meta.get(['key', stream, key]) as AppendResult | undefined;
      if (prior !== undefined) return Promise.resolve({ ...prior, duplicate: true });
      const written = this.#write(prepared);
      this.#pendingKeys.set(pendingKey, written);
      const forget = () => this.#pendingKeys.delete(pendingKey);
      written.then(forget, forget);
      return written;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Lays the append out synchronously, so every append of this turn joins one transaction, and
   * writes it only if its predecessor is on disk (invariant 3): an append planned on top of an
   * earlier one whose commit failed is refused instead of leaving a gap.
   */
  #write(prepared: PreparedAppend): Promise<AppendResult> {
    const head = this.#head(prepared.stream);
    const batchNo = this.#lastBatch + 1;
    const { frame, result } = planBatch(prepared, head, batchNo, this.#clock());
    const { stream } = prepared;
    const writes = () => {
      this.#records.put(batchNo, frame);
      this.#streams.put([stream, result.lastSeq], batchNo, INDEX_VERSION);
      if (prepared.idempotencyKey !== undefined) this.#meta.put(['key', stream, prepared.idempotencyKey], result);
    };
    // Conditions LMDB checks at commit, on the write thread: the batch ending at the previous seq is
    // stored (or, for a stream's first append, no batch ends where this one does).
    const committed =
      result.firstSeq > 1 ? this.#streams.ifVersion([stream, result.firstSeq - 1], INDEX_VERSION, writes) : this.#streams.ifNoExists([stream, result.lastSeq], writes);
    head.version = result.lastSeq;
    head.inFlight += 1;
    this.#lastBatch = batchNo;
    this.#inFlight += 1;
    return committed.then(
      (written) => {
        if (!written) {
          const failure = logErrors.unavailable(`an earlier write to '${stream}' failed, so this append was not made`);
          this.#failure ??= failure;
          this.#settled(head);
          throw failure;
        }
        this.#settled(head);
        this.#signal.notify();
        return result;
      },
      (error: unknown) => {
        const failure = mapWriteError(error);
        this.#failure ??= failure;
        this.#settled(head);
        throw failure;
      },
    );
  }

  #settled(head: CachedHead): void {
    head.inFlight -= 1;
    this.#inFlight -= 1;
    if (this.#inFlight === 0 && this.#failure !== undefined) {
      // Invariant 3: every write of the failed period has settled; the disk is the truth again.
      this.#heads.clear();
      this.#lastBatch = this.#readLastBatch();
      this.#failure = undefined;
    }
  }

  #head(stream: string): CachedHead {
    // Evicted oldest-loaded first: most streams (runs) are short-lived, and an evicted head is only
    // read again from disk.
    const cached = this.#heads.get(stream);
    if (cached !== undefined) return cached;
    const deletedAt = this.#meta.get(['deleted', stream]);
    let version = 0;
    for (const key of this.#streams.getKeys({ start: [stream, Number.MAX_SAFE_INTEGER], end: [stream, 0], reverse: true, limit: 1 })) {
      version = key[1];
    }
    const head: CachedHead = { version, deleted: deletedAt !== undefined, inFlight: 0 };
    // Evict before inserting, so the head about to be used is never the one evicted.
    if (this.#heads.size >= limits.streamHeadCacheMax) this.#evictHeads();
    this.#heads.set(stream, head);
    return head;
  }

  #evictHeads(): void {
    for (const [stream, head] of this.#heads) {
      if (this.#heads.size < limits.streamHeadCacheMax * 0.9) return;
      if (head.inFlight === 0) this.#heads.delete(stream);
    }
  }

  /** The highest batch number ever committed: numbers are never reused, even after deletions. */
  #readLastBatch(): number {
    let last = 0;
    for (const key of this.#records.getKeys({ reverse: true, limit: 1 })) last = key;
    const highWater = this.#meta.get(HIGH_WATER_KEY);
    return Math.max(last, typeof highWater === 'number' ? highWater : 0);
  }

  /** A directory holds this layout, or is new (and is marked with it now). */
  #checkLayout(): void {
    const layout = this.#meta.get(LAYOUT_KEY);
    if (layout === LAYOUT_VERSION) return;
    let empty = true;
    for (const _ of this.#records.getKeys({ limit: 1 })) empty = false;
    if (layout === undefined && empty) {
      this.#meta.putSync(LAYOUT_KEY, LAYOUT_VERSION);
      return;
    }
    throw logErrors.misconfigured(
      `the log in ${this.path} uses storage layout ${JSON.stringify(layout ?? 1)}; this build reads layout ${LAYOUT_VERSION} — start with an empty data directory`,
    );
  }

  #readHeadPosition(): number {
    for (const { key, value } of this.#records.getRange({ reverse: true, limit: 1 })) return recordsOfBatch(value, key).pop()?.position ?? 0;
    return 0;
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<LogRecord[]> {
    this.#assertOpen();
    const { from, limit } = streamWindow(stream, options);
    const out: LogRecord[] = [];
    // The first batch whose last seq is at or after `from` holds `from`.
    for (const { value: batchNo } of this.#streams.getRange({ start: [stream, from], end: [stream, Number.MAX_SAFE_INTEGER] })) {
      for (const record of this.#readBatch(batchNo)) {
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
    let version = 0;
    for (const key of this.#streams.getKeys({ start: [stream, Number.MAX_SAFE_INTEGER], end: [stream, 0], reverse: true, limit: 1 })) {
      version = key[1];
    }
    return version;
  }

  async readAll(options: ReadAllOptions = {}): Promise<LogRecord[]> {
    this.#assertOpen();
    const { after, limit } = logWindow(options);
    const out: LogRecord[] = [];
    for (const { key, value } of this.#records.getRange({ start: batchOfPosition(after + 1) })) {
      for (const record of recordsOfBatch(value, key)) {
        if (record.position <= after) continue;
        out.push(record);
        if (out.length >= limit) return out;
      }
    }
    return out;
  }

  async headPosition(): Promise<number> {
    this.#assertOpen();
    return this.#readHeadPosition();
  }

  tail(options: { readonly after?: number } = {}): Tail {
    this.#assertOpen();
    const { after } = logWindow({ ...(options.after === undefined ? {} : { after: options.after }) });
    return pollingTail((from, limit) => this.readAll({ after: from, limit }), this.#signal, after);
  }

  async saveSnapshot(snapshot: Omit<Snapshot, 'timestampMs'>): Promise<void> {
    this.#assertWritable();
    const stream = snapshot?.stream;
    checkStreamName(stream);
    // Against what is committed, not against appends still in flight.
    const stateBytes = checkSnapshot(snapshot, this.#head(stream).deleted ? 0 : await this.streamVersion(stream));
    await this.#snapshots.put(stream, encodeSnapshot(stream, snapshot.seq, this.#clock(), stateBytes)).catch((error: unknown) => {
      throw mapWriteError(error);
    });
  }

  async loadSnapshot(stream: string): Promise<Snapshot | undefined> {
    this.#assertOpen();
    checkStreamName(stream);
    const bytes = this.#snapshots.get(stream);
    return bytes === undefined ? undefined : decodeSnapshot(bytes, stream);
  }

  async deleteStream(stream: string): Promise<void> {
    this.#assertWritable();
    checkStreamName(stream);
    const head = this.#head(stream);
    head.deleted = true;
    head.inFlight += 1;
    this.#inFlight += 1;
    const deleted = this.#root.transaction(() => {
      for (const { key, value: batchNo } of this.#streams.getRange({ start: [stream, 0], end: [stream, Number.MAX_SAFE_INTEGER] })) {
        this.#records.removeSync(batchNo);
        this.#streams.removeSync(key);
      }
      for (const key of this.#meta.getKeys({ start: ['key', stream] })) {
        if (!Array.isArray(key) || key[0] !== 'key' || key[1] !== stream) break;
        this.#meta.removeSync(key);
      }
      this.#meta.putSync(['deleted', stream], head.version);
      // Deleting the newest records must not let their positions be given out again.
      this.#meta.putSync(HIGH_WATER_KEY, Math.max(this.#lastBatch, (this.#meta.get(HIGH_WATER_KEY) as number | undefined) ?? 0));
      this.#snapshots.removeSync(stream);
    });
    try {
      await deleted;
    } catch (error) {
      const failure = mapWriteError(error);
      this.#failure ??= failure;
      throw failure;
    } finally {
      this.#settled(head);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#signal.close();
    await this.#root.close();
    releaseLock(this.path, this.#lockPath);
  }

  #readBatch(batchNo: number): LogRecord[] {
    const bytes = this.#records.get(batchNo);
    if (bytes === undefined) throw logErrors.corruptRecord(`batch ${batchNo}`, 'the stream index points at a missing batch');
    return recordsOfBatch(bytes, batchNo);
  }

  #assertOpen(): void {
    if (this.#closed) throw logErrors.closed();
  }

  #assertWritable(): void {
    this.#assertOpen();
    if (this.#failure !== undefined) throw logErrors.unavailable(`recovering from a failed write (${this.#failure.message})`, this.#failure);
  }
}

function mapWriteError(error: unknown): LogError {
  if (error instanceof LogError) return error;
  // lmdb-js hangs the real cause on a second promise; handle it so it is not an unhandled rejection.
  (error as { commitError?: Promise<unknown> })?.commitError?.catch(() => {});
  const text = String((error as Error)?.message ?? error);
  if (/MDB_MAP_FULL|ENOSPC|No space left/i.test(text)) return logErrors.storageFull(text, error);
  return logErrors.unavailable(`an LMDB write failed (${text})`, error);
}

/**
 * One writer per directory (invariant 1). A lock left by a process that died (`kill -9`) is taken
 * over: its pid no longer runs.
 */
function acquireLock(path: string, lockPath: string): void {
  if (openPaths.has(path)) throw logErrors.locked(path, 'this process');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      openPaths.add(path);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number.parseInt(readFileSync(lockPath, 'utf8'), 10);
      if (Number.isInteger(holder) && holder !== process.pid && isAlive(holder)) throw logErrors.locked(path, `process ${holder}`);
      rmSync(lockPath, { force: true });
    }
  }
  throw logErrors.locked(path, 'another process that keeps re-creating its lock');
}

function releaseLock(path: string, lockPath: string): void {
  openPaths.delete(path);
  rmSync(lockPath, { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
