/**
 * The feature clients of `HatchetClient` (`hatchet.runs`, `hatchet.events`, `hatchet.crons`, …),
 * with Hatchet's method names and argument shapes. `runs` and `logs` talk to this engine over the
 * WebSocket, and so do `events` (pushed there); `ratelimits`, `workers`, `filters`, `crons` and
 * `scheduled` go through the REST API (`rest.ts`, Hatchet's paths); the others belong to features
 * this engine does not carry out yet, and each of their methods rejects with a `NotSupportedError`
 * naming the feature, so programs compile and fail loudly at the call.
 */
import { z } from 'zod';
import type { LogLine, PushedEvent, RunDetails } from '../../protocol/frames.js';
import { encodePayload } from '../../protocol/payload.js';
import { engineLimits } from '../lib/limits.js';
import { EngineError } from './connection.js';
import { HatchetError } from './errors.js';
import type { QueryValue, RestClient } from './rest.js';
import { taskContext } from './task-context.js';
import type { CronWorkflows, ScheduledWorkflows, TaskStatusMetrics, ApiWorkflow } from './declaration.js';
import type { RateLimitDuration, RateLimitOrderByDirection, RateLimitOrderByField, V1LogLineLevel, V1LogLineOrderByDirection, V1TaskStatus, WorkerStatus } from './enums.js';
import { NotSupportedError } from './errors.js';
import { rateLimitDurationName } from './policies.js';
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
  readonly rest: RestClient;
  readonly namespace: string;
  /** Pushes events over the WebSocket; resolves once they are durable. */
  pushEvents(events: PushedEvent[]): Promise<Array<{ eventId: string; key: string; additionalMetadata: Record<string, string>; scope?: string; eventTimestampMs: number; runIds?: string[] }>>;
  resolveWorkflow(workflow: unknown): { name: string; standalone: string | undefined };
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

  /** Runs a durable task again from its first checkpoint that is not done (an evicted one: now). */
  async restoreTask(taskExternalId: string): Promise<{ taskExternalId: string }> {
    return this.host.rest.request('POST', `/api/v1/stable/tasks/${encodeURIComponent(taskExternalId)}/restore`);
  }

  /** Runs a durable task again from checkpoint `nodeId`: the ones before are replayed, the rest done again. */
  async branchDurableTask(taskExternalId: string, nodeId: number, branchId = 0): Promise<{ taskExternalId: string; nodeId: number }> {
    return this.host.rest.request('POST', '/api/v1/stable/tenants/{tenant}/durable-tasks/branch', { body: { taskExternalId, nodeId, branchId } });
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
  /** The runs the event started (a Kindling addition to Hatchet's shape). */
  triggeredRunIds?: string[];
}
export interface Events {
  events: Event[];
}
export type EventPushOptions = { additionalMetadata?: Record<string, string>; priority?: number; scope?: string };

export type EventListOpts = { offset?: number; limit?: number; keys?: string[]; eventIds?: string[] };

function toEvent(tenantId: string, key: string, payload: unknown, event: { eventId: string; additionalMetadata: Record<string, string>; scope?: string; eventTimestampMs: number; runIds?: string[] }): Event {
  return {
    tenantId,
    eventId: event.eventId,
    key,
    payload: JSON.stringify(payload ?? null),
    eventTimestamp: new Date(event.eventTimestampMs),
    additionalMetadata: JSON.stringify(event.additionalMetadata),
    ...(event.scope === undefined ? {} : { scope: event.scope }),
    ...(event.runIds === undefined ? {} : { triggeredRunIds: event.runIds }),
  };
}

export class EventClient {
  constructor(private readonly host?: FeatureHost) {}

