/**
 * The read models' LMDB layout, shared by the thread that writes them (read-model-writer.ts) and the
 * engine's thread, which only reads them (read-models.ts).
 *
 * Owns: the databases of the read-model environment and how a run's row and index entries are
 * written. Layout 2 (`LAYOUT`), built so that a run costs few writes — one put of its row per
 * flush that folds its events, and each index entry written once:
 *  - `runs`:  [tenant, createdAtMs, runId] → `Row`, the run's summary as a positional array
 *             (statuses as small ints; `encodeRow`, `decodeRow`). Keyed by time, so that the
 *             rows a flush rewrites are the newest, on the few pages at the end of the tree, not
 *             one page each at random;
 *  - `ids`:   [tenant, runId] → createdAtMs, written once: where a run's row is;
 *  - `index`: [tenant, kind, …values, createdAtMs, runId], so a filtered, newest-first page is a
 *             merge of a few range reads:
 *      [t, 'live', at, id]            → [status, workflow]  while the run is queued or running (a
 *                                        change between the two re-puts the value: no remove);
 *      [t, 'st', status, at, id]      → null  } once it has ended, written once (removed only if
 *      [t, 'wfst', wf, status, at, id] → null  } the run is replayed);
 *      [t, 'md', key, value, at, id], [t, 'par', parentTaskId, at, id], [t, 'ev', eventId, at, id]
 *                                     → null  written once, with the run's first row;
 *      [t, 'wk', workerId, at, id]    → null  for each worker a task of the run is assigned to now.
 *    Every run is in exactly one of 'live' and 'st' (and, when ended, 'wfst'), so those ranges
 *    together list all of a tenant's runs;
 *  - `ended`: [finishedAtMs, tenant, runId] → null, ended runs oldest first, for retention;
 *  - `meta`:  'position' → the log position the projection has folded everything up to;
 *             'layout' → `LAYOUT`.
 *
 * Invariants:
 *  1. A run's index entries are exactly `entries(row)` of its stored row.
 *  2. An event is folded only if it is its run's next one (seq = row.seq + 1), so folding the same
 *     events twice — a replay of the log after a crash — changes nothing.
 *  3. The environment holds one layout: one written in another (no 'layout', or a different one)
 *     is emptied when opened for the engine (`openReadModelDbs(…, { reset: true })`, before the
 *     writer thread starts), so it is rebuilt from the log rather than misread.
 *  4. Commits are not fsync'd (`noSync`): the read models are a projection, and a rebuildable one
 *     need not make every flush wait for the disk — or make the log's fsyncs queue behind its own.
 *     A process crash (`kill -9`) loses nothing the OS holds, and the OS writes it back. A machine
 *     that stopped without writing back may leave the environment damaged, so the engine empties
 *     and rebuilds it when the machine has restarted since it was last opened and it was not
 *     closed cleanly: `read.boot` beside it names the boot it was opened under, or says `clean`
 *     once a close has flushed it to disk. Where the boot cannot be told (no
 *     /proc/sys/kernel/random/boot_id), commits are fsync'd instead.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { type Database, open, type RootDatabase } from 'lmdb';
import type { RunStatus } from '../../protocol/frames.js';
import { limits } from '../lib/limits.js';
import { type RunSummary, type SummaryEvent, summarizeFrom, type TaskRunStatus, type TaskSummary } from './run-summary.js';

export type Key = Array<string | number>;

/** The layout of the environment (invariant 3); bump it whenever a row or an index entry changes shape. */
export const LAYOUT = 2;

export const STATUSES: readonly RunStatus[] = ['QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED'];
const CODES: Readonly<Record<RunStatus, number>> = { QUEUED: 0, RUNNING: 1, COMPLETED: 2, FAILED: 3, CANCELLED: 4 };
export const statusCode = (status: RunStatus | TaskRunStatus): number => CODES[status];
export const statusOfCode = (code: number): RunStatus => STATUSES[code] as RunStatus;
export const hasEnded = (status: RunStatus): boolean => status === 'COMPLETED' || status === 'FAILED' || status === 'CANCELLED';

