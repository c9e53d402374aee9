/**
 * The OpenAPI 3.1 document of the REST API, generated from the route table (`apiRoutes()`), so
 * every route any part of Kindling adds is in it with its parameters, query and body schemas (zod's
 * JSON Schema of what the route accepts) and whether it needs a token. Served at
 * `GET /api/v1/openapi.json`.
 */
import { z } from 'zod';
import type { Route } from './http.js';

const ERROR_SCHEMA = {
  type: 'object',
  required: ['errors'],
  properties: { errors: { type: 'array', items: { type: 'object', required: ['code', 'description'], properties: { code: { type: 'string' }, description: { type: 'string' }, field: { type: 'string' } } } } },
};

function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}

/** `{name}` parameters of a path, in order. */
export function pathParameters(path: string): string[] {
  return [...path.matchAll(/\{([A-Za-z][A-Za-z0-9_]*)\}/g)].map((match) => match[1] as string);
}

export function openApiDocument(routes: readonly Route[], info: { version: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const parameters: unknown[] = pathParameters(route.path).map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } }));
    if (route.query !== undefined) {
      const schema = jsonSchema(route.query) as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, property] of Object.entries(schema.properties ?? {})) {
        const isArray = (property as { type?: string }).type === 'array';
        parameters.push({ name, in: 'query', required: schema.required?.includes(name) ?? false, schema: property, ...(isArray ? { style: 'form', explode: true } : {}) });
      }
    }
    const status = String(route.status ?? 200);
    const operation: Record<string, unknown> = {
      summary: route.summary,
      operationId: `${route.method.toLowerCase()}${route.path.replace(/\{([^}]+)\}/g, 'By-$1').replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? '').toUpperCase())}`,
      ...(parameters.length === 0 ? {} : { parameters }),
      ...(route.body === undefined ? {} : { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(route.body) } } } }),
      responses: {
        [status]: { description: 'OK' },
        default: { description: 'An error with a stable code', content: { 'application/json': { schema: { $ref: '#/components/schemas/Errors' } } } },
      },
      security: route.auth === 'none' ? [] : [{ bearer: [] }],
      'x-kindling-auth': route.auth ?? 'tenant',
    };
    paths[route.path] = { ...paths[route.path], [route.method.toLowerCase()]: operation };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Kindling REST API', version: info.version, description: "Hatchet's REST paths and shapes, served by a Kindling engine." },
    paths,
    components: { schemas: { Errors: ERROR_SCHEMA }, securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
  };
}
