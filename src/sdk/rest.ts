/**
 * The SDK's REST client: Hatchet's REST paths at the client's `api_url`, authenticated with the
 * bearer token. Feature clients (`hatchet.crons`, `hatchet.filters`, …) call through it; workers
 * and triggers use the WebSocket.
 *
 * A non-2xx answer rejects with an `EngineError` carrying the API's stable code and description.
 */
import { EngineError } from './connection.js';

export type QueryValue = string | number | boolean | readonly string[] | undefined;

export class RestClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
    /** The token's tenant, for paths under `/tenants/{tenant}`. */
    readonly tenantId: () => Promise<string>,
  ) {}

  /** `path` may hold `{tenant}`, replaced by the token's tenant. `text`: the answer is not JSON (it is returned as it came). */
  async request<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, options: { query?: Record<string, QueryValue>; body?: unknown; text?: boolean } = {}): Promise<T> {
    const resolved = path.includes('{tenant}') ? path.replace('{tenant}', encodeURIComponent(await this.tenantId())) : path;
    const url = new URL(resolved, this.baseUrl);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value === undefined) continue;
      // Hatchet sends arrays as repeated parameters.
      for (const item of Array.isArray(value) ? value : [value]) url.searchParams.append(key, String(item));
    }
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(options.body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      });
    } catch (error) {
      throw new EngineError('ENGINE_UNAVAILABLE', `the engine's REST API at ${this.baseUrl} did not answer: ${(error as Error).message}`);
    }
    const text = await response.text();
    if (options.text === true && response.ok) return text as T;
    const body: unknown = text === '' ? undefined : JSON.parse(text);
    if (!response.ok) {
      const first = (body as { errors?: Array<{ code?: string; description?: string }> } | undefined)?.errors?.[0];
      throw new EngineError(first?.code ?? `HTTP_${response.status}`, first?.description ?? `${method} ${resolved} answered ${response.status}`);
    }
    return body as T;
  }
}
