/**
 * Everything that starts runs besides a direct trigger: pushed events (routed to the workflows
 * that listen for their key, through the tenant's event filters), one-off schedules and crons.
 *
 * Owns: three per-tenant actors on the actor host — `filters:<tenant>` (actors/filters.ts),
 * `schedules:<tenant>` (actors/schedules.ts) and `crons:<tenant>` (actors/crons.ts) — the event
 * router (which workflows a key triggers, kept from the workflows' definitions), the `events:<tenant>`
 * stream (every pushed event, with the runs it started), and the timers of schedules and crons.
 * Talks to: the engine, through `TriggerHost`, to create runs and to hand events to the runs that
 * wait for them.
 *
 * Invariants:
 *  1. A push is acknowledged only once its events, the runs they start and the waits they satisfy
 *     are durable (DESIGN invariant 1).
 *  2. A bad CEL or cron expression, or a schedule in the past, is refused when it is created, with
 *     INVALID_INPUT; nothing is stored.
 *  3. A schedule's or a cron tick's run id is derived from it, so firing it again (after a crash
 *     between the run and its bookkeeping) creates no second run.
 *  4. Timers are deadlines in the actors' state (a schedule's time, a cron's expression); every one
 *     is re-armed when the engine starts. Schedules and ticks that fell due while it was down are
 *     not run (Hatchet's rule): schedules are marked missed, crons go on from their next tick.
 */
import { createHash, randomUUID } from 'node:crypto';
import { type Cron, type CronFields, type CronsCommand, type CronsEvent, type CronsState, decideCrons, evolveCrons, initialCronsState } from '../../actors/crons.js';
import { decideFilters, evolveFilters, type Filter, type FilterFields, type FiltersCommand, type FiltersEvent, type FiltersState, initialFiltersState } from '../../actors/filters.js';
import { decideSchedules, evolveSchedules, initialSchedulesState, type Schedule, type ScheduleFields, type SchedulesCommand, type SchedulesEvent, type SchedulesState } from '../../actors/schedules.js';
import type { OccurredEvent, RunTrigger } from '../../actors/workflow-run.js';
import { ProtocolError, ProtocolErrorCode } from '../../protocol/errors.js';
import type { PushedEvent, TriggerRun, WorkflowSpec } from '../../protocol/frames.js';
import { decodePayload, encodePayload, type Payload } from '../../protocol/payload.js';
import type { EventLog } from '../../store/log.js';
import { celMatches, checkCel } from '../lib/cel.js';
import { chunkBySize } from '../lib/chunks.js';
import { checkCron, nextCronTick } from '../lib/cron.js';
import { KindlingError } from '../lib/errors.js';
import { engineLimits, limits } from '../lib/limits.js';
import { ActorHost, type Decider, loadActor } from './actor-host.js';
import { RunTimers } from './timers.js';

/** A run to create, with what the engine adds to a direct trigger: a fixed id and what started it. */
export type InternalRun = TriggerRun & {
  readonly runId?: string;
  /** The `runId` was made up just now (so no stream of it exists): the run is created without reading the log. */
  readonly freshId?: boolean;
  readonly trigger?: RunTrigger;
};

export interface TriggerHost {
  createRuns(tenantId: string, runs: readonly InternalRun[]): Promise<string[]>;
  workflow(tenantId: string, name: string): WorkflowSpec | undefined;
  /** Hands an event to every run of the tenant waiting for its key; resolves once they recorded it. */
  notifyWaiters(tenantId: string, event: OccurredEvent): Promise<void>;
  /** The run's status (QUEUED, RUNNING, …), or undefined when there is no such run. */
  runStatus(tenantId: string, runId: string): Promise<string | undefined>;
}

/** A pushed event as stored in `events:<tenant>`. */
export interface StoredEvent {
  readonly eventId: string;
  readonly key: string;
  readonly payload: Payload;
  readonly additionalMetadata: Record<string, string>;
  readonly scope?: string;
  readonly priority?: number;
  readonly atMs: number;
  readonly runs: Array<{ readonly runId: string; readonly workflow: string; readonly filterId?: string }>;
}

