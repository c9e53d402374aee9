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
 *  - `streams`:   [stream, first seq of a batch] → the batch's last seq, with the batch number as
 *                 the entry's LMDB version, so one stream reads in seq order without a scan (the
 *                 last entry at or before [stream, s] holds seq s). A deleted stream keeps one
 *                 tombstone entry, [stream, 1] → its version at deletion, with version 0.
 *  - `meta`:      ['key', stream, key] → AppendResult; ['batch'] → the highest batch number
 *                 assigned when a stream was last deleted, so positions of deleted records are
 *                 never given out again; ['layout'] → the layout.
 *
 * Invariants (beyond those of log.ts):
 *  1. Only one handle in one process writes a directory (a pid lock file). That is what lets stream
 *     heads and the next position live in memory, so an append is checked and laid out
 *     synchronously and all appends of a turn join one transaction.
 *  2. `durability: 'fsync'` (the default) opens LMDB with `overlappingSync: false`: a commit returns
 *     only after fsync, so an append's promise means the events are on disk.
 *  3. Each append is a conditional write that LMDB applies only if the stream's previous batch is
 *     stored under exactly the batch number planned on (or, for a first append, the stream has no
 *     entry at seq 1), so an append planned on top of one whose commit failed, or on a stream that
 *     turned out to exist, is refused rather than leaving a gap or a second seq 1. A first append
 *     (expected version 0) is planned without reading the disk; the condition checks it. After a
 *     failed commit, new appends are refused with LOG_UNAVAILABLE until every write in flight has
 *     settled; then heads are reloaded from disk and appends resume.
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
  /** The first seq and batch number of the stream's last batch (0, 0 when it has none). */
  lastFirstSeq: number;
  lastBatchNo: number;
  /** Appends to this stream whose commit has not settled; such a head is never evicted. */
  inFlight: number;
  /** An append to it was refused: it is dropped (and read again from disk) once nothing is in flight. */
  stale: boolean;
}

