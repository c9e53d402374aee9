/**
 * Events end to end: the real engine process, the SDK over a real WebSocket and its REST API, real
 * workers. Fan-out to several workflows, wildcard keys, filters (a match, a scope that does not
 * match, each filter's payload), events listed with the runs they started, and bad input refused.
 */
import t from 'tap';
import { HatchetClient } from '../../src/sdk/index.js';
import type { Worker } from '../../src/sdk/worker.js';
import { type EngineProcess, startEngine } from '../support/engine-process.js';
import { until } from '../support/until.js';

let engine: EngineProcess;
let hatchet: HatchetClient;
const workers: Worker[] = [];

t.before(async () => {
  engine = await startEngine();
  hatchet = HatchetClient.init({ token: engine.token, host_port: engine.hostPort, api_url: `http://${engine.hostPort}`, log_level: 'ERROR' });
});
t.teardown(async () => {
  for (const worker of workers) await worker.stop();
  hatchet.close();
  await engine.dispose();
});

async function startWorker(name: string, workflows: NonNullable<Parameters<HatchetClient['worker']>[1]> extends infer O ? (O extends { workflows?: infer W } ? W : never) : never) {
  const worker = await hatchet.worker(name, { workflows, slots: 20, handleKill: false });
  void worker.start();
  await worker.waitUntilReady();
  workers.push(worker);
  return worker;
}

/** Waits until `check` holds, polling; fails after `timeoutMs` (generous: the machine is loaded). */
t.test('an event fans out to every workflow listening for its key, wildcards included; its payload is the input', async (t) => {
  const seen: Array<{ who: string; input: unknown; byEvent: boolean; eventKey: string | undefined; metadata: Record<string, string> }> = [];
  const record = (who: string) => (input: Record<string, unknown>, ctx: { triggeredByEvent(): boolean; triggeringEventKey(): string | undefined; additionalMetadata(): Record<string, string> }) => {
    seen.push({ who, input, byEvent: ctx.triggeredByEvent(), eventKey: ctx.triggeringEventKey(), metadata: ctx.additionalMetadata() });
    return { who };
  };
  const first = hatchet.task({ name: 'on-signup-a', onEvents: ['user:signup'], fn: record('a') });
  const second = hatchet.workflow({ name: 'on-signup-b', on: { event: 'user:signup' } });
  second.task({ name: 'step', fn: record('b') });
  const wild = hatchet.task({ name: 'on-any-user', on: { event: 'user:*' }, fn: record('wild') });
  await startWorker('fanout-worker', [first, second, wild]);

  const pushed = await hatchet.events.push('user:signup', { name: 'ada' }, { additionalMetadata: { source: 'test' } });
  t.match(pushed, { key: 'user:signup', eventId: /^[0-9a-f-]{36}$/, payload: '{"name":"ada"}' });
  await until('three runs', () => (seen.length >= 3 ? true : undefined));
  t.same(seen.map((s) => s.who).sort(), ['a', 'b', 'wild'], 'one run of each listening workflow');
  for (const run of seen) {
    t.same(run.input, { name: 'ada' });
    t.equal(run.byEvent, true);
    t.equal(run.eventKey, 'user:signup');
    t.match(run.metadata, { source: 'test', hatchet__event_id: pushed.eventId, hatchet__event_key: 'user:signup' });
  }
  seen.length = 0;
  await hatchet.events.push('user:renewed', { name: 'bob' });
  await until('the wildcard run', () => (seen.length >= 1 ? true : undefined));
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.same(seen.map((s) => s.who), ['wild'], 'only the wildcard matches another user: key');

  const listed = await until('the event in the list', async () => {
    const { rows } = await hatchet.events.list({ eventIds: [pushed.eventId] });
    return rows?.[0]?.triggeredRuns?.length === 3 ? rows[0] : undefined;
  });
  t.match(listed, { key: 'user:signup', payload: { name: 'ada' }, additionalMetadata: { source: 'test' } });
  const runIds = (listed.triggeredRuns as Array<{ workflowRunId: string }>).map((r) => r.workflowRunId);
  const details = await Promise.all(runIds.map((id) => hatchet.runs.get(id)));
  t.same(details.map((d) => d.tasks[0]?.workflowName).sort(), ['on-any-user', 'on-signup-a', 'on-signup-b'], 'the list names the runs the event started');
});

t.test('an event pushed before any workflow listens for its key starts nothing, even once one does', async (t) => {
  const ran: string[] = [];
  const early = await hatchet.events.push('late:key', { n: 1 });
  const late = hatchet.task({ name: 'late-listener', onEvents: ['late:key'], fn: (input: { n: number }) => {
    ran.push(String(input.n));
    return {};
  } });
  await startWorker('late-worker', [late]);
  await hatchet.events.push('late:key', { n: 2 });
  await until('the second event to run', () => (ran.length >= 1 ? true : undefined));
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.same(ran, ['2']);
  const { rows } = await hatchet.events.list({ eventIds: [early.eventId] });
  t.same(rows?.[0]?.triggeredRuns, [], 'the early event started no run');
});

