/**
 * Tenants and their API tokens. A tenant token reads its own tenant (Hatchet's
 * `GET /api/v1/tenants/{tenant}`); creating tenants and creating, listing and revoking tokens
 * takes an admin token (`kindling start` writes one to the data directory), as in Hatchet a tenant's
 * API token cannot manage tokens.
 */
import { z } from 'zod';
import type { Engine } from '../../engine/engine.js';
import { TENANT_ID_PATTERN, type TenantRecord, type TokenRecord } from '../../engine/tenants.js';
import { apiErrors, type Route, route } from '../http.js';
import { iso } from '../views.js';


function tenantView(tenant: TenantRecord) {
  // Hatchet's SDK warns unless the tenant reports engine version V1.
  return { metadata: { id: tenant.tenantId, createdAt: iso(tenant.createdAtMs), updatedAt: iso(tenant.createdAtMs) }, name: tenant.name, slug: tenant.tenantId, version: 'V1' };
}

function tokenView(token: TokenRecord) {
  return {
    metadata: { id: token.tokenId, createdAt: iso(token.createdAtMs), updatedAt: iso(token.revokedAtMs ?? token.createdAtMs) },
    name: token.name,
    tenantId: token.tenantId,
    role: token.role,
    expiresAt: iso(token.expiresAtMs),
    revoked: token.revokedAtMs !== undefined,
    ...(token.revokedAtMs === undefined ? {} : { revokedAt: iso(token.revokedAtMs) }),
  };
}

const DURATION_UNITS_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A lifetime such as `90d`, `720h`, `30m` or `3600s`. */
export function parseDurationMs(text: string): number | undefined {
  const match = /^(\d{1,9})([smhd])$/.exec(text);
  if (match === null) return undefined;
  return Number(match[1]) * (DURATION_UNITS_MS[match[2] as string] as number);
}

const expiresIn = z
  .string()
  .max(20)
  .refine((text) => (parseDurationMs(text) ?? 0) > 0, "a lifetime is a positive whole number of s, m, h or d, such as '90d'");

export function tenantRoutes(engine: Engine): Route[] {
  const tenantOf = (tenantId: string) => {
    const tenant = engine.tenants.tenant(tenantId);
    if (tenant === undefined) throw apiErrors.notFound('TENANT_NOT_FOUND', `tenant '${tenantId}' does not exist`);
    return tenant;
  };
  return [
    route({
      method: 'GET',
      path: '/api/v1/tenants/{tenant}',
      summary: "The token's tenant",
      handle: ({ tenantId }) => tenantView(tenantOf(tenantId)),
    }),
    route({
      method: 'GET',
      path: '/api/v1/tenants',
      summary: 'Every tenant (admin)',
      auth: 'admin',
      handle: () => {
        const rows = engine.tenants.tenants().map(tenantView);
        return { rows, pagination: { current_page: 1, num_pages: 1 } };
      },
    }),
    route({
      method: 'POST',
      path: '/api/v1/tenants',
      summary: 'Create a tenant (admin); its slug is its id',
      auth: 'admin',
      status: 201,
      body: z.strictObject({ slug: z.string().regex(TENANT_ID_PATTERN, "a slug is 1-63 letters, digits, '_' or '-'"), name: z.string().min(1).max(200).optional() }),
      handle: async ({ body }) => tenantView(await engine.tenants.createTenant(body.slug, body.name ?? body.slug)),
    }),
    route({
      method: 'GET',
      path: '/api/v1/tenants/{tenant}/api-tokens',
      summary: "A tenant's API tokens, without the tokens themselves (admin)",
      auth: 'admin',
      handle: ({ params }) => {
        tenantOf(params.tenant as string);
        return { rows: engine.tenants.tokens(params.tenant).map(tokenView) };
      },
    }),
    route({
      method: 'POST',
      path: '/api/v1/tenants/{tenant}/api-tokens',
      summary: 'Create an API token for a tenant (admin); the token is shown only in this answer',
      auth: 'admin',
      status: 201,
      body: z.strictObject({ name: z.string().min(1).max(200), expiresIn: expiresIn.optional() }),
      handle: async ({ params, body }) => {
        const tenantId = tenantOf(params.tenant as string).tenantId;
        const ttlMs = body.expiresIn === undefined ? undefined : parseDurationMs(body.expiresIn);
        const { token, record } = await engine.tenants.createToken({ tenantId, role: 'tenant', name: body.name, ...(ttlMs === undefined ? {} : { ttlMs }) });
        return { token, ...tokenView(record) };
      },
    }),
    route({
      method: 'POST',
      path: '/api/v1/api-tokens/{token}',
      summary: 'Revoke an API token by its id (admin); connections using it are closed',
      auth: 'admin',
      handle: async ({ params }) => tokenView(await engine.revokeToken(params.token as string)),
    }),
  ];
}
