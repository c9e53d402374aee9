/**
 * The SDK's feature clients against a live engine over REST — workflows, workers, the tenant, task
 * and queue metrics, CEL debugging — and what only an event log can answer: a run's complete history and its state
 * as of any position (a run with a retry, a timeout and a cancellation). Then deleting a workflow
 * with its data, and retention deleting finished runs past their time and nothing else.
 */
import t from 'tap';
import type { Engine } from '../../src/engine/engine.js';
import { HatchetClient } from '../../src/sdk/index.js';
import { type InProcessEngine, inProcessEngine } from '../support/in-process-engine.js';

const DAY_MS = 24 * 3600 * 1000;
/** The engine's clock: real time, moved forward by the retention test. */
let skewMs = 0;
let running: InProcessEngine;
let engine: Engine;
let token: string;
let base: string;
let hatchet: HatchetClient;

t.before(async () => {
  running = await inProcessEngine({ engine: { clock: () => Date.now() + skewMs, retentionMs: 30 * DAY_MS } });
  engine = running.engine;
  token = running.tokens.default as string;
  base = running.baseUrl;
  hatchet = HatchetClient.init({ token, host_port: running.hostPort, log_level: 'OFF' });
});
t.teardown(async () => {
  hatchet.close();
  await running.close();
});

// biome-ignore lint/suspicious/noExplicitAny: JSON answers, checked field by field.
const get = async (path: string): Promise<{ status: number; body: any }> => {
  const response = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, body: await response.json() };
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

t.test('features: workflows, workers, the tenant and metrics through the SDK', async (t) => {
  const echo = hatchet.task({ name: 'Echo', description: 'says it back', fn: (input: { say: string }) => ({ said: input.say }) });
  const dag = hatchet.workflow({ name: 'pair' });
  const first = dag.task({ name: 'first', fn: () => ({ one: 1 }) });
  dag.task({ name: 'second', parents: [first], fn: () => ({ two: 2 }) });
  const worker = await hatchet.worker('features-worker', { workflows: [echo, dag], slots: 7, labels: { zone: 'eu' }, handleKill: false });
  void worker.start();
  t.teardown(() => worker.stop());
  await worker.waitUntilReady();
  await echo.run({ say: 'hi' });
  await dag.run({});

  t.match(await hatchet.tenant.get(), { metadata: { id: 'default' }, version: 'V1' });
  const workflows = await hatchet.workflows.list();
  t.same(workflows.rows?.map((w) => w.name), ['echo', 'pair']);
  t.match(await hatchet.workflows.get(echo), { metadata: { id: 'echo' }, name: 'echo', description: 'says it back', tenantId: 'default' });
  t.match(await hatchet.workflows.get('PAIR'), { name: 'pair', tasks: [{ name: 'first' }, { name: 'second', parents: ['first'] }] });
  t.equal(await hatchet.workflows.getWorkflowIdFromName('echo'), 'echo');
  t.match((await hatchet.workflows.list({ name: 'pa' })).rows, [{ name: 'pair' }]);
  await t.rejects(hatchet.workflows.get('nope'), { code: 'WORKFLOW_NOT_FOUND' });

  const workers = await hatchet.workers.list();
  t.match(workers.rows, [{ name: 'features-worker', status: 'ACTIVE', maxRuns: 7, actions: ['echo:echo', 'pair:first', 'pair:second'], labels: [{ key: 'zone', value: 'eu' }] }]);
  const id = workers.rows?.[0]?.metadata.id as string;
  t.match(await hatchet.workers.get(id), { metadata: { id }, name: 'features-worker' });
  t.equal(await hatchet.workers.isPaused(id), false);
  await t.rejects(hatchet.workers.get('nope'), { code: 'WORKER_NOT_FOUND' });

  const since = new Date(Date.now() - 60_000).toISOString();
  t.same(await hatchet.metrics.getTaskStatusMetrics({ since }), { queued: 0, running: 0, completed: 3, failed: 0, cancelled: 0 });
  t.same(await hatchet.metrics.getTaskStatusMetrics({ since, workflow_ids: ['pair'] }), { queued: 0, running: 0, completed: 2, failed: 0, cancelled: 0 });
  const idle = hatchet.task({ name: 'idle', fn: () => ({}) });
  await hatchet.putWorkflow(idle);
  await Promise.all([idle.runNoWait({}), idle.runNoWait({})]);
  t.match(await hatchet.metrics.getQueueMetrics(), { total: { numQueued: 2, numRunning: 0 }, workflow: { idle: { numQueued: 2 } }, queues: { 'idle:idle': 2 } });
  t.match(await hatchet.metrics.getTaskStats(), { idle: { queued: { total: 2, queues: { 'idle:idle': 2 }, oldest: /^\d{4}-/ }, running: { total: 0 } } });
  t.match(await get(`/api/v1/stable/tenants/default/task-metrics?since=nope`), { status: 400, body: { errors: [{ code: 'INVALID_INPUT', field: 'since' }] } });

  // CEL debugging, with the variables filters see.
  const debug = (expression: string) => hatchet.cel.debug({ expression, input: { amount: 150, user: { tier: 'gold' } }, additionalMetadata: { source: 'web' }, filterPayload: { min: 100 } });
  t.same(await debug('input.amount >= payload.min && additional_metadata.source == "web"'), { status: 'SUCCESS', output: true });
  t.same(await debug('input.user.tier == "silver"'), { status: 'SUCCESS', output: false });
  t.match(await debug('input.amount >='), { status: 'ERROR', error: /not a valid CEL expression/ });
  t.match(await debug('input.amount + 1.0'), { status: 'ERROR', error: /a number, not a boolean/ });
  t.match(await debug('input.missing.field == 1'), { status: 'ERROR', error: /missing/ });
  await t.rejects(hatchet.cel.debug({ expression: '', input: {} }), { code: 'INVALID_INPUT' });
});

