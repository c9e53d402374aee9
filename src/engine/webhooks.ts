/**
 * Incoming webhooks: each tenant's webhooks by name, how a call to one is verified, and the event
 * it becomes.
 *
 * Owns: the `webhooks:<tenant>` streams (WebhookCreated, WebhookUpdated, WebhookDeleted), folded
 * per tenant on first use; the secrets in them are encrypted (AES-256-GCM, a key derived from the
 * engine's signing key), so the log holds no secret in the clear. Verification (`verifyWebhook`)
 * and the event (`webhookEvent`) are pure functions of the webhook and the request.
 *
 * Invariants:
 *  1. A call is accepted only if its credentials check — compared in constant time, over the raw
 *     body as received — and, for Stripe and Slack, its timestamp is within their tolerance.
 *  2. A refused call makes no event.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { ProtocolError, ProtocolErrorCode } from '../../protocol/errors.js';
import type { EventLog } from '../../store/log.js';
import { celString, checkCel } from '../lib/cel.js';

export const WEBHOOK_SOURCES = ['GENERIC', 'STRIPE', 'GITHUB', 'SLACK'] as const;
export type WebhookSource = (typeof WEBHOOK_SOURCES)[number];
export const WEBHOOK_AUTH_TYPES = ['BASIC', 'API_KEY', 'HMAC'] as const;
export type WebhookAuthType = (typeof WEBHOOK_AUTH_TYPES)[number];

export type WebhookAuth =
  | { readonly type: 'BASIC'; readonly username: string; readonly password: string }
  | { readonly type: 'API_KEY'; readonly headerName: string; readonly apiKey: string }
  | { readonly type: 'HMAC'; readonly signingSecret: string; readonly signatureHeaderName: string; readonly algorithm: 'SHA1' | 'SHA256' | 'SHA512' | 'MD5'; readonly encoding: 'HEX' | 'BASE64' | 'BASE64URL' };

export interface Webhook {
  readonly name: string;
  readonly tenantId: string;
  readonly sourceName: WebhookSource;
  readonly eventKeyExpression: string;
  readonly scopeExpression?: string;
  readonly staticPayload?: Record<string, unknown>;
  readonly auth: WebhookAuth;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
}

/** How long a signed Stripe or Slack timestamp stays acceptable. */
const TOLERANCE_MS: Partial<Record<WebhookSource, number>> = { STRIPE: 10 * 60_000, SLACK: 5 * 60_000 };

export const webhooksStream = (tenantId: string) => `webhooks:${tenantId}`;
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;

type StoredWebhook = Omit<Webhook, 'auth'> & { readonly auth: string };
type WebhookEvent =
  | { readonly type: 'WebhookCreated'; readonly webhook: StoredWebhook }
  | { readonly type: 'WebhookUpdated'; readonly webhook: StoredWebhook }
  | { readonly type: 'WebhookDeleted'; readonly name: string; readonly atMs: number };

