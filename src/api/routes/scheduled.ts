/**
 * Scheduled runs and crons in Hatchet's REST shapes (`ScheduledWorkflows`, `CronWorkflows`) and
 * paths: `/api/v1/tenants/{tenant}/workflows/{workflow}/scheduled|crons` to create one, and
 * `/api/v1/tenants/{tenant}/workflows/scheduled|crons[/{id}]` for the rest; bulk delete and
 * reschedule of scheduled runs answer per id. Also restoring and branching durable tasks.
 */
import { z } from 'zod';
import type { Cron } from '../../../actors/crons.js';
import type { Schedule } from '../../../actors/schedules.js';
import { decodePayload, encodePayload } from '../../../protocol/payload.js';
import type { Engine } from '../../engine/engine.js';
import { KindlingError } from '../../lib/errors.js';
import { apiErrors, type Route, route } from '../http.js';
import { iso, pagination, queryList } from '../views.js';

const page = { offset: z.coerce.number().int().nonnegative().default(0), limit: z.coerce.number().int().positive().max(1000).default(50) };
const order = { orderByField: z.string().max(50).optional(), orderByDirection: z.enum(['ASC', 'DESC', 'asc', 'desc']).optional() };
const metadata = z.record(z.string(), z.string());
const priority = z.number().int().min(1).max(3).optional();