t.test('filters: one run per matching filter of the event scope, each with its payload; another scope or none starts nothing', async (t) => {
  const seen: Array<{ input: { ShouldSkip: boolean }; filter: Record<string, unknown> }> = [];
  const lower = hatchet.workflow<{ ShouldSkip: boolean }>({
    name: 'filtered',
    onEvents: ['simple-event:create'],
    defaultFilters: [{ expression: 'true', scope: 'declared', payload: { from: 'code' } }],
  });
  lower.task({ name: 'step', fn: (input, ctx) => {
    seen.push({ input, filter: ctx.filterPayload() });
    return {};
  } });
  await startWorker('filter-worker', [lower]);
  const created = await hatchet.filters.create({ workflowId: 'filtered', expression: 'input.ShouldSkip == false', scope: 'api-scope', payload: { main_character: 'Anna' } });
  t.match(created, { workflowId: 'filtered', scope: 'api-scope', expression: 'input.ShouldSkip == false', payload: { main_character: 'Anna' }, metadata: { id: /^[0-9a-f-]{36}$/ } });
  const second = await hatchet.filters.create({ workflowId: 'filtered', expression: "additional_metadata.tier == 'gold'", scope: 'api-scope', payload: { second: true } });

  await hatchet.events.push('simple-event:create', { ShouldSkip: true }, { scope: 'api-scope' });
  await hatchet.events.push('simple-event:create', { ShouldSkip: false }, { scope: 'other-scope' });
  await hatchet.events.push('simple-event:create', { ShouldSkip: false });
  await hatchet.events.push('simple-event:create', { ShouldSkip: false }, { scope: 'api-scope', additionalMetadata: { tier: 'gold' } });
  await hatchet.events.push('simple-event:create', { ShouldSkip: true }, { scope: 'declared' });
  await until('three filtered runs', () => (seen.length >= 3 ? true : undefined));
  await new Promise((resolve) => setTimeout(resolve, 500));
  t.same(
    seen.map((s) => JSON.stringify(s.filter)).sort(),
    ['{"from":"code"}', '{"main_character":"Anna"}', '{"second":true}'],
    'the gold event matched both API filters (two runs), the declared scope its default filter; the rest nothing',
  );

  const listed = await hatchet.filters.list({ workflowIds: ['filtered'] });
  t.equal(listed.rows?.length, 3, 'two API filters and the declared one');
  t.match(await hatchet.filters.update(second.metadata.id, { expression: 'false' }), { expression: 'false' });
  t.match(await hatchet.filters.get(second.metadata.id), { expression: 'false' });
  t.match(await hatchet.filters.delete(second.metadata.id), { metadata: { id: second.metadata.id } });
  await t.rejects(hatchet.filters.get(second.metadata.id), { code: 'FILTER_NOT_FOUND' });
});

t.test('bad input: bad CEL at creation, a bulk push over 1,000, an unknown workflow — clear errors that store nothing', async (t) => {
  const plain = hatchet.task({ name: 'plain-listener', onEvents: ['bulk:key'], fn: () => ({}) });
  await startWorker('bad-input-worker', [plain]);
  await t.rejects(hatchet.filters.create({ workflowId: 'plain-listener', expression: 'input.', scope: 's' }), { code: 'INVALID_INPUT', message: /not a valid CEL expression/ });
  await t.rejects(hatchet.filters.create({ workflowId: 'no-such-workflow', expression: 'true', scope: 's' }), { code: 'WORKFLOW_NOT_FOUND' });
  t.same((await hatchet.filters.list({ workflowIds: ['plain-listener'] })).rows, [], 'no filter was stored');
  const tooMany = Array.from({ length: 1001 }, (_, i) => ({ payload: { i } }));
  await t.rejects(hatchet.events.bulkPush('bulk:key', tooMany), { code: 'INVALID_INPUT', message: /at most 1000 events/ });
  const bad = hatchet.workflow({ name: 'bad-filter-decl', onEvents: ['x'], defaultFilters: [{ expression: '1 +', scope: 's' }] });
  bad.task({ name: 'step', fn: () => ({}) });
  await t.rejects(hatchet.worker('bad-filter-worker', { workflows: [bad], handleKill: false }), { code: 'INVALID_INPUT', message: /default filter/ });
  const bulk = await hatchet.events.bulkPush('bulk:key', Array.from({ length: 50 }, (_, i) => ({ payload: { i }, additionalMetadata: { i: String(i) } })));
  t.equal(bulk.events.length, 50, 'a bulk push within the limit is stored whole');
  t.equal(new Set(bulk.events.map((e) => e.eventId)).size, 50);
});

t.test('an event pushed from inside a task names that task and its run in its metadata', async (t) => {
  const heard: Array<Record<string, string>> = [];
  const listener = hatchet.task({ name: 'hears-inner', onEvents: ['inner:event'], fn: (_input, ctx) => {
    heard.push(ctx.additionalMetadata());
    return {};
  } });
  const pusher = hatchet.task({ name: 'pusher', fn: async (_input: Record<string, never>, ctx) => {
    await hatchet.events.push('inner:event', {});
    return { runId: ctx.workflowRunId(), taskId: ctx.taskRunExternalId() };
  } });
  await startWorker('inner-worker', [listener, pusher]);
  const from = await pusher.run({});
  await until('the inner event to be heard', () => (heard.length > 0 ? true : undefined));
  t.match(heard[0], { hatchet__source_workflow_run_id: from.runId, hatchet__source_step_run_id: from.taskId });
});