export class WebhookRegistry {
  readonly #key: Buffer;
  readonly #tenants = new Map<string, Promise<{ byName: Map<string, Webhook>; version: number }>>();
  #writes: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly log: EventLog,
    private readonly clock: () => number,
    signingKey: Uint8Array,
  ) {
    this.#key = Buffer.from(hkdfSync('sha256', signingKey, Buffer.alloc(0), 'kindling webhook secrets', 32));
  }

  #encrypt(auth: WebhookAuth): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    const sealed = Buffer.concat([cipher.update(JSON.stringify(auth), 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64');
  }

  #decrypt(text: string): WebhookAuth {
    const bytes = Buffer.from(text, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', this.#key, bytes.subarray(0, 12));
    decipher.setAuthTag(bytes.subarray(12, 28));
    return JSON.parse(Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString('utf8')) as WebhookAuth;
  }

  #tenant(tenantId: string): Promise<{ byName: Map<string, Webhook>; version: number }> {
    let loaded = this.#tenants.get(tenantId);
    if (loaded === undefined) {
      loaded = (async () => {
        const byName = new Map<string, Webhook>();
        const records = await this.log.readStream(webhooksStream(tenantId));
        for (const record of records) this.#fold(byName, record.data as WebhookEvent);
        return { byName, version: records.length };
      })();
      this.#tenants.set(tenantId, loaded);
      loaded.catch(() => this.#tenants.delete(tenantId));
    }
    return loaded;
  }

  #fold(byName: Map<string, Webhook>, event: WebhookEvent): void {
    if (event.type === 'WebhookDeleted') byName.delete(event.name);
    else byName.set(event.webhook.name, { ...event.webhook, auth: this.#decrypt(event.webhook.auth) });
  }

  async #append(tenantId: string, event: WebhookEvent): Promise<void> {
    const tenant = await this.#tenant(tenantId);
    await this.log.append(webhooksStream(tenantId), [{ type: event.type, data: event }], { expectedVersion: tenant.version });
    tenant.version += 1;
    this.#fold(tenant.byName, event);
  }

  /** One change at a time, so each append is at the stream's exact version. */
  #serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#writes.then(work);
    this.#writes = run.catch(() => {});
    return run;
  }

  async list(tenantId: string): Promise<Webhook[]> {
    return [...(await this.#tenant(tenantId)).byName.values()];
  }

  async get(tenantId: string, name: string): Promise<Webhook> {
    const webhook = (await this.#tenant(tenantId)).byName.get(name);
    if (webhook === undefined) throw new ProtocolError('WEBHOOK_NOT_FOUND', `webhook '${name}' does not exist`);
    return webhook;
  }

  create(tenantId: string, spec: Omit<Webhook, 'tenantId' | 'createdAtMs' | 'updatedAtMs'>): Promise<Webhook> {
    return this.#serial(async () => {
      if (!NAME_PATTERN.test(spec.name)) throw new ProtocolError(ProtocolErrorCode.InvalidInput, `webhook name '${spec.name}' must be 1-100 letters, digits, '_' or '-'`);
      checkCel(spec.eventKeyExpression, 'eventKeyExpression');
      if (spec.scopeExpression !== undefined) checkCel(spec.scopeExpression, 'scopeExpression');
      if ((await this.#tenant(tenantId)).byName.has(spec.name)) throw new ProtocolError('WEBHOOK_EXISTS', `webhook '${spec.name}' already exists`);
      const atMs = this.clock();
      const webhook: Webhook = { ...spec, tenantId, createdAtMs: atMs, updatedAtMs: atMs };
      await this.#append(tenantId, { type: 'WebhookCreated', webhook: { ...webhook, auth: this.#encrypt(webhook.auth) } });
      return webhook;
    });
  }

  update(tenantId: string, name: string, change: { eventKeyExpression?: string; scopeExpression?: string; staticPayload?: Record<string, unknown> }): Promise<Webhook> {
    return this.#serial(async () => {
      const current = await this.get(tenantId, name);
      if (change.eventKeyExpression !== undefined) checkCel(change.eventKeyExpression, 'eventKeyExpression');
      if (change.scopeExpression !== undefined) checkCel(change.scopeExpression, 'scopeExpression');
      const webhook: Webhook = { ...current, ...change, updatedAtMs: this.clock() };
      await this.#append(tenantId, { type: 'WebhookUpdated', webhook: { ...webhook, auth: this.#encrypt(webhook.auth) } });
      return webhook;
    });
  }

  delete(tenantId: string, name: string): Promise<Webhook> {
    return this.#serial(async () => {
      const current = await this.get(tenantId, name);
      await this.#append(tenantId, { type: 'WebhookDeleted', name, atMs: this.clock() });
      return current;
    });
  }
}

/** Equal in constant time, whatever the lengths (both sides hashed first). */
function same(a: string | Buffer, b: string | Buffer): boolean {
  const digest = (value: string | Buffer) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(a), digest(b));
}

function hmac(algorithm: string, secret: string, data: Buffer | string): Buffer {
  return createHmac(algorithm, secret).update(data).digest();
}

