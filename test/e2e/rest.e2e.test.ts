/**
 * The REST API over real HTTP, on the same port as the WebSocket: Hatchet's paths and shapes for
 * runs, tasks, logs and the tenant, and every way a request can be refused — each a 4xx with a
 * stable code that changes nothing.
 */
import t from 'tap';
import { engineLimits } from '../../src/lib/limits.js';
import { HatchetClient } from '../../src/sdk/index.js';
import { type InProcessEngine, inProcessEngine } from '../support/in-process-engine.js';

let running: InProcessEngine;
let token: string;
let otherToken: string;
let base: string;

t.before(async () => {
  running = await inProcessEngine({ tenants: ['default', 'other'] });
  token = running.tokens.default as string;
  otherToken = running.tokens.other as string;
  base = running.baseUrl;
});
t.teardown(() => running.close());

const call = async (method: string, path: string, options: { token?: string | null; body?: unknown; raw?: string } = {}) => {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const bearer = options.token === undefined ? token : options.token;
  if (bearer !== null) headers.authorization = `Bearer ${bearer}`;
  const body = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const response = await fetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
};

t.test('rest: a run, its status, its task logs and the tenant, in Hatchet shapes', async (t) => {
  const hatchet = HatchetClient.init({ token, host_port: running.hostPort, log_level: 'OFF' });
  t.teardown(() => hatchet.close());
  const greet = hatchet.task({ name: 'greet', fn: (input: { name: string }, ctx) => {
    ctx.log(`hello ${input.name}`);
    return { greeting: `hello ${input.name}` };
  } });
  const worker = await hatchet.worker('rest-worker', { workflows: [greet], handleKill: false });
  void worker.start();
  t.teardown(() => worker.stop());
  await worker.waitUntilReady();
  const ref = await greet.runNoWait({ name: 'ada' });
  await ref.result();
  await new Promise((resolve) => setTimeout(resolve, 50));

  const details = await call('GET', `/api/v1/stable/workflow-runs/${ref.workflowRunId}`);
  t.equal(details.status, 200);
  t.match(details.body, {
    run: { metadata: { id: ref.workflowRunId }, status: 'COMPLETED', displayName: 'greet', input: { name: 'ada' }, output: { greet: { greeting: 'hello ada' } } },
    tasks: [{ taskExternalId: ref.workflowRunId, displayName: 'greet', status: 'COMPLETED', output: { greeting: 'hello ada' }, retryCount: 0 }],
    shape: [{ taskName: 'greet' }],
  });
  t.same(
    details.body.taskEvents.map((e: { eventType: string }) => e.eventType),
    ['QUEUED', 'ASSIGNED', 'STARTED', 'FINISHED'],
  );
  t.same(await call('GET', `/api/v1/stable/workflow-runs/${ref.workflowRunId}/status`), { status: 200, body: 'COMPLETED' });
  const logs = await call('GET', `/api/v1/stable/tasks/${ref.workflowRunId}/logs?limit=10`);
  t.match(logs, { status: 200, body: { rows: [{ message: 'hello ada', level: 'INFO', attempt: 1 }] } });
  t.match(await call('GET', '/api/v1/tenants/default'), { status: 200, body: { metadata: { id: 'default' }, version: 'V1' } });
  t.match(await call('POST', '/api/v1/stable/tenants/default/tasks/replay', { body: { externalIds: [ref.workflowRunId] } }), { status: 200, body: { ids: [ref.workflowRunId] } });
});

t.test('rest: refused requests get a stable code and change nothing', async (t) => {
  const cases: Array<[string, Awaited<ReturnType<typeof call>>, number, string]> = [
    ['no token', await call('GET', '/api/v1/tenants/default', { token: null }), 401, 'AUTH_UNAUTHENTICATED'],
    ['a bad token', await call('GET', '/api/v1/tenants/default', { token: 'kl_nope' }), 401, 'AUTH_UNAUTHENTICATED'],
    ["another tenant's path", await call('GET', '/api/v1/tenants/default', { token: otherToken }), 403, 'AUTH_FORBIDDEN'],
    ['a run that does not exist', await call('GET', '/api/v1/stable/workflow-runs/nope'), 404, 'RUN_NOT_FOUND'],
    ['a body that is not JSON', await call('POST', '/api/v1/stable/tenants/default/tasks/cancel', { raw: '{"externalIds": [' }), 400, 'INVALID_INPUT'],
    ['a field of the wrong type', await call('POST', '/api/v1/stable/tenants/default/tasks/cancel', { body: { externalIds: 'all' } }), 400, 'INVALID_INPUT'],
    ['an unknown field', await call('POST', '/api/v1/stable/tenants/default/tasks/cancel', { body: { externalIds: [], everything: true } }), 400, 'INVALID_INPUT'],
    ['a limit out of range', await call('GET', '/api/v1/stable/tasks/x/logs?limit=0'), 400, 'INVALID_INPUT'],
    ['a body over the limit', await call('POST', '/api/v1/stable/tenants/default/tasks/cancel', { raw: 'x'.repeat(engineLimits.httpBodyBytesMax + 1) }), 413, 'BODY_TOO_LARGE'],
    ['an unknown route', await call('GET', '/api/v1/nothing/here'), 404, 'NOT_FOUND'],
  ];
  for (const [name, response, status, code] of cases) {
    t.equal(response.status, status, `${name}: ${status}`);
    t.match(response.body, { errors: [{ code, description: /\w+ \w+/ }] }, `${name}: ${response.body?.errors?.[0]?.description}`);
  }
  t.match(await call('GET', '/api/v1/tenants/other', { token: otherToken }), { status: 200, body: { metadata: { id: 'other' } } }, 'the server still answers');
});

