/**
 * The read models on a real LMDB directory: a run moves between status-filtered pages as its
 * status changes (and back when replayed), counts follow it, removal leaves no entry behind, and a
 * directory written in an older layout is emptied and rebuilt from the log rather than misread, as
 * is one the machine may not have written back (it restarted since the directory was opened, with
 * no clean close in between).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import t, { type Test } from 'tap';
import { decide, evolve, initialState, type RunCommand, type RunEvent, type RunState } from '../../actors/workflow-run.js';
import type { RunStatus } from '../../protocol/frames.js';
import { encodePayload } from '../../protocol/payload.js';
import { LAYOUT } from '../../src/engine/read-model-store.js';
import { type RunQuery, ReadModels } from '../../src/engine/read-models.js';
import { runStream } from '../../src/engine/run-host.js';
import { MemoryLog } from '../../store/memory.js';

const TENANT = 'acme';
const spec = (name: string) => ({ name, parents: [], executionTimeoutMs: 60_000, scheduleTimeoutMs: 60_000, retries: 0, slotCost: 1 });

/** A run driven by commands through the run actor, its events kept in order. */
function run(runId: string, workflow: string, atMs: number) {
  let state: RunState = initialState();
  const events: RunEvent[] = [];
  const step = (command: RunCommand) => {
    const made = decide(state, command, { nowMs: atMs });
    for (const event of made) state = evolve(state, event);
    events.push(...made);
    return made;
  };
  step({ type: 'CreateRun', runId, tenantId: TENANT, taskIds: { a: `${runId}-a` }, workflow: { name: workflow, tasks: [spec('a')] }, input: encodePayload({}, 'input'), additionalMetadata: { team: 'x' }, priority: 1 });
  return { events, step };
}

const tempDir = (t: Test) => {
  const directory = mkdtempSync(join(tmpdir(), 'kindling-read-test-'));
  t.teardown(() => rmSync(directory, { recursive: true, force: true }));
  return directory;
};

const ids = (models: ReadModels, query: Omit<RunQuery, 'tenantId' | 'offset' | 'limit'>) => models.listRuns({ tenantId: TENANT, ...query, offset: 0, limit: 50 });

t.test('read models: a status change moves a run between status-filtered pages, and a replay moves it back', async (t) => {
  const models = ReadModels.open(new MemoryLog(), { path: tempDir(t), flushMs: 10 });
  t.teardown(() => models.close());
  await models.fresh();
  const other = run('r-other', 'wf-b', 500);
  other.step({ type: 'CancelRun', reason: 'no' });
  models.runEvents('r-other', TENANT, other.events, 1);
  const r = run('r1', 'wf-a', 1_000);
  let folded = 0;
  const hand = async () => {
    models.runEvents('r1', TENANT, r.events.slice(folded), folded + 1);
    folded = r.events.length;
    await models.flush();
  };
  const where = () =>
    Object.fromEntries((['QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED'] as RunStatus[]).map((status) => [status, ids(models, { statuses: [status] }).rows.map((row) => row.runId)]));
  await hand();
  t.same(where(), { QUEUED: ['r1'], RUNNING: [], COMPLETED: [], FAILED: [], CANCELLED: ['r-other'] });
  t.same(ids(models, { workflows: ['wf-a'], statuses: ['QUEUED'] }).rows.map((row) => row.runId), ['r1']);
  t.equal(ids(models, { workflows: ['wf-b'], statuses: ['QUEUED'] }).total, 0, 'a live run is filtered by its workflow');

  r.step({ type: 'AssignTask', task: 'a', attempt: 0, workerId: 'w1' });
  r.step({ type: 'StartTask', task: 'a', attempt: 0 });
  await hand();
  t.same(where(), { QUEUED: [], RUNNING: ['r1'], COMPLETED: [], FAILED: [], CANCELLED: ['r-other'] });
  t.same(ids(models, { workerId: 'w1' }).rows.map((row) => row.runId), ['r1']);

  r.step({ type: 'FailTask', task: 'a', attempt: 0, error: 'boom', nonRetryable: true });
  await hand();
  t.same(where(), { QUEUED: [], RUNNING: [], COMPLETED: [], FAILED: ['r1'], CANCELLED: ['r-other'] });
  t.same(ids(models, { workflows: ['wf-a'], statuses: ['FAILED', 'QUEUED'] }).rows.map((row) => row.runId), ['r1']);
  t.same(ids(models, {}).rows.map((row) => row.runId), ['r1', 'r-other'], 'every run once, newest first');
  t.equal(ids(models, {}).total, 2);
  t.same(models.endedBefore(Number.MAX_SAFE_INTEGER, 10), [{ tenantId: TENANT, runId: 'r-other' }, { tenantId: TENANT, runId: 'r1' }], 'ended runs, oldest first');

  r.step({ type: 'ReplayRun' });
  await hand();
  t.same(where(), { QUEUED: ['r1'], RUNNING: [], COMPLETED: [], FAILED: [], CANCELLED: ['r-other'] }, 'a replayed run is live again');
  t.same(ids(models, { workerId: 'w1' }).total, 0, 'its task is no longer on the worker');
  t.same(models.endedBefore(Number.MAX_SAFE_INTEGER, 10), [{ tenantId: TENANT, runId: 'r-other' }]);
  t.match(models.getRun(TENANT, 'r1'), { status: 'QUEUED', workflow: 'wf-a', additionalMetadata: { team: 'x' }, tasks: [{ name: 'a', status: 'QUEUED', attempt: 1 }] });

  await models.removeRun(TENANT, 'r1');
  t.equal(models.getRun(TENANT, 'r1'), undefined);
  t.same(where(), { QUEUED: [], RUNNING: [], COMPLETED: [], FAILED: [], CANCELLED: ['r-other'] });
  t.equal(ids(models, { metadata: [['team', 'x']] }).total, 1, 'its metadata entry is gone too');
});

