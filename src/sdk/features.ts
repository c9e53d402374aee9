/**
 * The feature clients of `HatchetClient` (`hatchet.runs`, `hatchet.events`, `hatchet.crons`, …),
 * with Hatchet's method names and argument shapes. `runs` and `logs` talk to this engine over the
 * WebSocket, and so do `events` (pushed there); `ratelimits`, `workers`, `filters`, `crons` and
 * `scheduled` go through the REST API (`rest.ts`, Hatchet's paths); the others belong to features
 * this engine does not carry out yet, and each of their methods rejects with a `NotSupportedError`
 * naming the feature, so programs compile and fail loudly at the call.
 */
import { z } from 'zod';
import type { PushedEvent, RunDetails } from '../../protocol/frames.js';
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

/** A run as the engine's protocol describes it, with inputs and outputs decoded (internal). */
export type RunView = Omit<RunDetails, 'input' | 'tasks'> & {
  readonly input: unknown;
  readonly tasks: Array<Omit<RunDetails['tasks'][number], 'output'> & { output?: unknown }>;
};

/** What the engine-backed feature clients need from the client. */
export interface FeatureHost {
  /** The REST API at `api_url`, with the client's token. */
  readonly rest: RestClient;
  /** The client's namespace (`HATCHET_CLIENT_NAMESPACE`), prefixed to workflow names. */
  readonly namespace: string;
  runRef<T>(runId: string): WorkflowRunRef<T>;
  /** Pushes events over the WebSocket; resolves once they are durable. */
  pushEvents(events: PushedEvent[]): Promise<Array<{ eventId: string; key: string; additionalMetadata: Record<string, string>; scope?: string; eventTimestampMs: number; runIds?: string[] }>>;
  resolveWorkflow(workflow: unknown): { name: string; standalone: string | undefined };
  /** A run's live stream, over the WebSocket. */
  subscribeToStream(runId: string): AsyncGenerator<string, void, undefined>;
  /** A chunk of a task's stream, through the worker of this client running the task. */
  putStream(taskId: string, data: string | Uint8Array, index?: number): Promise<void>;
}

type WorkflowArg = string | WorkflowRef;

function notYet(feature: string): Promise<never> {
  return Promise.reject(new NotSupportedError(feature));
}

/** A workflow's registered name: lower-cased and namespaced, as at registration. */
function workflowName(host: FeatureHost, workflow: WorkflowArg): string {
  if (typeof workflow !== 'string') return workflow.name;
  const lower = workflow.toLowerCase();
  return lower.startsWith(host.namespace) ? lower : `${host.namespace}${lower}`;
}

// -----------------------------------------------------------------------------------------------
// Runs and logs.

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

export interface APIResourceMeta {
  id: string;
  createdAt: string;
  updatedAt: string;
}

/** A run or a task, as Hatchet's REST API lists it (`V1TaskSummary`). */
export interface V1TaskSummary {
  metadata: APIResourceMeta;
  taskExternalId: string;
  workflowRunExternalId: string;
  displayName: string;
  workflowName?: string;
  workflowId: string;
  tenantId: string;
  type: 'DAG' | 'TASK';
  status: V1TaskStatus;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  duration?: number;
  errorMessage?: string;
  retryCount?: number;
  attempt?: number;
  additionalMetadata?: Record<string, string>;
  parentTaskExternalId?: string;
  workerId?: string;
  numSpawnedChildren: number;
  input: JsonObject;
  output: JsonObject;
}

export interface V1TaskSummaryList {
  rows: V1TaskSummary[];
  pagination: PaginationResponse;
}

/** Hatchet's `V1WorkflowRunDetails`: the run, its tasks, their events and the workflow's shape. */
export interface V1WorkflowRunDetails {
  run: {
    metadata: APIResourceMeta;
    status: V1TaskStatus;
    displayName: string;
    workflowId: string;
    additionalMetadata?: Record<string, string>;
    input: JsonObject;
    output: JsonObject;
    createdAt?: string;
    startedAt?: string;
    finishedAt?: string;
    errorMessage?: string;
  };
  tasks: Array<{
    metadata: APIResourceMeta;
    taskExternalId: string;
    workflowRunExternalId: string;
    displayName: string;
    workflowName: string;
    status: V1TaskStatus;
    retryCount: number;
    attempt: number;
    output: JsonObject;
    errorMessage?: string;
    workerId?: string;
    additionalMetadata?: Record<string, string>;
    startedAt?: string;
    finishedAt?: string;
    isEvicted: boolean;
    numSpawnedChildren: number;
  }>;
  taskEvents: Array<{ id: number; taskId: string; taskDisplayName: string; eventType: string; timestamp: string; retryCount: number; message: string }>;
  shape: Array<{ taskExternalId: string; taskName: string; stepId: string }>;
}

