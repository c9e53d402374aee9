/**
 * Incoming webhooks over real HTTP: CRUD by name (secrets stored encrypted, never shown), and the
 * sender's endpoint — GENERIC with HMAC, basic auth and an API key, GitHub, Stripe and Slack
 * signatures (valid, wrong, missing, a replayed body with a wrong signature, a stale timestamp),
 * Slack's URL verification and form bodies, the CEL event key and scope, the static payload
 * merged over the body — each accepted call one event, each refused call none.
 */
import { createHmac } from 'node:crypto';
import t from 'tap';
import { HatchetClient } from '../../src/sdk/index.js';
import { type InProcessEngine, inProcessEngine } from '../support/in-process-engine.js';

let running: InProcessEngine;
let hatchet: HatchetClient;
let base: string;

t.before(async () => {
  running = await inProcessEngine();
  base = `${running.baseUrl}/api/v1/stable/tenants/default/webhooks`;
  hatchet = HatchetClient.init({ token: running.tokens.default as string, host_port: running.hostPort, log_level: 'OFF' });
});
t.teardown(async () => {
  hatchet.close();
  await running.close();
});

// biome-ignore lint/suspicious/noExplicitAny: JSON answers, checked field by field.
const send = async (name: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> => {
  const response = await fetch(`${base}/${name}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { status: response.status, body: await response.json() };
};
const hex = (secret: string, data: string, algorithm = 'sha256') => createHmac(algorithm, secret).update(data).digest('hex');
/** The events the engine stored, oldest first, as `hatchet.events.list` reads them back. */
const stored = async (): Promise<Array<Record<string, unknown>>> => ((await hatchet.events.list({ limit: 1000 })).rows ?? []).reverse();
const lastEvent = async () => (await stored()).at(-1);

t.test('webhooks: CRUD by name; secrets are encrypted in the log and never answered', async (t) => {
  const created = await hatchet.webhooks.create({ sourceName: 'GENERIC', name: 'orders', eventKeyExpression: "'order:' + input.type", scopeExpression: 'input.customer', staticPayload: { source: 'shop' }, auth: { signingSecret: 'hmac-secret-1', signatureHeaderName: 'X-Signature', algorithm: 'sha256', encoding: 'hex' } });
  t.match(created, { name: 'orders', sourceName: 'GENERIC', authType: 'HMAC', eventKeyExpression: "'order:' + input.type", staticPayload: { source: 'shop' } });
  t.notOk(JSON.stringify(created).includes('hmac-secret-1'));
  await t.rejects(hatchet.webhooks.create({ sourceName: 'GENERIC', name: 'orders', eventKeyExpression: "'x'", auth: { username: 'u', password: 'p' } }), { code: 'WEBHOOK_EXISTS' });
  await t.rejects(hatchet.webhooks.create({ sourceName: 'GENERIC', name: 'bad-cel', eventKeyExpression: "'x' +", auth: { username: 'u', password: 'p' } }), { code: 'INVALID_INPUT', message: /eventKeyExpression/ });
  await t.rejects(hatchet.webhooks.create({ sourceName: 'GENERIC', name: 'half-auth', eventKeyExpression: "'x'", auth: { username: 'u' } }), { code: 'INVALID_INPUT', message: /auth.password/ });
  await t.rejects(hatchet.webhooks.create({ sourceName: 'NOPE', name: 'x', eventKeyExpression: "'x'", auth: { signingSecret: 's' } }), { code: 'INVALID_INPUT' });
  await hatchet.webhooks.create({ sourceName: 'GENERIC', name: 'basic', eventKeyExpression: "'basic'", auth: { username: 'ada', password: 'lovelace-pw' } });
  await hatchet.webhooks.create({ sourceName: 'GENERIC', name: 'keyed', eventKeyExpression: "'keyed'", auth: { headerName: 'X-Api-Key', apiKey: 'api-key-123' } });
  await hatchet.webhooks.create({ sourceName: 'GITHUB', name: 'github', eventKeyExpression: "'github:' + headers['x-github-event'] + ':' + input.action", auth: { signingSecret: 'gh-secret' } });
  await hatchet.webhooks.create({ sourceName: 'STRIPE', name: 'stripe', eventKeyExpression: "'stripe:' + input.type", auth: { signingSecret: 'whsec_abc' } });
  await hatchet.webhooks.create({ sourceName: 'SLACK', name: 'slack', eventKeyExpression: "'slack:' + (has(input.command) ? 'command:' + input.command : 'interaction:' + input.type)", auth: { signingSecret: 'slack-secret' } });
  t.same((await hatchet.webhooks.list()).rows.map((w) => w.name), ['basic', 'github', 'keyed', 'orders', 'slack', 'stripe']);
  t.same((await hatchet.webhooks.list({ sourceNames: ['STRIPE', 'SLACK'] })).rows.map((w) => w.name), ['slack', 'stripe']);
  t.match(await hatchet.webhooks.update('basic', { staticPayload: { via: 'basic' } }), { name: 'basic', staticPayload: { via: 'basic' }, authType: 'BASIC' });
  const dump = JSON.stringify(await running.log.readAll());
  for (const secret of ['hmac-secret-1', 'lovelace-pw', 'api-key-123', 'gh-secret', 'whsec_abc', 'slack-secret']) t.notOk(dump.includes(secret), `the log holds no '${secret}'`);
  await hatchet.webhooks.create({ sourceName: 'GENERIC', name: 'temporary', eventKeyExpression: "'t'", auth: { username: 'u', password: 'p' } });
  t.match(await hatchet.webhooks.delete('temporary'), { name: 'temporary' });
  await t.rejects(hatchet.webhooks.get('temporary'), { code: 'WEBHOOK_NOT_FOUND' });
});

t.test('webhooks: a verified call becomes one event; a wrong, missing or replayed signature makes none', async (t) => {
  const body = JSON.stringify({ type: 'created', customer: 'c-42', source: 'api', amount: 7 });
  const before = (await stored()).length;
  t.match(await send('orders', body, { 'x-signature': hex('hmac-secret-1', body) }), { status: 200, body: { key: 'order:created', scope: 'c-42', eventId: String } });
  t.match(await lastEvent(), { key: 'order:created', scope: 'c-42', payload: { type: 'created', customer: 'c-42', source: 'shop', amount: 7 }, additionalMetadata: { hatchet__webhook_name: 'orders' } }, 'the static payload wins on a collision');
  const refused: Array<[string, Promise<{ status: number; body: { errors: Array<{ code: string; description: string }> } }>, RegExp]> = [
    ['a wrong signature', send('orders', body, { 'x-signature': hex('another-secret', body) }), /does not match/],
    ['no signature', send('orders', body), /X-Signature header is missing/],
    ['the same body replayed with a wrong signature', send('orders', body, { 'x-signature': hex('hmac-secret-1', `${body} `) }), /does not match/],
    ['a changed body with the old signature', send('orders', body.replace('7', '700'), { 'x-signature': hex('hmac-secret-1', body) }), /does not match/],
    ['wrong basic credentials', send('basic', '{}', { authorization: `Basic ${Buffer.from('ada:wrong').toString('base64')}` }), /basic credentials do not match/],
    ['no basic credentials', send('basic', '{}'), /basic credentials are missing/],
    ['a wrong API key', send('keyed', '{}', { 'x-api-key': 'api-key-124' }), /API key does not match/],
    ['a wrong GitHub signature', send('github', '{"action":"opened"}', { 'x-github-event': 'pull_request', 'x-hub-signature-256': `sha256=${hex('nope', '{"action":"opened"}')}` }), /GitHub signature/],
  ];
  for (const [name, pending, reason] of refused) {
    const response = await pending;
    t.equal(response.status, 401, name);
    t.match(response.body.errors[0], { code: 'WEBHOOK_UNAUTHORIZED', description: reason }, name);
  }
  t.equal((await stored()).length, before + 1, 'refused calls made no event');

  t.match(await send('basic', '{"n":1}', { authorization: `Basic ${Buffer.from('ada:lovelace-pw').toString('base64')}` }), { status: 200, body: { key: 'basic' } });
  t.match(await lastEvent(), { payload: { n: 1, via: 'basic' } });
  t.match(await send('keyed', '{}', { 'x-api-key': 'api-key-123' }), { status: 200, body: { key: 'keyed' } });
  const pr = '{"action":"opened","number":5}';
  t.match(await send('github', pr, { 'x-github-event': 'pull_request', 'x-hub-signature-256': `sha256=${hex('gh-secret', pr)}` }), { status: 200, body: { key: 'github:pull_request:opened' } });
  t.match(await send('nobody', '{}'), { status: 404, body: { errors: [{ code: 'WEBHOOK_NOT_FOUND' }] } });
  t.match(await send('orders', '{not json', { 'x-signature': hex('hmac-secret-1', '{not json') }), { status: 400 });
});

t.test('webhooks: Stripe signatures with their timestamp tolerance', async (t) => {
  const body = '{"type":"payment_intent.succeeded","data":{"object":{"amount":2000}}}';
  const now = Math.floor(Date.now() / 1000);
  const signed = (t0: number, secret = 'whsec_abc') => ({ 'stripe-signature': `t=${t0},v1=${hex(secret, `${t0}.${body}`)}` });
  t.match(await send('stripe', body, signed(now)), { status: 200, body: { key: 'stripe:payment_intent.succeeded' } });
  t.match(await send('stripe', body, signed(now, 'whsec_other')), { status: 401 });
  t.match(await send('stripe', body, signed(now - 11 * 60)), { status: 401, body: { errors: [{ description: /10-minute tolerance/ }] } }, 'a replay from 11 minutes ago, correctly signed, is refused');
  t.match(await send('stripe', body, { 'stripe-signature': 'garbage' }), { status: 401, body: { errors: [{ description: /malformed/ }] } });
});

t.test("webhooks: Slack's URL verification, slash commands and interactions (form bodies)", async (t) => {
  const ts = String(Math.floor(Date.now() / 1000));
  const slack = (body: string, type: string, secret = 'slack-secret', at = ts) => send('slack', body, { 'content-type': type, 'x-slack-request-timestamp': at, 'x-slack-signature': `v0=${hex(secret, `v0:${at}:${body}`)}` });
  const before = (await stored()).length;
  t.same(await slack('{"type":"url_verification","challenge":"3eZbrw1aB"}', 'application/json'), { status: 200, body: { challenge: '3eZbrw1aB' } });
  t.equal((await stored()).length, before, 'the verification is no event');
  const command = new URLSearchParams({ command: '/deploy', text: 'production', user_name: 'ada' }).toString();
  t.match(await slack(command, 'application/x-www-form-urlencoded'), { status: 200, body: { key: 'slack:command:/deploy' } });
  t.match(await lastEvent(), { payload: { command: '/deploy', text: 'production', user_name: 'ada' } });
  const interaction = new URLSearchParams({ payload: JSON.stringify({ type: 'block_actions', actions: [{ action_id: 'approve' }] }) }).toString();
  t.match(await slack(interaction, 'application/x-www-form-urlencoded'), { status: 200, body: { key: 'slack:interaction:block_actions' } });
  t.match(await lastEvent(), { payload: { type: 'block_actions', actions: [{ action_id: 'approve' }] } });
  t.match(await slack(command, 'application/x-www-form-urlencoded', 'wrong'), { status: 401 });
  t.match(await slack(command, 'application/x-www-form-urlencoded', 'slack-secret', String(Number(ts) - 600)), { status: 401, body: { errors: [{ description: /5-minute tolerance/ }] } });
});

t.test('webhooks: the event a call makes starts the workflows listening for its key', async (t) => {
  const seen: Array<{ input: unknown; key: string | undefined }> = [];
  const onOrder = hatchet.task({
    name: 'on-webhook-order',
    onEvents: ['order:refunded'],
    fn: (input: Record<string, unknown>, ctx) => {
      seen.push({ input, key: ctx.triggeringEventKey() });
      return { ok: true };
    },
  });
  const worker = await hatchet.worker('webhook-listener', { workflows: [onOrder], handleKill: false });
  void worker.start();
  await worker.waitUntilReady();
  t.teardown(() => worker.stop());
  const body = JSON.stringify({ type: 'refunded', customer: 'c-7' });
  const answer = await send('orders', body, { 'x-signature': hex('hmac-secret-1', body) });
  t.match(answer, { status: 200, body: { key: 'order:refunded' } });
  const event = (await stored()).find((e) => (e.metadata as { id: string }).id === answer.body.eventId) as { triggeredRuns?: Array<{ workflowRunId: string }> } | undefined;
  t.equal(event?.triggeredRuns?.length, 1, 'the event started one run');
  const runId = event?.triggeredRuns?.[0]?.workflowRunId as string;
  const done = await (async () => {
    for (let i = 0; i < 200; i++) {
      const details = await hatchet.runs.get(runId);
      if (details.run.status === 'COMPLETED') return details;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return undefined;
  })();
  t.ok(done !== undefined, 'the run completed');
  t.match(seen, [{ input: { type: 'refunded', customer: 'c-7', source: 'shop' }, key: 'order:refunded' }], 'the task got the body with the static payload');
});
