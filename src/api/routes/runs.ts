/**
 * Runs and their tasks, in Hatchet's REST shapes: a run's details (`V1WorkflowRunDetails`), its
 * status, lists with Hatchet's filters and pagination (`V1TaskSummaryList`, from the read models),
 * cancelling and replaying by id or by filter, a task's log lines — and the audit trail: a run's
 * every event with its log position, and its state as of any position.
 */
import { z } from 'zod';
import type { LogLine, RunDetails, RunStatus } from '../../../protocol/frames.js';
import { decodePayload } from '../../../protocol/payload.js';
import type { Engine } from '../../engine/engine.js';
import type { RunQuery } from '../../engine/read-models.js';
import type { RunSummary, TaskSummary } from '../../engine/run-summary.js';
import { engineLimits } from '../../lib/limits.js';
import { apiErrors, type Route, route } from '../http.js';
import { iso, pagination } from '../views.js';

const ids = z.array(z.string().min(1).max(200)).max(engineLimits.frameItemsMax);

const STATUSES = ['QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED'] as const;
/** A query parameter that may repeat (Hatchet sends arrays as repeated parameters). */
const repeated = <T extends z.ZodType>(item: T) => z.preprocess((value) => (Array.isArray(value) ? value : [value]), z.array(item).max(engineLimits.frameItemsMax));
const dateTime = z.string().max(40).refine((text) => !Number.isNaN(Date.parse(text)), 'a date-time such as 2030-01-01T00:00:00Z').transform((text) => Date.parse(text));
const flag = z.enum(['true', 'false']).transform((text) => text === 'true');
const uuidLike = z.string().min(1).max(200);
/** `key:value`, as Hatchet sends additional-metadata filters. */
const metadataPair = z
  .string()
  .max(1000)
  .refine((text) => text.includes(':'), "a metadata filter is 'key:value'")
  .transform((text) => {
    const at = text.indexOf(':');
    return [text.slice(0, at), text.slice(at + 1)] as const;
  });

/** Hatchet's `V1TaskFilter`: the runs a bulk cancel or replay acts on. */
const taskFilter = z.strictObject({
  since: dateTime,
  until: dateTime.optional(),
  statuses: z.array(z.enum(STATUSES)).max(STATUSES.length).optional(),
  workflowIds: z.array(z.string().min(1).max(200)).max(engineLimits.frameItemsMax).optional(),
  additionalMetadata: z.array(metadataPair).max(100).optional(),
});
const bulkBody = z.strictObject({ externalIds: ids.optional(), filter: taskFilter.optional() });

function filterQuery(tenantId: string, filter: z.infer<typeof taskFilter>): Omit<RunQuery, 'offset' | 'limit'> {
  return {
    tenantId,
    sinceMs: filter.since,
    ...(filter.until === undefined ? {} : { untilMs: filter.until }),
    ...(filter.statuses === undefined ? {} : { statuses: filter.statuses }),
    ...(filter.workflowIds === undefined ? {} : { workflows: filter.workflowIds }),
    ...(filter.additionalMetadata === undefined ? {} : { metadata: filter.additionalMetadata }),
  };
}

/** A run, or one of its tasks, as Hatchet's `V1TaskSummary`. */
function taskSummaryView(run: RunSummary, task: TaskSummary | undefined, payloads?: { input: unknown; output: unknown }) {
  const first = run.tasks[0];
  const status = task?.status ?? run.status;
  const started = task === undefined ? run.startedAtMs : task.startedAtMs;
  const finished = task === undefined ? run.finishedAtMs : task.finishedAtMs;
  const error = task === undefined ? run.tasks.find((t) => t.status === 'FAILED')?.error : task.error;
  return {
    metadata: { id: task?.taskId ?? run.runId, createdAt: iso(run.createdAtMs), updatedAt: iso(run.updatedAtMs) },
    taskExternalId: task?.taskId ?? first?.taskId ?? run.runId,
    workflowRunExternalId: run.runId,
    displayName: task === undefined ? run.workflow : task.name,
    workflowName: run.workflow,
    workflowId: run.workflow,
    tenantId: run.tenantId,
    type: run.tasks.length > 1 && task === undefined ? 'DAG' : 'TASK',
    status,
    createdAt: iso(run.createdAtMs),
    ...(started === undefined ? {} : { startedAt: iso(started) }),
    ...(finished === undefined ? {} : { finishedAt: iso(finished) }),
    ...(started !== undefined && finished !== undefined ? { duration: finished - started } : {}),
    ...(error === undefined || (status !== 'FAILED' && status !== 'CANCELLED') ? {} : { errorMessage: error }),
    retryCount: task?.attempt ?? first?.attempt ?? 0,
    attempt: (task?.attempt ?? first?.attempt ?? 0) + 1,
    additionalMetadata: run.additionalMetadata,
    ...(run.parentTaskId === undefined ? {} : { parentTaskExternalId: run.parentTaskId }),
    ...(task?.workerId === undefined ? {} : { workerId: task.workerId }),
    numSpawnedChildren: 0,
    input: payloads?.input ?? {},
    output: payloads?.output ?? {},
  };
}

