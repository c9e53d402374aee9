/**
 * CEL debugging (how a filter expression evaluates), and task and queue metrics from the read models: task counts by status over a time window
 * (`hatchet.metrics.getTaskStatusMetrics`), what is queued and running now by workflow and by
 * queue (`getQueueMetrics`), and per task (`getTaskStats`).
 */
import { z } from 'zod';
import type { Engine } from '../../engine/engine.js';
import { CEL_EXPRESSION_CHARS_MAX, celDebug } from '../../lib/cel.js';
import { engineLimits } from '../../lib/limits.js';
import { type Route, route } from '../http.js';

const repeated = <T extends z.ZodType>(item: T) => z.preprocess((value) => (Array.isArray(value) ? value : [value]), z.array(item).max(engineLimits.frameItemsMax));
const dateTime = z.string().max(40).refine((text) => !Number.isNaN(Date.parse(text)), 'a date-time such as 2030-01-01T00:00:00Z').transform((text) => Date.parse(text));
const metadataPair = z
  .string()
  .max(1000)
  .refine((text) => text.includes(':'), "a metadata filter is 'key:value'")
  .transform((text) => [text.slice(0, text.indexOf(':')), text.slice(text.indexOf(':') + 1)] as const);

export function metricsRoutes(engine: Engine): Route[] {
  /** Tasks of runs that are queued or running now. */
  const liveTasks = (tenantId: string) => engine.readModels.tasksOf({ tenantId, statuses: ['QUEUED', 'RUNNING'] });
  return [
    route({
      method: 'POST',
      path: '/api/v1/stable/tenants/{tenant}/cel/debug',
      summary: 'Evaluate a filter expression over an event input, metadata and filter payload, as filters do',
      body: z.strictObject({
        expression: z.string().min(1).max(CEL_EXPRESSION_CHARS_MAX),
        input: z.record(z.string(), z.unknown()),
        additionalMetadata: z.record(z.string(), z.unknown()).optional(),
        filterPayload: z.record(z.string(), z.unknown()).optional(),
      }),
      handle: ({ body }) => {
        const result = celDebug(body.expression, { input: body.input, additional_metadata: body.additionalMetadata ?? {}, payload: body.filterPayload ?? {} });
        return result.ok ? { status: 'SUCCESS', output: result.value } : { status: 'ERROR', error: result.error };
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/stable/tenants/{tenant}/task-metrics',
      summary: 'Task counts by status for runs created in a window',
      query: z.strictObject({
        since: dateTime,
        until: dateTime.optional(),
        workflow_ids: repeated(z.string().min(1).max(200)).optional(),
        parent_task_external_id: z.string().min(1).max(200).optional(),
        triggering_event_external_id: z.string().min(1).max(200).optional(),
        additional_metadata: repeated(metadataPair).optional(),
      }),
      handle: async ({ tenantId, query }) => {
        await engine.readModels.fresh();
        const counts = engine.readModels.countTasks({
          tenantId,
          sinceMs: query.since,
          ...(query.until === undefined ? {} : { untilMs: query.until }),
          ...(query.workflow_ids === undefined ? {} : { workflows: query.workflow_ids }),
          ...(query.parent_task_external_id === undefined ? {} : { parentTaskId: query.parent_task_external_id }),
          ...(query.triggering_event_external_id === undefined ? {} : { triggeringEventId: query.triggering_event_external_id }),
          ...(query.additional_metadata === undefined ? {} : { metadata: query.additional_metadata }),
        });
        return Object.entries(counts).map(([status, count]) => ({ status, count }));
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/tenants/{tenant}/queue-metrics',
      summary: 'What is queued and running now, in all and by workflow, and queued tasks by queue',
      handle: async ({ tenantId }) => {
        await engine.readModels.fresh();
        const zero = () => ({ numQueued: 0, numRunning: 0, numPending: 0 });
        const total = zero();
        const workflow: Record<string, ReturnType<typeof zero>> = {};
        const queues: Record<string, number> = {};
        for (const { run, task } of liveTasks(tenantId)) {
          if (task.status !== 'QUEUED' && task.status !== 'RUNNING') continue;
          const byWorkflow = workflow[run.workflow] ?? zero();
          workflow[run.workflow] = byWorkflow;
          const field = task.status === 'QUEUED' ? 'numQueued' : 'numRunning';
          total[field] += 1;
          byWorkflow[field] += 1;
          if (task.status === 'QUEUED') queues[`${run.workflow}:${task.name}`] = (queues[`${run.workflow}:${task.name}`] ?? 0) + 1;
        }
        return { total, workflow, queues };
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/tenants/{tenant}/task-stats',
      summary: 'Per task: how many are queued (and on which queue) and running now, and since when the oldest',
      handle: async ({ tenantId }) => {
        await engine.readModels.fresh();
        type Stat = { queued: { total: number; queues: Record<string, number>; oldest?: string }; running: { total: number; oldest?: string } };
        const stats: Record<string, Stat> = {};
        const older = (current: string | undefined, ms: number) => (current === undefined || Date.parse(current) > ms ? new Date(ms).toISOString() : current);
        for (const { run, task } of liveTasks(tenantId)) {
          if (task.status !== 'QUEUED' && task.status !== 'RUNNING') continue;
          const stat: Stat = stats[task.name] ?? { queued: { total: 0, queues: {} }, running: { total: 0 } };
          stats[task.name] = stat;
          if (task.status === 'QUEUED') {
            stat.queued.total += 1;
            const queue = `${run.workflow}:${task.name}`;
            stat.queued.queues[queue] = (stat.queued.queues[queue] ?? 0) + 1;
            stat.queued.oldest = older(stat.queued.oldest, run.createdAtMs);
          } else {
            stat.running.total += 1;
            stat.running.oldest = older(stat.running.oldest, task.startedAtMs ?? run.createdAtMs);
          }
        }
        return stats;
      },
    }),
  ];
}