t.test('audit trail: a run with a retry, a timeout and a cancellation, event by event and as of each position', async (t) => {
  let attempts = 0;
  const flaky = hatchet.task({
    name: 'flaky',
    retries: 2,
    executionTimeout: '1s',
    fn: async (_input: Record<string, never>, ctx) => {
      attempts += 1;
      if (ctx.retryCount() === 0) throw new Error('first attempt fails');
      // Later attempts hang: the second times out, the third is cancelled.
      await new Promise((resolve) => ctx.abortController.signal.addEventListener('abort', resolve));
      return {};
    },
  });
  const worker = await hatchet.worker('audit-worker', { workflows: [flaky], handleKill: false });
  void worker.start();
  t.teardown(() => worker.stop());
  await worker.waitUntilReady();
  const ref = await flaky.runNoWait({});
  // What the API reported while the run went on.
  const observed = new Set<string>();
  const seen = (details: { run: { status: string }; tasks: Array<{ status: string; retryCount: number }> }) => `${details.run.status}/${details.tasks[0]?.status}/${details.tasks[0]?.retryCount}`;
  for (let i = 0; i < 400; i++) {
    const details = await hatchet.runs.get(ref);
    observed.add(seen(details));
    if (details.tasks[0]?.retryCount === 2 && details.tasks[0]?.status === 'RUNNING') break;
    await sleep(25);
  }
  await hatchet.runs.cancel({ ids: [ref.workflowRunId] });
  await ref.result().catch(() => {});
  observed.add(seen(await hatchet.runs.get(ref)));

  const history = await get(`/api/v1/stable/workflow-runs/${ref.workflowRunId}/history`);
  t.equal(history.status, 200);
  const events = history.body.events as Array<{ position: number; seq: number; time: string; type: string; data: Record<string, unknown> }>;
  t.same(
    events.map((e) => e.type),
    ['RunCreated', 'TaskQueued', 'TaskAssigned', 'TaskStarted', 'TaskFailed', 'TaskRetrying', 'TaskQueued', 'TaskAssigned', 'TaskStarted', 'TaskTimedOut', 'TaskFailed', 'TaskRetrying', 'TaskQueued', 'TaskAssigned', 'TaskStarted', 'TaskCancelled', 'RunFinished'],
    'exactly the events of a retry, a timeout and a cancellation, in order',
  );
  t.same(events.map((e) => e.seq), events.map((_, i) => i + 1));
  t.ok(events.every((e, i) => i === 0 || e.position > (events[i - 1] as { position: number }).position), 'positions increase');
  t.match(events[0], { time: /^\d{4}-\d\d-\d\dT/, data: { input: {}, workflow: { name: 'flaky' }, tenantId: 'default' } });
  t.match(events[4], { data: { error: 'first attempt fails', attempt: 0 } });
  t.match(events[15], { data: { reason: 'cancelled by request', attempt: 2 } });

  const states: string[] = [];
  for (const event of events) {
    const state = await get(`/api/v1/stable/workflow-runs/${ref.workflowRunId}/state?position=${event.position}`);
    t.equal(state.status, 200);
    states.push(seen(state.body));
  }
  t.same(states, [
    'QUEUED/QUEUED/0', 'QUEUED/QUEUED/0', 'RUNNING/RUNNING/0', 'RUNNING/RUNNING/0', 'RUNNING/FAILED/0', 'QUEUED/QUEUED/1', 'QUEUED/QUEUED/1',
    'RUNNING/RUNNING/1', 'RUNNING/RUNNING/1', 'RUNNING/RUNNING/1', 'RUNNING/FAILED/1', 'QUEUED/QUEUED/2', 'QUEUED/QUEUED/2', 'RUNNING/RUNNING/2', 'RUNNING/RUNNING/2', 'QUEUED/CANCELLED/2', 'CANCELLED/CANCELLED/2',
  ], 'the run as of each position');
  for (const snapshot of observed) t.ok(states.includes(snapshot), `what the API reported (${snapshot}) is the state as of some position`);
  t.ok(attempts >= 3);
  t.match(await get(`/api/v1/stable/workflow-runs/${ref.workflowRunId}/state?position=1`), { status: 404, body: { errors: [{ code: 'RUN_NOT_FOUND', description: /did not exist yet/ }] } });
  t.match(await get(`/api/v1/stable/workflow-runs/${ref.workflowRunId}/state?position=-1`), { status: 400 });
  t.match(await get('/api/v1/stable/workflow-runs/nope/history'), { status: 404, body: { errors: [{ code: 'RUN_NOT_FOUND' }] } });
});