function runId(run: string | WorkflowRunRef<unknown>): string {
  return typeof run === 'string' ? run : run.workflowRunId;
}

/** A `RunFilter` as Hatchet's REST `V1TaskFilter`. */
function taskFilter(host: FeatureHost, filters: RunFilter) {
  return {
    since: filters.since.toISOString(),
    ...(filters.until === undefined ? {} : { until: filters.until.toISOString() }),
    ...(filters.statuses === undefined ? {} : { statuses: filters.statuses }),
    ...(filters.workflowNames === undefined ? {} : { workflowIds: filters.workflowNames.map((name) => workflowName(host, name)) }),
    ...(filters.additionalMetadata === undefined ? {} : { additionalMetadata: Object.entries(filters.additionalMetadata).map(([key, value]) => `${key}:${value}`) }),
  };
}

export class RunsClient {
  constructor(private readonly host: FeatureHost) {}

  /** The run with its tasks and their events, as Hatchet's `V1WorkflowRunDetails`. */
  get<T = unknown>(run: string | WorkflowRunRef<T>): Promise<V1WorkflowRunDetails> {
    return this.host.rest.request<V1WorkflowRunDetails>('GET', `/api/v1/stable/workflow-runs/${encodeURIComponent(runId(run as WorkflowRunRef<unknown>))}`);
  }

  /** The run's status. */
  get_status<T = unknown>(run: string | WorkflowRunRef<T>): Promise<V1TaskStatus> {
    return this.host.rest.request<V1TaskStatus>('GET', `/api/v1/stable/workflow-runs/${encodeURIComponent(runId(run as WorkflowRunRef<unknown>))}/status`);
  }

  /** The id of the run's first task (for a standalone task, the run id itself). */
  async getTaskExternalId(workflowRunId: string): Promise<string> {
    const [first] = (await this.get(workflowRunId)).tasks;
    if (first === undefined) throw new NotSupportedError('a run without tasks');
    return first.taskExternalId;
  }

  /** Cancels runs by id, or every active run the filters match. */
  async cancel(opts: CancelRunOpts): Promise<{ ids: string[] }> {
    return this.host.rest.request('POST', '/api/v1/stable/tenants/{tenant}/tasks/cancel', {
      body: { ...(opts.ids === undefined ? {} : { externalIds: opts.ids }), ...(opts.filters === undefined ? {} : { filter: taskFilter(this.host, opts.filters) }) },
    });
  }

  /** Runs finished runs again from the tasks that did not complete: by id, or those the filters match. */
  async replay(opts: ReplayRunOpts): Promise<{ ids: string[] }> {
    return this.host.rest.request('POST', '/api/v1/stable/tenants/{tenant}/tasks/replay', {
      body: { ...(opts.ids === undefined ? {} : { externalIds: opts.ids }), ...(opts.filters === undefined ? {} : { filter: taskFilter(this.host, opts.filters) }) },
    });
  }

  runRef<T = unknown>(id: string): WorkflowRunRef<T> {
    return this.host.runRef<T>(id);
  }

  /** Runs (or, with `onlyTasks`, tasks) newest first; `since` defaults to an hour ago, as in Hatchet. */
  list(opts: Partial<ListRunsOpts> = {}): Promise<V1TaskSummaryList> {
    const parent = opts.parentTaskRunExternalId ?? opts.parentTaskExternalId;
    return this.host.rest.request<V1TaskSummaryList>('GET', '/api/v1/stable/tenants/{tenant}/workflow-runs', {
      query: {
        offset: opts.offset,
        limit: opts.limit,
        statuses: opts.statuses,
        since: (opts.since ?? new Date(Date.now() - 3600_000)).toISOString(),
        until: opts.until?.toISOString(),
        additional_metadata: opts.additionalMetadata === undefined ? undefined : Object.entries(opts.additionalMetadata).map(([key, value]) => `${key}:${value}`),
        workflow_ids: opts.workflowNames?.map((name) => workflowName(this.host, name)),
        worker_id: opts.workerId,
        only_tasks: opts.onlyTasks ?? false,
        parent_task_external_id: parent,
        triggering_event_external_id: opts.triggeringEventExternalId,
        include_payloads: opts.includePayloads,
      },
    });
  }

  /** The run's status, input, metadata and each task's result (Hatchet's `getDetails`). */
  async getDetails(run: string | WorkflowRunRef<unknown>): Promise<RunDetail> {
    const details = await this.get(run);
    const done = ['COMPLETED', 'FAILED', 'CANCELLED'].includes(details.run.status);
    return {
      status: details.run.status,
      done,
      input: details.run.input,
      additionalMetadata: details.run.additionalMetadata ?? {},
      isEvicted: false,
      taskRuns: Object.fromEntries(
        details.tasks.map((task) => [
          task.taskExternalId,
          { externalId: task.taskExternalId, readableId: task.displayName, status: task.status, output: task.output, ...(task.errorMessage === undefined ? {} : { error: task.errorMessage }), isEvicted: false },
        ]),
      ),
    };
  }

