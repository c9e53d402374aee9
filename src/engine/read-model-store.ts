/**
 * The read models' LMDB layout, shared by the thread that writes them (read-model-writer.ts) and the
 * engine's thread, which only reads them (read-models.ts).
 *
 * Owns: the databases of the read-model environment and how a run's row and index entries are
 * written:
 *  - `runs`:  [tenant, runId] → RunSummary (run-summary.ts);
 *  - `index`: [tenant, kind, …values, createdAtMs, runId] → null, one entry per way a run can be
 *             found, so a filtered, newest-first page is one range read;
 *  - `ended`: [finishedAtMs, tenant, runId] → null, finished runs oldest first, for retention;
 *  - `meta`:  'position' → the log position the projection has folded everything up to.
 *
 * Invariants:
 *  1. A run's index entries are exactly `indexKeys(row)` of its stored row.
 *  2. An event is folded only if it is its run's next one (seq = row.seq + 1), so folding the same
 *     events twice — a replay of the log after a crash — changes nothing.
 */
import { join } from 'node:path';
import { type Database, open, type RootDatabase } from 'lmdb';
import { limits } from '../lib/limits.js';
import { type RunSummary, type SummaryEvent, summarize } from './run-summary.js';

export type Key = Array<string | number>;

export interface ReadModelDbs {
  readonly root: RootDatabase;
  readonly runs: Database<RunSummary, Key>;
  readonly index: Database<null, Key>;
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

export function openReadModelDbs(directory: string): ReadModelDbs {
  const root = open({ path: join(directory, 'read.mdb'), maxDbs: 8, mapSize: limits.lmdbMapBytesInitial });
  return {
    root,
    runs: root.openDB<RunSummary, Key>({ name: 'runs' }),
    index: root.openDB<null, Key>({ name: 'index' }),
    ended: root.openDB<null, Key>({ name: 'ended' }),
    meta: root.openDB<number, string>({ name: 'meta' }),
  };
}

/** The index entries of a run: every way it can be found. */
export function indexKeys(run: RunSummary): Key[] {
  const { tenantId: t, createdAtMs: at, runId: id } = run;
  const keys: Key[] = [
    [t, 'all', at, id],
    [t, 'st', run.status, at, id],
    [t, 'wf', run.workflow, at, id],
    [t, 'wfst', run.workflow, run.status, at, id],
  ];
  for (const [key, value] of Object.entries(run.additionalMetadata)) keys.push([t, 'md', key, value, at, id]);
  if (run.parentTaskId !== undefined) keys.push([t, 'par', run.parentTaskId, at, id]);
  if (run.triggeringEventId !== undefined) keys.push([t, 'ev', run.triggeringEventId, at, id]);
  for (const worker of new Set(run.tasks.flatMap((task) => (task.workerId === undefined ? [] : [task.workerId])))) keys.push([t, 'wk', worker, at, id]);
  return keys;
}

const keyText = (key: Key) => JSON.stringify(key);

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
      const before = firstSeq === 1 ? undefined : dbs.runs.get([tenantId, runId]);
      if (firstSeq > (before?.seq ?? 0) + 1) {
        gaps.push({ runId, tenantId });
        continue;
      }
      let after = before;
      for (let i = 0; i < events.length; i++) {
        // Invariant 2.
        if (firstSeq + i === (after?.seq ?? 0) + 1) after = summarize(after, events[i] as SummaryEvent);
      }
      if (after !== undefined && after !== before) storeRun(dbs, before, after);
    }
    if (position > (dbs.meta.get('position') ?? 0)) dbs.meta.putSync('position', position);
  });
  return gaps;
}

/** Replaces a run's row (folded from its whole stream), in a transaction of its own. */
export function replaceRun(dbs: ReadModelDbs, row: RunSummary): Promise<unknown> {
  return dbs.root.transaction(() => storeRun(dbs, dbs.runs.get([row.tenantId, row.runId]), row));
}

/** Removes a run's row and index entries. */
export function removeRun(dbs: ReadModelDbs, tenantId: string, runId: string): Promise<unknown> {
  return dbs.root.transaction(() => {
    const run = dbs.runs.get([tenantId, runId]);
    if (run === undefined) return;
    dbs.runs.removeSync([tenantId, runId]);
    for (const key of indexKeys(run)) dbs.index.removeSync(key);
    if (run.finishedAtMs !== undefined) dbs.ended.removeSync([run.finishedAtMs, tenantId, runId]);
  });
}

/** Turns a run's row and index entries from `before` into `after` (invariant 1); inside a write transaction. */
function storeRun(dbs: ReadModelDbs, before: RunSummary | undefined, after: RunSummary): void {
  dbs.runs.putSync([after.tenantId, after.runId], after);
  if (before === undefined) {
    for (const key of indexKeys(after)) dbs.index.putSync(key, null);
  } else {
    const old = new Map(indexKeys(before).map((key) => [keyText(key), key]));
    for (const key of indexKeys(after)) {
      if (!old.delete(keyText(key))) dbs.index.putSync(key, null);
    }
    for (const key of old.values()) dbs.index.removeSync(key);
  }
  if (before?.finishedAtMs !== undefined && before.finishedAtMs !== after.finishedAtMs) dbs.ended.removeSync([before.finishedAtMs, before.tenantId, before.runId]);
  if (after.finishedAtMs !== undefined && before?.finishedAtMs !== after.finishedAtMs) dbs.ended.putSync([after.finishedAtMs, after.tenantId, after.runId], null);
}
