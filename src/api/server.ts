/**
 * The server: one uWebSockets.js app and port for the worker WebSocket (`/ws`), `GET /health`
 * and the REST API (`/api/...`). Composes what `src/engine/gateway.ts` and `src/api/routes/`
 * mount; anything else answers 404 in the API's error shape.
 */
import uWS from 'uWebSockets.js';
import type { Engine } from '../engine/engine.js';
import { type Gateway, listen, mountGateway } from '../engine/gateway.js';
import { mountRoutes, type Route } from './http.js';
import { rateLimitRoutes } from './routes/rate-limits.js';
import { eventRoutes } from './routes/events.js';
import { runRoutes } from './routes/runs.js';
import { scheduledRoutes } from './routes/scheduled.js';
import { tenantRoutes } from './routes/tenant.js';
import { workerRoutes } from './routes/workers.js';

/** Every REST route, in one table (the OpenAPI document and its test read it too). */
export function apiRoutes(engine: Engine): Route[] {
  return [...runRoutes(engine), ...tenantRoutes(), ...rateLimitRoutes(engine), ...workerRoutes(engine), ...eventRoutes(engine), ...scheduledRoutes(engine)];
}

export function startServer(engine: Engine, options: { port: number; host?: string }): Promise<Gateway> {
  const app = uWS.App();
  mountGateway(app, engine);
  mountRoutes(app, apiRoutes(engine), { authenticate: (token) => engine.authenticate(token) });
  app.any('/*', (res, req) => {
    const path = req.getUrl();
    res
      .writeStatus('404 Not Found')
      .writeHeader('content-type', 'application/json')
      .end(JSON.stringify({ errors: [{ code: 'NOT_FOUND', description: `no route for ${req.getMethod().toUpperCase()} ${path}` }] }));
  });
  return listen(app, options);
}
