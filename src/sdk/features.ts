/**
 * The feature clients of `HatchetClient` (`hatchet.runs`, `hatchet.events`, `hatchet.crons`, …),
 * with Hatchet's method names and argument shapes. `runs` and `logs` talk to this engine over the
 * WebSocket, `ratelimits` and `workers` over the REST API (`rest.ts`, Hatchet's paths); the
 * others belong to features this engine does not carry out yet, and each of their methods rejects
 * with a `NotSupportedError` naming the feature, so programs compile and fail loudly at the call.
 */
import { z } from 'zod';
import type { LogLine, RunDetails } from '../../protocol/frames.js';
import type { CronWorkflows, ScheduledWorkflows, TaskStatusMetrics, ApiWorkflow } from './declaration.js';
import type { RateLimitDuration, RateLimitOrderByDirection, RateLimitOrderByField, V1LogLineLevel, V1LogLineOrderByDirection, V1TaskStatus, WorkerStatus } from './enums.js';
import { NotSupportedError } from './errors.js';
import { rateLimitDurationName } from './policies.js';
import type { RestClient } from './rest.js';
import type { WorkflowRunRef } from './run-ref.js';
import type { JsonObject, WorkflowRef } from './types.js';

/** A run as `runs.get` returns it: the engine's details, with inputs and outputs decoded. */
export type RunView = Omit<RunDetails, 'input' | 'tasks'> & {
  readonly input: unknown;
  readonly tasks: Array<Omit<RunDetails['tasks'][number], 'output'> & { output?: unknown }>;
};

/** What the engine-backed feature clients need from the client. */
export interface FeatureHost {
  getRun(runId: string): Promise<RunView>;
  cancelRuns(runIds: string[]): Promise<void>;
  replayRuns(runIds: string[]): Promise<void>;
  listLogs(taskId: string, limit: number): Promise<LogLine[]>;
  runRef<T>(runId: string): WorkflowRunRef<T>;
}

type WorkflowArg = string | WorkflowRef;

function notYet(feature: string): Promise<never> {
  return Promise.reject(new NotSupportedError(feature));
}

// -----------------------------------------------------------------------------------------------
// Runs and logs: carried out by this engine.

export type RunFilter = {
  since: Date;
  until?: Date;
  statuses?: V1TaskStatus[];
  workflowNames?: string[];
  additionalMetadata?: Record<string, string>;
};
export type ListRunsOpts = RunFilter & {
  offset?: number;
  limit?: number;
  workerId?: string;
  onlyTasks?: boolean;
  parentTaskRunExternalId?: string;
  parentTaskExternalId?: string;
  triggeringEventExternalId?: string;
  includePayloads?: boolean;
};
export type CancelRunOpts = { ids?: string[]; filters?: RunFilter };
export type ReplayRunOpts = { ids?: string[]; filters?: RunFilter };

export interface TaskRunDetail {
  externalId: string;
  readableId: string;
  status: V1TaskStatus;
  output?: JsonObject;
  error?: string;
  isEvicted: boolean;
}
export interface RunDetail {
  status: V1TaskStatus;
  done: boolean;
  input: JsonObject;
  additionalMetadata: Record<string, string>;
  isEvicted: boolean;
  taskRuns: Record<string, TaskRunDetail>;
}

function runId(run: string | WorkflowRunRef<unknown>): string {
  return typeof run === 'string' ? run : run.workflowRunId;
}

export class RunsClient {
  constructor(private readonly host: FeatureHost) {}

  /** The run with its tasks and their events. */
  get<T = unknown>(run: string | WorkflowRunRef<T>): Promise<RunView> {
    return this.host.getRun(runId(run as WorkflowRunRef<unknown>));
  }

  /** The run's status. */
  async get_status<T = unknown>(run: string | WorkflowRunRef<T>): Promise<V1TaskStatus> {
    return (await this.get(run)).status as V1TaskStatus;
  }

  /** The id of the run's first task (for a standalone task, the run id itself). */
  async getTaskExternalId(workflowRunId: string): Promise<string> {
    const [first] = (await this.host.getRun(workflowRunId)).tasks;
    if (first === undefined) throw new NotSupportedError('a run without tasks');
    return first.taskId;
  }

  async cancel(opts: CancelRunOpts): Promise<void> {
    if (opts.filters !== undefined) return notYet('cancelling runs by filter (filters)');
    await this.host.cancelRuns(opts.ids ?? []);
  }

  /** Runs finished runs again from the tasks that did not complete. */
  async replay(opts: ReplayRunOpts): Promise<void> {
    if (opts.filters !== undefined) return notYet('replaying runs by filter (filters)');
    if ((opts.ids ?? []).length > 0) await this.host.replayRuns(opts.ids ?? []);
  }