  /** Runs a durable task again from its first checkpoint that is not done (an evicted one: now). */
  async restoreTask(taskExternalId: string): Promise<{ taskExternalId: string }> {
    return this.host.rest.request('POST', `/api/v1/stable/tasks/${encodeURIComponent(taskExternalId)}/restore`);
  }

  /** Runs a durable task again from checkpoint `nodeId`: the ones before are replayed, the rest done again. */
  async branchDurableTask(taskExternalId: string, nodeId: number, branchId = 0): Promise<{ taskExternalId: string; nodeId: number }> {
    return this.host.rest.request('POST', '/api/v1/stable/tenants/{tenant}/durable-tasks/branch', { body: { taskExternalId, nodeId, branchId } });
  }

  /**
   * The chunks a run's tasks stream with `ctx.putStream`, as strings in order (the newest ones
   * already sent come first); the iteration ends when the run finishes.
   */
  subscribeToStream(workflowRunId: string): AsyncIterableIterator<string> {
    return this.host.subscribeToStream(workflowRunId);
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

  /**
   * A task run's log lines (`ctx.log`, `ctx.logger.*`): by default its newest `limit`, oldest of
   * them first; `orderByDirection` ASC gives the oldest first, DESC the newest first.
   */
  list(taskRunId: string, opts: ListLogsOpts = {}): Promise<V1LogLineList> {
    return this.host.rest.request<V1LogLineList>('GET', `/api/v1/stable/tasks/${encodeURIComponent(taskRunId)}/logs`, {
      query: {
        limit: opts.limit,
        since: opts.since?.toISOString(),
        until: opts.until?.toISOString(),
        search: opts.search,
        levels: opts.levels,
        order_by_direction: opts.orderByDirection,
        attempt: opts.attempt,
      },
    });
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

  /** Streams a chunk for a task run that a worker of this client is running (`index`: its place; the context's next by default). */
  putStream(taskRunExternalId: string, data: string | Uint8Array, index?: number): Promise<void> {
    if (this.host === undefined) return notYet('streaming (events.putStream)');
    return this.host.putStream(taskRunExternalId, data, index);
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
  constructor(private readonly host: FeatureHost) {}

  /** A workflow by name or declaration (its id is its name). */
  get(workflow: WorkflowArg): Promise<ApiWorkflow> {
    return this.host.rest.request<ApiWorkflow>('GET', `/api/v1/workflows/${encodeURIComponent(workflowName(this.host, workflow))}`);
  }

  async getWorkflowIdFromName(workflow: WorkflowArg): Promise<string> {
    return (await this.get(workflow)).metadata.id;
  }

  list(opts: { limit?: number; offset?: number; name?: string } = {}): Promise<{ rows?: ApiWorkflow[]; pagination?: PaginationResponse }> {
    return this.host.rest.request('GET', '/api/v1/tenants/{tenant}/workflows', { query: { limit: opts.limit, offset: opts.offset, name: opts.name } });
  }

  /** Deletes the workflow and all its runs (active ones are cancelled first). */
  async delete(workflow: WorkflowArg): Promise<void> {
    await this.host.rest.request('DELETE', `/api/v1/workflows/${encodeURIComponent(workflowName(this.host, workflow))}`);
  }
}

/** Queued and running counts, in all and by workflow, and queued tasks by queue. */
export interface TenantQueueMetrics {
  total: { numQueued: number; numRunning: number; numPending: number };
  workflow: Record<string, { numQueued: number; numRunning: number; numPending: number }>;
  queues: Record<string, number>;
}

export type TaskStats = Record<string, { queued?: { total: number; queues?: Record<string, number>; oldest?: string }; running?: { total: number; oldest?: string } }>;

export class MetricsClient {
  constructor(private readonly host: FeatureHost) {}

  /** Task counts by status for runs created since `since` (until `until`). */
  async getTaskStatusMetrics(query: {
    since: string;
    until?: string;
    workflow_ids?: string[];
    parent_task_external_id?: string;
    triggering_event_external_id?: string;
    additional_metadata?: string[];
  }): Promise<TaskStatusMetrics> {
    const rows = await this.host.rest.request<Array<{ status: string; count: number }>>('GET', '/api/v1/stable/tenants/{tenant}/task-metrics', {
      query: { ...query, ...(query.workflow_ids === undefined ? {} : { workflow_ids: query.workflow_ids.map((name) => workflowName(this.host, name)) }) },
    });
    const metrics: TaskStatusMetrics = { queued: 0, running: 0, completed: 0, failed: 0, cancelled: 0 };
    for (const row of rows) metrics[row.status.toLowerCase() as keyof TaskStatusMetrics] = row.count;
    return metrics;
  }

  getQueueMetrics(_opts?: Record<string, unknown>): Promise<TenantQueueMetrics> {
    return this.host.rest.request('GET', '/api/v1/tenants/{tenant}/queue-metrics');
  }

  /** The tenant's Prometheus series (`hatchet_tenant_*`, label `tenant_id`) in the text format. */
  scrapePrometheusMetrics(): Promise<string> {
    return this.host.rest.request('GET', '/api/v1/tenants/{tenant}/prometheus-metrics', { text: true });
  }

  getTaskStats(): Promise<TaskStats> {
    return this.host.rest.request('GET', '/api/v1/tenants/{tenant}/task-stats');
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

/** A webhook as the REST API describes it (`V1Webhook`); its secrets are never returned. */
export interface V1Webhook {
  metadata: APIResourceMeta;
  tenantId: string;
  name: string;
  sourceName: 'GENERIC' | 'STRIPE' | 'GITHUB' | 'SLACK';
  eventKeyExpression: string;
  scopeExpression?: string;
  staticPayload?: Record<string, unknown>;
  authType: 'BASIC' | 'API_KEY' | 'HMAC';
}

export class WebhooksClient {
  constructor(private readonly host: FeatureHost) {}

  list(opts: { limit?: number; offset?: number; sourceNames?: string[]; webhookNames?: string[] } = {}): Promise<{ rows: V1Webhook[]; pagination: PaginationResponse }> {
    return this.host.rest.request('GET', '/api/v1/stable/tenants/{tenant}/webhooks', { query: { limit: opts.limit, offset: opts.offset, sourceNames: opts.sourceNames, webhookNames: opts.webhookNames } });
  }

  get(name: string): Promise<V1Webhook> {
    return this.host.rest.request('GET', `/api/v1/stable/tenants/{tenant}/webhooks/${encodeURIComponent(name)}`);
  }

  /** Creates a webhook; the kind of authentication follows from the `auth` fields given, as in Hatchet. */
  create(opts: CreateWebhookOptions): Promise<V1Webhook> {
    const { auth } = opts;
    const authType = auth.username !== undefined || auth.password !== undefined ? 'BASIC' : auth.apiKey !== undefined || auth.headerName !== undefined ? 'API_KEY' : 'HMAC';
    return this.host.rest.request('POST', '/api/v1/stable/tenants/{tenant}/webhooks', {
      body: {
        sourceName: opts.sourceName,
        name: opts.name,
        eventKeyExpression: opts.eventKeyExpression,
        ...(opts.scopeExpression === undefined ? {} : { scopeExpression: opts.scopeExpression }),
        ...(opts.staticPayload === undefined ? {} : { staticPayload: opts.staticPayload }),
        authType,
        auth: Object.fromEntries(Object.entries(auth).filter(([, value]) => value !== undefined).map(([key, value]) => [key, key === 'algorithm' || key === 'encoding' ? String(value).toUpperCase() : value])),
      },
    });
  }

  update(name: string, opts: { eventKeyExpression?: string; scopeExpression?: string; staticPayload?: Record<string, unknown> }): Promise<V1Webhook> {
    return this.host.rest.request('PATCH', `/api/v1/stable/tenants/{tenant}/webhooks/${encodeURIComponent(name)}`, { body: opts });
  }

  delete(name: string): Promise<V1Webhook> {
    return this.host.rest.request('DELETE', `/api/v1/stable/tenants/{tenant}/webhooks/${encodeURIComponent(name)}`);
  }
}

export type DebugCELInput = { expression: string; input: Record<string, unknown>; additionalMetadata?: Record<string, unknown>; filterPayload?: Record<string, unknown> };
export type CELEvaluationResult = { status: 'SUCCESS'; output: boolean } | { status: 'ERROR'; error: string };

export class CELClient {
  constructor(private readonly host: FeatureHost) {}

  /** How a filter expression evaluates over an input, metadata and a filter payload. */
  debug(input: DebugCELInput): Promise<CELEvaluationResult> {
    return this.host.rest.request('POST', '/api/v1/stable/tenants/{tenant}/cel/debug', { body: input });
  }
}

export class TenantClient {
  constructor(private readonly host: FeatureHost) {}

  /** The token's tenant. */
  get(): Promise<{ metadata: APIResourceMeta; name: string; slug: string; version: string }> {
    return this.host.rest.request('GET', '/api/v1/tenants/{tenant}');
  }
}
