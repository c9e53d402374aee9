/**
 * Read models: projections of the log that answer list queries — runs by time, status, workflow,
 * worker, metadata, parent task and triggering event — without replaying a single run, so a list
 * stays fast with a million runs in the log.
 *
 * Owns: an LMDB environment of its own (beside the log, never inside it; its layout is in
 * read-model-store.ts), written only by a worker thread (read-model-writer.ts) and read here —
 * but for emptying one of an older layout when it is opened, before that thread starts (a
 * projection: it is rebuilt from the log).
 * Talks to: the engine, which hands it each run's durable events with their stream seq (effects of
 * the run host, after durability — nothing on the trigger → result path); the writer thread, which
 * gets their lean copies (`summaryEvent`) every flush; and the log, which it reads only to catch
 * up after a start.
 *
 * Invariants:
 *  1. Everything at or below `position` is folded in: a flush stores the rows and the position in
 *     one LMDB transaction, with the position read as settled (checkpoint.ts, invariant 2) before
 *     the events to flush are taken. Rows may also hold later events; their `seq` says which.
 *  2. An event is folded only if it is its run's next one (seq = row.seq + 1), so replaying the log
 *     after `position` — at start, after a crash — folds each event exactly once.
 *  3. Every event after `position` is either in the log read that catches up or in `pending`: when
 *     pending grows past its bound it is dropped, and the catch-up reads the log again instead.
 *  4. Memory is bounded: pending holds at most `readModelPendingEventsMax` events.
 * After `kill -9`, the directory holds a consistent projection at some position; the next start
 * folds the log from there. After the machine itself stopped without a clean close, the directory
 * is rebuilt (read-model-store.ts, invariant 4: its commits are not fsync'd). Deleting the
 * directory rebuilds everything from the log.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { RunEvent } from '../../actors/workflow-run.js';
import type { RunStatus } from '../../protocol/frames.js';
import type { EventLog } from '../../store/log.js';
import { deferred } from '../lib/deferred.js';
import { engineLimits, limits } from '../lib/limits.js';
import { getRow, getRowAt, hasEnded, type Key, type LiveValue, markClosedCleanly, openReadModelDbs, type ReadModelDbs, type RunBatch, STATUSES, statusCode } from './read-model-store.js';
import type { WriterReply, WriterRequest } from './read-model-writer.js';
import { runStream } from './run-host.js';
import { type RunSummary, type SummaryEvent, summarize, summaryEvent, type TaskSummary } from './run-summary.js';

const MAX_TIME = Number.MAX_SAFE_INTEGER;

export interface RunQuery {
  readonly tenantId: string;
  readonly sinceMs?: number;
  readonly untilMs?: number;
  readonly statuses?: readonly RunStatus[];
  readonly workflows?: readonly string[];
  readonly workerId?: string;
  /** `[key, value]` pairs; a run matches when it has any of them (as Hatchet's filter ORs them). */
  readonly metadata?: ReadonlyArray<readonly [string, string]>;
  readonly parentTaskId?: string;
  readonly triggeringEventId?: string;
  readonly offset: number;
  readonly limit: number;
}

export interface RunPage {
  readonly rows: RunSummary[];
  /** How many runs match in all. */
  readonly total: number;
}

function matches(run: RunSummary, query: Omit<RunQuery, 'offset' | 'limit'>): boolean {
  if (query.sinceMs !== undefined && run.createdAtMs < query.sinceMs) return false;
  if (query.untilMs !== undefined && run.createdAtMs > query.untilMs) return false;
  if (query.statuses !== undefined && query.statuses.length > 0 && !query.statuses.includes(run.status)) return false;
  if (query.workflows !== undefined && query.workflows.length > 0 && !query.workflows.includes(run.workflow)) return false;
  if (query.workerId !== undefined && !run.tasks.some((task) => task.workerId === query.workerId)) return false;
  if (query.metadata !== undefined && query.metadata.length > 0 && !query.metadata.some(([key, value]) => run.additionalMetadata[key] === value)) return false;
  if (query.parentTaskId !== undefined && run.parentTaskId !== query.parentTaskId) return false;
  if (query.triggeringEventId !== undefined && run.triggeringEventId !== query.triggeringEventId) return false;
  return true;
}

