/**
 * Scheduled runs and crons end to end, on the real engine process: a schedule fires, is
 * rescheduled, is deleted, survives `kill -9` and a restart; a seconds-field cron ticks, and a
 * workflow's declared crons are replaced when it is registered again; bad input is refused.
 */
import t from 'tap';
import { HatchetClient } from '../../src/sdk/index.js';
import type { Worker } from '../../src/sdk/worker.js';
import { type EngineProcess, startEngine } from '../support/engine-process.js';
import { until } from '../support/until.js';

let engine: EngineProcess;
let hatchet: HatchetClient;
const workers: Worker[] = [];
const ran: Array<{ task: string; tag: unknown; at: number; metadata: Record<string, string> }> = [];

t.before(async () => {
  engine = await startEngine();
  hatchet = HatchetClient.init({ token: engine.token, host_port: engine.hostPort, api_url: `http://${engine.hostPort}`, log_level: 'ERROR' });
});
t.teardown(async () => {
  for (const worker of workers) await worker.stop();
  hatchet.close();
  await engine.dispose();
});

const scheduledTask = () =>
  hatchet.task({
    name: 'scheduled-task',
    fn: (input: { tag: string }, ctx) => {
      ran.push({ task: 'scheduled-task', tag: input.tag, at: Date.now(), metadata: ctx.additionalMetadata() });
      return { tag: input.tag };
    },
  });

t.test('a schedule fires at its time; a rescheduled one at its new time; a deleted one never', async (t) => {
  const task = scheduledTask();
  const worker = await hatchet.worker('schedule-worker', { workflows: [task], handleKill: false });
  void worker.start();
  await worker.waitUntilReady();
  workers.push(worker);

  const created = Date.now();
  const soon = await task.schedule(new Date(Date.now() + 1500), { tag: 'soon' }, { additionalMetadata: { why: 'test' } });
  t.match(soon, { metadata: { id: /^[0-9a-f-]{36}$/ }, workflowName: 'scheduled-task', input: { tag: 'soon' }, method: 'API', workflowRunStatus: 'SCHEDULED' });
  const moved = await task.delay(600, { tag: 'moved' });
  const deleted = await hatchet.scheduled.create('scheduled-task', { triggerAt: new Date(Date.now() + 1500), input: { tag: 'deleted' } });
  t.match(await hatchet.scheduled.update(moved.metadata.id, { triggerAt: new Date(Date.now() + 2500) }), { metadata: { id: moved.metadata.id } });
  await hatchet.scheduled.delete(deleted);
  await t.rejects(hatchet.scheduled.get(deleted.metadata.id), { code: 'SCHEDULE_NOT_FOUND' });

  await until('both schedules to run', () => (ran.filter((r) => r.task === 'scheduled-task').length >= 2 ? true : undefined));
  await new Promise((resolve) => setTimeout(resolve, 500));
  const tags = ran.filter((r) => r.task === 'scheduled-task');
  t.same(tags.map((r) => r.tag), ['soon', 'moved'], 'in time order; the deleted one never ran');
  t.ok((tags[0]?.at ?? 0) - created >= 1400, 'not before its time');
  t.ok((tags[1]?.at ?? 0) - created >= 2400, 'the rescheduled one at its new time');
  t.match(tags[0]?.metadata, { why: 'test' });

  const after = await until('the schedule to show its run', async () => {
    const got = await hatchet.scheduled.get(soon.metadata.id);
    return got.workflowRunStatus === 'SUCCEEDED' ? got : undefined;
  });
  t.match(after, { workflowRunId: /^[0-9a-f-]{36}$/ });
  await t.rejects(hatchet.scheduled.update(soon.metadata.id, { triggerAt: new Date(Date.now() + 60_000) }), { code: 'INVALID_INPUT', message: /already triggered/ });
  const listed = await hatchet.scheduled.list({ workflow: task });
  t.equal(listed.rows?.length, 2);
  const bulk = await hatchet.scheduled.bulkDelete({ scheduledRuns: [soon.metadata.id, '00000000-0000-4000-8000-000000000000'] });
  t.same(bulk.deletedIds, [soon.metadata.id]);
  t.match(bulk.errors, [{ id: '00000000-0000-4000-8000-000000000000', error: /does not exist/ }]);
  const updated = await hatchet.scheduled.bulkUpdate([{ scheduledRun: moved.metadata.id, triggerAt: new Date(Date.now() + 60_000) }]);
  t.match(updated, { updatedIds: [], errors: [{ id: moved.metadata.id, error: /already triggered/ }] });
});