/** `["key:value", …]` as an object. */
function metadataOf(pairs: readonly string[] | undefined): Record<string, string> | undefined {
  if (pairs === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf(':');
    if (at <= 0) throw apiErrors.badRequest(`additionalMetadata '${pair}' is not 'key:value'`, 'additionalMetadata');
    out[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return out;
}

const hasMetadata = (have: Readonly<Record<string, string>>, want: Record<string, string> | undefined) =>
  want === undefined || Object.entries(want).every(([key, value]) => have[key] === value);

/** The run status names of Hatchet's `ScheduledRunStatus` (SCHEDULED before the run exists). */
const SCHEDULED_STATUS: Record<string, string> = { QUEUED: 'QUEUED', RUNNING: 'RUNNING', COMPLETED: 'SUCCEEDED', FAILED: 'FAILED', CANCELLED: 'CANCELLED' };

async function scheduleView(engine: Engine, tenantId: string, schedule: Schedule) {
  const status = schedule.runId === undefined ? undefined : await engine.triggers.runStatus(tenantId, schedule.runId);
  return {
    metadata: { id: schedule.id, createdAt: iso(schedule.createdAtMs), updatedAt: iso(schedule.updatedAtMs) },
    tenantId,
    workflowVersionId: schedule.workflow,
    workflowId: schedule.workflow,
    workflowName: schedule.workflow,
    triggerAt: iso(schedule.triggerAtMs),
    input: decodePayload(schedule.input),
    additionalMetadata: schedule.additionalMetadata,
    ...(schedule.runId === undefined ? {} : { workflowRunId: schedule.runId, workflowRunName: schedule.workflow, workflowRunCreatedAt: iso(schedule.updatedAtMs) }),
    workflowRunStatus: schedule.status === 'missed' ? 'CANCELLED' : status === undefined ? 'SCHEDULED' : (SCHEDULED_STATUS[status] ?? status),
    method: 'API',
    ...(schedule.priority === undefined ? {} : { priority: schedule.priority }),
  };
}

export function cronView(tenantId: string, cron: Cron) {
  return {
    metadata: { id: cron.id, createdAt: iso(cron.createdAtMs), updatedAt: iso(cron.createdAtMs) },
    tenantId,
    workflowVersionId: cron.workflow,
    workflowId: cron.workflow,
    workflowName: cron.workflow,
    cron: cron.expression,
    ...(cron.name === undefined ? {} : { name: cron.name }),
    input: decodePayload(cron.input),
    additionalMetadata: cron.additionalMetadata,
    enabled: true,
    method: cron.declarative ? 'DEFAULT' : 'API',
    ...(cron.priority === undefined ? {} : { priority: cron.priority }),
  };
}

const triggerAt = z.string().refine((value) => Number.isFinite(Date.parse(value)), 'triggerAt is an ISO 8601 time');

export function scheduledRoutes(engine: Engine): Route[] {
  const t = engine.triggers;
  const errorOf = (error: unknown) => (error instanceof KindlingError ? error.message : 'failed');
  return [
    route({
      method: 'POST',
      path: '/api/v1/tenants/{tenant}/workflows/{workflow}/scheduled',
      summary: 'Schedule a run of the workflow at a time (UTC)',
      body: z.strictObject({ input: z.record(z.string(), z.unknown()).default({}), additionalMetadata: metadata.default({}), triggerAt, priority }),
      handle: async ({ tenantId, params, body }) =>
        scheduleView(
          engine,
          tenantId,
          await t.createSchedule(tenantId, {
            workflow: params.workflow as string,
            triggerAtMs: Date.parse(body.triggerAt),
            input: encodePayload(body.input, 'the input'),
            additionalMetadata: body.additionalMetadata,
            priority: body.priority,
          }),
        ),
    }),
    route({
      method: 'GET',
      path: '/api/v1/tenants/{tenant}/workflows/scheduled',
      summary: "The tenant's scheduled runs, soonest first",
      query: z.strictObject({ ...page, ...order, workflowId: z.string().max(200).optional(), parentWorkflowRunId: z.string().optional(), parentStepRunId: z.string().optional(), additionalMetadata: queryList.optional(), statuses: queryList.optional() }),
      handle: async ({ tenantId, query }) => {
        const want = metadataOf(query.additionalMetadata);
        let rows = await Promise.all(
          t
            .listSchedules(tenantId)
            .filter((s) => (query.workflowId === undefined || s.workflow === query.workflowId) && hasMetadata(s.additionalMetadata, want))
            .map((s) => scheduleView(engine, tenantId, s)),
        );
        if (query.statuses !== undefined) rows = rows.filter((row) => query.statuses?.includes(row.workflowRunStatus));
        if (query.orderByDirection?.toUpperCase() === 'DESC') rows.reverse();
        return { rows: rows.slice(query.offset, query.offset + query.limit), pagination: pagination(query.offset, query.limit, rows.length) };
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/tenants/{tenant}/workflows/scheduled/{scheduled}',
      summary: 'A scheduled run',
      handle: ({ tenantId, params }) => scheduleView(engine, tenantId, t.getSchedule(tenantId, params.scheduled as string)),
    }),
    route({
      method: 'PATCH',
      path: '/api/v1/tenants/{tenant}/workflows/scheduled/{scheduled}',
      summary: 'Reschedule a scheduled run that has not triggered',
      body: z.strictObject({ triggerAt }),
      handle: async ({ tenantId, params, body }) => scheduleView(engine, tenantId, await t.reschedule(tenantId, params.scheduled as string, Date.parse(body.triggerAt))),
    }),
    route({
      method: 'DELETE',
      path: '/api/v1/tenants/{tenant}/workflows/scheduled/{scheduled}',
      summary: 'Delete a scheduled run',
      handle: async ({ tenantId, params }) => {
        await t.deleteSchedule(tenantId, params.scheduled as string);
      },
    }),
    route({
      method: 'POST',
      path: '/api/v1/tenants/{tenant}/workflows/scheduled/bulk-delete',
      summary: 'Delete scheduled runs by id, or every one a filter selects; answers per id',
      body: z.strictObject({
        scheduledWorkflowRunIds: z.array(z.string().max(200)).max(1000).optional(),
        filter: z.strictObject({ workflowId: z.string().optional(), additionalMetadata: queryList.optional(), statuses: queryList.optional() }).optional(),
      }),
      handle: async ({ tenantId, body }) => {
        if (body.scheduledWorkflowRunIds === undefined && body.filter === undefined) throw apiErrors.badRequest('give scheduledWorkflowRunIds or a filter');
        const want = metadataOf(body.filter?.additionalMetadata);
        const ids =
          body.scheduledWorkflowRunIds ??
          t
            .listSchedules(tenantId)
            .filter((s) => (body.filter?.workflowId === undefined || s.workflow === body.filter.workflowId) && hasMetadata(s.additionalMetadata, want))
            .filter((s) => body.filter?.statuses === undefined || body.filter.statuses.includes(s.status === 'scheduled' ? 'SCHEDULED' : 'QUEUED'))
            .map((s) => s.id);
        const deletedIds: string[] = [];
        const errors: Array<{ id: string; error: string }> = [];
        for (const id of ids) {
          await t.deleteSchedule(tenantId, id).then(
            () => deletedIds.push(id),
            (error: unknown) => errors.push({ id, error: errorOf(error) }),
          );
        }
        return { deletedIds, errors };
      },
    }),
    route({
      method: 'POST',
      path: '/api/v1/tenants/{tenant}/workflows/scheduled/bulk-update',
      summary: 'Reschedule scheduled runs; answers per id',
      body: z.strictObject({ updates: z.array(z.strictObject({ id: z.string().max(200), triggerAt })).min(1).max(1000) }),
      handle: async ({ tenantId, body }) => {
        const updatedIds: string[] = [];
        const errors: Array<{ id: string; error: string }> = [];
        for (const { id, triggerAt: at } of body.updates) {
          await t.reschedule(tenantId, id, Date.parse(at)).then(
            () => updatedIds.push(id),
            (error: unknown) => errors.push({ id, error: errorOf(error) }),
          );
        }
        return { updatedIds, errors };
      },
    }),
    route({
      method: 'POST',
      path: '/api/v1/tenants/{tenant}/workflows/{workflow}/crons',
      summary: 'Run the workflow on a cron schedule (5 or 6 fields, UTC)',
      body: z.strictObject({ input: z.record(z.string(), z.unknown()).default({}), additionalMetadata: metadata.default({}), cronName: z.string().min(1).max(200), cronExpression: z.string().max(200), priority }),
      handle: async ({ tenantId, params, body }) =>
        cronView(
          tenantId,
          await t.createCron(tenantId, {
            workflow: params.workflow as string,
            name: body.cronName,
            expression: body.cronExpression,
            input: encodePayload(body.input, 'the input'),
            additionalMetadata: body.additionalMetadata,
            priority: body.priority,
          }),
        ),
    }),
    route({
      method: 'GET',
      path: '/api/v1/tenants/{tenant}/workflows/crons',
      summary: "The tenant's crons",
      query: z.strictObject({ ...page, ...order, workflowId: z.string().max(200).optional(), workflowName: z.string().max(200).optional(), cronName: z.string().max(200).optional(), additionalMetadata: queryList.optional() }),
      handle: ({ tenantId, query }) => {
        const want = metadataOf(query.additionalMetadata);
        const workflow = query.workflowId ?? query.workflowName;
        const rows = t
          .listCrons(tenantId)
          .filter((c) => (workflow === undefined || c.workflow === workflow) && (query.cronName === undefined || c.name === query.cronName) && hasMetadata(c.additionalMetadata, want))
          .map((c) => cronView(tenantId, c));
        return { rows: rows.slice(query.offset, query.offset + query.limit), pagination: pagination(query.offset, query.limit, rows.length) };
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/tenants/{tenant}/workflows/crons/{cron}',
      summary: 'A cron',
      handle: ({ tenantId, params }) => cronView(tenantId, t.getCron(tenantId, params.cron as string)),
    }),
    route({
      method: 'DELETE',
      path: '/api/v1/tenants/{tenant}/workflows/crons/{cron}',
      summary: 'Delete a cron; runs it already started go on',
      handle: async ({ tenantId, params }) => {
        await t.deleteCron(tenantId, params.cron as string);
      },
    }),
    route({
      method: 'POST',
      path: '/api/v1/stable/tasks/{task}/restore',
      summary: 'Run a durable task again from its first checkpoint not done, replaying the ones before',
      handle: async ({ tenantId, params }) => {
        await engine.branchDurableTask(tenantId, params.task as string);
        return { taskExternalId: params.task };
      },
    }),
    route({
      method: 'POST',
      path: '/api/v1/stable/tenants/{tenant}/durable-tasks/branch',
      summary: 'Run a durable task again from checkpoint nodeId: earlier checkpoints are replayed, later ones done again',
      body: z.strictObject({ taskExternalId: z.string().min(1).max(200), nodeId: z.number().int().positive(), branchId: z.number().int().nonnegative().optional() }),
      handle: async ({ tenantId, body }) => {
        await engine.branchDurableTask(tenantId, body.taskExternalId, body.nodeId);
        return { taskExternalId: body.taskExternalId, nodeId: body.nodeId };
      },
    }),
  ];
}
