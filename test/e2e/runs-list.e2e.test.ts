/**
 * Listing runs from the read models over REST, on 10,200 runs: Hatchet's filters (time window,
 * statuses, workflows, additional metadata, worker, only tasks), pagination that covers every run
 * exactly once, newest first; bulk cancel and replay by filter acting on exactly what matches; and
 * the bad inputs, each a 400 that changes nothing. Expected answers come from what the test itself
 * triggered, not from the engine.
 */
import t from 'tap';
import { encodePayload } from '../../protocol/payload.js';
import type { Engine } from '../../src/engine/engine.js';
import { HatchetClient, NonRetryableError, V1TaskStatus } from '../../src/sdk/index.js';
import { type InProcessEngine, inProcessEngine } from '../support/in-process-engine.js';

let running: InProcessEngine;
let engine: Engine;
let token: string;
let base: string;
let hatchet: HatchetClient;

/** What was triggered: per batch its ids and the time window it was created in. */
const batches: Array<{ workflow: string; ids: string[]; batch: string; fromMs: number; toMs: number }> = [];
let startedAt = 0;

const call = async (method: string, path: string, body?: unknown) => {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
};
const list = (query: string) => call('GET', `/api/v1/stable/tenants/default/workflow-runs?since=${new Date(startedAt).toISOString()}&include_payloads=false&${query}`);

