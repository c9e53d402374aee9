/**
 * Events and event filters in Hatchet's REST shapes: `GET …/events` (the newest events, with the
 * runs each one started) and the filters' CRUD under `/api/v1/stable/tenants/{tenant}/filters`.
 * Pushing events goes over the WebSocket (`pushEvents`), the hot path.
 */
import { z } from 'zod';
import type { Filter } from '../../../actors/filters.js';
import { decodePayload } from '../../../protocol/payload.js';
import type { Engine } from '../../engine/engine.js';
import type { StoredEvent } from '../../engine/triggers.js';
import { engineLimits } from '../../lib/limits.js';
import { type Route, route } from '../http.js';
import { iso, queryList, pagination } from '../views.js';

const page = { offset: z.coerce.number().int().nonnegative().default(0), limit: z.coerce.number().int().positive().max(engineLimits.eventsListedMax).default(50) };

export function filterView(tenantId: string, filter: Filter) {
  return {
    metadata: { id: filter.id, createdAt: iso(filter.createdAtMs), updatedAt: iso(filter.updatedAtMs) },
    tenantId,
    workflowId: filter.workflow,
    scope: filter.scope,
    expression: filter.expression,
    payload: filter.payload,
    isDeclarative: filter.declarative,
  };
}

async function eventView(engine: Engine, tenantId: string, event: StoredEvent) {
  const summary = { running: 0, queued: 0, succeeded: 0, failed: 0, cancelled: 0 };
  for (const run of event.runs) {
    const status = await engine.triggers.runStatus(tenantId, run.runId);
    if (status === 'RUNNING') summary.running += 1;
    else if (status === 'QUEUED') summary.queued += 1;
    else if (status === 'COMPLETED') summary.succeeded += 1;
    else if (status === 'FAILED') summary.failed += 1;
    else if (status === 'CANCELLED') summary.cancelled += 1;
  }
  return {
    metadata: { id: event.eventId, createdAt: iso(event.atMs), updatedAt: iso(event.atMs) },
    key: event.key,
    tenantId,
    payload: decodePayload(event.payload),
    additionalMetadata: event.additionalMetadata,
    ...(event.scope === undefined ? {} : { scope: event.scope }),
    seenAt: iso(event.atMs),
    workflowRunSummary: summary,
    triggeredRuns: event.runs.map((run) => ({ workflowRunId: run.runId, workflowName: run.workflow, ...(run.filterId === undefined ? {} : { filterId: run.filterId }) })),
  };
}

const filterBody = z.strictObject({
  workflowId: z.string().min(1).max(200),
  expression: z.string().max(4096),
  scope: z.string().min(1).max(200),
  payload: z.record(z.string(), z.unknown()).default({}),
});

export function eventRoutes(engine: Engine): Route[] {
  return [
    route({
      method: 'GET',
      path: '/api/v1/stable/tenants/{tenant}/events',
      summary: 'The newest events, newest first, each with the runs it started',
      query: z.strictObject({ ...page, keys: queryList.optional(), eventIds: queryList.optional() }),
      handle: async ({ tenantId, query }) => {
        const { rows, total } = await engine.triggers.listEvents(tenantId, query);
        return {
          rows: await Promise.all(rows.map((event) => eventView(engine, tenantId, event))),
          pagination: pagination(query.offset, query.limit, total),
        };
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/stable/tenants/{tenant}/filters',
      summary: "The tenant's event filters",
      query: z.strictObject({ ...page, workflowIds: queryList.optional(), scopes: queryList.optional() }),
      handle: ({ tenantId, query }) => {
        const filters = engine.triggers
          .listFilters(tenantId)
          .filter((filter) => query.workflowIds === undefined || query.workflowIds.includes(filter.workflow))
          .filter((filter) => query.scopes === undefined || query.scopes.includes(filter.scope));
        return {
          rows: filters.slice(query.offset, query.offset + query.limit).map((filter) => filterView(tenantId, filter)),
          pagination: pagination(query.offset, query.limit, filters.length),
        };
      },
    }),
    route({
      method: 'POST',
      path: '/api/v1/stable/tenants/{tenant}/filters',
      summary: 'Create an event filter: runs of the workflow start for events of the scope whose CEL expression holds',
      body: filterBody,
      handle: async ({ tenantId, body }) =>
        filterView(tenantId, await engine.triggers.createFilter(tenantId, { workflow: body.workflowId, expression: body.expression, scope: body.scope, payload: body.payload })),
    }),
    route({
      method: 'GET',
      path: '/api/v1/stable/tenants/{tenant}/filters/{filter}',
      summary: 'An event filter',
      handle: ({ tenantId, params }) => filterView(tenantId, engine.triggers.getFilter(tenantId, params.filter as string)),
    }),
    route({
      method: 'PATCH',
      path: '/api/v1/stable/tenants/{tenant}/filters/{filter}',
      summary: "Change an event filter's expression, scope or payload",
      body: z.strictObject({ expression: z.string().max(4096).optional(), scope: z.string().min(1).max(200).optional(), payload: z.record(z.string(), z.unknown()).optional() }),
      handle: async ({ tenantId, params, body }) => {
        const patch = {
          ...(body.expression === undefined ? {} : { expression: body.expression }),
          ...(body.scope === undefined ? {} : { scope: body.scope }),
          ...(body.payload === undefined ? {} : { payload: body.payload }),
        };
        return filterView(tenantId, await engine.triggers.updateFilter(tenantId, params.filter as string, patch));
      },
    }),
    route({
      method: 'DELETE',
      path: '/api/v1/stable/tenants/{tenant}/filters/{filter}',
      summary: 'Delete an event filter; answers with the filter',
      handle: async ({ tenantId, params }) => filterView(tenantId, await engine.triggers.deleteFilter(tenantId, params.filter as string)),
    }),
  ];
}
