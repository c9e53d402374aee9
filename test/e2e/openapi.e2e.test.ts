/**
 * The OpenAPI document is generated from the route table: every route is in it with its method,
 * path parameters, query parameters and body, nothing else is, and every operation it lists is
 * mounted (a request without a token is refused as unauthenticated, not as an unknown route).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { z } from 'zod';
import { pathParameters } from '../../src/api/openapi.js';
import { apiRoutes, startServer } from '../../src/api/server.js';
import { Engine } from '../../src/engine/engine.js';
import { MemoryLog } from '../../store/memory.js';

t.test('openapi: the served document lists exactly the routes, each as it is checked', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kindling-openapi-'));
  const engine = await Engine.start({ log: new MemoryLog(), readModelPath: dir });
  const server = await startServer(engine, { port: 0, host: '127.0.0.1' });
  t.teardown(async () => {
    server.close();
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const base = `http://127.0.0.1:${server.port}`;
  const response = await fetch(`${base}/api/v1/openapi.json`);
  t.equal(response.status, 200, 'served without a token');
  const document = (await response.json()) as { openapi: string; paths: Record<string, Record<string, { summary: string; parameters?: Array<{ name: string; in: string; required: boolean }>; requestBody?: unknown; security: unknown[] }>> };
  t.equal(document.openapi, '3.1.0');

  const routes = apiRoutes(engine);
  const listed = Object.entries(document.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`));
  t.same(listed.sort(), routes.map((route) => `${route.method} ${route.path}`).sort(), 'one operation per route, no more');
  for (const route of routes) {
    const operation = document.paths[route.path]?.[route.method.toLowerCase()];
    const name = `${route.method} ${route.path}`;
    t.equal(operation?.summary, route.summary, `${name}: summary`);
    const parameters = operation?.parameters ?? [];
    t.same(parameters.filter((p) => p.in === 'path').map((p) => p.name), pathParameters(route.path), `${name}: path parameters`);
    const shape = (route.query as (z.ZodType & { shape?: Record<string, unknown> }) | undefined)?.shape ?? {};
    t.same(parameters.filter((p) => p.in === 'query').map((p) => p.name).sort(), Object.keys(shape).sort(), `${name}: query parameters`);
    t.equal(operation?.requestBody !== undefined, route.body !== undefined, `${name}: body`);
    t.equal(operation?.security.length === 0, route.auth === 'none', `${name}: auth`);
    if (route.auth === 'none') continue;
    const path = route.path.replace(/\{[^}]+\}/g, 'x');
    const answer = await fetch(`${base}${path}`, { method: route.method });
    t.equal(answer.status, 401, `${name}: mounted (401 without a token, not 404)`);
  }
  const since = document.paths['/api/v1/stable/tenants/{tenant}/workflow-runs']?.get?.parameters?.find((p) => p.name === 'since');
  t.match(since, { in: 'query', required: true });
});