/** A task of a row: name, taskId, status, attempt, workerId, error, startedAtMs, finishedAtMs (absent: null). */
type TaskRow = [string, string, number, number, string | null, string | null, number | null, number | null];
/** A run's row: seq, status, workflow, createdAtMs, updatedAtMs, startedAtMs, finishedAtMs, metadata, parentTaskId, triggeringEventId, tasks. */
export type Row = [number, number, string, number, number, number | null, number | null, Record<string, string>, string | null, string | null, TaskRow[]];
/** The value of a 'live' index entry: the run's status and workflow. */
export type LiveValue = [number, string];

export function encodeRow(run: RunSummary): Row {
  return [
    run.seq,
    CODES[run.status],
    run.workflow,
    run.createdAtMs,
    run.updatedAtMs,
    run.startedAtMs ?? null,
    run.finishedAtMs ?? null,
    run.additionalMetadata,
    run.parentTaskId ?? null,
    run.triggeringEventId ?? null,
    run.tasks.map((task) => [task.name, task.taskId, CODES[task.status], task.attempt, task.workerId ?? null, task.error ?? null, task.startedAtMs ?? null, task.finishedAtMs ?? null]),
  ];
}

export function decodeRow(tenantId: string, runId: string, row: Row): RunSummary {
  const [seq, status, workflow, createdAtMs, updatedAtMs, startedAtMs, finishedAtMs, additionalMetadata, parentTaskId, triggeringEventId, tasks] = row;
  return {
    runId,
    tenantId,
    workflow,
    status: STATUSES[status] as RunStatus,
    createdAtMs,
    updatedAtMs,
    ...(startedAtMs === null ? {} : { startedAtMs }),
    ...(finishedAtMs === null ? {} : { finishedAtMs }),
    additionalMetadata,
    ...(parentTaskId === null ? {} : { parentTaskId }),
    ...(triggeringEventId === null ? {} : { triggeringEventId }),
    tasks: tasks.map(([name, taskId, taskStatus, attempt, workerId, error, taskStartedAtMs, taskFinishedAtMs]): TaskSummary => ({
      name,
      taskId,
      status: STATUSES[taskStatus] as TaskRunStatus,
      attempt,
      ...(workerId === null ? {} : { workerId }),
      ...(error === null ? {} : { error }),
      ...(taskStartedAtMs === null ? {} : { startedAtMs: taskStartedAtMs }),
      ...(taskFinishedAtMs === null ? {} : { finishedAtMs: taskFinishedAtMs }),
    })),
    seq,
  };
}

export interface ReadModelDbs {
  readonly root: RootDatabase;
  readonly runs: Database<Row, Key>;
  readonly ids: Database<number, Key>;
  /** Values: `LiveValue` for 'live' entries, null for the rest. */
  readonly index: Database<LiveValue | null, Key>;
  readonly ended: Database<null, Key>;
  readonly meta: Database<number, string>;
}

/** A run's events, numbered from `firstSeq` in its stream, to fold into its row. */
export interface RunBatch {
  readonly runId: string;
  readonly tenantId: string;
  readonly firstSeq: number;
  readonly events: readonly SummaryEvent[];
}

/**
 * Opens the environment. With `reset` (the engine's thread, before its writer starts), one of
 * another layout is emptied first (invariant 3): answers whether it was.
 */
