/**
 * Runs and their tasks, in Hatchet's REST shapes: a run's details (`V1WorkflowRunDetails`), its
 * status, cancelling and replaying by id, and a task's log lines.
 */
import { z } from 'zod';
import type { LogLine, RunDetails } from '../../../protocol/frames.js';
import { decodePayload } from '../../../protocol/payload.js';
import type { Engine } from '../../engine/engine.js';
import { engineLimits } from '../../lib/limits.js';
import { type Route, route } from '../http.js';

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
const ids = z.array(z.string().min(1).max(200)).max(engineLimits.frameItemsMax);

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
  return { createdAt: iso(line.timestampMs), message: line.message, level: line.level, attempt: line.attempt + 1, metadata: {} };
}

export function runRoutes(engine: Engine): Route[] {
  return [
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
      summary: 'Cancel runs (by run id) or single tasks (by task id)',
      body: z.strictObject({ externalIds: ids.default([]) }),
      handle: async ({ tenantId, body }) => {
        await engine.cancel(tenantId, body.externalIds, body.externalIds);
        return { ids: body.externalIds };
      },
    }),
    route({
      method: 'POST',
      path: '/api/v1/stable/tenants/{tenant}/tasks/replay',
      summary: 'Run finished runs again from the tasks that did not complete',
      body: z.strictObject({ externalIds: ids.default([]) }),
      handle: async ({ tenantId, body }) => {
        await engine.replay(tenantId, body.externalIds);
        return { ids: body.externalIds };
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/stable/tasks/{task}/logs',
      summary: 'The newest lines a task logged, oldest of them first',
      query: z.strictObject({ limit: z.coerce.number().int().positive().max(engineLimits.logLinesPerRequestMax).default(engineLimits.logLinesPerRequestMax) }),
      handle: async ({ tenantId, params, query }) => {
        const rows = (await engine.listLogs(tenantId, params.task as string, query.limit)).map(logLineView);
        return { rows, pagination: { current_page: 1, num_pages: 1 } };
      },
    }),
  ];
}
