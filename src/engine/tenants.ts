/**
 * Tenants and their API tokens: the registry the engine authenticates every connection and
 * request against.
 *
 * Owns: the `tenants` stream (TenantCreated, ApiTokenCreated, ApiTokenRevoked) and its fold — the
 * tenants, and each token's record (never the token itself: only its id and what it may do). Talks
 * to: the log (appends one at a time, each at the stream's exact version) and `tokens.ts` (signing
 * and checking).
 *
 * Invariants:
 *  1. A token authenticates only if its signature checks, it has not expired, its record is in the
 *     log and not revoked, and (for a tenant token) its tenant exists. Revocation takes effect at
 *     once: the record is consulted on every check.
 *  2. Every change is durable before it is visible: the fold is applied after the append resolves.
 */
import { randomUUID } from 'node:crypto';
import { ProtocolError, ProtocolErrorCode } from '../../protocol/errors.js';
import type { EventLog } from '../../store/log.js';
import { signToken, TOKEN_ISSUER, type TokenClaims, TokenErrorCode, verifyToken } from './tokens.js';

export const TENANTS_STREAM = 'tenants';

export type TokenRole = 'tenant' | 'admin';

export type TenantEvent =
  | { readonly type: 'TenantCreated'; readonly tenantId: string; readonly name: string; readonly atMs: number }
  | {
      readonly type: 'ApiTokenCreated';
      readonly tokenId: string;
      /** '' for an admin token. */
      readonly tenantId: string;
      readonly role: TokenRole;
      readonly name: string;
      readonly atMs: number;
      readonly expiresAtMs: number;
    }
  | { readonly type: 'ApiTokenRevoked'; readonly tokenId: string; readonly atMs: number };

export interface TenantRecord {
  readonly tenantId: string;
  readonly name: string;
  readonly createdAtMs: number;
}

export interface TokenRecord {
  readonly tokenId: string;
  readonly tenantId: string;
  readonly role: TokenRole;
  readonly name: string;
  readonly createdAtMs: number;
  readonly expiresAtMs: number;
  readonly revokedAtMs?: number;
}

export type Authenticated =
  | { readonly ok: true; readonly tenantId: string; readonly tokenId: string; readonly role: TokenRole; readonly expiresAtMs: number }
  | { readonly ok: false; readonly code: string; readonly message: string };

/** Tenant ids name streams (`workflows:<tenant>`), so they use a safe alphabet. */
export const TENANT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

/** Hatchet's default token lifetime. */
export const DEFAULT_TOKEN_TTL_MS = 90 * 24 * 3600 * 1000;

export class TenantRegistry {
  readonly #tenants = new Map<string, TenantRecord>();
  readonly #tokens = new Map<string, TokenRecord>();
  #version = 0;
  #writes: Promise<unknown> = Promise.resolve();
  /** Where tokens say the engine is (claims Hatchet's clients read to find it). */
  advertised: { serverUrl?: string; gatewayAddress?: string } = {};

  constructor(
    private readonly log: EventLog,
    private readonly clock: () => number,
    private readonly key: Uint8Array,
  ) {}