t.test('deleting a workflow cancels its active runs and deletes every run of it, and nothing else', async (t) => {
  const doomed = hatchet.task({ name: 'doomed', fn: () => ({}) });
  const kept = hatchet.task({ name: 'kept', fn: () => ({}) });
  await hatchet.putWorkflow(doomed);
  await hatchet.putWorkflow(kept);
  const doomedRefs = await Promise.all([doomed.runNoWait({}), doomed.runNoWait({}), doomed.runNoWait({})]);
  const keptRefs = await Promise.all([kept.runNoWait({}), kept.runNoWait({})]);
  await hatchet.workflows.delete('doomed');
  await t.rejects(hatchet.workflows.get('doomed'), { code: 'WORKFLOW_NOT_FOUND' });
  for (const ref of doomedRefs) await t.rejects(hatchet.runs.get(ref), { code: 'RUN_NOT_FOUND' });
  for (const ref of keptRefs) t.equal((await hatchet.runs.get(ref)).run.status, 'QUEUED');
  await t.rejects(doomed.runNoWait({}), { code: 'WORKFLOW_NOT_FOUND' });
  await t.rejects(hatchet.workflows.delete('doomed'), { code: 'WORKFLOW_NOT_FOUND' });
});

t.test('retention deletes runs finished more than 30 days ago, with their logs, and nothing else', async (t) => {
  const logged = hatchet.task({ name: 'logged', fn: (_input: Record<string, never>, ctx) => {
    ctx.log('a line');
    return {};
  } });
  const worker = await hatchet.worker('retention-worker', { workflows: [logged], handleKill: false });
  void worker.start();
  t.teardown(() => worker.stop());
  await worker.waitUntilReady();
  const old = await Promise.all([logged.runNoWait({}), logged.runNoWait({})]);
  await Promise.all(old.map((ref) => ref.result()));
  const pending = hatchet.task({ name: 'never-runs', fn: () => ({}) });
  await hatchet.putWorkflow(pending);
  const stillQueued = await pending.runNoWait({});
  await sleep(100);
  skewMs += 31 * DAY_MS;
  const recent = [await logged.runNoWait({})];
  await Promise.all(recent.map((ref) => ref.result()));
  await engine.readModels.fresh();
  t.ok((await hatchet.logs.list(old[0]?.workflowRunId as string)).rows?.length === 1, 'the old run logged a line');

  const deleted = await engine.sweepRetention();
  t.ok(deleted >= 2, `${deleted} runs deleted`);
  for (const ref of old) await t.rejects(hatchet.runs.get(ref), { code: 'RUN_NOT_FOUND' }, 'a run finished 31 days ago is gone');
  t.same((await hatchet.logs.list(old[0]?.workflowRunId as string)).rows, [], 'and its logs');
  t.equal((await hatchet.runs.get(recent[0]?.workflowRunId as string)).run.status, 'COMPLETED', 'a run finished now is kept');
  t.equal((await hatchet.runs.get(stillQueued)).run.status, 'QUEUED', 'a run created 31 days ago that never finished is kept');
  const listed = await hatchet.runs.list({ since: new Date(Date.now() - 60 * DAY_MS), workflowNames: ['logged'] });
  t.same(listed.rows.map((row) => row.metadata.id), recent.map((ref) => ref.workflowRunId), 'the list forgets them too');
  t.equal(await engine.sweepRetention(), 0, 'a second sweep finds nothing');
});