  runRef<T = unknown>(id: string): WorkflowRunRef<T> {
    return this.host.runRef<T>(id);
  }

  list(_opts?: Partial<ListRunsOpts>): Promise<never> {
    return notYet('listing runs (runs.list)');
  }

  getDetails(_run: string | WorkflowRunRef<unknown>): Promise<RunDetail> {
    return notYet('run details (runs.getDetails)');
  }

  restoreTask(_taskExternalId: string): Promise<never> {
    return notYet('restoring evicted durable tasks (runs.restoreTask)');
  }

  branchDurableTask(_taskExternalId: string, _nodeId: number, _branchId = 0): Promise<never> {
    return notYet('branching durable tasks (runs.branchDurableTask)');
  }

  /** The chunks a run's tasks stream with `ctx.putStream`. */
  subscribeToStream(_workflowRunId: string): AsyncIterable<string> {
    return {
      [Symbol.asyncIterator]: () => ({ next: () => notYet('streaming (runs.subscribeToStream)') }),
    };
  }
}

export type ListLogsOpts = {
  limit?: number;
  since?: Date;
  until?: Date;
  search?: string;
  levels?: V1LogLineLevel[];
  orderByDirection?: V1LogLineOrderByDirection;
  attempt?: number;
};

/** One line of a task's log, as the REST API returns it. */
export interface V1LogLine {
  createdAt: string;
  message: string;
  metadata: object;
  taskExternalId?: string;
  taskDisplayName?: string;
  retryCount?: number;
  attempt?: number;
  level?: V1LogLineLevel;
}

export interface PaginationResponse {
  current_page?: number;
  next_page?: number;
  num_pages?: number;
}

export interface V1LogLineList {
  pagination?: PaginationResponse;
  rows?: V1LogLine[];
}

export class LogsClient {
  constructor(private readonly host: FeatureHost) {}

  /** The newest `limit` lines a task run logged (`ctx.log`, `ctx.logger.*`), oldest of them first. */
  async list(taskRunId: string, opts: ListLogsOpts = {}): Promise<V1LogLineList> {
    for (const option of ['since', 'until', 'search', 'levels', 'orderByDirection', 'attempt'] as const) {
      if (opts[option] !== undefined) return notYet(`filtering logs by ${option}`);
    }
    const lines = await this.host.listLogs(taskRunId, opts.limit ?? 1000);
    return {
      rows: lines.map((line) => ({
        createdAt: new Date(line.timestampMs).toISOString(),
        message: line.message,
        metadata: {},
        taskExternalId: line.taskId,
        retryCount: line.attempt,
        attempt: line.attempt,
        level: line.level as V1LogLineLevel,
      })),
      pagination: { current_page: 1, num_pages: 1 },
    };
  }
}

// -----------------------------------------------------------------------------------------------
// Features of other parts of the engine, not carried out yet.

export interface Event {
  tenantId: string;
  eventId: string;
  key: string;
  payload: string;
  eventTimestamp: Date | undefined;
  additionalMetadata?: string;
  scope?: string;
}
export interface Events {
  events: Event[];
}
export type EventPushOptions = { additionalMetadata?: Record<string, string>; priority?: number; scope?: string };

export class EventClient {
  push<T = unknown>(_type: string, _input: T, _options: EventPushOptions = {}): Promise<Event> {
    return notYet('events (events.push)');
  }

  bulkPush<T = unknown>(_type: string, _inputs: Array<{ payload: T } & EventPushOptions>, _options: EventPushOptions = {}): Promise<Events> {
    return notYet('events (events.bulkPush)');
  }

  putLog(_taskRunExternalId: string, _log: string, _level?: string, _retryCount?: number, _metadata?: Record<string, unknown>): Promise<void> {
    return notYet('logs written through the events client (events.putLog); use ctx.log');
  }

  putStream(_taskRunExternalId: string, _data: string | Uint8Array, _index?: number): Promise<void> {
    return notYet('streaming (events.putStream)');
  }

  list(_opts?: Record<string, unknown>): Promise<never> {
    return notYet('listing events (events.list)');
  }
}

export const CreateCronTriggerSchema = z.object({
  name: z.string(),
  expression: z.string(),
  input: z.record(z.string(), z.unknown()).optional(),
  additionalMetadata: z.record(z.string(), z.string()).optional(),
  priority: z.number().optional(),
});
export type CreateCronInput = z.infer<typeof CreateCronTriggerSchema>;

export class CronClient {
  create(_workflow: WorkflowArg, _cron: CreateCronInput): Promise<CronWorkflows> {
    return notYet('cron triggers (crons.create)');
  }

  delete(_cron: string | CronWorkflows): Promise<void> {
    return notYet('cron triggers (crons.delete)');
  }

