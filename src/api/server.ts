/**
 * The server: one uWebSockets.js app and port for the worker WebSocket (`/ws`), `GET /health`,
 * `GET /metrics` and the REST API (`/api/...`). Composes what `src/engine/gateway.ts` and `src/api/routes/`
 * mount; anything else answers 404 in the API's error shape.
 */
import uWS from 'uWebSockets.js';
import type { Engine } from '../engine/engine.js';
import { type Gateway, listen, mountGateway } from '../engine/gateway.js';
import { mountRoutes, type Route, route } from './http.js';
import { openApiDocument } from './openapi.js';
import { metricsRoutes } from './routes/metrics.js';
import { prometheusRoutes } from './routes/prometheus.js';
import { rateLimitRoutes } from './routes/rate-limits.js';
import { eventRoutes } from './routes/events.js';
import { runRoutes } from './routes/runs.js';
import { scheduledRoutes } from './routes/scheduled.js';
import { tenantRoutes } from './routes/tenant.js';
import { workerRoutes } from './routes/workers.js';
import { webhookRoutes } from './routes/webhooks.js';
import { workflowRoutes } from './routes/workflows.js';

/** Every REST route, in one table (the OpenAPI document and its test read it too). */
export function apiRoutes(engine: Engine, options: { readonly publicMetrics?: boolean } = {}): Route[] {
  const routes: Route[] = [
    ...runRoutes(engine),
    ...workflowRoutes(engine),
    ...metricsRoutes(engine),
    ...tenantRoutes(engine),
    ...rateLimitRoutes(engine),
    ...workerRoutes(engine),
    ...eventRoutes(engine),
    ...scheduledRoutes(engine),
    ...webhookRoutes(engine),
    ...prometheusRoutes(engine, options),
  ];
  let document: Record<string, unknown> | undefined;
  routes.push(
    route({
      method: 'GET',
      path: '/api/v1/openapi.json',
      summary: 'This API as an OpenAPI 3.1 document, generated from its route table',
      auth: 'none',
      handle: () => {
        document ??= openApiDocument(routes, { version: API_VERSION });
        return document;
      },
    }),
  );
  return routes;
}

/** The API's version in the OpenAPI document. */
export const API_VERSION = '1.0.0';

export interface ServerOptions {
  readonly port: number;
  readonly host?: string;
  /** The URL clients reach this server at, written into tokens (default http://localhost:<port>). */
  readonly publicUrl?: string;
  /** Serve `GET /metrics` without a token (for a scraper on a private network); default: an admin token is needed. */
  readonly publicMetrics?: boolean;
}

export async function startServer(engine: Engine, options: ServerOptions): Promise<Gateway> {
  const app = uWS.App();
  mountGateway(app, engine);
  mountRoutes(app, apiRoutes(engine, { publicMetrics: options.publicMetrics === true }), { authenticate: (token) => engine.authenticate(token) });
  app.any('/*', (res, req) => {
    const path = req.getUrl();
    res
      .writeStatus('404 Not Found')
      .writeHeader('content-type', 'application/json')
      .end(JSON.stringify({ errors: [{ code: 'NOT_FOUND', description: `no route for ${req.getMethod().toUpperCase()} ${path}` }] }));
  });
  const gateway = await listen(app, options);
  const url = new URL(options.publicUrl ?? `http://${options.host === undefined || options.host === '0.0.0.0' || options.host === '::' ? 'localhost' : options.host}:${gateway.port}`);
  engine.advertise({ serverUrl: url.origin, gatewayAddress: url.host });
  return gateway;
}
