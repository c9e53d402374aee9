/**
 * Prometheus metrics in the text format: the engine's (`GET /metrics`: the global `hatchet_*`
 * counters and every tenant's series, with an admin token unless the server was started with
 * public metrics) and one tenant's (`GET /api/v1/tenants/{tenant}/prometheus-metrics`, with that
 * tenant's token, holding only its series — `hatchet.metrics.scrapePrometheusMetrics()`).
 */
import type { Engine } from '../../engine/engine.js';
import { EngineMetrics } from '../../engine/metrics.js';
import { type Route, route, TextResponse } from '../http.js';

export function prometheusRoutes(engine: Engine, options: { readonly publicMetrics?: boolean } = {}): Route[] {
  return [
    route({
      method: 'GET',
      path: '/metrics',
      summary: 'Every Prometheus series of the engine: global counters and each tenant\'s (admin token, unless metrics are public)',
      auth: options.publicMetrics === true ? 'none' : 'admin',
      handle: async () => new TextResponse(EngineMetrics.contentType, await engine.metrics.text()),
    }),
    route({
      method: 'GET',
      path: '/api/v1/tenants/{tenant}/prometheus-metrics',
      summary: "The tenant's Prometheus series (label tenant_id), in the text format",
      handle: async ({ tenantId }) => new TextResponse(EngineMetrics.contentType, await engine.metrics.tenantText(tenantId)),
    }),
  ];
}