/** Payloads (Uint8Array JSON) decoded, for the JSON of the audit trail. */
function withPayloadsDecoded(value: unknown): unknown {
  if (value instanceof Uint8Array) return decodePayload(value);
  if (Array.isArray(value)) return value.map(withPayloadsDecoded);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, withPayloadsDecoded(item)]));
  return value;
}

/** A run's details as Hatchet's `V1WorkflowRunDetails`. */
export function runDetailsView(details: RunDetails) {
  const events = details.taskEvents;
  const firstAt = (taskId: string, type: string) => events.find((e) => e.taskId === taskId && e.eventType === type)?.timestampMs;
  const lastAt = (taskId: string, types: readonly string[]) => events.filter((e) => e.taskId === taskId && types.includes(e.eventType)).at(-1)?.timestampMs;
  const ended = ['FINISHED', 'FAILED', 'CANCELLED'];
  const output = details.finished?.output === undefined ? undefined : Object.fromEntries(Object.entries(details.finished.output).map(([task, payload]) => [task, decodePayload(payload)]));
  const startedAt = Math.min(...details.tasks.map((task) => firstAt(task.taskId, 'STARTED') ?? Number.POSITIVE_INFINITY));
  const finishedAt = details.finished === undefined ? undefined : Math.max(...details.tasks.map((task) => lastAt(task.taskId, ended) ?? 0));
  return {
    run: {
      metadata: { id: details.runId, createdAt: iso(details.createdAtMs), updatedAt: iso(events.at(-1)?.timestampMs ?? details.createdAtMs) },
      status: details.status,
      displayName: details.workflow,
      workflowId: details.workflow,
      additionalMetadata: details.additionalMetadata,
      input: decodePayload(details.input),
      output: output ?? {},
      createdAt: iso(details.createdAtMs),
      ...(Number.isFinite(startedAt) ? { startedAt: iso(startedAt) } : {}),
      ...(finishedAt === undefined || finishedAt === 0 ? {} : { finishedAt: iso(finishedAt) }),
      ...(details.finished?.errors === undefined ? {} : { errorMessage: details.finished.errors.join('\n') }),
    },
    tasks: details.tasks.map((task) => ({
      metadata: { id: task.taskId, createdAt: iso(details.createdAtMs), updatedAt: iso(lastAt(task.taskId, events.map((e) => e.eventType)) ?? details.createdAtMs) },
      taskExternalId: task.taskId,
      workflowRunExternalId: details.runId,
      displayName: task.name,
      workflowName: details.workflow,
      status: task.status,
      retryCount: task.attempt,
      attempt: task.attempt + 1,
      output: task.output === undefined ? {} : decodePayload(task.output),
      ...(task.error === undefined ? {} : { errorMessage: task.error }),
      ...(task.workerId === undefined ? {} : { workerId: task.workerId }),
      additionalMetadata: details.additionalMetadata,
      createdAt: iso(details.createdAtMs),
      ...(firstAt(task.taskId, 'STARTED') === undefined ? {} : { startedAt: iso(firstAt(task.taskId, 'STARTED')) }),
      ...(lastAt(task.taskId, ended) === undefined ? {} : { finishedAt: iso(lastAt(task.taskId, ended)) }),
      isEvicted: false,
      numSpawnedChildren: 0,
    })),
    taskEvents: events.map((event, index) => ({
      id: index + 1,
      taskId: event.taskId,
      taskDisplayName: event.taskName,
      eventType: event.eventType,
      timestamp: iso(event.timestampMs),
      retryCount: event.attempt,
      message: event.message ?? '',
    })),
    shape: details.tasks.map((task) => ({ taskExternalId: task.taskId, taskName: task.name, stepId: task.name })),
  };
}

function logLineView(line: LogLine) {
  return { createdAt: iso(line.timestampMs), message: line.message, level: line.level, attempt: line.attempt + 1, retryCount: line.attempt, taskExternalId: line.taskId, metadata: {} };
}