t.test('read models: counts and pages over many runs agree with a filter over all of them', async (t) => {
  const models = ReadModels.open(new MemoryLog(), { path: tempDir(t) });
  t.teardown(() => models.close());
  await models.fresh();
  const statuses: RunStatus[] = [];
  for (let i = 0; i < 120; i++) {
    const r = run(`r${String(i).padStart(3, '0')}`, `wf-${i % 3}`, 10_000 + i);
    if (i % 4 > 0) r.step({ type: 'AssignTask', task: 'a', attempt: 0, workerId: `w${i % 2}` });
    if (i % 4 === 2) r.step({ type: 'CompleteTask', task: 'a', attempt: 0, output: encodePayload({}, 'output') });
    if (i % 4 === 3) {
      r.step({ type: 'FailTask', task: 'a', attempt: 0, error: 'boom', nonRetryable: true });
      r.step({ type: 'ReplayRun' });
    }
    statuses.push(i % 4 === 0 ? 'QUEUED' : i % 4 === 1 ? 'RUNNING' : i % 4 === 2 ? 'COMPLETED' : 'QUEUED');
    models.runEvents(`r${String(i).padStart(3, '0')}`, TENANT, r.events, 1);
  }
  await models.flush();
  const expected = (status: RunStatus | undefined, workflow: string | undefined, sinceMs = 0) =>
    statuses.map((s, i) => ({ s, i })).filter(({ s, i }) => (status === undefined || s === status) && (workflow === undefined || `wf-${i % 3}` === workflow) && 10_000 + i >= sinceMs).map(({ i }) => `r${String(i).padStart(3, '0')}`).reverse();
  for (const status of [undefined, 'QUEUED', 'RUNNING', 'COMPLETED', 'FAILED'] as const) {
    for (const workflow of [undefined, 'wf-1'] as const) {
      for (const sinceMs of [0, 10_060]) {
        const want = expected(status, workflow, sinceMs);
        const query = { ...(status === undefined ? {} : { statuses: [status] }), ...(workflow === undefined ? {} : { workflows: [workflow] }), sinceMs };
        const first = models.listRuns({ tenantId: TENANT, ...query, offset: 0, limit: 7 });
        const later = models.listRuns({ tenantId: TENANT, ...query, offset: 7, limit: 7 });
        const label = `${status ?? 'any status'}, ${workflow ?? 'any workflow'}, since ${sinceMs}`;
        t.equal(first.total, want.length, `${label}: count`);
        t.same([...first.rows, ...later.rows].map((row) => row.runId), want.slice(0, 14), `${label}: two pages`);
      }
    }
  }
  t.equal(models.listRuns({ tenantId: TENANT, statuses: ['RUNNING'], workerId: 'w1', offset: 0, limit: 100 }).total, 30, 'worker and status: checked on the row');
});

