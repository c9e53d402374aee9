/**
 * Prometheus metrics end to end: a real engine (in this process, on a real LMDB log), real workers
 * over the WebSocket and real HTTP scrapes. Counters move by what the tasks did (deltas between two
 * scrapes, never timings); a tenant's endpoint holds only its own series; the engine-wide one needs
 * the admin token unless the server was started with public metrics.
 */
import t from 'tap';
import { startServer } from '../../src/api/server.js';
import { HatchetClient } from '../../src/sdk/index.js';
import type { Worker } from '../../src/sdk/worker.js';
import { type InProcessEngine, inProcessEngine } from '../support/in-process-engine.js';

let running: InProcessEngine;
let adminToken: string;
const clients: HatchetClient[] = [];
const workers: Worker[] = [];

t.before(async () => {
  running = await inProcessEngine({ tenants: ['alpha', 'beta'] });
  adminToken = await running.engine.createToken('default', { role: 'admin' });
});
t.teardown(async () => {
  for (const worker of workers) await worker.stop();
  for (const client of clients) client.close();
  await running.close();
});

function client(tenant: string): HatchetClient {
  const made = HatchetClient.init({ token: running.tokens[tenant] as string, host_port: running.hostPort, log_level: 'OFF' });
  clients.push(made);
  return made;
}

const scrape = async (path: string, token?: string) => {
  const response = await fetch(`${running.baseUrl}${path}`, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, type: response.headers.get('content-type') ?? '', text: await response.text() };
};

