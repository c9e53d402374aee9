/**
 * HTTP routing for the REST API, on the same uWebSockets.js app (and port) as the WebSocket
 * gateway.
 *
 * Owns: turning a request into a call of its route's handler — path parameters, the query, a
 * JSON body read up to `httpBodyBytesMax`, bearer-token authentication, validation of the query
 * and body against the route's zod schemas — and turning the handler's value or error into a
 * response. Routes own what they do; `routes/*.ts` declare them.
 *
 * Invariants:
 *  1. A handler runs only for an authenticated tenant (unless its route says `auth: 'none'`) and
 *     only with a query and body its schemas accept; anything else is a 4xx with a stable code.
 *  2. A route under `/tenants/{tenant}/` answers only the tenant its token names.
 *  3. Every error is `{ errors: [{ code, description, field? }] }` with a stable `code`; an
 *     unexpected one is a 500 whose description names no internals.
 */
import type uWS from 'uWebSockets.js';
import type { z } from 'zod';
import { KindlingError } from '../lib/errors.js';
import { engineLimits } from '../lib/limits.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export class ApiError extends KindlingError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
    readonly field?: string,
  ) {
    super(code, message, status === 429 || status === 503);
  }

  override readonly name = 'ApiError';
}

export const apiErrors = {
  badRequest: (message: string, field?: string) => new ApiError(400, 'INVALID_INPUT', message, field),
  unauthenticated: (message: string) => new ApiError(401, 'AUTH_UNAUTHENTICATED', message),
  forbidden: (message: string) => new ApiError(403, 'AUTH_FORBIDDEN', message),
  notFound: (code: string, message: string) => new ApiError(404, code, message),
  tooLarge: (message: string) => new ApiError(413, 'BODY_TOO_LARGE', message),
};

/** A handler's answer that is not JSON (the Prometheus text format, say). */
export class TextResponse {
  constructor(
    readonly contentType: string,
    readonly text: string,
  ) {}
}

export interface ApiRequest<Q, B> {
  readonly method: Method;
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
  readonly query: Q;
  readonly body: B;
  /** The tenant the bearer token names ('' for routes without auth). */
  readonly tenantId: string;
  readonly headers: Readonly<Record<string, string>>;
  /** The raw body, for routes that verify signatures over it. */
  readonly rawBody: Buffer;
}

export interface Route<Q = unknown, B = unknown> {
  readonly method: Method;
  /** With `{name}` parameters, as Hatchet writes its paths. */
  readonly path: string;
  readonly summary: string;
  /**
   * 'tenant' (default): a tenant's bearer token is required, and the request acts as its tenant.
   * 'admin': an admin token is required (tenants and tokens). 'none': the route checks for itself.
   */
  readonly auth?: 'tenant' | 'admin' | 'none';
  readonly query?: z.ZodType<Q>;
  readonly body?: z.ZodType<B>;
  /** The success status (default 200). */
  readonly status?: number;
  handle(request: ApiRequest<Q, B>): unknown | Promise<unknown>;
}

/** A route, with its query and body types inferred from its schemas. */
export function route<Q = undefined, B = undefined>(definition: Route<Q, B>): Route {
  return definition as unknown as Route;
}