  #pushed(key: string, payload: unknown, options: EventPushOptions): PushedEvent {
    const namespace = this.host?.namespace ?? '';
    // Pushed from inside a task: the event says which.
    const source = taskContext.getStore();
    const metadata = source === undefined ? options.additionalMetadata : { ...options.additionalMetadata, hatchet__source_workflow_run_id: source.runId, hatchet__source_step_run_id: source.taskId };
    return {
      key: key.startsWith(namespace) ? key : `${namespace}${key}`,
      payload: encodePayload(payload, `the payload of event '${key}'`),
      ...(metadata === undefined ? {} : { additionalMetadata: metadata }),
      ...(options.scope === undefined ? {} : { scope: options.scope }),
      ...(options.priority === undefined ? {} : { priority: options.priority }),
    };
  }

  /** Pushes an event; resolves once it, the runs it starts and the waits it ends are durable. */
  async push<T = unknown>(type: string, input: T, options: EventPushOptions = {}): Promise<Event> {
    if (this.host === undefined) return notYet('events (events.push)');
    const pushed = this.#pushed(type, input, options);
    const [event] = await this.host.pushEvents([pushed]);
    return toEvent(await this.host.rest.tenantId(), pushed.key, input, event as NonNullable<typeof event>);
  }

  /** Pushes up to 1,000 events with one key in one request. */
  async bulkPush<T = unknown>(type: string, inputs: Array<{ payload: T } & EventPushOptions>, options: EventPushOptions = {}): Promise<Events> {
    if (this.host === undefined) return notYet('events (events.bulkPush)');
    if (inputs.length > engineLimits.eventsPerPushMax) {
      throw new EngineError('INVALID_INPUT', `bulkPush takes at most ${engineLimits.eventsPerPushMax} events, not ${inputs.length}; push them in several calls`);
    }
    if (inputs.length === 0) return { events: [] };
    const pushed = inputs.map(({ payload, ...own }) => this.#pushed(type, payload, { ...options, ...own }));
    const events = await this.host.pushEvents(pushed);
    const tenantId = await this.host.rest.tenantId();
    return { events: events.map((event, i) => toEvent(tenantId, pushed[i]?.key ?? type, inputs[i]?.payload, event)) };
  }

  putLog(_taskRunExternalId: string, _log: string, _level?: string, _retryCount?: number, _metadata?: Record<string, unknown>): Promise<void> {
    return notYet('logs written through the events client (events.putLog); use ctx.log');
  }

  putStream(_taskRunExternalId: string, _data: string | Uint8Array, _index?: number): Promise<void> {
    return notYet('streaming (events.putStream)');
  }

  /** The newest events (newest first), each with the runs it started (`triggeredRuns`). */
  // biome-ignore lint/suspicious/noExplicitAny: the REST rows, as Hatchet's generated client types them loosely.
  async list(opts: EventListOpts = {}): Promise<{ rows?: any[]; pagination?: PaginationResponse }> {
    if (this.host === undefined) return notYet('listing events (events.list)');
    const namespace = this.host.namespace;
    const query: Record<string, QueryValue> = {
      offset: opts.offset,
      limit: opts.limit,
      keys: opts.keys?.map((key) => (key.startsWith(namespace) ? key : `${namespace}${key}`)),
      eventIds: opts.eventIds,
    };
    return this.host.rest.request('GET', '/api/v1/stable/tenants/{tenant}/events', { query });
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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function idOf(value: string | { metadata: { id: string } }, what: string): string {
  const id = typeof value === 'string' ? value : value.metadata.id;
  if (!UUID.test(id)) throw new HatchetError(`Invalid ${what} ID: must be a valid UUID`);
  return id;
}

export class CronClient {
  constructor(private readonly host?: FeatureHost) {}

  #workflow(workflow: WorkflowArg): string {
    return (this.host as FeatureHost).resolveWorkflow(workflow).name;
  }

  /** Runs a workflow on a cron schedule (5 or 6 fields, UTC); the name is unique per workflow. */
  async create(workflow: WorkflowArg, cron: CreateCronInput): Promise<CronWorkflows> {
    if (this.host === undefined) return notYet('cron triggers (crons.create)');
    const parsed = CreateCronTriggerSchema.safeParse(cron);
    if (!parsed.success) throw new HatchetError(`Invalid cron input: ${parsed.error.message}`);
    const body = {
      input: parsed.data.input ?? {},
      additionalMetadata: parsed.data.additionalMetadata ?? {},
      cronName: parsed.data.name,
      cronExpression: parsed.data.expression,
      ...(parsed.data.priority === undefined ? {} : { priority: parsed.data.priority }),
    };
    return this.host.rest.request('POST', `/api/v1/tenants/{tenant}/workflows/${encodeURIComponent(this.#workflow(workflow))}/crons`, { body });
  }

  async delete(cron: string | CronWorkflows): Promise<void> {
    if (this.host === undefined) return notYet('cron triggers (crons.delete)');
    await this.host.rest.request('DELETE', `/api/v1/tenants/{tenant}/workflows/crons/${idOf(cron, 'cron')}`);
  }

  async list(query: { workflow?: WorkflowArg } & Record<string, unknown> = {}): Promise<{ rows?: CronWorkflows[]; pagination?: PaginationResponse }> {
    if (this.host === undefined) return notYet('cron triggers (crons.list)');
    const { workflow, ...rest } = query;
    return this.host.rest.request('GET', '/api/v1/tenants/{tenant}/workflows/crons', {
      query: { ...(rest as Record<string, QueryValue>), ...(workflow === undefined ? {} : { workflowId: this.#workflow(workflow) }) },
    });
  }

  async get(cron: string | CronWorkflows): Promise<CronWorkflows> {
    if (this.host === undefined) return notYet('cron triggers (crons.get)');
    return this.host.rest.request('GET', `/api/v1/tenants/{tenant}/workflows/crons/${idOf(cron, 'cron')}`);
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
  constructor(private readonly host?: FeatureHost) {}

  #rest(): RestClient {
    if (this.host === undefined) throw new NotSupportedError('scheduled runs');
    return this.host.rest;
  }

  /** Schedules a run of a workflow at `triggerAt` (UTC; not in the past). */
  async create(workflow: WorkflowArg, input: CreateScheduledRunInput): Promise<ScheduledWorkflows> {
    const parsed = CreateScheduledRunTriggerSchema.safeParse(input);
    if (!parsed.success) throw new HatchetError(`Invalid schedule input: ${parsed.error.message}`);
    const name = (this.host as FeatureHost).resolveWorkflow(workflow).name;
    return this.#rest().request('POST', `/api/v1/tenants/{tenant}/workflows/${encodeURIComponent(name)}/scheduled`, {
      body: {
        input: parsed.data.input ?? {},
        additionalMetadata: parsed.data.additionalMetadata ?? {},
        triggerAt: parsed.data.triggerAt.toISOString(),
        ...(parsed.data.priority === undefined ? {} : { priority: parsed.data.priority }),
      },
    });
  }

  /** Reschedules a scheduled run that has not triggered yet. */
  async update(scheduledRun: string | ScheduledWorkflows, update: UpdateScheduledRunInput): Promise<ScheduledWorkflows> {
    const triggerAt = UpdateScheduledRunTriggerSchema.parse(update).triggerAt;
    return this.#rest().request('PATCH', `/api/v1/tenants/{tenant}/workflows/scheduled/${idOf(scheduledRun, 'scheduled run')}`, { body: { triggerAt: triggerAt.toISOString() } });
  }

  async delete(scheduledRun: string | ScheduledWorkflows): Promise<void> {
    await this.#rest().request('DELETE', `/api/v1/tenants/{tenant}/workflows/scheduled/${idOf(scheduledRun, 'scheduled run')}`);
  }

  async list(query: { workflow?: WorkflowArg } & Record<string, unknown> = {}): Promise<{ rows?: ScheduledWorkflows[]; pagination?: PaginationResponse }> {
    const { workflow, ...rest } = query;
    const workflowId = workflow === undefined ? undefined : (this.host as FeatureHost).resolveWorkflow(workflow).name;
    return this.#rest().request('GET', '/api/v1/tenants/{tenant}/workflows/scheduled', { query: { ...(rest as Record<string, QueryValue>), ...(workflowId === undefined ? {} : { workflowId }) } });
  }

  async get(scheduledRun: string | ScheduledWorkflows): Promise<ScheduledWorkflows> {
    return this.#rest().request('GET', `/api/v1/tenants/{tenant}/workflows/scheduled/${idOf(scheduledRun, 'scheduled run')}`);
  }

  /** Deletes scheduled runs by id (or those a filter selects); answers with the ids deleted and an error per id that was not. */
  async bulkDelete(opts: { scheduledRuns?: Array<string | ScheduledWorkflows>; filter?: Record<string, unknown> }): Promise<{ deletedIds: string[]; errors: Array<{ id: string; error: string }> }> {
    if (opts.scheduledRuns === undefined && opts.filter === undefined) throw new HatchetError('bulkDelete needs scheduledRuns or a filter');
    return this.#rest().request('POST', '/api/v1/tenants/{tenant}/workflows/scheduled/bulk-delete', {
      body: {
        ...(opts.scheduledRuns === undefined ? {} : { scheduledWorkflowRunIds: opts.scheduledRuns.map((run) => idOf(run, 'scheduled run')) }),
        ...(opts.filter === undefined ? {} : { filter: opts.filter }),
      },
    });
  }

  /** Reschedules scheduled runs; answers with the ids updated and an error per id that was not. */
  async bulkUpdate(updates: Array<{ scheduledRun: string | ScheduledWorkflows; triggerAt: Date }>): Promise<{ updatedIds: string[]; errors: Array<{ id: string; error: string }> }> {
    return this.#rest().request('POST', '/api/v1/tenants/{tenant}/workflows/scheduled/bulk-update', {
      body: { updates: updates.map((u) => ({ id: idOf(u.scheduledRun, 'scheduled run'), triggerAt: u.triggerAt.toISOString() })) },
    });
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
  constructor(private readonly host?: FeatureHost) {}

  #rest(): RestClient {
    if (this.host === undefined) throw new NotSupportedError('event filters');
    return this.host.rest;
  }

  async list(opts: { limit?: number; offset?: number; workflowIds?: string[]; scopes?: string[] } = {}): Promise<{ rows?: V1Filter[]; pagination?: PaginationResponse }> {
    return this.#rest().request('GET', '/api/v1/stable/tenants/{tenant}/filters', {
      query: { limit: opts.limit, offset: opts.offset, workflowIds: opts.workflowIds?.map((w) => (this.host as FeatureHost).resolveWorkflow(w).name), scopes: opts.scopes },
    });
  }

  get(filterId: string): Promise<V1Filter> {
    return this.#rest().request('GET', `/api/v1/stable/tenants/{tenant}/filters/${encodeURIComponent(filterId)}`);
  }

  /** A filter: events of `scope` start the workflow when `expression` (CEL) holds; a bad expression is refused here. */
  create(opts: { workflowId: string; expression: string; scope: string; payload?: Record<string, unknown> }): Promise<V1Filter> {
    const workflowId = (this.host as FeatureHost | undefined)?.resolveWorkflow(opts.workflowId).name ?? opts.workflowId;
    return this.#rest().request('POST', '/api/v1/stable/tenants/{tenant}/filters', { body: { workflowId, expression: opts.expression, scope: opts.scope, payload: opts.payload ?? {} } });
  }

  delete(filterId: string): Promise<V1Filter> {
    return this.#rest().request('DELETE', `/api/v1/stable/tenants/{tenant}/filters/${encodeURIComponent(filterId)}`);
  }

  update(filterId: string, updates: { expression?: string; scope?: string; payload?: Record<string, unknown> }): Promise<V1Filter> {
    return this.#rest().request('PATCH', `/api/v1/stable/tenants/{tenant}/filters/${encodeURIComponent(filterId)}`, { body: updates });
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