/** A range of the index that holds matches; of a 'live' range, only the entries `accept` passes. */
interface Range {
  readonly prefix: Key;
  readonly accept?: (value: LiveValue) => boolean;
}

type Filter = 'statuses' | 'workflows' | 'metadata' | 'workerId' | 'parentTaskId' | 'triggeringEventId';

/**
 * The index ranges whose union holds every match; whether a run found there must still be checked
 * against the query (`exact`: no filter the ranges do not capture); and whether no run is in two
 * of them (`disjoint`), so that their sizes add up to the count.
 */
function drivingRanges(query: Omit<RunQuery, 'offset' | 'limit'>): { ranges: Range[]; exact: boolean; disjoint: boolean } {
  const given: Filter[] = [
    ...(['statuses', 'workflows', 'metadata'] as const).filter((field) => (query[field]?.length ?? 0) > 0),
    ...(['workerId', 'parentTaskId', 'triggeringEventId'] as const).filter((field) => query[field] !== undefined),
  ];
  const plan = planOf(query);
  return { ranges: plan.ranges, exact: given.every((field) => plan.captures.includes(field)), disjoint: plan.disjoint };
}

function planOf(query: Omit<RunQuery, 'offset' | 'limit'>): { ranges: Range[]; captures: Filter[]; disjoint: boolean } {
  const t = query.tenantId;
  if (query.parentTaskId !== undefined) return { ranges: [{ prefix: [t, 'par', query.parentTaskId] }], captures: ['parentTaskId'], disjoint: true };
  if (query.triggeringEventId !== undefined) return { ranges: [{ prefix: [t, 'ev', query.triggeringEventId] }], captures: ['triggeringEventId'], disjoint: true };
  if (query.metadata !== undefined && query.metadata.length > 0) {
    return { ranges: query.metadata.map(([key, value]) => ({ prefix: [t, 'md', key, value] })), captures: ['metadata'], disjoint: query.metadata.length === 1 };
  }
  if (query.workerId !== undefined) return { ranges: [{ prefix: [t, 'wk', query.workerId] }], captures: ['workerId'], disjoint: true };
  // By status and workflow: an ended run is in 'st' and 'wfst', a live one in 'live', never both.
  const workflows = query.workflows ?? [];
  const statuses = (query.statuses?.length ?? 0) > 0 ? (query.statuses as readonly RunStatus[]) : STATUSES;
  const ranges: Range[] = statuses
    .filter(hasEnded)
    .flatMap((status) => (workflows.length === 0 ? [{ prefix: [t, 'st', status] }] : workflows.map((workflow) => ({ prefix: [t, 'wfst', workflow, status] }))));
  const live = statuses.filter((status) => !hasEnded(status)).map(statusCode);
  if (live.length === 2 && workflows.length === 0) ranges.push({ prefix: [t, 'live'] });
  else if (live.length > 0) ranges.push({ prefix: [t, 'live'], accept: ([status, workflow]) => live.includes(status) && (workflows.length === 0 || workflows.includes(workflow)) });
  return { ranges, captures: ['statuses', 'workflows'], disjoint: true };
}

interface Pending {
  readonly tenantId: string;
  /** The seq of `events[0]` in the run's stream. */
  readonly firstSeq: number;
  readonly events: SummaryEvent[];
}

export interface ReadModelOptions {
  /** The directory; without one a temporary directory is used and removed at close (rebuilt at each start). */
  readonly path?: string;
  /** How often pending events are flushed (default 100 ms). */
  readonly flushMs?: number;
}

export class ReadModels {
  /** The environment, read here; every write goes to the writer thread. */
  readonly #dbs: ReadModelDbs;
  readonly #writer: Worker;
  readonly #requests = new Map<number, { resolve(reply: Extract<WriterReply, { ok: true }>): void; reject(error: Error): void }>();
  #requestId = 0;
  #writerFailed: Error | undefined;
  readonly #temporary: string | undefined;
  readonly #path: string;
  readonly #flushMs: number;
  #pending = new Map<string, Pending>();
  #pendingEvents = 0;
  /** Set while catching up from the log: pending was dropped and the log must be read again (invariant 3). */
  #catchingUp = true;
  #overflowed = false;
  #position = 0;
  #flushing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #waiters: Array<{ position: number; resolve(): void }> = [];
  #closed = false;