export type Verified = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** Invariant 1: whether a call to `webhook` carries valid credentials (`headers` lower-cased). */
export function verifyWebhook(webhook: Webhook, headers: Readonly<Record<string, string>>, rawBody: Buffer, nowMs: number): Verified {
  const refuse = (reason: string): Verified => ({ ok: false, reason });
  const auth = webhook.auth;
  const withinTolerance = (seconds: number) => Math.abs(nowMs - seconds * 1000) <= (TOLERANCE_MS[webhook.sourceName] ?? Number.POSITIVE_INFINITY);
  switch (webhook.sourceName) {
    case 'STRIPE': {
      if (auth.type !== 'HMAC') return refuse('a Stripe webhook is verified by its signing secret');
      const header = headers['stripe-signature'] ?? '';
      const parts = Object.fromEntries(header.split(',').map((part) => part.split('=', 2) as [string, string]));
      const t = Number(parts.t);
      if (!Number.isFinite(t) || parts.v1 === undefined) return refuse('the Stripe-Signature header is missing or malformed');
      if (!withinTolerance(t)) return refuse('the Stripe-Signature timestamp is outside the 10-minute tolerance');
      const expected = hmac('sha256', auth.signingSecret, `${parts.t}.${rawBody.toString('utf8')}`).toString('hex');
      return same(expected, parts.v1) ? { ok: true } : refuse('the Stripe signature does not match');
    }
    case 'GITHUB': {
      if (auth.type !== 'HMAC') return refuse('a GitHub webhook is verified by its secret');
      const given = headers['x-hub-signature-256'] ?? '';
      if (!given.startsWith('sha256=')) return refuse('the X-Hub-Signature-256 header is missing');
      return same(`sha256=${hmac('sha256', auth.signingSecret, rawBody).toString('hex')}`, given) ? { ok: true } : refuse('the GitHub signature does not match');
    }
    case 'SLACK': {
      if (auth.type !== 'HMAC') return refuse('a Slack webhook is verified by its signing secret');
      const timestamp = headers['x-slack-request-timestamp'] ?? '';
      const given = headers['x-slack-signature'] ?? '';
      if (timestamp === '' || !given.startsWith('v0=')) return refuse('the X-Slack-Signature or X-Slack-Request-Timestamp header is missing');
      if (!withinTolerance(Number(timestamp))) return refuse('the Slack request timestamp is outside the 5-minute tolerance');
      const expected = `v0=${hmac('sha256', auth.signingSecret, `v0:${timestamp}:${rawBody.toString('utf8')}`).toString('hex')}`;
      return same(expected, given) ? { ok: true } : refuse('the Slack signature does not match');
    }
    case 'GENERIC':
      switch (auth.type) {
        case 'BASIC': {
          const header = headers.authorization ?? '';
          if (!/^Basic /i.test(header)) return refuse('basic credentials are missing');
          return same(Buffer.from(header.slice(6).trim(), 'base64').toString('utf8'), `${auth.username}:${auth.password}`) ? { ok: true } : refuse('the basic credentials do not match');
        }
        case 'API_KEY': {
          const given = headers[auth.headerName.toLowerCase()];
          if (given === undefined) return refuse(`the ${auth.headerName} header is missing`);
          return same(given, auth.apiKey) ? { ok: true } : refuse('the API key does not match');
        }
        case 'HMAC': {
          const given = headers[auth.signatureHeaderName.toLowerCase()];
          if (given === undefined) return refuse(`the ${auth.signatureHeaderName} header is missing`);
          const digest = hmac(auth.algorithm.toLowerCase(), auth.signingSecret, rawBody);
          const expected = auth.encoding === 'HEX' ? digest.toString('hex') : auth.encoding === 'BASE64' ? digest.toString('base64') : digest.toString('base64url');
          // A sender may prefix the algorithm (`sha256=…`), as GitHub does.
          const bare = given.includes('=') && /^[a-z0-9]+=/i.test(given) && auth.encoding === 'HEX' ? given.slice(given.indexOf('=') + 1) : given;
          return same(expected, bare) ? { ok: true } : refuse('the HMAC signature does not match');
        }
        default:
          return refuse('unknown authentication');
      }
    default:
      return refuse('unknown source');
  }
}

/** The body as the expressions see it: JSON, or a form (Slack's `payload` field parsed as JSON). */
export function webhookInput(headers: Readonly<Record<string, string>>, rawBody: Buffer): Record<string, unknown> {
  const type = headers['content-type'] ?? '';
  const text = rawBody.toString('utf8');
  if (type.includes('application/x-www-form-urlencoded')) {
    const form: Record<string, unknown> = Object.fromEntries(new URLSearchParams(text));
    if (typeof form.payload === 'string') {
      try {
        return JSON.parse(form.payload) as Record<string, unknown>;
      } catch {
        return form;
      }
    }
    return form;
  }
  if (text.trim() === '') return {};
  const parsed = JSON.parse(text) as unknown;
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : { body: parsed };
}

/** The event a verified call becomes: its key and scope from the expressions, the payload merged. */
export function webhookEvent(webhook: Webhook, headers: Readonly<Record<string, string>>, input: Record<string, unknown>): { key: string; scope?: string; payload: Record<string, unknown> } {
  const context = { input, headers };
  const key = celString(webhook.eventKeyExpression, context);
  if (key === undefined || key === '') throw new ProtocolError(ProtocolErrorCode.InvalidInput, `the event key expression '${webhook.eventKeyExpression}' gives no key for this call`);
  const scope = webhook.scopeExpression === undefined ? undefined : celString(webhook.scopeExpression, context);
  return { key, ...(scope === undefined ? {} : { scope }), payload: { ...input, ...(webhook.staticPayload ?? {}) } };
}