export const eventsStream = (tenantId: string) => `events:${tenantId}`;

/** A stable UUID-shaped id derived from `seed` (version 5 style, from SHA-256). */
export function derivedId(seed: string): string {
  const hex = createHash('sha256').update(seed).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

const always = () => true;
const filtersDecider: Decider<FiltersState, FiltersCommand, FiltersEvent> = { initialState: initialFiltersState, decide: decideFilters, evolve: evolveFilters, isActive: always };
const schedulesDecider: Decider<SchedulesState, SchedulesCommand, SchedulesEvent> = {
  initialState: initialSchedulesState,
  decide: decideSchedules,
  evolve: evolveSchedules,
  isActive: always,
};
const cronsDecider: Decider<CronsState, CronsCommand, CronsEvent> = { initialState: initialCronsState, decide: decideCrons, evolve: evolveCrons, isActive: always };

const notFound = (code: string, what: string) => new KindlingError(code, `${what} does not exist`, false);
const invalid = (message: string) => new ProtocolError(ProtocolErrorCode.InvalidInput, message);

/** `*` in an event trigger matches any characters (`subscription:*` matches `subscription:renew`). */
function wildcard(pattern: string): RegExp {
  return new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

interface Router {
  readonly exact: Map<string, Set<string>>;
  readonly wildcards: Array<{ readonly pattern: RegExp; readonly workflow: string }>;
}

const timerKey = (tenantId: string, id: string) => `${tenantId}\u0000${id}`;

export class Triggers {
  readonly #log: EventLog;
  readonly #clock: () => number;
  readonly #host: TriggerHost;
  readonly #filters: ActorHost<FiltersState, FiltersCommand, FiltersEvent>;
  readonly #schedules: ActorHost<SchedulesState, SchedulesCommand, SchedulesEvent>;
  readonly #crons: ActorHost<CronsState, CronsCommand, CronsEvent>;
  readonly #routers = new Map<string, Router>();
  /** Each tenant's filters by workflow, rebuilt when its filters change. */
  readonly #filtersByWorkflow = new Map<string, Map<string, Filter[]>>();
  readonly #scheduleTimers: RunTimers;
  readonly #cronTimers: RunTimers;
  /** The tick each cron's timer is armed for. */
  readonly #cronDue = new Map<string, number>();

  constructor(log: EventLog, clock: () => number, host: TriggerHost) {
    this.#log = log;
    this.#clock = clock;
    this.#host = host;
    const noDecided = () => {};
    this.#filters = new ActorHost({
      log,
      clock,
      decider: filtersDecider,
      stream: (tenantId) => `filters:${tenantId}`,
      snapshotEveryEvents: 500,
      effects: { applied: (tenantId) => this.#filtersByWorkflow.delete(tenantId), reconciled: (tenantId) => this.#filtersByWorkflow.delete(tenantId), decided: noDecided },
    });
    this.#schedules = new ActorHost({
      log,
      clock,
      decider: schedulesDecider,
      stream: (tenantId) => `schedules:${tenantId}`,
      snapshotEveryEvents: 500,
      effects: { applied: (tenantId, _b, events, after) => this.#armSchedules(tenantId, after, events), reconciled: (tenantId, state) => this.#armSchedules(tenantId, state), decided: noDecided },
    });
    this.#crons = new ActorHost({
      log,
      clock,
      decider: cronsDecider,
      stream: (tenantId) => `crons:${tenantId}`,
      snapshotEveryEvents: 500,
      effects: { applied: (tenantId, _b, events, after) => this.#armCrons(tenantId, after, events), reconciled: (tenantId, state) => this.#armCrons(tenantId, state), decided: noDecided },
    });
    this.#scheduleTimers = new RunTimers(clock, (key) => void this.#fireSchedule(key));
    this.#cronTimers = new RunTimers(clock, (key) => void this.#fireCron(key));
  }

  /** Rebuilds every tenant's filters, schedules and crons from the log and arms their timers (invariant 4). */
  async start(workflows: ReadonlyMap<string, Iterable<WorkflowSpec>>): Promise<void> {
    const startedAt = this.#clock();
    for (const [tenantId, specs] of workflows) {
      const filters = await loadActor(this.#log, `filters:${tenantId}`, initialFiltersState(), evolveFilters);
      this.#filters.adopt(tenantId, filters.state, filters.version);
      const schedules = await loadActor(this.#log, `schedules:${tenantId}`, initialSchedulesState(), evolveSchedules);
      this.#schedules.adopt(tenantId, schedules.state, schedules.version);
      const crons = await loadActor(this.#log, `crons:${tenantId}`, initialCronsState(), evolveCrons);
      this.#crons.adopt(tenantId, crons.state, crons.version);
      for (const spec of specs) {
        this.#route(tenantId, spec);
        await this.#reconcileDeclared(tenantId, spec, filters.state, crons.state);
      }
      for (const schedule of Object.values(schedules.state.schedules)) {
        if (schedule.status !== 'scheduled' || schedule.triggerAtMs >= startedAt) continue;
        // Due while the engine was down: missed, unless its run was created before the crash.
        const runId = scheduleRunId(schedule.id);
        const exists = (await this.#host.runStatus(tenantId, runId)) !== undefined;
        await this.#schedules.send(tenantId, exists ? { type: 'MarkTriggered', id: schedule.id, runId } : { type: 'MarkMissed', id: schedule.id });
      }
      this.#armSchedules(tenantId, this.#schedules.peekDurable(tenantId) ?? schedules.state);
      this.#armCrons(tenantId, crons.state);
    }
  }

  stop(): void {
    this.#scheduleTimers.stop();
    this.#cronTimers.stop();
  }

  /** A new version of a workflow: its event triggers, declared filters and declared crons replace the old ones. */
  async workflowRegistered(tenantId: string, spec: WorkflowSpec): Promise<void> {
    this.#route(tenantId, spec);
    await this.#reconcileDeclared(tenantId, spec, this.#filters.peek(tenantId), this.#crons.peek(tenantId));
  }

  /** Checks what a workflow definition declares before it is stored (invariant 2). */
  static check(spec: WorkflowSpec): void {
    for (const filter of spec.defaultFilters ?? []) checkCel(filter.expression, `workflow '${spec.name}': a default filter`);
    if (spec.idempotency !== undefined) checkCel(spec.idempotency.expression, `workflow '${spec.name}': its idempotency expression`);
    for (const expression of spec.onCrons ?? []) checkCron(expression);
  }

  #route(tenantId: string, spec: WorkflowSpec): void {
    let router = this.#routers.get(tenantId);
    if (router === undefined) {
      router = { exact: new Map(), wildcards: [] };
      this.#routers.set(tenantId, router);
    }
    for (const workflows of router.exact.values()) workflows.delete(spec.name);
    const wildcards = router.wildcards.filter((entry) => entry.workflow !== spec.name);
    router.wildcards.length = 0;
    router.wildcards.push(...wildcards);
    for (const key of spec.onEvents ?? []) {
      if (key.includes('*')) router.wildcards.push({ pattern: wildcard(key), workflow: spec.name });
      else {
        const workflows = router.exact.get(key) ?? new Set();
        workflows.add(spec.name);
        router.exact.set(key, workflows);
      }
    }
  }

  async #reconcileDeclared(tenantId: string, spec: WorkflowSpec, filters: FiltersState | undefined, crons: CronsState | undefined): Promise<void> {
    const declaredFilters = (spec.defaultFilters ?? []).map((filter, i) => ({
      id: derivedId(`filter:${tenantId}:${spec.name}:${i}:${JSON.stringify(filter)}`),
      expression: filter.expression,
      scope: filter.scope,
      payload: filter.payload ?? {},
    }));
    const haveFilters = Object.values(filters?.filters ?? {}).filter((f) => f.declarative && f.workflow === spec.name).map((f) => f.id).sort();
    if (JSON.stringify(haveFilters) !== JSON.stringify(declaredFilters.map((f) => f.id).sort())) {
      await this.#filters.send(tenantId, { type: 'ReplaceDeclaredFilters', workflow: spec.name, filters: declaredFilters });
    }
    const declaredCrons = (spec.onCrons ?? []).map((expression, i) => ({ id: derivedId(`cron:${tenantId}:${spec.name}:${i}:${expression}`), expression, input: encodePayload({}, 'a cron input') }));
    const haveCrons = Object.values(crons?.crons ?? {}).filter((c) => c.declarative && c.workflow === spec.name).map((c) => c.id).sort();
    if (JSON.stringify(haveCrons) !== JSON.stringify(declaredCrons.map((c) => c.id).sort())) {
      await this.#crons.send(tenantId, { type: 'ReplaceDeclaredCrons', workflow: spec.name, crons: declaredCrons });
    }
  }

  // -------------------------------------------------------------------------------------------
  // Events

  #filtersOf(tenantId: string, workflow: string): Filter[] {
    let byWorkflow = this.#filtersByWorkflow.get(tenantId);
    if (byWorkflow === undefined) {
      byWorkflow = new Map();
      for (const filter of Object.values(this.#filters.peek(tenantId)?.filters ?? {})) {
        const list = byWorkflow.get(filter.workflow) ?? [];
        list.push(filter);
        byWorkflow.set(filter.workflow, list);
      }
      this.#filtersByWorkflow.set(tenantId, byWorkflow);
    }
    return byWorkflow.get(workflow) ?? [];
  }

  /** The workflows an event key triggers. */
  #workflowsFor(tenantId: string, key: string): string[] {
    const router = this.#routers.get(tenantId);
    if (router === undefined) return [];
    const found = new Set(router.exact.get(key) ?? []);
    for (const { pattern, workflow } of router.wildcards) if (pattern.test(key)) found.add(workflow);
    return [...found];
  }

  /**
   * Stores pushed events, starts the runs they trigger and hands them to the runs waiting for
   * them; resolves with each event's id once all of it is durable (invariant 1).
   */
  async pushEvents(tenantId: string, events: readonly PushedEvent[]): Promise<StoredEvent[]> {
    if (events.length > engineLimits.eventsPerPushMax) throw invalid(`a push holds at most ${engineLimits.eventsPerPushMax} events, not ${events.length}`);
    const now = this.#clock();
    const stored: StoredEvent[] = [];
    const runs: InternalRun[] = [];
    for (const event of events) {
      if (event.payload.length > engineLimits.payloadBytesMax) {
        throw new ProtocolError(ProtocolErrorCode.PayloadTooLarge, `the payload of event '${event.key}' is ${event.payload.length} bytes; the limit is ${engineLimits.payloadBytesMax}`);
      }
      const eventId = randomUUID();
      const additionalMetadata = event.additionalMetadata ?? {};
      const record: StoredEvent = {
        eventId,
        key: event.key,
        payload: event.payload,
        additionalMetadata,
        ...(event.scope === undefined ? {} : { scope: event.scope }),
        ...(event.priority === undefined ? {} : { priority: event.priority }),
        atMs: now,
        runs: [],
      };
      let input: unknown;
      const decoded = () => {
        input ??= decodePayload(event.payload);
        return input;
      };
      for (const workflow of this.#workflowsFor(tenantId, event.key)) {
        const base = {
          workflow,
          input: event.payload,
          additionalMetadata: { ...additionalMetadata, hatchet__event_id: eventId, hatchet__event_key: event.key },
          ...(event.priority === undefined ? {} : { priority: event.priority }),
        };
        const filters = this.#filtersOf(tenantId, workflow);
        if (filters.length === 0) {
          const runId = randomUUID();
          runs.push({ ...base, runId, freshId: true, trigger: { kind: 'event', eventId, eventKey: event.key } });
          record.runs.push({ runId, workflow });
          continue;
        }
        // With filters, the workflow runs once per filter of the event's scope whose expression holds.
        for (const filter of filters) {
          if (event.scope === undefined || filter.scope !== event.scope) continue;
          const context = { input: decoded(), payload: filter.payload, additional_metadata: additionalMetadata, event_key: event.key, event_id: eventId };
          if (!celMatches(filter.expression, context)) continue;
          const runId = randomUUID();
          runs.push({ ...base, runId, freshId: true, trigger: { kind: 'event', eventId, eventKey: event.key, filterId: filter.id, filterPayload: encodePayload(filter.payload, 'a filter payload') } });
          record.runs.push({ runId, workflow, filterId: filter.id });
        }
      }
      stored.push(record);
    }
    const appends = chunkBySize(stored, (record) => record.payload.length + 512, limits.appendBytesMax / 2, limits.appendEventsMax).map((chunk) =>
      this.#log.append(eventsStream(tenantId), chunk.map((data) => ({ type: 'EventPushed', data })), { expectedVersion: 'any' }),
    );
    await Promise.all([
      ...appends,
      runs.length === 0 ? Promise.resolve([]) : this.#host.createRuns(tenantId, runs),
      ...stored.map((record) =>
        this.#host.notifyWaiters(tenantId, { eventId: record.eventId, key: record.key, payload: record.payload, additionalMetadata: record.additionalMetadata, scope: record.scope, atMs: record.atMs }),
      ),
    ]);
    return stored;
  }

  /** The tenant's newest events (at most `engineLimits.eventsListedMax` are read back), newest first. */
  async listEvents(tenantId: string, query: { offset: number; limit: number; keys?: readonly string[] | undefined; eventIds?: readonly string[] | undefined }): Promise<{ rows: StoredEvent[]; total: number }> {
    const stream = eventsStream(tenantId);
    const version = await this.#log.streamVersion(stream);
    const fromSeq = Math.max(1, version - engineLimits.eventsListedMax + 1);
    const records = await this.#log.readStream(stream, { fromSeq, limit: engineLimits.eventsListedMax });
    let events = records.map((record) => record.data as StoredEvent).reverse();
    if (query.keys !== undefined && query.keys.length > 0) events = events.filter((event) => query.keys?.includes(event.key));
    if (query.eventIds !== undefined && query.eventIds.length > 0) events = events.filter((event) => query.eventIds?.includes(event.eventId));
    return { rows: events.slice(query.offset, query.offset + query.limit), total: events.length };
  }

  /** Events with one of `keys` pushed since `sinceMs` (among the newest `eventsListedMax`), oldest first. */
  async eventsSince(tenantId: string, keys: readonly string[], sinceMs: number): Promise<OccurredEvent[]> {
    const { rows } = await this.listEvents(tenantId, { offset: 0, limit: engineLimits.eventsListedMax, keys });
    return rows
      .filter((event) => event.atMs >= sinceMs)
      .reverse()
      .map((event) => ({ eventId: event.eventId, key: event.key, payload: event.payload, additionalMetadata: event.additionalMetadata, scope: event.scope, atMs: event.atMs }));
  }

  runStatus(tenantId: string, runId: string): Promise<string | undefined> {
    return this.#host.runStatus(tenantId, runId);
  }

  // -------------------------------------------------------------------------------------------
  // Filters

  listFilters(tenantId: string): Filter[] {
    return Object.values(this.#filters.peek(tenantId)?.filters ?? {}).sort((a, b) => a.createdAtMs - b.createdAtMs || a.id.localeCompare(b.id));
  }

  getFilter(tenantId: string, id: string): Filter {
    const filter = this.#filters.peek(tenantId)?.filters[id];
    if (filter === undefined) throw notFound('FILTER_NOT_FOUND', `filter '${id}'`);
    return filter;
  }

  async createFilter(tenantId: string, fields: FilterFields): Promise<Filter> {
    if (this.#host.workflow(tenantId, fields.workflow) === undefined) throw new ProtocolError(ProtocolErrorCode.WorkflowNotFound, `workflow '${fields.workflow}' is not registered`);
    checkCel(fields.expression, 'the filter');
    if (this.listFilters(tenantId).length >= engineLimits.filtersPerTenantMax) throw invalid(`a tenant holds at most ${engineLimits.filtersPerTenantMax} filters`);
    const id = randomUUID();
    await this.#filters.send(tenantId, { type: 'CreateFilter', id, fields });
    return this.getFilter(tenantId, id);
  }

  async updateFilter(tenantId: string, id: string, patch: Partial<Pick<Filter, 'scope' | 'expression' | 'payload'>>): Promise<Filter> {
    this.getFilter(tenantId, id);
    if (patch.expression !== undefined) checkCel(patch.expression, 'the filter');
    await this.#filters.send(tenantId, { type: 'UpdateFilter', id, patch });
    return this.getFilter(tenantId, id);
  }

  async deleteFilter(tenantId: string, id: string): Promise<Filter> {
    const filter = this.getFilter(tenantId, id);
    await this.#filters.send(tenantId, { type: 'DeleteFilter', id });
    return filter;
  }

  // -------------------------------------------------------------------------------------------
  // Schedules

  listSchedules(tenantId: string): Schedule[] {
    return Object.values(this.#schedules.peek(tenantId)?.schedules ?? {}).sort((a, b) => a.triggerAtMs - b.triggerAtMs || a.id.localeCompare(b.id));
  }

  getSchedule(tenantId: string, id: string): Schedule {
    const schedule = this.#schedules.peek(tenantId)?.schedules[id];
    if (schedule === undefined) throw notFound('SCHEDULE_NOT_FOUND', `scheduled run '${id}'`);
    return schedule;
  }

  #checkTime(triggerAtMs: number): void {
    if (!Number.isFinite(triggerAtMs)) throw invalid('triggerAt is not a valid time');
    // A second of slack for the client's and the engine's clocks.
    if (triggerAtMs < this.#clock() - 1000) throw invalid(`triggerAt ${new Date(triggerAtMs).toISOString()} is in the past; schedule a run for a time to come`);
  }

  async createSchedule(tenantId: string, fields: ScheduleFields): Promise<Schedule> {
    if (this.#host.workflow(tenantId, fields.workflow) === undefined) throw new ProtocolError(ProtocolErrorCode.WorkflowNotFound, `workflow '${fields.workflow}' is not registered`);
    this.#checkTime(fields.triggerAtMs);
    if (fields.input.length > engineLimits.payloadBytesMax) throw new ProtocolError(ProtocolErrorCode.PayloadTooLarge, `the input is ${fields.input.length} bytes; the limit is ${engineLimits.payloadBytesMax}`);
    const waiting = this.listSchedules(tenantId).filter((schedule) => schedule.status === 'scheduled').length;
    if (waiting >= engineLimits.schedulesPerTenantMax) throw invalid(`a tenant has at most ${engineLimits.schedulesPerTenantMax} scheduled runs waiting`);
    const id = randomUUID();
    await this.#schedules.send(tenantId, { type: 'CreateSchedule', id, fields });
    return this.getSchedule(tenantId, id);
  }

  async reschedule(tenantId: string, id: string, triggerAtMs: number): Promise<Schedule> {
    this.getSchedule(tenantId, id);
    this.#checkTime(triggerAtMs);
    await this.#schedules.send(tenantId, { type: 'Reschedule', id, triggerAtMs });
    return this.getSchedule(tenantId, id);
  }

  async deleteSchedule(tenantId: string, id: string): Promise<void> {
    this.getSchedule(tenantId, id);
    await this.#schedules.send(tenantId, { type: 'DeleteSchedule', id });
  }

  #armSchedules(tenantId: string, state: SchedulesState, events?: readonly SchedulesEvent[]): void {
    const ids = events === undefined ? Object.keys(state.schedules) : events.map((event) => (event.type === 'ScheduleCreated' ? event.schedule.id : event.id));
    for (const id of ids) {
      const schedule = state.schedules[id];
      this.#scheduleTimers.set(timerKey(tenantId, id), schedule?.status === 'scheduled' ? schedule.triggerAtMs : undefined);
    }
  }

  async #fireSchedule(key: string): Promise<void> {
    const [tenantId, id] = key.split('\u0000') as [string, string];
    const schedule = this.#schedules.peek(tenantId)?.schedules[id];
    if (schedule?.status !== 'scheduled') return;
    const runId = scheduleRunId(id);
    try {
      await this.#host.createRuns(tenantId, [
        {
          workflow: schedule.workflow,
          input: schedule.input,
          additionalMetadata: { ...schedule.additionalMetadata },
          ...(schedule.priority === undefined ? {} : { priority: schedule.priority }),
          runId,
          trigger: { kind: 'schedule', scheduleId: id },
        },
      ]);
      await this.#schedules.send(tenantId, { type: 'MarkTriggered', id, runId });
    } catch (error) {
      if (error instanceof KindlingError && error.code === ProtocolErrorCode.WorkflowNotFound) {
        await this.#schedules.send(tenantId, { type: 'MarkMissed', id }).catch(() => {});
        return;
      }
      // The log refused (it is unavailable, say): try again in a second.
      this.#scheduleTimers.set(key, this.#clock() + 1000);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Crons

  listCrons(tenantId: string): Cron[] {
    return Object.values(this.#crons.peek(tenantId)?.crons ?? {}).sort((a, b) => a.createdAtMs - b.createdAtMs || a.id.localeCompare(b.id));
  }

  getCron(tenantId: string, id: string): Cron {
    const cron = this.#crons.peek(tenantId)?.crons[id];
    if (cron === undefined) throw notFound('CRON_NOT_FOUND', `cron '${id}'`);
    return cron;
  }

  async createCron(tenantId: string, fields: CronFields): Promise<Cron> {
    if (this.#host.workflow(tenantId, fields.workflow) === undefined) throw new ProtocolError(ProtocolErrorCode.WorkflowNotFound, `workflow '${fields.workflow}' is not registered`);
    if (fields.name === undefined || fields.name.trim() === '') throw invalid('a cron needs a name');
    checkCron(fields.expression);
    if (this.listCrons(tenantId).length >= engineLimits.cronsPerTenantMax) throw invalid(`a tenant holds at most ${engineLimits.cronsPerTenantMax} crons`);
    const id = randomUUID();
    await this.#crons.send(tenantId, { type: 'CreateCron', id, fields });
    return this.getCron(tenantId, id);
  }

  async deleteCron(tenantId: string, id: string): Promise<void> {
    this.getCron(tenantId, id);
    await this.#crons.send(tenantId, { type: 'DeleteCron', id });
  }

  /** The next tick of a cron, strictly after both its last tick and now: missed ticks are not run. */
  nextTick(cron: Cron, afterMs: number): number | undefined {
    return nextCronTick(cron.expression, Math.max(afterMs, this.#clock()));
  }

  #armCrons(tenantId: string, state: CronsState, events?: readonly CronsEvent[]): void {
    const ids = events === undefined ? Object.keys(state.crons) : events.map((event) => (event.type === 'CronCreated' ? event.cron.id : event.id));
    for (const id of ids) {
      const key = timerKey(tenantId, id);
      const cron = state.crons[id];
      const due = cron === undefined ? undefined : this.nextTick(cron, this.#clock());
      if (due === undefined) this.#cronDue.delete(key);
      else this.#cronDue.set(key, due);
      this.#cronTimers.set(key, due);
    }
  }

  async #fireCron(key: string): Promise<void> {
    const [tenantId, id] = key.split('\u0000') as [string, string];
    const cron = this.#crons.peek(tenantId)?.crons[id];
    const due = this.#cronDue.get(key);
    if (cron === undefined || due === undefined) return;
    const next = this.nextTick(cron, due);
    if (next === undefined) this.#cronDue.delete(key);
    else this.#cronDue.set(key, next);
    this.#cronTimers.set(key, next);
    await this.#host
      .createRuns(tenantId, [
        {
          workflow: cron.workflow,
          input: cron.input,
          additionalMetadata: {
            ...cron.additionalMetadata,
            ...(cron.name === undefined ? {} : { hatchet__cron_name: cron.name }),
            hatchet__cron_expression: cron.expression,
            hatchet__cron_scheduled_at: new Date(due).toISOString(),
          },
          ...(cron.priority === undefined ? {} : { priority: cron.priority }),
          runId: derivedId(`cron-tick:${tenantId}:${id}:${due}`),
          trigger: { kind: 'cron', cronId: id },
        },
      ])
      .catch(() => {});
  }
}

/** The run a schedule starts (invariant 3). */
export const scheduleRunId = (scheduleId: string) => derivedId(`schedule-run:${scheduleId}`);