  private constructor(
    path: string,
    temporary: boolean,
    private readonly log: EventLog & { settledPosition?(): Promise<number> },
    flushMs: number,
  ) {
    this.#temporary = temporary ? path : undefined;
    this.#path = path;
    this.#flushMs = flushMs;
    this.#dbs = openReadModelDbs(path, { reset: true });
    this.#writer = new Worker(new URL('./read-model-writer.js', import.meta.url), { workerData: { directory: path } });
    this.#writer.unref();
    this.#writer.on('message', (reply: WriterReply) => this.#replied(reply));
    this.#writer.on('error', (error) => this.#writerStopped(error));
    this.#writer.on('exit', (code) => this.#writerStopped(new Error(`the read-model writer thread exited (${code})`)));
    this.#position = this.#dbs.meta.get('position') ?? 0;
  }

  /** Opens (or creates) the read models and starts catching up with the log in the background. */
  static open(log: EventLog & { settledPosition?(): Promise<number> }, options: ReadModelOptions = {}): ReadModels {
    const temporary = options.path === undefined;
    const path = options.path ?? mkdtempSync(join(tmpdir(), 'kindling-read-'));
    const models = new ReadModels(path, temporary, log, options.flushMs ?? 100);
    void models.#catchUp();
    return models;
  }

  /** The log position everything at or below which is in the read models. */
  get position(): number {
    return this.#position;
  }

  /** A run's durable events, from the run host's effects (in stream order, each exactly once). */
  runEvents(runId: string, tenantId: string, events: readonly RunEvent[], firstSeq: number): void {
    if (this.#closed) return;
    const entry = this.#pending.get(runId);
    if (entry !== undefined && entry.firstSeq + entry.events.length === firstSeq) for (const event of events) entry.events.push(summaryEvent(event));
    else if (entry === undefined) this.#pending.set(runId, { tenantId, firstSeq, events: events.map(summaryEvent) });
    else {
      // Not contiguous (cannot happen by the host's invariant 3): let the log decide.
      this.#overflow();
      return;
    }
    this.#pendingEvents += events.length;
    if (this.#pendingEvents > engineLimits.readModelPendingEventsMax) this.#overflow();
    else this.#schedule();
  }

  /** Invariant 3: drop what is pending and read the log again from `position`. */
  #overflow(): void {
    this.#pending.clear();
    this.#pendingEvents = 0;
    this.#overflowed = true;
    if (!this.#catchingUp) {
      this.#catchingUp = true;
      void this.#catchUp();
    }
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#catchingUp || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.flush().catch(() => this.#flushFailed());
    }, this.#flushMs);
    this.#timer.unref();
  }

  /**
   * A flush that failed (the log closing under it, the writer thread gone) took its events along:
   * unless the read models are closing, the log is read again from `position` (invariant 3).
   */
  #flushFailed(): void {
    if (this.#closed || this.#writerFailed !== undefined) return;
    this.#overflow();
  }