async function triggerMany(workflow: string, count: number, batch: string): Promise<void> {
  for (let done = 0; done < count; done += 1000) {
    const n = Math.min(1000, count - done);
    const fromMs = Date.now();
    const ids = await engine.trigger(
      'default',
      Array.from({ length: n }, (_, i) => ({ workflow, input: encodePayload({ i: done + i }, 'input'), additionalMetadata: { batch, parity: (done + i) % 2 === 0 ? 'even' : 'odd' } })),
    );
    batches.push({ workflow, ids, batch, fromMs, toMs: Date.now() });
    // Batches apart in time, so a time window can hold whole batches only.
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

t.before(async () => {
  running = await inProcessEngine({ engine: { signingKey: Buffer.alloc(32, 1) } });
  engine = running.engine;
  token = running.tokens.default as string;
  base = running.baseUrl;
  hatchet = HatchetClient.init({ token, host_port: running.hostPort, log_level: 'OFF' });
  startedAt = Date.now() - 1000;
  for (const name of ['alpha', 'beta']) await engine.putWorkflow('default', { name, tasks: [{ name, parents: [], executionTimeoutMs: 60_000, scheduleTimeoutMs: 3_600_000, retries: 0, slotCost: 1 }] });
  await triggerMany('alpha', 6000, 'a');
  await triggerMany('beta', 4000, 'b');
  // gamma runs on a worker: half complete, half fail (until replayed).
  const gamma = hatchet.task({
    name: 'gamma',
    fn: (input: { i: number }, ctx) => {
      if (input.i % 2 === 1 && ctx.retryCount() === 0) throw new NonRetryableError('odd on the first attempt');
      return { doubled: input.i * 2 };
    },
  });
  const worker = await hatchet.worker('gamma-worker', { workflows: [gamma], slots: 50, handleKill: false });
  void worker.start();
  await worker.waitUntilReady();
  const refs = await gamma.runNoWait(Array.from({ length: 200 }, (_, i) => ({ i })), { additionalMetadata: { batch: 'g' } });
  await Promise.allSettled(refs.map((ref) => ref.result()));
  batches.push({ workflow: 'gamma', ids: refs.map((ref) => ref.workflowRunId), batch: 'g', fromMs: 0, toMs: 0 });
  // The beta runs of the last batch are cancelled: 1,000 CANCELLED.
  await engine.cancel('default', batches.filter((b) => b.workflow === 'beta').at(-1)?.ids ?? [], []);
  t.teardown(async () => {
    await worker.stop();
  });
});

t.teardown(async () => {
  hatchet?.close();
  await running?.close();
});

const idsOf = (predicate: (b: (typeof batches)[number]) => boolean) => batches.filter(predicate).flatMap((b) => b.ids);

t.test('runs list: pages of 1,000 cover all 10,200 runs once, newest first', async (t) => {
  const seen: string[] = [];
  let previous = Number.POSITIVE_INFINITY;
  let ordered = true;
  for (let offset = 0; ; offset += 1000) {
    const page = await list(`limit=1000&offset=${offset}`);
    t.equal(page.status, 200);
    for (const row of page.body.rows) {
      const at = Date.parse(row.createdAt);
      ordered &&= at <= previous;
      previous = at;
      seen.push(row.metadata.id);
    }
    if (page.body.pagination.next_page === undefined) {
      t.equal(page.body.pagination.num_pages, 11);
      t.equal(page.body.pagination.current_page, offset / 1000 + 1);
      break;
    }
  }
  t.ok(ordered, 'newest first');
  t.equal(seen.length, 10_200);
  t.equal(new Set(seen).size, 10_200, 'no run twice');
  t.same(new Set(seen), new Set(idsOf(() => true)), 'exactly the runs triggered');
  const first = await list('limit=50');
  t.match(first.body, { pagination: { current_page: 1, next_page: 2, num_pages: 204 } });
  t.equal(first.body.rows.length, 50);
  t.match(first.body.rows[0], { metadata: { id: /.+/ }, taskExternalId: /.+/, workflowRunExternalId: /.+/, status: /^(QUEUED|RUNNING|COMPLETED|FAILED|CANCELLED)$/, type: 'TASK', tenantId: 'default' });
});

t.test('runs list: each filter returns exactly what matches', async (t) => {
  const total = async (query: string) => {
    const page = await list(`limit=1000&${query}`);
    t.equal(page.status, 200, query);
    return { count: page.body.pagination.num_pages === 0 ? 0 : (page.body.pagination.num_pages - 1) * 1000 + (await list(`limit=1000&offset=${(page.body.pagination.num_pages - 1) * 1000}&${query}`)).body.rows.length, page };
  };
  t.equal((await total('workflow_ids=alpha')).count, 6000, 'one workflow');
  t.equal((await total('workflow_ids=alpha&workflow_ids=gamma')).count, 6200, 'two workflows');
  t.equal((await total('statuses=CANCELLED')).count, 1000, 'one status');
  t.equal((await total('statuses=COMPLETED&statuses=FAILED')).count, 200, 'two statuses');
  t.equal((await total('workflow_ids=gamma&statuses=FAILED')).count, 100, 'a workflow and a status');
  t.equal((await total('workflow_ids=beta&statuses=QUEUED')).count, 3000);
  t.equal((await total('additional_metadata=batch:b')).count, 4000, 'one metadata pair');
  t.equal((await total('additional_metadata=batch:b&additional_metadata=batch:g')).count, 4200, 'pairs are ORed, as in Hatchet');
  t.equal((await total('additional_metadata=parity:even&workflow_ids=beta&statuses=CANCELLED')).count, 500, 'metadata, workflow and status together');
  t.equal((await total('additional_metadata=batch:nobody')).count, 0);

  const alpha = batches.filter((b) => b.workflow === 'alpha');
  const window: string[] = [];
  for (let offset = 0; ; offset += 1000) {
    const page = await call('GET', `/api/v1/stable/tenants/default/workflow-runs?since=${new Date(alpha[1]?.fromMs as number).toISOString()}&until=${new Date(alpha[3]?.toMs as number).toISOString()}&include_payloads=false&limit=1000&offset=${offset}`);
    window.push(...page.body.rows.map((row: { metadata: { id: string } }) => row.metadata.id));
    if (page.body.pagination.next_page === undefined) break;
  }
  t.same(new Set(window), new Set([...(alpha[1]?.ids ?? []), ...(alpha[2]?.ids ?? []), ...(alpha[3]?.ids ?? [])]), 'a time window holds exactly the runs created in it');

  const gammaRun = batches.find((b) => b.workflow === 'gamma')?.ids[0] as string;
  const assigned = (await engine.runHistory('default', gammaRun)).find((record) => record.type === 'TaskAssigned');
  const workerId = (assigned?.data as { workerId?: string } | undefined)?.workerId ?? '';
  t.equal((await total(`worker_id=${encodeURIComponent(workerId)}`)).count, 200, 'by the worker that ran them');

  const tasks = await list('only_tasks=true&workflow_ids=gamma&statuses=FAILED&limit=1000');
  t.equal(tasks.body.rows.length, 100, 'only tasks, by their own status');
  t.match(tasks.body.rows[0], { status: 'FAILED', errorMessage: /odd on the first attempt/, displayName: 'gamma', workflowName: 'gamma' });

  const withPayloads = await call('GET', `/api/v1/stable/tenants/default/workflow-runs?since=${new Date(startedAt).toISOString()}&workflow_ids=gamma&statuses=COMPLETED&limit=3`);
  for (const row of withPayloads.body.rows) t.same(row.output, { gamma: { doubled: row.input.i * 2 } }, 'payloads are included by default');
});

t.test('runs list: the SDK lists through REST with Hatchet options', async (t) => {
  const page = await hatchet.runs.list({ since: new Date(startedAt), workflowNames: ['Gamma'], statuses: [V1TaskStatus.FAILED], limit: 7, includePayloads: false });
  t.equal(page.rows.length, 7);
  t.match(page.pagination, { current_page: 1, next_page: 2, num_pages: 15 });
  t.ok(page.rows.every((row) => row.status === 'FAILED' && row.workflowName === 'gamma'));
  const byMeta = await hatchet.runs.list({ since: new Date(startedAt), additionalMetadata: { batch: 'g' }, onlyTasks: true, limit: 1 });
  t.match(byMeta.pagination, { num_pages: 200 });
  const details = await hatchet.runs.getDetails(page.rows[0]?.metadata.id as string);
  t.match(details, { status: 'FAILED', done: true, isEvicted: false, additionalMetadata: { batch: 'g' } });
  t.match(Object.values(details.taskRuns), [{ readableId: 'gamma', status: 'FAILED', error: /odd on the first attempt/ }]);
});

t.test('runs: bulk cancel and replay by filter act on exactly the matching runs', async (t) => {
  const cancelled = await hatchet.runs.cancel({ filters: { since: new Date(startedAt), workflowNames: ['alpha'], additionalMetadata: { parity: 'odd' } } });
  t.equal(cancelled.ids.length, 3000, 'the odd alpha runs, all queued');
  t.same(new Set(cancelled.ids), new Set(idsOf((b) => b.workflow === 'alpha').filter((_, i) => i % 2 === 1)));
  const count = async (query: string) => (await list(`limit=1&${query}`)).body.pagination.num_pages as number;
  t.equal(await count('workflow_ids=alpha&statuses=CANCELLED'), 3000);
  t.equal(await count('workflow_ids=alpha&statuses=QUEUED'), 3000, 'the even ones are untouched');
  t.equal(await count('workflow_ids=beta&statuses=QUEUED'), 3000, 'other workflows are untouched');

  const replayed = await hatchet.runs.replay({ filters: { since: new Date(startedAt), workflowNames: ['gamma'], statuses: [V1TaskStatus.FAILED] } });
  t.equal(replayed.ids.length, 100);
  for (let i = 0; i < 200 && (await count('workflow_ids=gamma&statuses=COMPLETED')) < 200; i++) await new Promise((resolve) => setTimeout(resolve, 100));
  t.equal(await count('workflow_ids=gamma&statuses=COMPLETED'), 200, 'the replayed runs completed on their second attempt');
  t.equal(await count('workflow_ids=gamma&statuses=FAILED'), 0);
  const byId = await call('POST', '/api/v1/stable/tenants/default/tasks/cancel', { externalIds: [batches[0]?.ids[0]] });
  t.match(byId, { status: 200, body: { ids: [batches[0]?.ids[0]] } });
});

t.test('runs list and bulk: bad inputs are a 400 with the field, and change nothing', async (t) => {
  const before = (await list('limit=1')).body.pagination.num_pages;
  const cases: Array<[string, Promise<{ status: number; body: { errors: Array<{ code: string; field?: string }> } }>, string | undefined]> = [
    ['no since', call('GET', '/api/v1/stable/tenants/default/workflow-runs?limit=5'), 'since'],
    ['a since that is no date', call('GET', '/api/v1/stable/tenants/default/workflow-runs?since=yesterday'), 'since'],
    ['limit 0', list('limit=0'), 'limit'],
    ['limit over the page maximum', list('limit=1001'), 'limit'],
    ['an unknown status', list('statuses=DONE'), 'statuses'],
    ['metadata without a colon', list('additional_metadata=batch'), 'additional_metadata'],
    ['an unknown parameter', list('sort=asc'), undefined],
    ['only_tasks not a boolean', list('only_tasks=yes'), 'only_tasks'],
    ['a cancel with neither ids nor filter', call('POST', '/api/v1/stable/tenants/default/tasks/cancel', {}), undefined],
    ['a filter with an unknown field', call('POST', '/api/v1/stable/tenants/default/tasks/cancel', { filter: { since: new Date().toISOString(), everything: true } }), undefined],
    ['a filter without since', call('POST', '/api/v1/stable/tenants/default/tasks/replay', { filter: { statuses: ['FAILED'] } }), 'filter.since'],
  ];
  for (const [name, pending, field] of cases) {
    const response = await pending;
    t.equal(response.status, 400, name);
    t.match(response.body.errors[0], { code: 'INVALID_INPUT', ...(field === undefined ? {} : { field }) }, name);
  }
  t.equal((await list('limit=1')).body.pagination.num_pages, before, 'nothing changed');
});

t.test('read models: a restart keeps their position and answers the same', async (t) => {
  const before = (await list('limit=1000&workflow_ids=beta')).body;
  const position = engine.readModels.position;
  await running.restart();
  engine = running.engine;
  token = await engine.createToken('default');
  base = running.baseUrl;
  t.ok(engine.readModels.position >= position, 'the position survived the restart');
  t.same((await list('limit=1000&workflow_ids=beta')).body, before);
});
