/**
 * Incoming webhooks at Hatchet's paths: CRUD by name under `/api/v1/stable/tenants/{tenant}/webhooks`
 * (with a tenant token), and the endpoint senders call, `POST …/webhooks/{webhook}`, which checks
 * the webhook's own credentials instead of a token (engine/webhooks.ts), answers Slack's URL
 * verification, and turns each verified call into an event. A refused call is a 401 and makes no event.
 */
import { z } from 'zod';
import type { Engine } from '../../engine/engine.js';
import { type Webhook, type WebhookAuth, WEBHOOK_AUTH_TYPES, WEBHOOK_SOURCES, verifyWebhook, webhookEvent, webhookInput } from '../../engine/webhooks.js';
import { CEL_EXPRESSION_CHARS_MAX } from '../../lib/cel.js';
import { engineLimits } from '../../lib/limits.js';
import { ApiError, apiErrors, type Route, route } from '../http.js';
import { iso, pagination } from '../views.js';


export function webhookView(webhook: Webhook) {
  return {
    metadata: { id: webhook.name, createdAt: iso(webhook.createdAtMs), updatedAt: iso(webhook.updatedAtMs) },
    tenantId: webhook.tenantId,
    name: webhook.name,
    sourceName: webhook.sourceName,
    eventKeyExpression: webhook.eventKeyExpression,
    ...(webhook.scopeExpression === undefined ? {} : { scopeExpression: webhook.scopeExpression }),
    ...(webhook.staticPayload === undefined ? {} : { staticPayload: webhook.staticPayload }),
    authType: webhook.auth.type,
  };
}

const secret = z.string().min(1).max(1000);
const expression = z.string().min(1).max(CEL_EXPRESSION_CHARS_MAX);
const repeated = <T extends z.ZodType>(item: T) => z.preprocess((value) => (Array.isArray(value) ? value : [value]), z.array(item).max(engineLimits.frameItemsMax));

const createBody = z.strictObject({
  sourceName: z.enum(WEBHOOK_SOURCES),
  name: z.string().min(1).max(100),
  eventKeyExpression: expression,
  scopeExpression: expression.optional(),
  staticPayload: z.record(z.string(), z.unknown()).optional(),
  authType: z.enum(WEBHOOK_AUTH_TYPES),
  auth: z.strictObject({
    username: secret.optional(),
    password: secret.optional(),
    headerName: z.string().min(1).max(200).optional(),
    apiKey: secret.optional(),
    signingSecret: secret.optional(),
    signatureHeaderName: z.string().min(1).max(200).optional(),
    algorithm: z.enum(['SHA1', 'SHA256', 'SHA512', 'MD5']).optional(),
    encoding: z.enum(['HEX', 'BASE64', 'BASE64URL']).optional(),
  }),
});

/** The auth a create request describes, with the presets' defaults; a 400 naming what is missing. */
function authOf(body: z.infer<typeof createBody>): WebhookAuth {
  const { auth } = body;
  const need = (field: keyof typeof auth): string => {
    const value = auth[field];
    if (value === undefined) throw apiErrors.badRequest(`auth.${field} is required for ${body.authType} authentication`, `auth.${field}`);
    return value;
  };
  if (body.sourceName !== 'GENERIC' && body.authType !== 'HMAC') throw apiErrors.badRequest(`a ${body.sourceName} webhook is verified by HMAC with its signing secret`, 'authType');
  switch (body.authType) {
    case 'BASIC':
      return { type: 'BASIC', username: need('username'), password: need('password') };
    case 'API_KEY':
      return { type: 'API_KEY', headerName: need('headerName'), apiKey: need('apiKey') };
    default:
      return {
        type: 'HMAC',
        signingSecret: need('signingSecret'),
        signatureHeaderName: auth.signatureHeaderName ?? (body.sourceName === 'GENERIC' ? need('signatureHeaderName') : body.sourceName.toLowerCase()),
        algorithm: auth.algorithm ?? 'SHA256',
        encoding: auth.encoding ?? 'HEX',
      };
  }
}