  list(_query: { workflow?: WorkflowArg } & Record<string, unknown> = {}): Promise<{ rows?: CronWorkflows[] }> {
    return notYet('cron triggers (crons.list)');
  }

  get(_cron: string | CronWorkflows): Promise<CronWorkflows> {
    return notYet('cron triggers (crons.get)');
  }
}

export const CreateScheduledRunTriggerSchema = z.object({
  triggerAt: z.coerce.date(),
  input: z.record(z.string(), z.unknown()).optional(),
  additionalMetadata: z.record(z.string(), z.string()).optional(),
  priority: z.number().optional(),
});
export type CreateScheduledRunInput = z.infer<typeof CreateScheduledRunTriggerSchema>;
export const UpdateScheduledRunTriggerSchema = z.object({ triggerAt: z.coerce.date() });
export type UpdateScheduledRunInput = z.infer<typeof UpdateScheduledRunTriggerSchema>;

export class ScheduleClient {
  create(_workflow: WorkflowArg, _input: CreateScheduledRunInput): Promise<ScheduledWorkflows> {
    return notYet('scheduled runs (scheduled.create)');
  }

  update(_scheduledRun: string | ScheduledWorkflows, _update: UpdateScheduledRunInput): Promise<ScheduledWorkflows> {
    return notYet('scheduled runs (scheduled.update)');
  }

  delete(_scheduledRun: string | ScheduledWorkflows): Promise<void> {
    return notYet('scheduled runs (scheduled.delete)');
  }

  list(_query: { workflow?: WorkflowArg } & Record<string, unknown> = {}): Promise<{ rows?: ScheduledWorkflows[] }> {
    return notYet('scheduled runs (scheduled.list)');
  }

  get(_scheduledRun: string | ScheduledWorkflows): Promise<ScheduledWorkflows> {
    return notYet('scheduled runs (scheduled.get)');
  }

  bulkDelete(_opts: { scheduledRuns?: Array<string | ScheduledWorkflows>; filter?: Record<string, unknown> }): Promise<never> {
    return notYet('scheduled runs (scheduled.bulkDelete)');
  }

  bulkUpdate(_updates: Array<{ scheduledRun: string | ScheduledWorkflows; triggerAt: Date }>): Promise<never> {
    return notYet('scheduled runs (scheduled.bulkUpdate)');
  }
}

export interface V1Filter {
  metadata: { id: string; createdAt: string; updatedAt: string };
  tenantId: string;
  workflowId: string;
  scope: string;
  expression: string;
  payload: JsonObject;
}
export type WorkflowIdScopePair = { workflowId: string; scope: string };

export class FiltersClient {
  list(_opts?: { limit?: number; offset?: number; workflowIds?: string[]; scopes?: string[] }): Promise<{ rows?: V1Filter[] }> {
    return notYet('event filters (filters.list)');
  }

  get(_filterId: string): Promise<V1Filter> {
    return notYet('event filters (filters.get)');
  }

  create(_opts: { workflowId: string; expression: string; scope: string; payload?: Record<string, unknown> }): Promise<V1Filter> {
    return notYet('event filters (filters.create)');
  }

  delete(_filterId: string): Promise<V1Filter> {
    return notYet('event filters (filters.delete)');
  }

  update(_filterId: string, _updates: { expression?: string; scope?: string; payload?: Record<string, unknown> }): Promise<V1Filter> {
    return notYet('event filters (filters.update)');
  }
}

export type CreateRateLimitOpts = { key: string; limit: number; duration?: RateLimitDuration };

/** A rate limit as the REST API lists it. */
export interface RateLimit {
  key: string;
  tenantId: string;
  /** Units per window. */
  limitValue: number;
  /** Units left in the current window. */
  value: number;
  /** The window: SECOND, MINUTE, HOUR, DAY, WEEK, MONTH or YEAR. */
  window: string;
  lastRefill: string;
}
export interface RateLimitList {
  rows?: RateLimit[];
  pagination?: PaginationResponse;
}

export class RatelimitsClient {
  constructor(private readonly rest: RestClient) {}

  /** Creates or changes a static rate limit; resolves with its key. */
  async upsert(opts: CreateRateLimitOpts): Promise<string> {
    const body = { key: opts.key, limit: opts.limit, duration: rateLimitDurationName(opts.duration, 'SECOND') };
    return (await this.rest.request<{ key: string }>('POST', '/api/v1/tenants/{tenant}/rate-limits', { body })).key;
  }

  /** The tenant's rate limits. */
  list(opts: { limit?: number; offset?: number; search?: string; orderByField?: RateLimitOrderByField; orderByDirection?: RateLimitOrderByDirection } = {}): Promise<RateLimitList> {
    return this.rest.request<RateLimitList>('GET', '/api/v1/tenants/{tenant}/rate-limits', { query: { ...opts } });
  }
}