t.test('bad input: a schedule in the past, a bad cron, a cron of the wrong field count, a taken cron name', async (t) => {
  const task = scheduledTask();
  await t.rejects(task.schedule(new Date(Date.now() - 60_000), { tag: 'past' }), { code: 'INVALID_INPUT', message: /in the past/ });
  await t.rejects(task.cron('bad', '61 * * * *', { tag: 'x' }), { code: 'INVALID_INPUT', message: /not a valid cron expression/ });
  await t.rejects(task.cron('short', '* * *', { tag: 'x' }), { code: 'INVALID_INPUT', message: /has 3 fields/ });
  await t.rejects(task.cron('empty', '', { tag: 'x' }), { code: 'INVALID_INPUT' });
  const cron = await task.cron('daily', '0 0 * * *', { tag: 'daily' });
  await t.rejects(task.cron('daily', '0 1 * * *', { tag: 'again' }), { code: 'ALREADY_EXISTS' });
  await hatchet.crons.delete(cron.metadata.id);
  const declared = hatchet.workflow({ name: 'bad-cron-decl', on: { cron: 'every minute' } });
  declared.task({ name: 'step', fn: () => ({}) });
  await t.rejects(hatchet.worker('bad-cron-worker', { workflows: [declared], handleKill: false }), { code: 'INVALID_INPUT' });
  t.same((await hatchet.scheduled.list({ workflow: task, statuses: ['SCHEDULED'] })).rows, [], 'nothing was stored');
});

t.test('a seconds-field cron ticks with its reserved metadata; deleting it stops the ticks', async (t) => {
  const ticks: Array<Record<string, string>> = [];
  const ticking = hatchet.task({ name: 'ticking', fn: (_input: Record<string, never>, ctx) => {
    ticks.push(ctx.additionalMetadata());
    return {};
  } });
  const worker = await hatchet.worker('cron-worker', { workflows: [ticking], handleKill: false });
  void worker.start();
  await worker.waitUntilReady();
  workers.push(worker);
  const cron = await ticking.cron('every-second', '* * * * * *', {});
  t.match(cron, { name: 'every-second', cron: '* * * * * *', method: 'API', enabled: true });
  t.match(await hatchet.crons.get(cron.metadata.id), { name: 'every-second' });
  t.equal((await hatchet.crons.list({ workflow: ticking })).rows?.length, 1);
  await until('two ticks', () => (ticks.length >= 2 ? true : undefined));
  t.match(ticks[0], { hatchet__cron_name: 'every-second', hatchet__cron_expression: '* * * * * *', hatchet__cron_scheduled_at: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/ });
  t.not(ticks[0]?.hatchet__cron_scheduled_at, ticks[1]?.hatchet__cron_scheduled_at, 'one run per tick');
  await hatchet.crons.delete(cron);
  await new Promise((resolve) => setTimeout(resolve, 1200));
  const count = ticks.length;
  await new Promise((resolve) => setTimeout(resolve, 2200));
  t.equal(ticks.length, count, 'no tick after the delete');
});

