/**
 * API tokens: what the engine signs, and every way a token is refused — forged, re-signed with
 * another algorithm, `alg: none`, changed after signing, expired, issued elsewhere, unknown,
 * revoked, or of a tenant that does not exist.
 */
import { createHmac } from 'node:crypto';
import t from 'tap';
import { TenantRegistry } from '../../src/engine/tenants.js';
import { signToken, TOKEN_ISSUER, type TokenClaims, verifyToken } from '../../src/engine/tokens.js';
import { tokenClaims } from '../../src/sdk/config.js';
import { MemoryLog } from '../../store/memory.js';

const key = Buffer.alloc(32, 7);
const now = Date.UTC(2030, 0, 1);
const claims: TokenClaims = { sub: 'acme', token_id: 'tok-1', role: 'tenant', iss: TOKEN_ISSUER, aud: TOKEN_ISSUER, iat: now / 1000, exp: now / 1000 + 3600, server_url: 'http://engine:7077', grpc_broadcast_address: 'engine:7077' };
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

t.test('tokens: a signed token verifies and its claims are what Hatchet clients read', async (t) => {
  const token = signToken(key, claims);
  t.match(verifyToken(key, token, now), { ok: true, claims });
  t.same(tokenClaims(token), { sub: 'acme', server_url: 'http://engine:7077', grpc_broadcast_address: 'engine:7077' });
  t.same(tokenClaims('kl_not-a-jwt'), {});
  t.same(tokenClaims('a.!!!.c'), {});
});

t.test('tokens: forged, re-signed, unsigned, tampered, expired and foreign tokens are refused', async (t) => {
  const token = signToken(key, claims);
  const [header, payload] = token.split('.') as [string, string];
  const hmac = (input: string, k: Buffer = key) => createHmac('sha256', k).update(input).digest('base64url');
  const cases: Array<[string, string, string, RegExp]> = [
    ['another key', signToken(Buffer.alloc(32, 8), claims), 'AUTH_UNAUTHENTICATED', /bad signature/],
    ['alg none', `${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`, 'AUTH_UNAUTHENTICATED', /unexpected header/],
    ['HS512 header', `${b64({ alg: 'HS512', typ: 'JWT' })}.${payload}.${hmac(`${b64({ alg: 'HS512', typ: 'JWT' })}.${payload}`)}`, 'AUTH_UNAUTHENTICATED', /unexpected header/],
    ['a changed payload', `${header}.${b64({ ...claims, sub: 'other' })}.${token.split('.')[2]}`, 'AUTH_UNAUTHENTICATED', /bad signature/],
    ['two parts', `${header}.${payload}`, 'AUTH_UNAUTHENTICATED', /three dot-separated parts/],
    ['a payload that is not JSON', `${header}.${Buffer.from('nope').toString('base64url')}.${hmac(`${header}.${Buffer.from('nope').toString('base64url')}`)}`, 'AUTH_UNAUTHENTICATED', /not JSON/],
    ['no claims', `${header}.${b64({ a: 1 })}.${hmac(`${header}.${b64({ a: 1 })}`)}`, 'AUTH_UNAUTHENTICATED', /lacks its claims/],
    ['another issuer', signToken(key, { ...claims, iss: 'hatchet' }), 'AUTH_UNAUTHENTICATED', /another service/],
    ['another audience', signToken(key, { ...claims, aud: 'hatchet' }), 'AUTH_UNAUTHENTICATED', /another service/],
    ['expired', signToken(key, { ...claims, exp: now / 1000 - 1 }), 'AUTH_TOKEN_EXPIRED', /expired at 2029-12-31T23:59:59/],
  ];
  for (const [name, bad, code, message] of cases) t.match(verifyToken(key, bad, now), { ok: false, code, message }, name);
});

t.test('tenant registry: tokens are records in the log; revoked, unknown and expired ones are refused; a restart folds the same', async (t) => {
  const log = new MemoryLog();
  let clock = now;
  const registry = new TenantRegistry(log, () => clock, key);
  await registry.createTenant('acme', 'Acme');
  await t.rejects(registry.createTenant('acme'), { code: 'TENANT_EXISTS' });
  await t.rejects(registry.createTenant('no spaces'), { code: 'INVALID_INPUT' });
  await t.rejects(registry.createToken({ tenantId: 'nobody', role: 'tenant' }), { code: 'TENANT_NOT_FOUND' });
  await t.rejects(registry.createToken({ tenantId: 'acme', role: 'tenant', ttlMs: 0 }), { code: 'INVALID_INPUT' });
  registry.advertised = { serverUrl: 'http://127.0.0.1:9', gatewayAddress: '127.0.0.1:9' };
  const { token, record } = await registry.createToken({ tenantId: 'acme', role: 'tenant', name: 'ci', ttlMs: 60_000 });
  const admin = await registry.createToken({ tenantId: '', role: 'admin' });
  t.match(registry.authenticate(token), { ok: true, tenantId: 'acme', role: 'tenant', tokenId: record.tokenId });
  t.match(registry.authenticate(admin.token), { ok: true, tenantId: '', role: 'admin' });
  t.same(tokenClaims(token), { sub: 'acme', server_url: 'http://127.0.0.1:9', grpc_broadcast_address: '127.0.0.1:9' });
  t.notOk(JSON.stringify(await log.readAll()).includes(token.split('.')[2] as string), 'the log holds no token signature');

  // A token signed with the key but with no record (or another engine's record) is not ours.
  t.match(registry.authenticate(signToken(key, { ...claims, token_id: 'never-issued' })), { ok: false, code: 'AUTH_UNAUTHENTICATED', message: /not known/ });
  const revoked = await registry.revokeToken(record.tokenId);
  t.ok(revoked.revokedAtMs);
  t.match(registry.authenticate(token), { ok: false, code: 'AUTH_TOKEN_REVOKED', message: /'ci'.*was revoked/ });
  t.same(await registry.revokeToken(record.tokenId), revoked, 'revoking again changes nothing');
  await t.rejects(registry.revokeToken(record.tokenId, 'other-tenant'), { code: 'TOKEN_NOT_FOUND' });
  await t.rejects(registry.revokeToken('nope'), { code: 'TOKEN_NOT_FOUND' });

  const short = await registry.createToken({ tenantId: 'acme', role: 'tenant', ttlMs: 1000 });
  clock += 2000;
  t.match(registry.authenticate(short.token), { ok: false, code: 'AUTH_TOKEN_EXPIRED' });

  const again = new TenantRegistry(log, () => clock, key);
  for (const r of await log.readStream('tenants')) again.fold(r.data as never);
  t.same(again.tenants(), registry.tenants());
  t.same(again.tokens('acme'), registry.tokens('acme'));
  t.match(again.authenticate(admin.token), { ok: true, role: 'admin' });
  t.match(again.authenticate(token), { ok: false, code: 'AUTH_TOKEN_REVOKED' });
  t.equal(again.tokens().length, 3);
});