export function runRoutes(engine: Engine): Route[] {
  /** Rows of a page, with their inputs and outputs read from the log when asked for. */
  const withPayloads = async (tenantId: string, rows: Array<{ run: RunSummary; task?: TaskSummary }>, include: boolean) =>
    Promise.all(
      rows.map(async ({ run, task }) => {
        if (!include) return taskSummaryView(run, task);
        const details = await engine.getRun(tenantId, run.runId).catch(() => undefined);
        const input = details === undefined ? {} : decodePayload(details.input);
        const taskOutput = (name: string) => details?.tasks.find((t) => t.name === name)?.output;
        const output =
          task !== undefined
            ? (() => {
                const bytes = taskOutput(task.name);
                return bytes === undefined ? {} : decodePayload(bytes);
              })()
            : Object.fromEntries((details?.tasks ?? []).filter((t) => t.output !== undefined).map((t) => [t.name, decodePayload(t.output as Uint8Array)]));
        return taskSummaryView(run, task, { input, output });
      }),
    );
  return [
    route({
      method: 'GET',
      path: '/api/v1/stable/tenants/{tenant}/workflow-runs',
      summary: "The tenant's runs (or, with only_tasks, their tasks), newest first, filtered and paginated",
      query: z.strictObject({
        offset: z.coerce.number().int().min(0).max(10_000_000).default(0),
        limit: z.coerce.number().int().positive().max(engineLimits.listPageMax).default(50),
        statuses: repeated(z.enum(STATUSES)).optional(),
        since: dateTime,
        until: dateTime.optional(),
        additional_metadata: repeated(metadataPair).optional(),
        workflow_ids: repeated(z.string().min(1).max(200)).optional(),
        worker_id: uuidLike.optional(),
        only_tasks: flag.default(false),
        parent_task_external_id: uuidLike.optional(),
        triggering_event_external_id: uuidLike.optional(),
        include_payloads: flag.default(true),
      }),
      handle: async ({ tenantId, query }) => {
        await engine.readModels.fresh();
        const base: RunQuery = {
          tenantId,
          sinceMs: query.since,
          ...(query.until === undefined ? {} : { untilMs: query.until }),
          ...(query.statuses === undefined || query.only_tasks ? {} : { statuses: query.statuses as RunStatus[] }),
          ...(query.workflow_ids === undefined ? {} : { workflows: query.workflow_ids }),
          ...(query.worker_id === undefined ? {} : { workerId: query.worker_id }),
          ...(query.additional_metadata === undefined ? {} : { metadata: query.additional_metadata }),
          ...(query.parent_task_external_id === undefined ? {} : { parentTaskId: query.parent_task_external_id }),
          ...(query.triggering_event_external_id === undefined ? {} : { triggeringEventId: query.triggering_event_external_id }),
          offset: query.offset,
          limit: query.limit,
        };
        let rows: Array<{ run: RunSummary; task?: TaskSummary }>;
        let total: number;
        if (query.only_tasks) {
          // Tasks of the newest `bulkRunsMax` matching runs, filtered by their own status.
          const runs = engine.readModels.listRuns({ ...base, offset: 0, limit: engineLimits.bulkRunsMax }).rows;
          const tasks = runs.flatMap((run) => run.tasks.filter((task) => query.statuses === undefined || (query.statuses as string[]).includes(task.status)).map((task) => ({ run, task })));
          total = tasks.length;
          rows = tasks.slice(query.offset, query.offset + query.limit);
        } else {
          const page = engine.readModels.listRuns(base);
          total = page.total;
          rows = page.rows.map((run) => ({ run }));
        }
        return {
          rows: await withPayloads(tenantId, rows, query.include_payloads),
          pagination: pagination(query.offset, query.limit, total),
        };
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/stable/workflow-runs/{run}/history',
      summary: "Every event of a run, in order, with its log position, time, type and data (the audit trail)",
      handle: async ({ tenantId, params }) => {
        const records = await engine.runHistory(tenantId, params.run as string);
        return {
          runId: params.run,
          events: records.map((record) => ({ position: record.position, seq: record.seq, time: iso(record.timestampMs), type: record.type, data: withPayloadsDecoded(record.data) })),
        };
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/stable/workflow-runs/{run}/state',
      summary: 'A run as it stood at a log position: its events up to there, folded',
      query: z.strictObject({ position: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER) }),
      handle: async ({ tenantId, params, query }) => runDetailsView(await engine.getRun(tenantId, params.run as string, { asOfPosition: query.position })),
    }),
    route({
      method: 'GET',
      path: '/api/v1/stable/workflow-runs/{run}',
      summary: "A run's details: the run, its tasks, their events and the workflow's shape",
      handle: async ({ tenantId, params }) => runDetailsView(await engine.getRun(tenantId, params.run as string)),
    }),
    route({
      method: 'GET',
      path: '/api/v1/stable/workflow-runs/{run}/status',
      summary: "A run's status: QUEUED, RUNNING, COMPLETED, FAILED or CANCELLED",
      handle: async ({ tenantId, params }) => (await engine.getRun(tenantId, params.run as string)).status,
    }),
    route({
      method: 'POST',
      path: '/api/v1/stable/tenants/{tenant}/tasks/cancel',
      summary: 'Cancel runs (by run id), single tasks (by task id), or every active run a filter matches',
      body: bulkBody,
      handle: async ({ tenantId, body }) => {
        if (body.externalIds === undefined && body.filter === undefined) throw apiErrors.badRequest('give externalIds, a filter, or both');
        const byId = body.externalIds ?? [];
        let byFilter: string[] = [];
        if (body.filter !== undefined) {
          await engine.readModels.fresh();
          const active = body.filter.statuses?.filter((status) => status === 'QUEUED' || status === 'RUNNING') ?? ['QUEUED', 'RUNNING'];
          byFilter = active.length === 0 ? [] : engine.readModels.allRunIds({ ...filterQuery(tenantId, body.filter), statuses: active as RunStatus[] }, engineLimits.bulkRunsMax);
        }
        for (let i = 0; i < byFilter.length; i += engineLimits.frameItemsMax) await engine.cancel(tenantId, byFilter.slice(i, i + engineLimits.frameItemsMax), []);
        await engine.cancel(tenantId, byId, byId);
        return { ids: [...byId, ...byFilter] };
      },
    }),
    route({
      method: 'POST',
      path: '/api/v1/stable/tenants/{tenant}/tasks/replay',
      summary: 'Run finished runs again from the tasks that did not complete: by run id, or every finished run a filter matches',
      body: bulkBody,
      handle: async ({ tenantId, body }) => {
        if (body.externalIds === undefined && body.filter === undefined) throw apiErrors.badRequest('give externalIds, a filter, or both');
        const byId = body.externalIds ?? [];
        let byFilter: string[] = [];
        if (body.filter !== undefined) {
          await engine.readModels.fresh();
          const ended = body.filter.statuses?.filter((status) => status !== 'QUEUED' && status !== 'RUNNING') ?? ['COMPLETED', 'FAILED', 'CANCELLED'];
          byFilter = ended.length === 0 ? [] : engine.readModels.allRunIds({ ...filterQuery(tenantId, body.filter), statuses: ended as RunStatus[] }, engineLimits.bulkRunsMax);
        }
        for (let i = 0; i < byFilter.length; i += engineLimits.frameItemsMax) await engine.replay(tenantId, byFilter.slice(i, i + engineLimits.frameItemsMax));
        if (byId.length > 0) await engine.replay(tenantId, byId);
        return { ids: [...byId, ...byFilter] };
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/stable/tasks/{task}/logs',
      summary: "A task's log lines: by default the newest `limit`, oldest of them first; filtered by time, text, level and attempt",
      query: z.strictObject({
        limit: z.coerce.number().int().positive().max(engineLimits.logLinesPerRequestMax).default(engineLimits.logLinesPerRequestMax),
        since: dateTime.optional(),
        until: dateTime.optional(),
        search: z.string().max(1000).optional(),
        levels: repeated(z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR'])).optional(),
        order_by_direction: z.enum(['ASC', 'DESC']).optional(),
        attempt: z.coerce.number().int().positive().max(engineLimits.retriesMax + 1).optional(),
      }),
      handle: async ({ tenantId, params, query }) => {
        // A task keeps at most `logLinesPerTaskMax` lines: all of them, then the filters.
        const search = query.search?.toLowerCase();
        const lines = (await engine.listLogs(tenantId, params.task as string, engineLimits.logLinesPerTaskMax)).filter(
          (line) =>
            (query.since === undefined || line.timestampMs >= query.since) &&
            (query.until === undefined || line.timestampMs <= query.until) &&
            (search === undefined || line.message.toLowerCase().includes(search)) &&
            (query.levels === undefined || query.levels.includes(line.level)) &&
            (query.attempt === undefined || line.attempt + 1 === query.attempt),
        );
        const chosen = query.order_by_direction === 'ASC' ? lines.slice(0, query.limit) : query.order_by_direction === 'DESC' ? lines.slice(-query.limit).reverse() : lines.slice(-query.limit);
        return { rows: chosen.map(logLineView), pagination: { current_page: 1, num_pages: 1 } };
      },
    }),
  ];
}