t.test("rest: the SDK's REST client fills in the token's tenant and turns errors into coded EngineErrors", async (t) => {
  const hatchet = HatchetClient.init({ token: otherToken, host_port: running.hostPort, api_url: base, log_level: 'OFF' });
  t.teardown(() => hatchet.close());
  t.match(await hatchet.rest.request('GET', '/api/v1/tenants/{tenant}'), { metadata: { id: 'other' }, version: 'V1' });
  await t.rejects(hatchet.rest.request('GET', '/api/v1/stable/workflow-runs/nope'), { code: 'RUN_NOT_FOUND', message: /does not exist/ });
  await t.rejects(hatchet.rest.request('POST', '/api/v1/stable/tenants/{tenant}/tasks/cancel', { body: { externalIds: 'all' } }), { code: 'INVALID_INPUT' });
  const unreachable = HatchetClient.init({ token, host_port: '127.0.0.1:1', api_url: 'http://127.0.0.1:1', tenant_id: 'default', log_level: 'OFF' });
  t.teardown(() => unreachable.close());
  await t.rejects(unreachable.rest.request('GET', '/api/v1/tenants/{tenant}'), { code: 'ENGINE_UNAVAILABLE' });
});

t.test('rest: rate limits and workers in Hatchet shapes; each tenant sees only its own', async (t) => {
  t.match(await call('POST', '/api/v1/tenants/default/rate-limits', { body: { key: 'rest-api', limit: 5, duration: 'MINUTE' } }), { status: 200, body: { key: 'rest-api' } });
  t.match(await call('GET', '/api/v1/tenants/default/rate-limits'), { status: 200, body: { rows: [{ key: 'rest-api', tenantId: 'default', limitValue: 5, value: 5, window: 'MINUTE' }] } });
  t.match(await call('GET', '/api/v1/tenants/other/rate-limits', { token: otherToken }), { status: 200, body: { rows: [] } }, "another tenant's limits are not listed");
  const refused: Array<[string, Awaited<ReturnType<typeof call>>, number, string]> = [
    ['a limit of 0', await call('POST', '/api/v1/tenants/default/rate-limits', { body: { key: 'x', limit: 0 } }), 400, 'INVALID_INPUT'],
    ['an unknown duration', await call('POST', '/api/v1/tenants/default/rate-limits', { body: { key: 'x', limit: 1, duration: 'FORTNIGHT' } }), 400, 'INVALID_INPUT'],
    ['an unknown field', await call('PATCH', '/api/v1/workers/nope', { body: { isPaused: true, force: true } }), 400, 'INVALID_INPUT'],
    ['a worker that does not exist', await call('PATCH', '/api/v1/workers/nope', { body: { isPaused: true } }), 404, 'WORKER_NOT_FOUND'],
  ];
  for (const [name, response, status, code] of refused) {
    t.equal(response.status, status, `${name}: ${status}`);
    t.match(response.body, { errors: [{ code }] }, `${name}: ${response.body?.errors?.[0]?.description}`);
  }

  const hatchet = HatchetClient.init({ token, host_port: running.hostPort, log_level: 'OFF' });
  t.teardown(() => hatchet.close());
  const noop = hatchet.task({ name: 'rest-workers-noop', fn: () => ({ ok: true }) });
  const worker = await hatchet.worker('rest-labelled', { workflows: [noop], slots: 7, labels: { gpu: 'a100' }, handleKill: false });
  void worker.start();
  t.teardown(() => worker.stop());
  await worker.waitUntilReady();
  const id = worker.workerId as string;
  const listed = await call('GET', '/api/v1/tenants/default/worker');
  t.match(listed.body.rows.find((row: { metadata: { id: string } }) => row.metadata.id === id), { name: 'rest-labelled', status: 'ACTIVE', maxRuns: 7, actions: ['rest-workers-noop:rest-workers-noop'], labels: [{ key: 'gpu', value: 'a100' }] });
  t.match(await call('PATCH', `/api/v1/workers/${id}`, { body: { isPaused: true } }), { status: 200, body: { metadata: { id }, status: 'PAUSED' } });
  t.match(await call('GET', `/api/v1/workers/${id}`, { token: otherToken }), { status: 404, body: { errors: [{ code: 'WORKER_NOT_FOUND' }] } }, "another tenant's worker reads as missing");
  t.match(await call('PATCH', `/api/v1/workers/${id}`, { token: otherToken, body: { isPaused: false } }), { status: 404 }, 'and cannot be unpaused by it');
  t.match(await call('GET', `/api/v1/workers/${id}`), { status: 200, body: { status: 'PAUSED' } });
  t.match(await call('PATCH', `/api/v1/workers/${id}`, { body: { isPaused: false } }), { status: 200, body: { status: 'ACTIVE' } });
});