/** The value of one sample (`name{labels}` exactly as the text writes them), 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) found[pair[1] as string] = pair[2] as string;
    if (Object.keys(labels).length === Object.keys(found).length && Object.entries(labels).every(([key, value]) => found[key] === value)) return Number(match[3]);
  }
  return 0;
}

async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

t.test('counters move as tasks are created, succeed, fail, retry and are cancelled; a tenant sees only its series', async (t) => {
  const alpha = client('alpha');
  const beta = client('beta');
  const ok = alpha.task({ name: 'ok', fn: (input: { n: number }) => ({ doubled: input.n * 2 }) });
  let flakyCalls = 0;
  const flaky = alpha.task({
    name: 'flaky',
    retries: 2,
    fn: () => {
      flakyCalls += 1;
      if (flakyCalls === 1) throw new Error('first attempt fails');
      return { ok: true };
    },
  });
  const doomed = alpha.task({
    name: 'doomed',
    retries: 1,
    fn: () => {
      throw new Error('always');
    },
  });
  let startedSlow!: () => void;
  const slowStarted = new Promise<void>((resolve) => {
    startedSlow = resolve;
  });
  const slow = alpha.task({
    name: 'slow',
    fn: async (_input, ctx) => {
      startedSlow();
      await new Promise((resolve) => ctx.abortController.signal.addEventListener('abort', resolve));
      return {};
    },
  });
  const dag = alpha.workflow({ name: 'pair' });
  const first = dag.task({ name: 'first', fn: () => ({ one: 1 }) });
  dag.task({ name: 'second', parents: [first], fn: () => ({ two: 2 }) });
  const betaTask = beta.task({ name: 'beta-task', fn: () => ({ b: true }) });

  const worker = await alpha.worker('alpha-worker', { workflows: [ok, flaky, doomed, slow, dag], slots: 7, handleKill: false });
  void worker.start();
  workers.push(worker);
  await worker.waitUntilReady();
  const betaWorker = await beta.worker('beta-worker', { workflows: [betaTask], slots: 3, handleKill: false });
  void betaWorker.start();
  workers.push(betaWorker);
  await betaWorker.waitUntilReady();

  const before = (await scrape('/metrics', adminToken)).text;
  const a = { tenant_id: 'alpha' };

  t.same(await ok.run({ n: 2 }), { doubled: 4 });
  t.same(await ok.run({ n: 3 }), { doubled: 6 });
  t.same(await flaky.run({}), { ok: true }, 'the flaky task succeeds on its retry');
  await t.rejects(doomed.run({}), 'the doomed task fails after its retry');
  t.same(await dag.run({}), { first: { one: 1 }, second: { two: 2 } });
  const slowRef = await slow.runNoWait({});
  await slowStarted;
  await alpha.runs.cancel({ ids: [slowRef.workflowRunId] });
  await betaTask.run({});

  // 2 ok + 1 flaky + 1 doomed + 2 dag + 1 slow = 7 tasks; 5 succeeded; 1 failed for good; 1 cancelled.
  const expected: Array<[string, number]> = [
    ['hatchet_tenant_created_tasks_total', 7],
    ['hatchet_tenant_succeeded_tasks_total', 5],
    ['hatchet_tenant_failed_tasks_total', 1],
    ['hatchet_tenant_retried_tasks_total', 2],
    ['hatchet_tenant_cancelled_tasks_total', 1],
    ['hatchet_tenant_assigned_tasks', 9],
    ['hatchet_tenant_queued_to_assigned', 9],
  ];
  let after = '';
  await eventually('the cancellation to be counted', async () => {
    after = (await scrape('/metrics', adminToken)).text;
    return sample(after, 'hatchet_tenant_cancelled_tasks_total', a) - sample(before, 'hatchet_tenant_cancelled_tasks_total', a) >= 1;
  });
  for (const [name, delta] of expected) t.equal(sample(after, name, a) - sample(before, name, a), delta, `${name} moved by ${delta}`);
  t.equal(sample(after, 'hatchet_tenant_skipped_tasks_total', a) - sample(before, 'hatchet_tenant_skipped_tasks_total', a), 0, 'nothing was skipped');
  t.equal(sample(after, 'hatchet_tenant_scheduling_timed_out', a), 0);
  t.equal(sample(after, 'hatchet_tenant_succeeded_tasks_total', { tenant_id: 'beta' }) - sample(before, 'hatchet_tenant_succeeded_tasks_total', { tenant_id: 'beta' }), 1, "beta's own counter moved by its one task");
  const globalDelta = sample(after, 'hatchet_succeeded_tasks_total') - sample(before, 'hatchet_succeeded_tasks_total');
  t.equal(globalDelta, 6, 'the global counter is the sum over tenants');
  t.ok(sample(after, 'hatchet_queue_invocations_total') > sample(before, 'hatchet_queue_invocations_total'), 'the queue ran');
  t.equal(
    sample(after, 'hatchet_tenant_queued_to_assigned_time_seconds_count', a) - sample(before, 'hatchet_tenant_queued_to_assigned_time_seconds_count', a),
    9,
    'one queue-time observation per assignment',
  );
  t.equal(sample(after, 'hatchet_tenant_workflow_duration_milliseconds_count', { ...a, workflow_name: 'pair', status: 'COMPLETED' }), 1, 'the DAG run is in the duration histogram');
  t.equal(sample(after, 'hatchet_tenant_workflow_duration_milliseconds_count', { ...a, workflow_name: 'doomed', status: 'FAILED' }), 1);
  t.equal(sample(after, 'hatchet_tenant_workflow_duration_milliseconds_count', { ...a, workflow_name: 'slow', status: 'CANCELLED' }), 1);
  t.equal(sample(after, 'hatchet_tenant_worker_slots', a), 7, "the gauge holds the alpha worker's slots");
  t.equal(sample(after, 'hatchet_tenant_available_worker_slots', a) + sample(after, 'hatchet_tenant_used_worker_slots', a), 7);
  t.equal(sample(after, 'hatchet_tenant_worker_slots', { tenant_id: 'beta' }), 3);

  // The tenant endpoint: only the token's tenant.
  const own = await scrape('/api/v1/tenants/alpha/prometheus-metrics', running.tokens.alpha);
  t.equal(own.status, 200);
  t.match(own.type, /^text\/plain; version=0\.0\.4/);
  t.match(own.text, /# TYPE hatchet_tenant_succeeded_tasks_total counter/);
  t.equal(sample(own.text, 'hatchet_tenant_succeeded_tasks_total', a), sample(after, 'hatchet_tenant_succeeded_tasks_total', a));
  t.notOk(own.text.includes('beta'), "no series of tenant beta in alpha's metrics");
  t.notOk(/^hatchet_(?!tenant_)/m.test(own.text), 'nor the engine-wide counters');
  t.same(await alpha.metrics.scrapePrometheusMetrics(), own.text, 'the SDK scrapes the same text');
  const betaText = await beta.metrics.scrapePrometheusMetrics();
  t.ok(betaText.includes('tenant_id="beta"') && !betaText.includes('alpha'), "beta's scrape holds beta's series alone");
});

t.test('who may scrape: tokens and stable codes', async (t) => {
  const none = await scrape('/metrics');
  t.equal(none.status, 401);
  t.match(JSON.parse(none.text), { errors: [{ code: 'AUTH_UNAUTHENTICATED' }] });
  const tenant = await scrape('/metrics', running.tokens.alpha);
  t.equal(tenant.status, 403, 'a tenant token does not read every tenant');
  t.match(JSON.parse(tenant.text), { errors: [{ code: 'AUTH_FORBIDDEN' }] });
  const wrong = await scrape('/metrics', 'not-a-token');
  t.equal(wrong.status, 401);
  t.match(JSON.parse(wrong.text), { errors: [{ code: /^AUTH_/ }] });

  const other = await scrape('/api/v1/tenants/alpha/prometheus-metrics', running.tokens.beta);
  t.equal(other.status, 403, "beta's token does not read alpha's metrics");
  t.match(JSON.parse(other.text), { errors: [{ code: 'AUTH_FORBIDDEN' }] });
  const anonymous = await scrape('/api/v1/tenants/alpha/prometheus-metrics');
  t.equal(anonymous.status, 401);
  t.match(JSON.parse(anonymous.text), { errors: [{ code: 'AUTH_UNAUTHENTICATED' }] });
  const admin = await scrape('/api/v1/tenants/alpha/prometheus-metrics', adminToken);
  t.equal(admin.status, 403, 'an admin token acts as no tenant');

  const open = await startServer(running.engine, { port: 0, host: '127.0.0.1', publicMetrics: true });
  t.teardown(() => open.close());
  const response = await fetch(`http://127.0.0.1:${open.port}/metrics`);
  t.equal(response.status, 200, 'with public metrics no token is needed');
  t.match(await response.text(), /^hatchet_created_tasks_total \d+$/m);
  const tenantRoute = await fetch(`http://127.0.0.1:${open.port}/api/v1/tenants/alpha/prometheus-metrics`);
  t.equal(tenantRoute.status, 401, "a tenant's endpoint still needs its token");
});
