/** The tenant a token belongs to, as Hatchet's `GET /api/v1/tenants/{tenant}` answers it. */
import { type Route, route } from '../http.js';

export function tenantRoutes(): Route[] {
  return [
    route({
      method: 'GET',
      path: '/api/v1/tenants/{tenant}',
      summary: "The token's tenant",
      // Hatchet's SDK warns unless the tenant reports engine version V1.
      handle: ({ tenantId }) => ({ metadata: { id: tenantId }, name: tenantId, slug: tenantId, version: 'V1' }),
    }),
  ];
}