export interface ApiWorker {
  metadata: { id: string; createdAt: string; updatedAt: string };
  name: string;
  type?: string;
  status?: WorkerStatus;
  isPaused?: boolean;
  lastHeartbeatAt?: string;
  labels?: Array<{ key: string; value?: string }>;
  actions?: string[];
  maxRuns?: number;
  availableRuns?: number;
  slotConfig?: Record<string, { available?: number; limit: number }>;
}

export class WorkersClient {
  constructor(private readonly rest: RestClient) {}

  get(workerId: string): Promise<ApiWorker> {
    return this.rest.request<ApiWorker>('GET', `/api/v1/workers/${encodeURIComponent(workerId)}`);
  }

  list(): Promise<{ rows?: ApiWorker[] }> {
    return this.rest.request<{ rows?: ApiWorker[] }>('GET', '/api/v1/tenants/{tenant}/worker');
  }

  async isPaused(workerId: string): Promise<boolean> {
    return (await this.get(workerId)).status === 'PAUSED';
  }

  /** A paused worker keeps its tasks and is given no new ones. */
  pause(workerId: string): Promise<ApiWorker> {
    return this.rest.request<ApiWorker>('PATCH', `/api/v1/workers/${encodeURIComponent(workerId)}`, { body: { isPaused: true } });
  }

  unpause(workerId: string): Promise<ApiWorker> {
    return this.rest.request<ApiWorker>('PATCH', `/api/v1/workers/${encodeURIComponent(workerId)}`, { body: { isPaused: false } });
  }
}

export class WorkflowsClient {
  get(_workflow: WorkflowArg): Promise<ApiWorkflow> {
    return notYet('reading workflows through the REST API (workflows.get)');
  }

  getWorkflowIdFromName(_workflow: WorkflowArg): Promise<string> {
    return notYet('workflow ids (workflows.getWorkflowIdFromName)');
  }

  list(_opts?: Record<string, unknown>): Promise<{ rows?: ApiWorkflow[] }> {
    return notYet('listing workflows (workflows.list)');
  }

  delete(_workflow: WorkflowArg): Promise<void> {
    return notYet('deleting workflows (workflows.delete)');
  }
}

export class MetricsClient {
  getTaskStatusMetrics(_query: {
    since: string;
    until?: string;
    workflow_ids?: string[];
    parent_task_external_id?: string;
    triggering_event_external_id?: string;
    additional_metadata?: string[];
  }): Promise<TaskStatusMetrics> {
    return notYet('task status metrics (metrics.getTaskStatusMetrics)');
  }

  getQueueMetrics(_opts?: Record<string, unknown>): Promise<never> {
    return notYet('queue metrics (metrics.getQueueMetrics)');
  }

  scrapePrometheusMetrics(): Promise<string> {
    return notYet('Prometheus metrics (metrics.scrapePrometheusMetrics)');
  }

  getTaskStats(): Promise<never> {
    return notYet('task statistics (metrics.getTaskStats)');
  }
}

export type CreateWebhookOptions = {
  sourceName: string;
  name: string;
  eventKeyExpression: string;
  scopeExpression?: string;
  staticPayload?: Record<string, unknown>;
  auth: { username?: string; password?: string; headerName?: string; apiKey?: string; signingSecret?: string; signatureHeaderName?: string; algorithm?: string; encoding?: string };
};

export class WebhooksClient {
  list(_opts?: Record<string, unknown>): Promise<never> {
    return notYet('webhooks (webhooks.list)');
  }

  get(_name: string): Promise<never> {
    return notYet('webhooks (webhooks.get)');
  }

  create(_opts: CreateWebhookOptions): Promise<never> {
    return notYet('webhooks (webhooks.create)');
  }

  update(_name: string, _opts: { eventKeyExpression?: string; scopeExpression?: string; staticPayload?: Record<string, unknown> }): Promise<never> {
    return notYet('webhooks (webhooks.update)');
  }

  delete(_name: string): Promise<never> {
    return notYet('webhooks (webhooks.delete)');
  }
}

export type DebugCELInput = { expression: string; input: Record<string, unknown>; additionalMetadata?: Record<string, unknown>; filterPayload?: Record<string, unknown> };
export type CELEvaluationResult = { status: 'SUCCESS'; output: boolean } | { status: 'ERROR'; error: string };

export class CELClient {
  debug(_input: DebugCELInput): Promise<CELEvaluationResult> {
    return notYet('CEL evaluation (cel.debug)');
  }
}

export class TenantClient {
  get(): Promise<{ metadata: { id: string }; name: string; slug: string; version: string }> {
    return notYet('reading the tenant (tenant.get)');
  }
}