  /** Stores what is pending, with the settled position (invariant 1). One flush at a time. */
  flush(): Promise<void> {
    if (this.#flushing !== undefined) return this.#flushing.then(() => (this.#pending.size > 0 || this.#waiters.length > 0 ? this.flush() : undefined));
    this.#flushing = (async () => {
      try {
        const position = this.log.settledPosition === undefined ? await this.log.headPosition() : await this.log.settledPosition();
        if (this.#catchingUp) return;
        const pending = this.#pending;
        this.#pending = new Map();
        this.#pendingEvents = 0;
        await this.#write([...pending].map(([runId, entry]) => ({ runId, ...entry })), position);
      } finally {
        this.#flushing = undefined;
      }
      if (this.#pending.size > 0) this.#schedule();
    })();
    return this.#flushing;
  }

  /** Sends a request to the writer thread; resolves once it is carried out (its writes stored). */
  #request(request: Omit<Extract<WriterRequest, { op: 'fold' }>, 'id'> | Omit<Extract<WriterRequest, { op: 'replace' }>, 'id'> | Omit<Extract<WriterRequest, { op: 'remove' }>, 'id'> | { op: 'close' }) {
    if (this.#writerFailed !== undefined) return Promise.reject(this.#writerFailed);
    const id = ++this.#requestId;
    const done = new Promise<Extract<WriterReply, { ok: true }>>((resolve, reject) => this.#requests.set(id, { resolve, reject }));
    this.#writer.postMessage({ ...request, id });
    return done;
  }

  #replied(reply: WriterReply): void {
    const request = this.#requests.get(reply.id);
    this.#requests.delete(reply.id);
    // What the writer stored is what the next read here must see.
    this.#dbs.root.resetReadTxn();
    if (reply.ok) request?.resolve(reply);
    else request?.reject(new Error(`the read models could not be written: ${reply.error}`));
  }

  #writerStopped(error: Error): void {
    if (this.#closed) return;
    this.#writerFailed = error;
    for (const request of this.#requests.values()) request.reject(error);
    this.#requests.clear();
  }

  /** Folds runs' events into their rows and moves the position, in one transaction of the writer. */
  async #write(batches: readonly RunBatch[], position: number): Promise<void> {
    const { gaps = [] } = await this.#request({ op: 'fold', batches, position });
    // Only once committed: a reader that sees the position must see the rows (invariant 1).
    if (position > this.#position) this.#position = position;
    // Events missing between a row and these (a row lost with a damaged directory, say): the run's
    // stream is the truth, folded whole.
    for (const { runId, tenantId } of gaps) await this.#rebuildRun(runId, tenantId);
    this.#wake();
  }

  /** A run's row folded from its whole stream. */
  async #rebuildRun(runId: string, tenantId: string): Promise<void> {
    let after: RunSummary | undefined;
    for (let fromSeq = 1; ; ) {
      const page = await this.log.readStream(runStream(runId), { fromSeq });
      for (const record of page) after = summarize(after, summaryEvent(record.data as RunEvent));
      fromSeq += page.length;
      if (page.length < limits.readRecordsMax) break;
    }
    if (after !== undefined && after.tenantId === tenantId) await this.#request({ op: 'replace', row: after });
  }

  /** Reads the log after `position` and folds it in (at start, and after pending overflowed). */
  async #catchUp(): Promise<void> {
    try {
      for (;;) {
        this.#overflowed = false;
        await this.#readLog();
        // Pending filled while the log was read holds what came after; unless it overflowed, it
        // and the log read cover everything (invariant 3).
        if (!this.#overflowed) break;
      }
    } catch (error) {
      // The log closing under a catch-up is the engine stopping: the next start catches up.
      if (this.#closed || (error as { code?: string }).code === 'LOG_CLOSED') return;
      throw error;
    } finally {
      this.#catchingUp = false;
    }
    this.#schedule();
    if (this.#waiters.length > 0) this.flush().catch(() => this.#flushFailed());
  }

  async #readLog(): Promise<void> {
    for (;;) {
      if (this.#closed) return;
      const page = await this.log.readAll({ after: this.#position, limit: 1000 });
      if (page.length === 0) return;
      const byRun = new Map<string, { runId: string; tenantId: string; firstSeq: number; events: SummaryEvent[] }>();
      for (const record of page) {
        if (!record.stream.startsWith('run:')) continue;
        const runId = record.stream.slice(4);
        const event = record.data as RunEvent;
        let entry = byRun.get(runId);
        if (entry === undefined || entry.firstSeq + entry.events.length !== record.seq) {
          if (entry !== undefined) await this.#write([entry], 0);
          const tenantId = event.type === 'RunCreated' ? event.tenantId : (await this.#tenantOf(runId));
          if (tenantId === undefined) continue;
          entry = { runId, tenantId, firstSeq: record.seq, events: [] };
          byRun.set(runId, entry);
        }
        entry.events.push(summaryEvent(event));
      }
      await this.#write([...byRun.values()], page[page.length - 1]?.position ?? this.#position);
    }
  }

  /** The tenant of a run seen from the middle of its stream (its first event names it). */
  async #tenantOf(runId: string): Promise<string | undefined> {
    const [first] = await this.log.readStream(runStream(runId), { limit: 1 });
    const event = first?.data as RunEvent | undefined;
    return event?.type === 'RunCreated' ? event.tenantId : undefined;
  }

  /** Resolves once the read models hold everything the log held when it was called (bounded wait). */
  async fresh(): Promise<void> {
    await this.caughtUp(await this.log.headPosition());
  }

  /** Resolves once everything at or below `position` is in the read models (or after `timeoutMs`). */
  async caughtUp(position: number, timeoutMs = 10_000): Promise<void> {
    if (this.#position >= position) return;
    const waited = deferred();
    const waiter = { position, resolve: () => waited.resolve() };
    this.#waiters.push(waiter);
    if (!this.#catchingUp) this.flush().catch(() => this.#flushFailed());
    const timer = setTimeout(() => waited.resolve(), timeoutMs);
    await waited.promise;
    clearTimeout(timer);
    const index = this.#waiters.indexOf(waiter);
    if (index >= 0) this.#waiters.splice(index, 1);
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) if (waiter.position <= this.#position) waiter.resolve();
  }

  /** A run's summary, if it belongs to the tenant. */
  getRun(tenantId: string, runId: string): RunSummary | undefined {
    return getRow(this.#dbs, tenantId, runId);
  }

  /** The bounds of a range, newest first, within the query's time window. */
  #bounds(prefix: Key, query: Omit<RunQuery, 'offset' | 'limit'>) {
    return { start: [...prefix, query.untilMs ?? MAX_TIME, '\uffff'], end: [...prefix, query.sinceMs ?? 0], reverse: true };
  }

  /** The runs in the ranges, newest first, each once: their creation times and ids. */
  *#candidates(ranges: readonly Range[], query: Omit<RunQuery, 'offset' | 'limit'>): Generator<{ at: number; runId: string }, void, undefined> {
    const iterators = ranges.map(({ prefix, accept }) => {
      const bounds = this.#bounds(prefix, query);
      if (accept === undefined) return this.#dbs.index.getKeys(bounds)[Symbol.iterator]();
      return this.#dbs.index
        .getRange(bounds)
        .filter(({ value }) => value !== null && accept(value))
        .map(({ key }) => key)
        [Symbol.iterator]();
    });
    const heads = iterators.map((iterator) => iterator.next());
    let previous = '';
    for (;;) {
      // The newest head of all the ranges (a k-way merge; k is small).
      let best = -1;
      for (let i = 0; i < heads.length; i++) {
        const head = heads[i] as IteratorResult<Key>;
        if (head.done) continue;
        if (best < 0 || compareNewest(head.value, (heads[best] as IteratorYieldResult<Key>).value) < 0) best = i;
      }
      if (best < 0) return;
      const key = (heads[best] as IteratorYieldResult<Key>).value;
      heads[best] = (iterators[best] as Iterator<Key>).next();
      const runId = key[key.length - 1] as string;
      if (runId === previous) continue;
      previous = runId;
      yield { at: key[key.length - 2] as number, runId };
    }
  }

  /**
   * How many entries the ranges hold (disjoint ones): counted by LMDB without reading them out, but
   * for those filtered by value (live ones, few), which are read.
   */
  #count(ranges: readonly Range[], query: Omit<RunQuery, 'offset' | 'limit'>): number {
    let count = 0;
    for (const { prefix, accept } of ranges) {
      const start = [...prefix, query.sinceMs ?? 0];
      const end = [...prefix, query.untilMs ?? MAX_TIME, '\uffff'];
      if (accept === undefined) count += this.#dbs.index.getKeysCount({ start, end });
      else for (const { value } of this.#dbs.index.getRange({ start, end })) if (value !== null && accept(value)) count += 1;
    }
    return count;
  }

  /** Every matching run, newest first. */
  *#matching(query: Omit<RunQuery, 'offset' | 'limit'>): Generator<RunSummary, void, undefined> {
    const { ranges, exact } = drivingRanges(query);
    for (const { at, runId } of this.#candidates(ranges, query)) {
      const run = getRowAt(this.#dbs, query.tenantId, at, runId);
      if (run !== undefined && (exact || matches(run, query))) yield run;
    }
  }

  /** A page of runs, newest first, and how many match in all. */
  listRuns(query: RunQuery): RunPage {
    const { ranges, exact, disjoint } = drivingRanges(query);
    const rows: RunSummary[] = [];
    let total = 0;
    if (exact) {
      // A run off the page is only counted: with an exact index it need not even be read, and with
      // disjoint ranges the count is their sizes.
      const countable = disjoint;
      for (const { at, runId } of this.#candidates(ranges, query)) {
        if (total >= query.offset) {
          if (rows.length === query.limit) {
            if (countable) break;
          } else {
            const run = getRowAt(this.#dbs, query.tenantId, at, runId);
            if (run !== undefined) rows.push(run);
          }
        }
        total += 1;
      }
      return { rows, total: countable && rows.length === query.limit ? this.#count(ranges, query) : total };
    }
    for (const run of this.#matching(query)) {
      if (total >= query.offset && rows.length < query.limit) rows.push(run);
      total += 1;
    }
    return { rows, total };
  }

  /** Tasks of the matching runs, counted by status. */
  countTasks(query: Omit<RunQuery, 'offset' | 'limit'>): Record<RunStatus, number> {
    const counts: Record<RunStatus, number> = { QUEUED: 0, RUNNING: 0, COMPLETED: 0, FAILED: 0, CANCELLED: 0 };
    for (const run of this.#matching(query)) for (const task of run.tasks) counts[task.status] += 1;
    return counts;
  }

  /** Each matching run's tasks, for aggregates over them (queue metrics, task stats). */
  *tasksOf(query: Omit<RunQuery, 'offset' | 'limit'>): Generator<{ run: RunSummary; task: TaskSummary }, void, undefined> {
    for (const run of this.#matching(query)) for (const task of run.tasks) yield { run, task };
  }

  /** Every run of a tenant matching a query (for bulk cancel and replay by filter), newest first. */
  allRunIds(query: Omit<RunQuery, 'offset' | 'limit'>, max: number): string[] {
    return this.listRuns({ ...query, offset: 0, limit: max }).rows.map((run) => run.runId);
  }

  /** Finished runs that ended at or before `endedBeforeMs`, oldest first, at most `limit`. */
  endedBefore(endedBeforeMs: number, limit: number): Array<{ tenantId: string; runId: string }> {
    const out: Array<{ tenantId: string; runId: string }> = [];
    for (const key of this.#dbs.ended.getKeys({ start: [0], end: [endedBeforeMs, '\uffff'], limit })) out.push({ tenantId: key[1] as string, runId: key[2] as string });
    return out;
  }

  /** Removes a run's row and index entries (retention, deleted workflows). */
  async removeRun(tenantId: string, runId: string): Promise<void> {
    await this.#request({ op: 'remove', tenantId, runId });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    if (!this.#catchingUp) await this.flush().catch(() => {});
    await this.#flushing?.catch(() => {});
    await this.#request({ op: 'close' }).catch(() => {});
    this.#closed = true;
    await this.#writer.terminate();
    for (const waiter of this.#waiters) waiter.resolve();
    await this.#dbs.root.close();
    if (this.#temporary !== undefined) rmSync(this.#temporary, { recursive: true, force: true });
    else markClosedCleanly(this.#path);
  }
}

/** Orders index keys newest first: by time, then run id (both descending). */
function compareNewest(a: Key, b: Key): number {
  const at = a[a.length - 2] as number;
  const bt = b[b.length - 2] as number;
  if (at !== bt) return bt - at;
  const aid = a[a.length - 1] as string;
  const bid = b[b.length - 1] as string;
  return aid < bid ? 1 : aid > bid ? -1 : 0;
}