export interface ApiDependencies {
  /** Who a token is, or why it is refused. */
  authenticate(token: string): { ok: true; tenantId: string; role: 'tenant' | 'admin' } | { ok: false; code: string; message: string };
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Status codes for the engine's own error codes, when a handler lets one through. */
const STATUS_OF_CODE: Record<string, number> = {
  INVALID_INPUT: 400,
  PAYLOAD_TOO_LARGE: 413,
  RUN_NOT_FOUND: 404,
  WORKFLOW_NOT_FOUND: 404,
  TENANT_NOT_FOUND: 404,
  TOKEN_NOT_FOUND: 404,
  WORKER_NOT_FOUND: 404,
  TENANT_EXISTS: 409,
  WEBHOOK_NOT_FOUND: 404,
  WEBHOOK_EXISTS: 409,
  ENGINE_BUSY: 429,
  ENGINE_UNAVAILABLE: 503,
  ALREADY_EXISTS: 409,
};

/** Path parameters in uWS's form (`:name`) and their names, in order. */
function compile(path: string): { pattern: string; names: string[] } {
  const names: string[] = [];
  const pattern = path.replace(/\{([A-Za-z][A-Za-z0-9_]*)\}/g, (_, name: string) => {
    names.push(name);
    return `:${name}`;
  });
  return { pattern, names };
}

/** The query as an object of strings, repeated keys as arrays (Hatchet sends arrays that way). */
function parseQuery(raw: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    const existing = out[key];
    out[key] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return out;
}

function validate<T>(schema: z.ZodType<T> | undefined, value: unknown, where: 'query' | 'body'): T {
  if (schema === undefined) return undefined as T;
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue?.path.join('.') ?? '';
  throw apiErrors.badRequest(`${where}${field === '' ? '' : ` field '${field}'`}: ${issue?.message ?? 'invalid'}`, field === '' ? undefined : field);
}

function errorBody(error: unknown): { status: number; body: unknown } {
  if (error instanceof ApiError) {
    return { status: error.status, body: { errors: [{ code: error.code, description: error.message, ...(error.field === undefined ? {} : { field: error.field }) }] } };
  }
  if (error instanceof KindlingError) {
    const status = STATUS_OF_CODE[error.code] ?? (error.code.startsWith('LOG_') ? 503 : error.code.endsWith('_NOT_FOUND') ? 404 : 400);
    return { status, body: { errors: [{ code: error.code, description: error.message }] } };
  }
  return { status: 500, body: { errors: [{ code: 'INTERNAL', description: 'the engine failed to answer this request; it has been logged' }] } };
}

/** Mounts routes on an app. Requests that match none get a 404 from the caller's fallback. */
export function mountRoutes(app: uWS.TemplatedApp, routes: readonly Route[], deps: ApiDependencies): void {
  for (const definition of routes) {
    const { pattern, names } = compile(definition.path);
    const handler = (res: uWS.HttpResponse, req: uWS.HttpRequest) => {
      // Everything from `req` must be read now: it is only valid until this callback returns.
      const params: Record<string, string> = {};
      names.forEach((name, index) => {
        params[name] = decodeURIComponent(req.getParameter(index) ?? '');
      });
      const headers: Record<string, string> = {};
      req.forEach((key, value) => {
        headers[key] = value;
      });
      const path = req.getUrl();
      const query = req.getQuery() ?? '';
      let aborted = false;
      res.onAborted(() => {
        aborted = true;
      });
      const respond = (status: number, body: unknown) => {
        if (aborted) return;
        res.cork(() => {
          res.writeStatus(`${status} ${STATUS_TEXT[status] ?? ''}`.trim());
          if (status === 204) res.end();
          else if (body instanceof TextResponse) res.writeHeader('content-type', body.contentType).end(body.text);
          else res.writeHeader('content-type', 'application/json').end(JSON.stringify(body));
        });
      };
      readBody(res, definition.method === 'GET' || definition.method === 'DELETE' ? 0 : engineLimits.httpBodyBytesMax).then(
        async (rawBody) => {
          try {
            const auth = definition.auth ?? 'tenant';
            const tenantId = auth === 'none' ? '' : authenticate(headers, deps, auth);
            if (params.tenant !== undefined && auth === 'tenant' && params.tenant !== tenantId) {
              throw apiErrors.forbidden(`this token is for tenant '${tenantId}', not '${params.tenant}'`);
            }
            let json: unknown;
            if (definition.body !== undefined) {
              try {
                json = rawBody.length === 0 ? {} : JSON.parse(rawBody.toString('utf8'));
              } catch (error) {
                throw apiErrors.badRequest(`the body is not JSON: ${(error as Error).message}`);
              }
            }
            const result = await definition.handle({
              method: definition.method,
              path,
              params,
              query: validate(definition.query, parseQuery(query), 'query'),
              body: validate(definition.body, json, 'body'),
              tenantId,
              headers,
              rawBody,
            });
            respond(definition.status ?? (result === undefined ? 204 : 200), result);
          } catch (error) {
            const { status, body } = errorBody(error);
            respond(status, body);
          }
        },
        (error: unknown) => {
          const { status, body } = errorBody(error);
          respond(status, body);
        },
      );
    };
    const method = definition.method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'del';
    app[method === ('delete' as string) ? 'del' : method](pattern, handler);
  }
}

/** The request's tenant ('' for an admin request), or a 401/403 saying why not. */
function authenticate(headers: Record<string, string>, deps: ApiDependencies, needs: 'tenant' | 'admin'): string {
  const header = headers.authorization ?? '';
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (match === null) throw apiErrors.unauthenticated("send the API token as 'Authorization: Bearer <token>'");
  const auth = deps.authenticate(match[1] as string);
  if (!auth.ok) throw new ApiError(401, auth.code, auth.message);
  if (auth.role !== needs) {
    throw apiErrors.forbidden(needs === 'admin' ? 'this route needs an admin token (kindling token create --admin)' : 'an admin token acts as no tenant: use a tenant token here');
  }
  return auth.tenantId;
}

/** Reads a request body up to `bytesMax` (0: none is read). */
function readBody(res: uWS.HttpResponse, bytesMax: number): Promise<Buffer> {
  if (bytesMax === 0) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    res.onData((chunk, isLast) => {
      if (refused) return;
      size += chunk.byteLength;
      if (size > bytesMax) {
        refused = true;
        reject(apiErrors.tooLarge(`the body is over ${bytesMax} bytes`));
        return;
      }
      // The chunk's memory is reused after this callback: copy it.
      chunks.push(Buffer.from(new Uint8Array(chunk).slice()));
      if (isLast) resolve(Buffer.concat(chunks));
    });
  });
}