/** This boot of the machine, if the OS says (invariant 4). */
function currentBoot(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

const BOOT = currentBoot();
const BOOT_MARKER = 'read.boot';
const CLEAN = 'clean';

/** Writes a small file and flushes it to disk before returning. */
function writeDurably(path: string, text: string): void {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Invariant 4, on the engine's thread before the environment is opened: empties it if the machine
 * restarted since it was opened without a clean close, then marks it open under this boot.
 */
function checkBoot(directory: string): void {
  if (BOOT === undefined) return;
  mkdirSync(directory, { recursive: true });
  const marker = join(directory, BOOT_MARKER);
  const last = existsSync(marker) ? readFileSync(marker, 'utf8') : undefined;
  if (last !== undefined && last !== CLEAN && last !== BOOT) {
    rmSync(join(directory, 'read.mdb'), { force: true });
    rmSync(join(directory, 'read.mdb-lock'), { force: true });
  }
  writeDurably(marker, BOOT);
}

/** Invariant 4, once the environment is closed: flushes it to disk and marks it closed cleanly. */
export function markClosedCleanly(directory: string): void {
  if (BOOT === undefined) return;
  const fd = openSync(join(directory, 'read.mdb'), 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  writeDurably(join(directory, BOOT_MARKER), CLEAN);
}

export function openReadModelDbs(directory: string, options: { reset?: boolean } = {}): ReadModelDbs & { readonly reset: boolean } {
  if (options.reset === true) checkBoot(directory);
  const root = open({ path: join(directory, 'read.mdb'), maxDbs: 8, mapSize: limits.lmdbMapBytesInitial, noSync: BOOT !== undefined });
  const dbs = {
    root,
    runs: root.openDB<Row, Key>({ name: 'runs' }),
    ids: root.openDB<number, Key>({ name: 'ids' }),
    index: root.openDB<LiveValue | null, Key>({ name: 'index' }),
    ended: root.openDB<null, Key>({ name: 'ended' }),
    meta: root.openDB<number, string>({ name: 'meta' }),
  };
  const stale = options.reset === true && dbs.meta.get('layout') !== LAYOUT;
  if (stale) {
    root.transactionSync(() => {
      for (const db of [dbs.runs, dbs.ids, dbs.index, dbs.ended, dbs.meta]) db.clearSync();
      dbs.meta.putSync('layout', LAYOUT);
    });
  }
  return { ...dbs, reset: stale };
}

/** A run's row, if it is stored. */
export function getRow(dbs: ReadModelDbs, tenantId: string, runId: string): RunSummary | undefined {
  const createdAtMs = dbs.ids.get([tenantId, runId]);
  return createdAtMs === undefined ? undefined : getRowAt(dbs, tenantId, createdAtMs, runId);
}

/** A run's row, found by its creation time (as index entries name it). */
export function getRowAt(dbs: ReadModelDbs, tenantId: string, createdAtMs: number, runId: string): RunSummary | undefined {
  const row = dbs.runs.get([tenantId, createdAtMs, runId]);
  return row === undefined ? undefined : decodeRow(tenantId, runId, row);
}

/** The workers the run's tasks are assigned to now, each once. */
function workersOf(run: RunSummary): string[] {
  const workers: string[] = [];
  for (const task of run.tasks) if (task.workerId !== undefined && !workers.includes(task.workerId)) workers.push(task.workerId);
  return workers;
}

/** The index entries of a run that never change: every way to find it but status and worker. */
function fixedKeys(run: RunSummary): Key[] {
  const { tenantId: t, createdAtMs: at, runId: id } = run;
  const keys: Key[] = [];
  for (const key in run.additionalMetadata) keys.push([t, 'md', key, run.additionalMetadata[key] as string, at, id]);
  if (run.parentTaskId !== undefined) keys.push([t, 'par', run.parentTaskId, at, id]);
  if (run.triggeringEventId !== undefined) keys.push([t, 'ev', run.triggeringEventId, at, id]);
  return keys;
}

/** The entries that say a run's status: 'live' while it is queued or running, 'st' and 'wfst' once it has ended. */
function statusKeys(run: RunSummary): Key[] {
  const { tenantId: t, createdAtMs: at, runId: id } = run;
  if (!hasEnded(run.status)) return [[t, 'live', at, id]];
  return [
    [t, 'st', run.status, at, id],
    [t, 'wfst', run.workflow, run.status, at, id],
  ];
}

/** Every index entry of a run (invariant 1). */
export function entries(run: RunSummary): Key[] {
  const { tenantId: t, createdAtMs: at, runId: id } = run;
  return [...fixedKeys(run), ...statusKeys(run), ...workersOf(run).map((worker) => [t, 'wk', worker, at, id])];
}

/**
 * Folds runs' events into their rows and moves the position, in one transaction of synchronous
 * puts (no promise per put: this runs for every run). Answers the runs whose rows are missing
 * events before these (their streams must be folded whole).
 */
export async function foldBatches(dbs: ReadModelDbs, batches: readonly RunBatch[], position: number): Promise<Array<{ runId: string; tenantId: string }>> {
  const gaps: Array<{ runId: string; tenantId: string }> = [];
  await dbs.root.transaction(() => {
    for (const { runId, tenantId, firstSeq, events } of batches) {
      // A run's first events have no row before them: nothing to read.
      const before = firstSeq === 1 ? undefined : getRow(dbs, tenantId, runId);
      if (firstSeq > (before?.seq ?? 0) + 1) {
        gaps.push({ runId, tenantId });
        continue;
      }
      // Invariant 2.
      const after = summarizeFrom(before, events, firstSeq);
      if (after !== undefined && after !== before) storeRun(dbs, before, after);
    }
    if (position > (dbs.meta.get('position') ?? 0)) dbs.meta.putSync('position', position);
  });
  return gaps;
}

/** Replaces a run's row (folded from its whole stream), in a transaction of its own. */
export function replaceRun(dbs: ReadModelDbs, row: RunSummary): Promise<unknown> {
  return dbs.root.transaction(() => storeRun(dbs, getRow(dbs, row.tenantId, row.runId), row));
}

/** Removes a run's row and index entries. */
export function removeRun(dbs: ReadModelDbs, tenantId: string, runId: string): Promise<unknown> {
  return dbs.root.transaction(() => {
    const run = getRow(dbs, tenantId, runId);
    if (run === undefined) return;
    dbs.ids.removeSync([tenantId, runId]);
    dbs.runs.removeSync([tenantId, run.createdAtMs, runId]);
    for (const key of entries(run)) dbs.index.removeSync(key);
    if (run.finishedAtMs !== undefined) dbs.ended.removeSync([run.finishedAtMs, tenantId, runId]);
  });
}

/**
 * Turns a run's row and index entries from `before` into `after` (invariant 1); inside a write
 * transaction. Only what changed is written: the row, and an index entry only when the status or
 * the workers changed.
 */
function storeRun(dbs: ReadModelDbs, before: RunSummary | undefined, after: RunSummary): void {
  const { tenantId: t, createdAtMs: at, runId: id } = after;
  if (before === undefined) {
    dbs.ids.putSync([t, id], at);
    for (const key of fixedKeys(after)) dbs.index.putSync(key, null);
  }
  dbs.runs.putSync([t, at, id], encodeRow(after));
  if (before === undefined || before.status !== after.status) {
    // Queued ↔ running stays the same 'live' entry: its value is overwritten.
    if (before !== undefined && (hasEnded(before.status) || hasEnded(after.status))) for (const key of statusKeys(before)) dbs.index.removeSync(key);
    if (hasEnded(after.status)) for (const key of statusKeys(after)) dbs.index.putSync(key, null);
    else dbs.index.putSync([t, 'live', at, id], [CODES[after.status], after.workflow]);
  }
  const workers = workersOf(after);
  const workersBefore = before === undefined ? [] : workersOf(before);
  for (const worker of workers) if (!workersBefore.includes(worker)) dbs.index.putSync([t, 'wk', worker, at, id], null);
  for (const worker of workersBefore) if (!workers.includes(worker)) dbs.index.removeSync([t, 'wk', worker, at, id]);
  if (before?.finishedAtMs !== undefined && before.finishedAtMs !== after.finishedAtMs) dbs.ended.removeSync([before.finishedAtMs, before.tenantId, before.runId]);
  if (after.finishedAtMs !== undefined && before?.finishedAtMs !== after.finishedAtMs) dbs.ended.putSync([after.finishedAtMs, after.tenantId, after.runId], null);
}