const openPaths = new Set<string>();
/** The LMDB version of a deleted stream's tombstone entry (no batch has number 0). */
const TOMBSTONE = 0;
/** The highest batch number ever assigned, in `meta`. */
const HIGH_WATER_KEY = ['batch'];
/** How records are laid out, in `meta`: a directory written another way is refused, not misread. */
const LAYOUT_KEY = ['layout'];
const LAYOUT_VERSION = 3;

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
        mapSize: limits.lmdbMapBytesInitial,
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
      const expectsNew = key === undefined && (prepared.expectedVersion === 0 || prepared.expectedVersion === 'no-stream');
      const head = this.#heads.get(stream) ?? (expectsNew ? this.#assumeNew(stream) : this.#head(stream));
      if (head.stale) throw logErrors.conflict(stream, prepared.expectedVersion, head.version);
      if (head.deleted) throw logErrors.streamDeleted(stream);
      if (key === undefined) return this.#write(prepared, head);
      const pendingKey = `${stream}\u0000${key}`;
      const pending = this.#pendingKeys.get(pendingKey);
      if (pending !== undefined) return pending.then((result) => ({ ...result, duplicate: true }));
      const prior = this.#meta.get(['key', stream, key]) as AppendResult | undefined;
      if (prior !== undefined) return Promise.resolve({ ...prior, duplicate: true });
      const written = this.#write(prepared, head);
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
   * writes it only if the stream is as planned (invariant 3).
   */
  #write(prepared: PreparedAppend, head: CachedHead): Promise<AppendResult> {
    const batchNo = this.#lastBatch + 1;
    const { frame, result } = planBatch(prepared, head, batchNo, this.#clock());
    const { stream } = prepared;
    const writes = () => {
      this.#records.put(batchNo, frame);
      this.#streams.put([stream, result.firstSeq], result.lastSeq, batchNo);
      if (prepared.idempotencyKey !== undefined) this.#meta.put(['key', stream, prepared.idempotencyKey], result);
    };
    // Checked by LMDB at commit, on the write thread.
    const committed = result.firstSeq > 1 ? this.#streams.ifVersion([stream, head.lastFirstSeq], head.lastBatchNo, writes) : this.#streams.ifNoExists([stream, 1], writes);
    const first = head.inFlight === 0 && result.firstSeq === 1;
    head.version = result.lastSeq;
    head.lastFirstSeq = result.firstSeq;
    head.lastBatchNo = batchNo;
    head.inFlight += 1;
    this.#lastBatch = batchNo;
    this.#inFlight += 1;
    return committed.then(
      (written) => {
        if (!written) {
          // Not a failed commit: the stream was not as planned. Nothing of this append was written.
          head.stale = true;
          const error = first ? this.#refusedFirst(stream, prepared) : logErrors.conflict(stream, prepared.expectedVersion, result.firstSeq - 1);
          this.#settled(stream, head);
          throw error;
        }
        this.#settled(stream, head);
        this.#signal.notify();
        return result;
      },
      (error: unknown) => {
        const failure = mapWriteError(error);
        this.#failure ??= failure;
        this.#settled(stream, head);
        throw failure;
      },
    );
  }

  /** Why a first append was refused: the stream exists, or was deleted. */
  #refusedFirst(stream: string, prepared: PreparedAppend): LogError {
    const onDisk = this.#readHead(stream);
    return onDisk.deleted ? logErrors.streamDeleted(stream) : logErrors.conflict(stream, prepared.expectedVersion, onDisk.version);
  }

  #settled(stream: string, head: CachedHead): void {
    head.inFlight -= 1;
    this.#inFlight -= 1;
    if (head.stale && head.inFlight === 0 && this.#heads.get(stream) === head) this.#heads.delete(stream);
    if (this.#inFlight === 0 && this.#failure !== undefined) {
      // Invariant 3: every write of the failed period has settled; the disk is the truth again.
      this.#heads.clear();
      this.#lastBatch = this.#readLastBatch();
      this.#failure = undefined;
    }
  }

  #cache(stream: string, head: CachedHead): CachedHead {
    // Evict before inserting, so the head about to be used is never the one evicted. Evicted
    // oldest-loaded first: most streams (runs) are short-lived, and an evicted head is only read
    // again from disk.
    if (this.#heads.size >= limits.lmdbStreamHeadCacheMax) this.#evictHeads();
    this.#heads.set(stream, head);
    return head;
  }

  /** The head of a stream, from the cache or the disk. */
  #head(stream: string): CachedHead {
    return this.#heads.get(stream) ?? this.#cache(stream, this.#readHead(stream));
  }

  /** A head planned as empty without reading: the append's condition checks it (invariant 3). */
  #assumeNew(stream: string): CachedHead {
    return this.#cache(stream, { version: 0, deleted: false, lastFirstSeq: 0, lastBatchNo: 0, inFlight: 0, stale: false });
  }

  #readHead(stream: string): CachedHead {
    const head: CachedHead = { version: 0, deleted: false, lastFirstSeq: 0, lastBatchNo: 0, inFlight: 0, stale: false };
    for (const { key, value, version } of this.#streams.getRange({ start: [stream, Number.MAX_SAFE_INTEGER], end: [stream, 0], reverse: true, limit: 1, versions: true })) {
      if (version === TOMBSTONE) head.deleted = true;
      else Object.assign(head, { version: value, lastFirstSeq: key[1], lastBatchNo: version });
    }
    return head;
  }

  #evictHeads(): void {
    for (const [stream, head] of this.#heads) {
      if (this.#heads.size < limits.lmdbStreamHeadCacheMax * 0.9) return;
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
    // The last batch that starts at or before `from` holds it (if the stream reaches that far).
    let start = from;
    for (const key of this.#streams.getKeys({ start: [stream, from], end: [stream, 0], reverse: true, limit: 1 })) start = key[1];
    for (const { version: batchNo } of this.#streams.getRange({ start: [stream, start], end: [stream, Number.MAX_SAFE_INTEGER], versions: true })) {
      if (batchNo === TOMBSTONE || batchNo === undefined) return out;
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
    const head = this.#readHead(stream);
    return head.deleted ? 0 : head.version;
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
    const stateBytes = checkSnapshot(snapshot, await this.streamVersion(stream));
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
      for (const { key, version: batchNo } of this.#streams.getRange({ start: [stream, 0], end: [stream, Number.MAX_SAFE_INTEGER], versions: true })) {
        if (batchNo !== TOMBSTONE && batchNo !== undefined) this.#records.removeSync(batchNo);
        this.#streams.removeSync(key);
      }
      for (const key of this.#meta.getKeys({ start: ['key', stream] })) {
        if (!Array.isArray(key) || key[0] !== 'key' || key[1] !== stream) break;
        this.#meta.removeSync(key);
      }
      // The tombstone makes a later first append's condition (no entry at seq 1) refuse it.
      this.#streams.putSync([stream, 1], head.version, TOMBSTONE);
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
      this.#settled(stream, head);
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