  /** Applies one event of the `tenants` stream (recovery, and after each append). */
  fold(event: TenantEvent | { readonly type: string; readonly tenantId?: string }): void {
    this.#version += 1;
    const e = event as TenantEvent;
    switch (e.type) {
      case 'TenantCreated':
        this.#tenants.set(e.tenantId, { tenantId: e.tenantId, name: e.name, createdAtMs: e.atMs });
        return;
      case 'ApiTokenCreated':
        // A token record of an older layout (a hash, no id) names its tenant and nothing else usable.
        if (typeof e.tokenId === 'string') this.#tokens.set(e.tokenId, { tokenId: e.tokenId, tenantId: e.tenantId, role: e.role, name: e.name, createdAtMs: e.atMs, expiresAtMs: e.expiresAtMs });
        if (e.tenantId !== '' && !this.#tenants.has(e.tenantId)) this.#tenants.set(e.tenantId, { tenantId: e.tenantId, name: e.tenantId, createdAtMs: e.atMs ?? 0 });
        return;
      case 'ApiTokenRevoked': {
        const token = this.#tokens.get(e.tokenId);
        if (token !== undefined) this.#tokens.set(e.tokenId, { ...token, revokedAtMs: e.atMs });
        return;
      }
      default:
        return;
    }
  }

  hasTenant(tenantId: string): boolean {
    return this.#tenants.has(tenantId);
  }

  tenants(): TenantRecord[] {
    return [...this.#tenants.values()];
  }

  tenant(tenantId: string): TenantRecord | undefined {
    return this.#tenants.get(tenantId);
  }

  /** Token records, of one tenant or all (admin tokens have tenant ''). */
  tokens(tenantId?: string): TokenRecord[] {
    return [...this.#tokens.values()].filter((token) => tenantId === undefined || token.tenantId === tenantId);
  }

  get size(): number {
    return this.#tokens.size;
  }

  /** One append at a time at the stream's exact version; the fold follows durability (invariant 2). */
  #append(event: TenantEvent): Promise<void> {
    const write = this.#writes.then(async () => {
      await this.log.append(TENANTS_STREAM, [{ type: event.type, data: event }], { expectedVersion: this.#version });
      this.fold(event);
    });
    this.#writes = write.catch(() => {});
    return write;
  }

  async createTenant(tenantId: string, name: string = tenantId): Promise<TenantRecord> {
    if (!TENANT_ID_PATTERN.test(tenantId)) {
      throw new ProtocolError(ProtocolErrorCode.InvalidInput, `tenant id '${tenantId}' must be 1-63 letters, digits, '_' or '-', starting with a letter or digit`);
    }
    await this.#writes;
    if (this.#tenants.has(tenantId)) throw new ProtocolError('TENANT_EXISTS', `tenant '${tenantId}' already exists`);
    await this.#append({ type: 'TenantCreated', tenantId, name, atMs: this.clock() });
    return this.#tenants.get(tenantId) as TenantRecord;
  }

  /** Signs a new token; its record (never the token) goes in the log first. */
  async createToken(options: { tenantId: string; role: TokenRole; name?: string; ttlMs?: number }): Promise<{ token: string; record: TokenRecord }> {
    const { tenantId, role } = options;
    if (role === 'tenant' && !this.#tenants.has(tenantId)) throw new ProtocolError('TENANT_NOT_FOUND', `tenant '${tenantId}' does not exist`);
    const ttlMs = options.ttlMs ?? DEFAULT_TOKEN_TTL_MS;
    if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) throw new ProtocolError(ProtocolErrorCode.InvalidInput, 'a token lifetime is a positive number of milliseconds');
    const atMs = this.clock();
    const tokenId = randomUUID();
    const event: TenantEvent = { type: 'ApiTokenCreated', tokenId, tenantId: role === 'admin' ? '' : tenantId, role, name: options.name ?? (role === 'admin' ? 'admin' : 'default'), atMs, expiresAtMs: atMs + ttlMs };
    await this.#append(event);
    const claims: TokenClaims = {
      sub: event.tenantId,
      token_id: tokenId,
      role,
      iss: TOKEN_ISSUER,
      aud: TOKEN_ISSUER,
      iat: Math.floor(atMs / 1000),
      exp: Math.floor(event.expiresAtMs / 1000),
      ...(this.advertised.serverUrl === undefined ? {} : { server_url: this.advertised.serverUrl }),
      ...(this.advertised.gatewayAddress === undefined ? {} : { grpc_broadcast_address: this.advertised.gatewayAddress }),
    };
    return { token: signToken(this.key, claims), record: this.#tokens.get(tokenId) as TokenRecord };
  }

  /** Revokes a token by id; revoking one already revoked changes nothing. */
  async revokeToken(tokenId: string, tenantId?: string): Promise<TokenRecord> {
    await this.#writes;
    const token = this.#tokens.get(tokenId);
    if (token === undefined || (tenantId !== undefined && token.tenantId !== tenantId)) throw new ProtocolError('TOKEN_NOT_FOUND', `token '${tokenId}' does not exist`);
    if (token.revokedAtMs === undefined) await this.#append({ type: 'ApiTokenRevoked', tokenId, atMs: this.clock() });
    return this.#tokens.get(tokenId) as TokenRecord;
  }

  /** Invariant 1. */
  authenticate(token: string): Authenticated {
    const checked = verifyToken(this.key, token, this.clock());
    if (!checked.ok) return checked;
    const { claims } = checked;
    const record = this.#tokens.get(claims.token_id);
    if (record === undefined) return { ok: false, code: TokenErrorCode.Invalid, message: 'the token is not known to this engine' };
    if (record.revokedAtMs !== undefined) return { ok: false, code: TokenErrorCode.Revoked, message: `the token '${record.name}' (${record.tokenId}) was revoked at ${new Date(record.revokedAtMs).toISOString()}` };
    if (record.expiresAtMs <= this.clock()) return { ok: false, code: TokenErrorCode.Expired, message: `the token expired at ${new Date(record.expiresAtMs).toISOString()}; create a new one` };
    if (record.role === 'tenant' && !this.#tenants.has(record.tenantId)) return { ok: false, code: TokenErrorCode.Invalid, message: `the token's tenant '${record.tenantId}' does not exist` };
    return { ok: true, tenantId: record.tenantId, tokenId: record.tokenId, role: record.role, expiresAtMs: record.expiresAtMs };
  }
}