t.test('declared crons are replaced when the workflow is registered again', async (t) => {
  const make = (expression: string) => {
    const wf = hatchet.workflow({ name: 'declared-cron', on: { cron: expression } });
    wf.task({ name: 'step', fn: () => ({}) });
    return wf;
  };
  await hatchet.worker('declared-1', { workflows: [make('0 0 * * *')], handleKill: false });
  t.match((await hatchet.crons.list({ workflow: 'declared-cron' })).rows, [{ cron: '0 0 * * *', method: 'DEFAULT' }]);
  await hatchet.worker('declared-2', { workflows: [make('0 12 * * *')], handleKill: false });
  const rows = (await hatchet.crons.list({ workflow: 'declared-cron' })).rows ?? [];
  t.same(rows.map((r) => r.cron), ['0 12 * * *'], 'the old declared cron is gone');
});

t.test('a schedule survives kill -9: after a restart it fires at its time; one due while the engine was down does not run', async (t) => {
  const task = hatchet.task({ name: 'restart-scheduled', fn: (input: { tag: string }) => {
    ran.push({ task: 'restart-scheduled', tag: input.tag, at: Date.now(), metadata: {} });
    return {};
  } });
  await hatchet.worker('restart-registrar', { workflows: [task], handleKill: false });
  const start = Date.now();
  const surviving = await task.schedule(new Date(start + 6000), { tag: 'survives' });
  const missed = await task.schedule(new Date(start + 1500), { tag: 'missed' });
  await engine.kill('SIGKILL');
  // Down past the second schedule's time.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, start + 2000 - Date.now())));
  await engine.restart();
  const worker = await hatchet.worker('restart-schedule-worker', { workflows: [task], handleKill: false });
  void worker.start();
  await worker.waitUntilReady();
  workers.push(worker);
  await until('the surviving schedule to run', () => (ran.some((r) => r.tag === 'survives') ? true : undefined));
  const run = ran.find((r) => r.tag === 'survives');
  t.ok((run?.at ?? 0) - start >= 5900, 'at its time, not earlier');
  await new Promise((resolve) => setTimeout(resolve, 500));
  t.notOk(ran.some((r) => r.tag === 'missed'), 'the one due while down did not run');
  t.match(await hatchet.scheduled.get(missed.metadata.id), { workflowRunStatus: 'CANCELLED' });
  t.match(await hatchet.scheduled.get(surviving.metadata.id), { workflowRunId: /^[0-9a-f-]{36}$/ });
});

t.test('filters and crons survive kill -9: after a restart the filter still routes events and the cron still ticks', async (t) => {
  const seen: string[] = [];
  const routed = hatchet.workflow({ name: 'routed-after-restart', onEvents: ['restart:event'] });
  routed.task({ name: 'step', fn: (_input, ctx) => {
    seen.push(`event ${JSON.stringify(ctx.filterPayload())}`);
    return {};
  } });
  const ticking = hatchet.task({ name: 'ticking-after-restart', fn: () => {
    seen.push('tick');
    return {};
  } });
  await hatchet.worker('restart-registrar-2', { workflows: [routed, ticking], handleKill: false });
  const filter = await hatchet.filters.create({ workflowId: 'routed-after-restart', expression: 'true', scope: 'kept', payload: { kept: true } });
  await ticking.cron('kept-cron', '* * * * * *', {});
  await engine.kill('SIGKILL');
  await engine.restart();
  const worker = await hatchet.worker('after-restart-worker', { workflows: [routed, ticking], handleKill: false });
  void worker.start();
  await worker.waitUntilReady();
  workers.push(worker);
  t.match(await hatchet.filters.get(filter.metadata.id), { scope: 'kept' }, 'the filter is still there');
  await hatchet.events.push('restart:event', {}, { scope: 'kept' });
  await hatchet.events.push('restart:event', {});
  await until('the filtered run and a tick', () => (seen.includes('event {"kept":true}') && seen.includes('tick') ? true : undefined));
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.equal(seen.filter((s) => s.startsWith('event')).length, 1, 'the unscoped event started nothing: the workflow has a filter');
  const crons = (await hatchet.crons.list({ workflow: ticking })).rows ?? [];
  for (const cron of crons) await hatchet.crons.delete(cron.metadata.id);
});
