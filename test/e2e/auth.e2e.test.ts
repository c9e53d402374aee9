/**
 * Tenants and API tokens over real sockets: an admin token creates tenants and tokens through the
 * REST API; a tenant token reaches the engine from its claims alone; revoked and expired tokens are
 * refused with their own codes on both REST and the WebSocket (an open connection is closed when its
 * token is revoked); admin and tenant tokens cannot stand in for each other.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import t from 'tap';
import WebSocket from 'ws';
import { startServer } from '../../src/api/server.js';
import { Engine } from '../../src/engine/engine.js';
import type { Gateway } from '../../src/engine/gateway.js';
import { HatchetClient } from '../../src/sdk/index.js';
import { LmdbLog } from '../../store/lmdb.js';

const packr = new Packr({ useRecords: false });
const dir = mkdtempSync(join(tmpdir(), 'kindling-auth-'));
let log: LmdbLog;
let engine: Engine;
let server: Gateway;
let admin: string;
let base: string;

t.before(async () => {
  log = await LmdbLog.open({ path: dir });
  engine = await Engine.start({ log });
  server = await startServer(engine, { port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${server.port}`;
  admin = await engine.createToken('', { role: 'admin' });
});
t.teardown(async () => {
  server.close();
  await engine.close();
  await log.close();
  rmSync(dir, { recursive: true, force: true });
});

const call = async (method: string, path: string, token: string | null, body?: unknown) => {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(token === null ? {} : { authorization: `Bearer ${token}` }) };
  const response = await fetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
};

/** Opens a WebSocket with `token`; resolves with the first frame and, later, how it closed. */
function connect(token: string): Promise<{ first: Record<string, unknown>; closed: Promise<{ code: number; frames: Array<Record<string, unknown>> }> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws`);
    const frames: Array<Record<string, unknown>> = [];
    let closedResolve: (value: { code: number; frames: Array<Record<string, unknown>> }) => void = () => {};
    const closed = new Promise<{ code: number; frames: Array<Record<string, unknown>> }>((r) => {
      closedResolve = r;
    });
    ws.on('open', () => ws.send(packr.pack({ t: 'hello', versions: [1], token, client: { sdk: 'raw', version: '0' } })));
    ws.on('message', (data: Buffer) => {
      const frame = packr.unpack(data) as Record<string, unknown>;
      frames.push(frame);
      if (frames.length === 1) resolve({ first: frame, closed });
    });
    ws.on('close', (code) => closedResolve({ code, frames }));
    ws.on('error', reject);
  });
}

t.test('auth: an admin token creates a tenant and its tokens; the token reaches the engine from its claims alone', async (t) => {
  t.match(await call('POST', '/api/v1/tenants', admin, { slug: 'acme', name: 'Acme Inc' }), { status: 201, body: { metadata: { id: 'acme' }, name: 'Acme Inc', version: 'V1' } });
  t.match(await call('POST', '/api/v1/tenants', admin, { slug: 'acme' }), { status: 409, body: { errors: [{ code: 'TENANT_EXISTS' }] } });
  t.match(await call('POST', '/api/v1/tenants', admin, { slug: 'no spaces here' }), { status: 400, body: { errors: [{ code: 'INVALID_INPUT', field: 'slug' }] } });
  const created = await call('POST', '/api/v1/tenants/acme/api-tokens', admin, { name: 'ci', expiresIn: '30d' });
  t.match(created, { status: 201, body: { token: /^[\w-]+\.[\w-]+\.[\w-]+$/, name: 'ci', tenantId: 'acme', revoked: false } });
  const token = created.body.token as string;
  const claims = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString());
  t.match(claims, { sub: 'acme', server_url: base, grpc_broadcast_address: `127.0.0.1:${server.port}` });
  t.ok(Math.abs(claims.exp - (Date.now() / 1000 + 30 * 86400)) < 120, 'it expires in 30 days');
  t.match(await call('POST', '/api/v1/tenants/nobody/api-tokens', admin, { name: 'x' }), { status: 404, body: { errors: [{ code: 'TENANT_NOT_FOUND' }] } });
  t.match(await call('POST', '/api/v1/tenants/acme/api-tokens', admin, { name: 'x', expiresIn: 'forever' }), { status: 400, body: { errors: [{ field: 'expiresIn' }] } });

  const listed = await call('GET', '/api/v1/tenants/acme/api-tokens', admin);
  t.match(listed, { status: 200, body: { rows: [{ name: 'ci', revoked: false }] } });
  t.notOk(JSON.stringify(listed.body).includes(token), 'the list never shows a token');
  t.match(await call('GET', '/api/v1/tenants', admin), { status: 200, body: { rows: [{ metadata: { id: 'acme' } }] } });

  // No host, port or URL given: the client finds the engine and its tenant in the token.
  const hatchet = HatchetClient.init({ token, log_level: 'OFF' });
  t.teardown(() => hatchet.close());
  t.equal(hatchet.tenantId, 'acme');
  t.equal(hatchet.config.host_port, `127.0.0.1:${server.port}`);
  const hello = hatchet.task({ name: 'hello', fn: () => ({ ok: true }) });
  const worker = await hatchet.worker('auth-worker', { workflows: [hello], handleKill: false });
  void worker.start();
  t.teardown(() => worker.stop());
  await worker.waitUntilReady();
  t.same(await hello.run({}), { ok: true });
  t.match(await hatchet.rest.request('GET', '/api/v1/tenants/{tenant}'), { metadata: { id: 'acme' } });
});

t.test('auth: a revoked token is refused on REST and the WebSocket, and its open connections are closed', async (t) => {
  const { token, record } = await engine.tenants.createToken({ tenantId: 'acme', role: 'tenant', name: 'doomed' });
  const open = await connect(token);
  t.match(open.first, { t: 'welcome', tenantId: 'acme' });
  t.match(await call('GET', '/api/v1/tenants/acme', token), { status: 200 });
  t.match(await call('POST', `/api/v1/api-tokens/${record.tokenId}`, admin), { status: 200, body: { revoked: true, name: 'doomed' } });
  const closed = await open.closed;
  t.equal(closed.code, 4401);
  t.match(closed.frames.at(-1), { t: 'error', code: 'AUTH_TOKEN_REVOKED' });
  t.match(await call('GET', '/api/v1/tenants/acme', token), { status: 401, body: { errors: [{ code: 'AUTH_TOKEN_REVOKED', description: /'doomed'.*was revoked/ }] } });
  const again = await connect(token);
  t.match(again.first, { t: 'error', code: 'AUTH_TOKEN_REVOKED' });
  t.equal((await again.closed).code, 4401);
  t.match(await call('POST', '/api/v1/api-tokens/nope', admin), { status: 404, body: { errors: [{ code: 'TOKEN_NOT_FOUND' }] } });
});

t.test('auth: an expired token is refused with its expiry; an open connection closes when its token expires', async (t) => {
  const token = await engine.createToken('acme', { ttlMs: 1500 });
  const open = await connect(token);
  t.match(open.first, { t: 'welcome' });
  const closed = await open.closed;
  t.match(closed.frames.at(-1), { t: 'error', code: 'AUTH_TOKEN_EXPIRED' });
  t.match(await call('GET', '/api/v1/tenants/acme', token), { status: 401, body: { errors: [{ code: 'AUTH_TOKEN_EXPIRED', description: /expired at \d{4}-/ }] } });
  t.match((await connect(token)).first, { t: 'error', code: 'AUTH_TOKEN_EXPIRED' });
});

t.test('auth: admin and tenant tokens cannot stand in for each other', async (t) => {
  const tenantToken = await engine.createToken('acme');
  t.match(await call('GET', '/api/v1/tenants', tenantToken), { status: 403, body: { errors: [{ code: 'AUTH_FORBIDDEN', description: /admin token/ }] } });
  t.match(await call('POST', '/api/v1/tenants/acme/api-tokens', tenantToken, { name: 'self-service' }), { status: 403 });
  t.match(await call('GET', '/api/v1/tenants/acme', admin), { status: 403, body: { errors: [{ code: 'AUTH_FORBIDDEN', description: /acts as no tenant/ }] } });
  const ws = await connect(admin);
  t.match(ws.first, { t: 'error', code: 'AUTH_FORBIDDEN' });
  t.equal((await ws.closed).code, 4403);
  t.match(await call('GET', '/api/v1/tenants', null), { status: 401, body: { errors: [{ code: 'AUTH_UNAUTHENTICATED' }] } });
  t.equal(engine.tenants.tokens('acme').filter((token) => token.name === 'self-service').length, 0, 'nothing was created');
});
