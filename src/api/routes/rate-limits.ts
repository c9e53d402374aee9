/**
 * Rate limits, in Hatchet's REST shapes: `GET /api/v1/tenants/{tenant}/rate-limits` lists a
 * tenant's limits (`RateLimitList`), and `POST` on the same path creates or changes one (Hatchet
 * does this over gRPC, `PutRateLimit`; here the SDK's `ratelimits.upsert` calls this route).
 */
import { z } from 'zod';
import { RateLimitDurations } from '../../../protocol/frames.js';
import type { Engine } from '../../engine/engine.js';
import { engineLimits } from '../../lib/limits.js';
import { type Route, route } from '../http.js';
import { iso, pagination } from '../views.js';


export function rateLimitRoutes(engine: Engine): Route[] {
  return [
    route({
      method: 'GET',
      path: '/api/v1/tenants/{tenant}/rate-limits',
      summary: "The tenant's rate limits: each key, its limit, its window and what is left of the current one",
      query: z.strictObject({
        offset: z.coerce.number().int().nonnegative().default(0),
        limit: z.coerce.number().int().positive().max(1000).default(50),
        search: z.string().max(engineLimits.rateLimitKeyCharsMax).optional(),
        orderByField: z.enum(['key', 'value', 'limitValue']).default('key'),
        orderByDirection: z.enum(['asc', 'desc']).default('asc'),
      }),
      handle: ({ tenantId, query }) => {
        const rows = engine
          .listRateLimits(tenantId)
          .filter((limit) => query.search === undefined || limit.key.includes(query.search))
          .map((limit) => ({
            key: limit.key,
            tenantId,
            limitValue: limit.limit,
            /** Units left in the current window. */
            value: Math.max(0, limit.limit - limit.used),
            window: limit.duration,
            lastRefill: iso(limit.windowStartMs),
          }));
        const field = query.orderByField;
        rows.sort((a, b) => (a[field] < b[field] ? -1 : a[field] > b[field] ? 1 : 0) * (query.orderByDirection === 'asc' ? 1 : -1));
        const page = rows.slice(query.offset, query.offset + query.limit);
        return { rows: page, pagination: pagination(query.offset, query.limit, rows.length) };
      },
    }),
    route({
      method: 'POST',
      path: '/api/v1/tenants/{tenant}/rate-limits',
      summary: 'Create or change a static rate limit: `limit` units per `duration` window',
      body: z.strictObject({
        key: z.string().min(1).max(engineLimits.rateLimitKeyCharsMax),
        limit: z.number().int().positive(),
        duration: z.enum(RateLimitDurations).default('SECOND'),
      }),
      handle: async ({ tenantId, body }) => {
        await engine.upsertRateLimit(tenantId, body.key, body.limit, body.duration);
        return { key: body.key };
      },
    }),
  ];
}