t.test('read models: a directory of an older layout is emptied and rebuilt from the log', async (t) => {
  const directory = tempDir(t);
  const log = new MemoryLog();
  const r = run('r1', 'wf-a', 2_000);
  r.step({ type: 'AssignTask', task: 'a', attempt: 0, workerId: 'w1' });
  await log.append(
    runStream('r1'),
    r.events.map((event) => ({ type: event.type, data: event })),
    { expectedVersion: 0 },
  );
  // The layout before this one: rows of objects under [tenant, runId], an 'all' index, a position past the log's head.
  const old = open({ path: join(directory, 'read.mdb'), maxDbs: 8 });
  await old.openDB({ name: 'runs' }).put([TENANT, 'stale'], { runId: 'stale', tenantId: TENANT, workflow: 'gone', status: 'COMPLETED', createdAtMs: 1, tasks: [], seq: 9 });
  await old.openDB({ name: 'index' }).put([TENANT, 'st', 'COMPLETED', 1, 'stale'], null);
  await old.openDB({ name: 'meta' }).put('position', 1_000);
  await old.close();

  const models = ReadModels.open(log, { path: directory });
  t.teardown(() => models.close());
  await models.fresh();
  t.equal(models.getRun(TENANT, 'stale'), undefined, 'the old rows are gone');
  t.same(
    models.listRuns({ tenantId: TENANT, offset: 0, limit: 10 }).rows.map((row) => [row.runId, row.status, row.tasks[0]?.workerId]),
    [['r1', 'RUNNING', 'w1']],
    'the log is folded in from the start',
  );
  t.equal(models.position, await log.headPosition());
  await models.close();

  const check = open({ path: join(directory, 'read.mdb'), maxDbs: 8 });
  t.equal(check.openDB({ name: 'meta' }).get('layout'), LAYOUT, 'the directory says its layout');
  await check.close();
  // Opened again in the same layout, nothing is rebuilt: the run is there before any catch-up.
  const again = ReadModels.open(new MemoryLog(), { path: directory });
  t.equal(again.getRun(TENANT, 'r1')?.status, 'RUNNING');
  await again.close();
});

t.test('read models: a directory the machine may not have written back is rebuilt; one closed cleanly, or left by a crashed process, is kept', async (t) => {
  const bootFile = '/proc/sys/kernel/random/boot_id';
  const boot = (() => {
    try {
      return readFileSync(bootFile, 'utf8').trim();
    } catch {
      return undefined;
    }
  })();
  if (boot === undefined) {
    t.pass(`${bootFile} is missing here: commits are fsync'd and there is nothing to rebuild`);
    return;
  }
  const directory = tempDir(t);
  const marker = join(directory, 'read.boot');
  const log = new MemoryLog();
  const r = run('r1', 'wf-a', 2_000);
  await log.append(
    runStream('r1'),
    r.events.map((event) => ({ type: event.type, data: event })),
    { expectedVersion: 0 },
  );
  const first = ReadModels.open(log, { path: directory });
  await first.fresh();
  t.equal(readFileSync(marker, 'utf8'), boot, 'while open, the directory names the boot it is written under');
  await first.close();
  t.equal(readFileSync(marker, 'utf8'), 'clean', 'a close flushes it and says so');

  /** Leaves a row no log event made, and the marker as given; answers whether the row survives the next open. */
  const survives = async (markerText: string) => {
    const raw = open({ path: join(directory, 'read.mdb'), maxDbs: 8 });
    await raw.openDB({ name: 'runs' }).put([TENANT, 1, 'planted'], [1, 2, 'wf-x', 1, 1, null, null, {}, null, null, []]);
    await raw.openDB({ name: 'ids' }).put([TENANT, 'planted'], 1);
    await raw.close();
    writeFileSync(marker, markerText);
    const models = ReadModels.open(log, { path: directory });
    await models.fresh();
    const planted = models.getRun(TENANT, 'planted') !== undefined;
    t.equal(models.getRun(TENANT, 'r1')?.status, 'QUEUED', 'the runs of the log are there either way');
    await models.close();
    return planted;
  };
  t.equal(await survives('clean'), true, 'closed cleanly: kept as it is');
  t.equal(await survives(boot), true, 'opened under this boot and not closed (a crashed process): kept — the OS writes its pages back');
  t.equal(await survives('00000000-0000-0000-0000-000000000000'), false, 'opened under another boot and not closed: emptied and rebuilt from the log');
});