export function webhookRoutes(engine: Engine): Route[] {
  const base = '/api/v1/stable/tenants/{tenant}/webhooks';
  return [
    route({
      method: 'GET',
      path: base,
      summary: "The tenant's webhooks, by name",
      query: z.strictObject({
        limit: z.coerce.number().int().positive().max(engineLimits.listPageMax).default(50),
        offset: z.coerce.number().int().min(0).max(10_000_000).default(0),
        sourceNames: repeated(z.enum(WEBHOOK_SOURCES)).optional(),
        webhookNames: repeated(z.string().min(1).max(100)).optional(),
      }),
      handle: async ({ tenantId, query }) => {
        const all = (await engine.webhooks.list(tenantId))
          .filter((w) => (query.sourceNames === undefined || query.sourceNames.includes(w.sourceName)) && (query.webhookNames === undefined || query.webhookNames.includes(w.name)))
          .sort((a, b) => a.name.localeCompare(b.name));
        return { rows: all.slice(query.offset, query.offset + query.limit).map(webhookView), pagination: pagination(query.offset, query.limit, all.length) };
      },
    }),
    route({
      method: 'POST',
      path: base,
      summary: 'Create a webhook; its secrets are stored encrypted and never shown again',
      status: 201,
      body: createBody,
      handle: async ({ tenantId, body }) =>
        webhookView(
          await engine.webhooks.create(tenantId, {
            name: body.name,
            sourceName: body.sourceName,
            eventKeyExpression: body.eventKeyExpression,
            ...(body.scopeExpression === undefined ? {} : { scopeExpression: body.scopeExpression }),
            ...(body.staticPayload === undefined ? {} : { staticPayload: body.staticPayload }),
            auth: authOf(body),
          }),
        ),
    }),
    route({
      method: 'GET',
      path: `${base}/{webhook}`,
      summary: 'A webhook by name',
      handle: async ({ tenantId, params }) => webhookView(await engine.webhooks.get(tenantId, params.webhook as string)),
    }),
    route({
      method: 'PATCH',
      path: `${base}/{webhook}`,
      summary: "Change a webhook's event key or scope expression, or its static payload",
      body: z.strictObject({ eventKeyExpression: expression.optional(), scopeExpression: expression.optional(), staticPayload: z.record(z.string(), z.unknown()).optional() }),
      handle: async ({ tenantId, params, body }) =>
        webhookView(
          await engine.webhooks.update(tenantId, params.webhook as string, {
            ...(body.eventKeyExpression === undefined ? {} : { eventKeyExpression: body.eventKeyExpression }),
            ...(body.scopeExpression === undefined ? {} : { scopeExpression: body.scopeExpression }),
            ...(body.staticPayload === undefined ? {} : { staticPayload: body.staticPayload }),
          }),
        ),
    }),
    route({
      method: 'DELETE',
      path: `${base}/{webhook}`,
      summary: 'Delete a webhook by name',
      handle: async ({ tenantId, params }) => webhookView(await engine.webhooks.delete(tenantId, params.webhook as string)),
    }),
    route({
      method: 'POST',
      path: `${base}/{webhook}`,
      summary: "The endpoint a sender calls: verified by the webhook's own credentials, each accepted call becomes an event",
      auth: 'none',
      handle: async ({ params, headers, rawBody }) => {
        const tenantId = params.tenant as string;
        const webhook = await engine.webhooks.get(tenantId, params.webhook as string).catch(() => {
          throw apiErrors.notFound('WEBHOOK_NOT_FOUND', `webhook '${params.webhook}' does not exist`);
        });
        const verified = verifyWebhook(webhook, headers, rawBody, Date.now());
        if (!verified.ok) throw new ApiError(401, 'WEBHOOK_UNAUTHORIZED', verified.reason);
        let input: Record<string, unknown>;
        try {
          input = webhookInput(headers, rawBody);
        } catch (error) {
          throw apiErrors.badRequest(`the body is neither JSON nor a form: ${(error as Error).message}`);
        }
        // Slack's URL verification is answered, and is no event.
        if (webhook.sourceName === 'SLACK' && input.type === 'url_verification') return { challenge: input.challenge };
        const event = webhookEvent(webhook, headers, input);
        const pushed = await engine.pushWebhookEvent(tenantId, webhook.name, event);
        return { key: event.key, ...(event.scope === undefined ? {} : { scope: event.scope }), ...pushed };
      },
    }),
  ];
}
