/**
 * The engine: joins the event log, the run actors, the tenant queue, timers and worker sessions.
 *
 * Owns: the in-memory indexes that make scheduling cheap (task id → run, the tenant queue, worker
 * sessions and their liveness, result subscriptions) — all rebuilt from the log on start. Talks to:
 * the gateway (sessions call in; the engine sends frames back through `Session`), the run host
 * (commands in, durable events out) and the log.
 *
 * Invariants:
 *  1. Effects follow durability: a frame about a run's change (a finished run, a cancellation) is
 *     sent only after the events that caused it are in the log (DESIGN invariant 1). The one
 *     exception is an assignment, sent as soon as it is decided: it acknowledges nothing, and an
 *     attempt whose assignment never became durable is fenced and assigned again.
 *  2. At-least-once: a task assigned to a worker that stops heartbeating for `workerLivenessMs` is
 *     re-queued as a new attempt (REASSIGNED); the old attempt's late results are fenced by the run.
 *  3. Every state the engine holds in memory can be rebuilt by reading the log from position 0.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import {
  conditionTriggers,
  evolve,
  initialState,
  isTerminal,
  nextDeadline,
  ON_FAILURE_TASK,
  type OccurredEvent,
  type RunCommand,
  type RunEvent,
  type RunState,
  runStatus,
  type TaskState,
  taskEventsOf,
  taskRunStatus,
} from '../../actors/workflow-run.js';
import { type QueuedTask, TenantQueue } from '../../actors/tenant-queue.js';
import { type RateLimitDefinition, windowMs } from '../../actors/rate-limits.js';
import { decideWorker, evolveWorker, initialWorkerState, type WorkerCommand, type WorkerEvent, type WorkerState } from '../../actors/worker.js';
import { encodeBatches } from '../../protocol/codec.js';
import { ProtocolError, ProtocolErrorCode } from '../../protocol/errors.js';
import { encodePayload, NULL_PAYLOAD, type Payload } from '../../protocol/payload.js';
import type { AssignedTask, CheckpointReply, CheckpointResult, ClientFrame, EvictedInvocation, FinishedRun, LogLine, PushedEvent, RateLimitDurationName, RegisteredWorkflow, RunDetails, ServerFrame, TriggerRun, WorkflowSpec } from '../../protocol/frames.js';
import type { EventLog, LogRecord } from '../../store/log.js';
import { BoundedMap } from '../lib/bounded-map.js';
import { coalesce } from '../lib/coalesce.js';
import { KindlingError } from '../lib/errors.js';
import { engineLimits, limits } from '../lib/limits.js';
import { TrackedLog, writeCheckpoint } from './checkpoint.js';
import { recover, workerStream, workflowsStream } from './recovery.js';
import { checkPolicies, type DynamicRateLimit, rateLimitQueueKey, renderPolicy, taskPolicy } from './flow-control.js';
import { createRateLimitsHost, type RateLimitsHost } from './rate-limits.js';
import { createRunHost, loadRun, type RunHost, runStream } from './run-host.js';
import { type Authenticated, TenantRegistry, type TokenRecord, type TokenRole } from './tenants.js';
import { ReadModels } from './read-models.js';
import { RunTimers } from './timers.js';
import { DurableTasks, durablePool, workerOfPool } from './durable.js';
import { Residents } from './residency.js';
import { EventWaiters } from './event-waiters.js';
import { type InternalRun, Triggers } from './triggers.js';
import { Idempotency, IdempotencyCollision } from './idempotency.js';
import { WebhookRegistry } from './webhooks.js';
import { EngineMetrics } from './metrics.js';
import { RunStreams, type StreamChunk } from './streams.js';

export const DEFAULT_TENANT = 'default';

/** What the engine needs of a connection to send it frames. */
export interface Session {
  /** False once the connection has closed. */
  readonly open: boolean;
  /** The tenant the connection authenticated as: all it sees and does is that tenant's. */
  readonly tenantId: string;
  /** The token it authenticated with: revoking the token closes the connection. */
  readonly tokenId?: string | undefined;
  /** Sends a frame, or the bytes of one already encoded. */
  send(frame: ServerFrame | Uint8Array): void;
  close(code: string, message: string): void;
  /** Bytes sent that the socket has not written yet (live streams drop subscribers far behind). */
  readonly bufferedBytes?: number;
}

export interface EngineOptions {
  readonly log: EventLog;
  readonly clock?: () => number;
  /** A worker that sends no heartbeat for this long loses its tasks (default 30 s). */
  readonly workerLivenessMs?: number;
  /** How often workers are asked to heartbeat (default 4 s). */
  readonly heartbeatMs?: number;
  /** A recovery checkpoint is taken each time this many appends were made (default `engineLimits.checkpointEveryAppends`). */
  readonly checkpointEveryAppends?: number;
  /** Memory idle runs with a task on a worker may hold before the least recently used leave it (default `engineLimits.idleRunsBytesMax`). */
  readonly idleRunsBytesMax?: number;
  /** Memory idle runs with no task on a worker may hold; past it, runs leave memory as they go idle (default `engineLimits.idleWaitingRunsBytesMax`). */
  readonly idleWaitingRunsBytesMax?: number;
  /**
   * The key API tokens are signed with (32 bytes or more). Tokens outlive a restart only if the
   * same key is given again (`kindling start` keeps it in the data directory); without one the
   * engine makes a key for this process alone.
   */
  readonly signingKey?: Uint8Array;
  /**
   * The directory of the read models (an LMDB environment of their own; `kindling start` puts it
   * beside the log). Without one they live in a temporary directory, rebuilt from the log at each
   * start.
   */
  readonly readModelPath?: string;
  /** Finished runs are deleted this long after they finished (default 30 days, as in Hatchet). */
  readonly retentionMs?: number;
  /** How often retention looks for runs to delete (default 60 s). */
  readonly retentionSweepMs?: number;
}

interface WorkerEntry {
  readonly workerId: string;
  readonly tenantId: string;
  name: string;
  actions: string[];
  slots: number;
  labels: Record<string, string | number>;
  paused: boolean;
  registeredAtMs: number;
  session: Session | undefined;
  lastSeenMs: number;
  assignOutbox: AssignedTask[];
  cancelOutbox: Array<{ taskId: string; attempt: number }>;
  /** Resident durable tasks' checkpoint results and evictions (residency.ts). */
  checkpointOutbox: CheckpointResult[];
  evictOutbox: EvictedInvocation[];
}

interface WorkflowEntry {
  readonly spec: WorkflowSpec;
  readonly version: number;
  /** The spec each run carries in its log: without `inputJsonSchema`, which runs never need. */
  readonly runSpec: WorkflowSpec;
  /** When its first and its current version were registered. */
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
}

function workflowEntry(spec: WorkflowSpec, version: number, createdAtMs: number, updatedAtMs: number): WorkflowEntry {
  // Runs need neither the schema nor the triggers; they stay with the definition.
  const { inputJsonSchema: _schema, onEvents: _events, onCrons: _crons, defaultFilters: _filters, idempotency: _idempotency, ...runSpec } = spec;
  return { spec, version, runSpec, createdAtMs, updatedAtMs };
}


/** A worker as the workers API shows it. */
export interface WorkerView {
  readonly workerId: string;
  readonly name: string;
  readonly actions: string[];
  readonly slots: number;
  readonly usedSlots: number;
  readonly labels: Record<string, string | number>;
  readonly paused: boolean;
  readonly connected: boolean;
  readonly registeredAtMs: number;
  readonly lastSeenMs: number;
}

export class Engine {
  readonly #log: TrackedLog;
  readonly #clock: () => number;
  readonly #livenessMs: number;
  readonly heartbeatMs: number;
  readonly #host: RunHost;
  readonly #timers: RunTimers;
  readonly #queue = new TenantQueue();
  /** Each tenant's rate limits (definitions; the queue counts their windows). */
  readonly #rateLimits: RateLimitsHost;
  /** Wakes the pump when a rate limit with waiters refills. */
  #rateWake: { timer: NodeJS.Timeout; atMs: number } | undefined;
  /** Every task of an active run that has not ended: where it is, and whose it is. */
  readonly #tasks = new Map<string, { runId: string; task: string; tenantId: string }>();
  /** The current assigned attempt of each task and its worker: what a lost worker loses. */
  readonly #assignedTo = new Map<string, { workerId: string; attempt: number }>();
  readonly #workers = new Map<string, WorkerEntry>();
  /** Each worker actor's state and stream version, and the chain that serializes its appends. */
  readonly #workerActors = new Map<string, { state: WorkerState; version: number; chain: Promise<unknown> }>();
  /** Each tenant's workflows by name, and the version of its workflows stream. */
  readonly #workflows = new Map<string, { byName: Map<string, WorkflowEntry>; version: number }>();
  #workflowWrites: Promise<unknown> = Promise.resolve();
  /** Projections of the log for list queries (read-models.ts). */
  readonly readModels: ReadModels;
  /** Incoming webhooks (the `webhooks:<tenant>` streams). */
  readonly webhooks: WebhookRegistry;
  /** Tenants and API tokens (the `tenants` stream). */
  readonly tenants: TenantRegistry;
  /** Lines each active task has logged (`taskLog`), once known. */
  readonly #logCounts = new Map<string, { lines: number; ready: Promise<void> }>();
  /** Open connections by the token they authenticated with, so a revocation can close them. */
  readonly #sessionsByToken = new Map<string, Set<Session>>();
  readonly #subscribers = new Map<string, Set<Session>>();
  /** Runs that finished lately, for subscriptions that arrive after the end (bounded by count and by bytes of outputs). */
  readonly #finished = new BoundedMap<string, { tenantId: string; finished: FinishedRun }>(engineLimits.recentlyFinishedRunsMax, {
    bytesMax: engineLimits.recentlyFinishedBytesMax,
    sizeOf: ({ finished }) => 128 + Object.values(finished.output ?? {}).reduce((sum, payload) => sum + payload.length, 0) + (finished.errors ?? []).reduce((sum, error) => sum + error.length, 0),
  });
  readonly #finishedOutbox = new Map<Session, FinishedRun[]>();
  /** Live task output (`putStream`): ephemeral, never in the log (streams.ts). */
  readonly #streams = new RunStreams();
  #pumpScheduled = false;
  readonly #sweeper: NodeJS.Timeout;
  /** The log position of the last checkpoint this engine wrote (0: none yet). */
  #checkpointPosition = 0;
  /**
   * Runs that have not finished, in memory or not: what a checkpoint names, since a run idle long
   * enough leaves memory (actor-host invariant 5) and must still be recovered after a restart.
   */
  readonly #activeRuns = new Set<string>();
  /** Events, filters, schedules and crons: what starts runs besides a direct trigger. */
  readonly triggers: Triggers;
  /** Prometheus metrics, counted from the run events applied here (`src/engine/metrics.ts`). */
  readonly metrics = new EngineMetrics({
    tenants: () => this.tenants.tenants().map((tenant) => tenant.tenantId),
    slots: (tenantId) => {
      let total = 0;
      let used = 0;
      for (const worker of this.listWorkers(tenantId)) {
        if (!worker.connected) continue;
        total += worker.slots;
        used += Math.min(worker.slots, worker.usedSlots);
      }
      return { total, used };
    },
  });
  readonly #waiters = new EventWaiters();
  readonly #durable: DurableTasks;
  readonly #residents = new Residents();
  readonly #idempotency: Idempotency;
  readonly #retentionMs: number;
  readonly #retentionTimer: NodeJS.Timeout;
  #sweeping: Promise<number> | undefined;
  /** The checkpoint being written, if any. */
  #checkpointing: Promise<void> | undefined;
  #closed = false;

  private constructor(options: EngineOptions) {
    this.#log = new TrackedLog(options.log, { every: options.checkpointEveryAppends ?? engineLimits.checkpointEveryAppends, call: () => void this.checkpoint() });
    this.#clock = options.clock ?? Date.now;
    const signingKey = options.signingKey ?? randomBytes(32);
    this.tenants = new TenantRegistry(this.#log, this.#clock, signingKey);
    this.webhooks = new WebhookRegistry(this.#log, this.#clock, signingKey);
    this.readModels = ReadModels.open(this.#log, { ...(options.readModelPath === undefined ? {} : { path: options.readModelPath }) });
    this.#livenessMs = options.workerLivenessMs ?? 30_000;
    // Workers heartbeat at least three times per liveness window.
    this.heartbeatMs = options.heartbeatMs ?? Math.min(4_000, Math.floor(this.#livenessMs / 3));
    this.#host = createRunHost(this.#log, this.#clock, {
      applied: (runId, before, events, after, firstSeq) => {
        this.#applied(runId, before, events, after);
        this.metrics.applied(before, events, after);
        if (after.kind !== 'none') this.readModels.runEvents(runId, after.tenantId, events, firstSeq);
      },
      reconciled: (runId, state) => this.#reconciled(runId, state),
      decided: (runId, before, events, after, command) => this.#decided(runId, before, events, after, command),
    }, {
      ...(options.idleRunsBytesMax === undefined ? {} : { idleBytesMax: options.idleRunsBytesMax }),
      ...(options.idleWaitingRunsBytesMax === undefined ? {} : { waitingBytesMax: options.idleWaitingRunsBytesMax }),
    });
    this.#rateLimits = createRateLimitsHost(this.#log, this.#clock, {
      applied: (tenantId, _before, events) => {
        for (const event of events) this.#queue.setRateLimit(rateLimitQueueKey(tenantId, event.key), event.limit, windowMs(event.duration));
        this.#schedulePump();
      },
      reconciled: (tenantId, state) => {
        for (const definition of Object.values(state.definitions)) this.#queue.setRateLimit(rateLimitQueueKey(tenantId, definition.key), definition.limit, windowMs(definition.duration));
      },
      decided: () => {},
    });
    this.#timers = new RunTimers(this.#clock, (runId) => {
      this.#host.send(runId, { type: 'Tick' }).catch(() => {});
    });
    this.triggers = new Triggers(this.#log, this.#clock, {
      createRuns: (tenantId, runs) => this.#createRuns(tenantId, runs),
      workflow: (tenantId, name) => this.#workflows.get(tenantId)?.byName.get(name)?.spec,
      notifyWaiters: (tenantId, event) => this.#notifyWaiters(tenantId, event),
      runStatus: async (tenantId, runId) => {
        const state = this.#host.peekDurable(runId) ?? (await this.#readRun(runId));
        return state.kind === 'none' || state.tenantId !== tenantId ? undefined : runStatus(state);
      },
    });
    this.#idempotency = new Idempotency(this.#log, this.#clock);
    this.#durable = new DurableTasks({
      host: this.#host,
      createRuns: (tenantId, runs) => this.#createRuns(tenantId, runs),
      readRun: (runId) => this.#readRun(runId),
      finished: (runId) => this.#finished.get(runId)?.finished,
      eventsSince: (tenantId, keys, sinceMs) => this.triggers.eventsSince(tenantId, keys, sinceMs),
    });
    this.#sweeper = setInterval(() => this.#sweepWorkers(), Math.min(1000, this.#livenessMs / 4));
    this.#sweeper.unref();
    this.#retentionMs = options.retentionMs ?? engineLimits.retentionMsDefault;
    this.#retentionTimer = setInterval(() => void this.sweepRetention().catch(() => {}), options.retentionSweepMs ?? 60_000);
    this.#retentionTimer.unref();
  }

  /** Starts an engine on a log, rebuilding every run, queue, lease and timer from it (invariant 3). */
  static async start(options: EngineOptions): Promise<Engine> {
    const engine = new Engine(options);
    await engine.#recover();
    return engine;
  }

  async #recover(): Promise<void> {
    const recovered = await recover(this.#log);
    for (const [tenantId, workflows] of recovered.workflows) {
      this.#workflows.set(tenantId, { byName: new Map([...workflows.byName].map(([name, entry]) => [name, workflowEntry(entry.spec, entry.version, entry.createdAtMs, entry.updatedAtMs)])), version: workflows.version });
    }
    for (const event of recovered.tenantEvents) this.tenants.fold(event);
    for (const [workerId, { state, version }] of recovered.workers) {
      const actor = this.#workerActor(workerId);
      actor.state = state;
      actor.version = version;
      // Every worker registered when the engine stopped gets a fresh liveness window to reconnect.
      if (state.kind === 'registered') {
        const worker = this.#newWorker(workerId, state.tenantId, state.name, [...state.actions], state.slots);
        worker.labels = { ...state.labels };
        worker.paused = state.paused === true;
        worker.registeredAtMs = state.registeredAtMs;
        this.#workers.set(workerId, worker);
      }
    }
    for (const [tenantId, { state, version }] of recovered.rateLimits) {
      this.#rateLimits.adopt(tenantId, state, version);
      for (const definition of Object.values(state.definitions)) this.#queue.setRateLimit(rateLimitQueueKey(tenantId, definition.key), definition.limit, windowMs(definition.duration));
    }
    for (const window of recovered.rateLimitUsage.values()) this.#queue.consumed(window.key, window.used, window.startMs);
    // Every run's held slots and keys first, then the queued tasks: a concurrency strategy deciding
    // about a queued task sees the same members it saw before the restart.
    for (const [runId, { state, version }] of recovered.runs) {
      this.#host.adopt(runId, state, version);
      this.#adoptHolds(runId, state);
    }
    for (const runId of recovered.runs.keys()) this.#activeRuns.add(runId);
    for (const [runId, { state }] of recovered.runs) this.#adoptQueued(runId, state);
    await this.triggers.start(new Map([...this.#workflows].map(([tenantId, workflows]) => [tenantId, [...workflows.byName.values()].map((entry) => entry.spec)])));
    await this.#idempotency.start(this.#workflows.keys(), async (runId) => (await this.#readRun(runId)).kind !== 'active');
    // Children that finished while their durable parent's note of it was not yet stored.
    for (const [runId, { state }] of recovered.runs) this.#durable.recheckChildren(runId, state);
    this.recoveryStats = recovered.stats;
    // A long read at start is worth not repeating: checkpoint now rather than after the next appends.
    if (recovered.stats.recordsScanned >= engineLimits.checkpointEveryAppends) void this.checkpoint();
  }

  /** How the last start recovered: where it began reading the log and how much it read. */
  recoveryStats: { fromPosition: number; recordsScanned: number; runsLoaded: number } | undefined;

  /**
   * Records where a restart may begin reading the log (checkpoint.ts). Taken each time
   * `checkpointEveryAppends` appends were made, and when the engine closes; one at a time.
   */
  checkpoint(): Promise<void> {
    this.#checkpointing ??= (async () => {
      const appends = this.#log.appends;
      try {
        const position = await this.#log.settledPosition();
        const workers = [...this.#workerActors].filter(([, actor]) => actor.state.kind === 'registered').map(([workerId]) => workerId);
        await writeCheckpoint(this.#log, { position, runs: [...this.#activeRuns], workers, rateLimitUsage: this.#rateLimitWindows() });
        this.#checkpointPosition = position;
      } catch {
        // Best effort, like a snapshot: without it the next start reads more of the log.
      } finally {
        this.#log.markCheckpoint(appends);
        this.#checkpointing = undefined;
      }
    })();
    return this.#checkpointing;
  }

  #workerActor(workerId: string) {
    let actor = this.#workerActors.get(workerId);
    if (actor === undefined) {
      actor = { state: initialWorkerState(), version: 0, chain: Promise.resolve() };
      this.#workerActors.set(workerId, actor);
    }
    return actor;
  }

  /** decide → append → evolve for a worker actor, one command at a time per worker. */
  #workerCommand(workerId: string, command: WorkerCommand): Promise<void> {
    const actor = this.#workerActor(workerId);
    const stream = workerStream(workerId);
    const run = actor.chain.then(async () => {
      // A worker that registered again while this expiry waited its turn is alive: keep it.
      if (command.type === 'ExpireWorker' && this.#workers.has(workerId)) return;
      const events = decideWorker(actor.state, command, { nowMs: this.#clock() });
      if (events.length === 0) return;
      try {
        await this.#log.append(stream, events.map((event) => ({ type: event.type, data: event })), { expectedVersion: actor.version });
      } catch (error) {
        // The log is the truth (an append may fail yet land): rebuild before deciding again.
        let state = initialWorkerState();
        const records = await this.#log.readStream(stream).catch(() => []);
        for (const record of records) state = evolveWorker(state, record.data as WorkerEvent);
        actor.state = state;
        actor.version = records.length;
        throw error;
      }
      for (const event of events) actor.state = evolveWorker(actor.state, event);
      actor.version += events.length;
    });
    actor.chain = run.catch(() => {});
    return run;
  }

  /** Re-derives the in-memory effects of a run's state: queue entries, held slots and keys, timers. */
  #adoptEffects(runId: string, state: RunState): void {
    this.#adoptHolds(runId, state);
    this.#adoptQueued(runId, state);
  }

  /** What a run holds: its tasks' slots on their workers, and the concurrency keys its tasks (or it) hold. */
  #adoptHolds(runId: string, state: RunState): void {
    if (state.kind !== 'active') return;
    let started = false;
    for (const task of Object.values(state.tasks)) {
      if (task.status !== 'pending' && task.status !== 'queued') started = true;
      if (isTerminal(task)) continue;
      this.#tasks.set(task.taskId, { runId, task: task.name, tenantId: state.tenantId });
      if ((task.status === 'assigned' || task.status === 'running') && task.workerId !== undefined) {
        this.#assignedTo.set(task.taskId, { workerId: task.workerId, attempt: task.attempt });
        // A task that gave its slot back holds none (its keys it holds until it ends). A durable
        // task holds one slot of its worker's durable pool.
        if (task.slotReleased !== true) this.#queue.hold(task.taskId, task.spec.durable === true ? durablePool(task.workerId) : task.workerId, task.spec.durable === true ? 1 : task.spec.slotCost);
        const policy = taskPolicy(state, task);
        if (policy !== undefined) this.#queue.holdConcurrency({ runId, taskId: task.taskId, policy }, ['task']);
        if (!this.#workers.has(task.workerId)) {
          // A worker that held tasks before the restart: it has `workerLivenessMs` to reconnect.
          this.#workers.set(task.workerId, this.#newWorker(task.workerId, state.tenantId, '', [], 0));
        }
      }
    }
    this.#residents.sync(runId, state);
    // A run that got past its workflow's concurrency gates holds their keys until it finishes.
    const first = Object.values(state.tasks)[0];
    if (started && first !== undefined && (state.workflow.concurrency?.length ?? 0) > 0) {
      const policy = taskPolicy(state, first);
      if (policy !== undefined) this.#queue.holdConcurrency({ runId, taskId: first.taskId, policy }, ['run']);
    }
  }

  #adoptQueued(runId: string, state: RunState): void {
    if (state.kind !== 'active') return;
    for (const task of Object.values(state.tasks)) if (task.status === 'queued') this.#queue.enqueue(this.#queued(runId, state, task));
    this.#waiters.adopt(runId, state);
    this.#timers.set(runId, nextDeadline(state, this.#clock()));
    this.#schedulePump();
  }

  #newWorker(workerId: string, tenantId: string, name: string, actions: string[], slots: number): WorkerEntry {
    return { workerId, tenantId, name, actions, slots, labels: {}, paused: false, registeredAtMs: this.#clock(), session: undefined, lastSeenMs: this.#clock(), assignOutbox: [], cancelOutbox: [], checkpointOutbox: [], evictOutbox: [] };
  }

  // -------------------------------------------------------------------------------------------
  // Tenants and tokens

  /** Who a token is: its tenant and role, or why it is refused (expired, revoked, not ours). */
  authenticate(token: string): Authenticated {
    return this.tenants.authenticate(token);
  }

  /** Where the engine can be reached, for the claims of tokens created from now on. */
  advertise(where: { serverUrl?: string; gatewayAddress?: string }): void {
    this.tenants.advertised = { ...this.tenants.advertised, ...where };
  }

  /**
   * Issues an API token for a tenant, creating the tenant when it does not exist yet (a
   * convenience for embedding and tests; the REST API creates tenants explicitly).
   */
  async createToken(tenantId: string = DEFAULT_TENANT, options: { name?: string; ttlMs?: number; role?: TokenRole } = {}): Promise<string> {
    const role = options.role ?? 'tenant';
    if (role === 'tenant' && !this.tenants.hasTenant(tenantId)) await this.tenants.createTenant(tenantId).catch((error: unknown) => {
      if ((error as { code?: string }).code !== 'TENANT_EXISTS') throw error;
    });
    return (await this.tenants.createToken({ tenantId, role, ...(options.name === undefined ? {} : { name: options.name }), ...(options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }) })).token;
  }

  /** Revokes a token; connections that authenticated with it are closed. */
  async revokeToken(tokenId: string, tenantId?: string): Promise<TokenRecord> {
    const record = await this.tenants.revokeToken(tokenId, tenantId);
    for (const session of this.#sessionsByToken.get(tokenId) ?? []) session.close('AUTH_TOKEN_REVOKED', 'the token this connection authenticated with was revoked');
    this.#sessionsByToken.delete(tokenId);
    return record;
  }

  /** A connection authenticated with a token (the gateway calls this after the handshake). */
  sessionOpened(session: Session): void {
    if (session.tokenId === undefined) return;
    let sessions = this.#sessionsByToken.get(session.tokenId);
    if (sessions === undefined) {
      sessions = new Set();
      this.#sessionsByToken.set(session.tokenId, sessions);
    }
    sessions.add(session);
  }

  get hasTokens(): boolean {
    return this.tenants.size > 0;
  }

  // -------------------------------------------------------------------------------------------
  // Workflows

  /** Registers a tenant's workflow definition; a changed definition becomes a new version. */
  putWorkflow(tenantId: string, spec: WorkflowSpec): Promise<{ name: string; version: number }> {
    const write = this.#workflowWrites.then(async () => {
      const workflows = this.#tenantWorkflows(tenantId);
      const current = workflows.byName.get(spec.name);
      if (current !== undefined && JSON.stringify(current.spec) === JSON.stringify(spec)) return { name: spec.name, version: current.version };
      checkWorkflow(spec);
      checkPolicies(spec);
      Triggers.check(spec);
      const version = (current?.version ?? 0) + 1;
      await this.#log.append(workflowsStream(tenantId), [{ type: 'WorkflowVersionRegistered', data: { name: spec.name, version, spec } }], { expectedVersion: workflows.version });
      workflows.version += 1;
      const now = this.#clock();
      workflows.byName.set(spec.name, workflowEntry(spec, version, current?.createdAtMs ?? now, now));
      await this.triggers.workflowRegistered(tenantId, spec);
      return { name: spec.name, version };
    });
    this.#workflowWrites = write.catch(() => {});
    return write;
  }

  #tenantWorkflows(tenantId: string): { byName: Map<string, WorkflowEntry>; version: number } {
    let workflows = this.#workflows.get(tenantId);
    if (workflows === undefined) {
      workflows = { byName: new Map(), version: 0 };
      this.#workflows.set(tenantId, workflows);
    }
    return workflows;
  }

  /** A run's state if it belongs to the tenant (in memory, else from the log); otherwise RUN_NOT_FOUND. */
  async #tenantRun(tenantId: string, runId: string): Promise<RunState & { kind: 'active' | 'finished' }> {
    const state = this.#host.peekDurable(runId) ?? (await this.#readRun(runId));
    // Another tenant's run is reported exactly like one that does not exist.
    if (state.kind === 'none' || state.tenantId !== tenantId) throw new ProtocolError(ProtocolErrorCode.RunNotFound, `run '${runId}' does not exist`);
    return state;
  }

  /** The event a verified webhook call made: pushed like any other, with the webhook's name in its metadata. */
  async pushWebhookEvent(tenantId: string, webhook: string, event: { key: string; scope?: string; payload: Record<string, unknown> }): Promise<{ eventId: string }> {
    const payload = encodePayload(event.payload, `the payload of webhook '${webhook}'`);
    const [stored] = await this.pushEvents(tenantId, [{ key: event.key, payload, additionalMetadata: { hatchet__webhook_name: webhook }, ...(event.scope === undefined ? {} : { scope: event.scope }) }]);
    return { eventId: stored?.eventId as string };
  }

  /** A tenant's workflows: name, current version, when registered. */
  listWorkflows(tenantId: string): Array<RegisteredWorkflow & { createdAtMs: number; updatedAtMs: number }> {
    return [...(this.#workflows.get(tenantId)?.byName ?? new Map<string, WorkflowEntry>())].map(([name, entry]) => ({ name, version: entry.version, spec: entry.spec, createdAtMs: entry.createdAtMs, updatedAtMs: entry.updatedAtMs }));
  }

  /**
   * Deletes a workflow with its data: its definition leaves the log's fold (a `WorkflowDeleted`
   * event), its active runs are cancelled, and every run of it is purged (retention.ts). Resolves
   * once all of that is done.
   */
  async deleteWorkflow(tenantId: string, name: string): Promise<{ runsDeleted: number }> {
    const write = this.#workflowWrites.then(async () => {
      const workflows = this.#tenantWorkflows(tenantId);
      if (!workflows.byName.has(name)) throw new ProtocolError(ProtocolErrorCode.WorkflowNotFound, `workflow '${name}' is not registered`);
      await this.#log.append(workflowsStream(tenantId), [{ type: 'WorkflowDeleted', data: { name, atMs: this.#clock() } }], { expectedVersion: workflows.version });
      workflows.version += 1;
      workflows.byName.delete(name);
    });
    this.#workflowWrites = write.catch(() => {});
    await write;
    let runsDeleted = 0;
    for (;;) {
      await this.readModels.fresh();
      const runIds = this.readModels.allRunIds({ tenantId, workflows: [name] }, engineLimits.frameItemsMax);
      if (runIds.length === 0) return { runsDeleted };
      await this.cancel(tenantId, runIds, []);
      let purged = 0;
      for (const runId of runIds) if (await this.purgeRun(tenantId, runId)) purged += 1;
      runsDeleted += purged;
      if (purged === 0) return { runsDeleted };
    }
  }

  /**
   * Retention: deletes every run that finished more than `retentionMs` ago, oldest first, in
   * batches; runs that are still active (or active again after a replay) are never deleted.
   * Runs on a timer every `retentionSweepMs`; returns how many runs it deleted.
   */
  sweepRetention(): Promise<number> {
    this.#sweeping ??= (async () => {
      let deleted = 0;
      try {
        for (;;) {
          const ended = this.readModels.endedBefore(this.#clock() - this.#retentionMs, engineLimits.frameItemsMax);
          let purged = 0;
          for (const { tenantId, runId } of ended) if (await this.purgeRun(tenantId, runId)) purged += 1;
          deleted += purged;
          if (ended.length < engineLimits.frameItemsMax || purged === 0) return deleted;
        }
      } finally {
        this.#sweeping = undefined;
      }
    })();
    return this.#sweeping;
  }

  /**
   * Deletes a finished run for good: its stream, its tasks' logs and its read-model row. An active
   * run is left alone (false).
   */
  async purgeRun(tenantId: string, runId: string): Promise<boolean> {
    const live = this.#host.peek(runId);
    if (live !== undefined && live.kind === 'active') return false;
    const summary = this.readModels.getRun(tenantId, runId);
    if (summary === undefined) return false;
    if (summary.finishedAtMs === undefined && live === undefined) {
      // The row may lag the log: only the run's own state says it is over.
      const state = await this.#readRun(runId);
      if (state.kind === 'active') return false;
    }
    await this.#log.deleteStream(runStream(runId));
    for (const task of summary.tasks) if ((await this.#log.streamVersion(logsStream(tenantId, task.taskId))) > 0) await this.#log.deleteStream(logsStream(tenantId, task.taskId));
    await this.readModels.removeRun(tenantId, runId);
    this.#finished.delete(runId);
    return true;
  }

  /** A tenant's workflow's current definition, as registered; otherwise WORKFLOW_NOT_FOUND. */
  getWorkflow(tenantId: string, name: string): RegisteredWorkflow {
    const workflow = this.#workflows.get(tenantId)?.byName.get(name);
    if (workflow === undefined) throw new ProtocolError(ProtocolErrorCode.WorkflowNotFound, `workflow '${name}' is not registered`);
    return { name, version: workflow.version, spec: workflow.spec };
  }

  // -------------------------------------------------------------------------------------------
  // Triggers

  /** Creates runs; resolves with their ids once every run is durable. */
  trigger(tenantId: string, runs: readonly TriggerRun[]): Promise<string[]> {
    return this.#createRuns(tenantId, runs);
  }

  /** All or nothing: any run that cannot be created refuses the whole request. */
  async #createRuns(tenantId: string, runs: readonly InternalRun[]): Promise<string[]> {
    const prepared = runs.map((run) => this.#prepareRun(tenantId, run));
    const keyed = prepared.map(({ create }) => this.#keyed(tenantId, create)).filter((run) => run !== undefined);
    if (keyed.length > 0) {
      const collisions = await this.#idempotency.claim(tenantId, keyed);
      const first = collisions.find((collision) => collision !== undefined);
      if (first !== undefined) {
        // All or nothing: the keys this request did claim are freed again.
        await Promise.all(keyed.map((run, i) => (collisions[i] === undefined ? this.#idempotency.unclaim(tenantId, run.runId, run) : Promise.resolve())));
        throw first;
      }
    }
    await this.#defineDynamicRateLimits(tenantId, prepared.flatMap((p) => p.dynamic));
    await Promise.all(prepared.map(({ create, fresh }) => this.#create(create, fresh)));
    return prepared.map(({ create }) => create.runId);
  }

  /** The run with its workflow's whole definition, when that definition makes triggers idempotent. */
  #keyed(tenantId: string, run: Extract<RunCommand, { type: 'CreateRun' }>) {
    const spec = this.#workflows.get(tenantId)?.byName.get(run.workflow.name)?.spec;
    return spec?.idempotency === undefined ? undefined : { runId: run.runId, workflow: spec, input: run.input, additionalMetadata: run.additionalMetadata };
  }

  /** Creates each run that can be created; a run that cannot gets its own error, and the others go ahead. */
  async triggerEach(tenantId: string, runs: readonly TriggerRun[]): Promise<Array<{ runId: string } | { error: { code: string; message: string; existingRunId?: string } }>> {
    return Promise.all(
      runs.map(async (run) => {
        try {
          const { create, dynamic, fresh } = this.#prepareRun(tenantId, run);
          const keyed = this.#keyed(tenantId, create);
          if (keyed !== undefined) {
            const [collision] = await this.#idempotency.claim(tenantId, [keyed]);
            if (collision !== undefined) throw collision;
          }
          await this.#defineDynamicRateLimits(tenantId, dynamic);
          await this.#create(create, fresh);
          return { runId: create.runId };
        } catch (error) {
          const code = error instanceof KindlingError ? error.code : ProtocolErrorCode.EngineUnavailable;
          return { error: { code, message: (error as Error).message, ...(error instanceof IdempotencyCollision ? { existingRunId: error.existingRunId } : {}) } };
        }
      }),
    );
  }

  /** Dynamic rate limits are defined (or redefined) by the runs that render them, before those runs exist. */
  async #defineDynamicRateLimits(tenantId: string, limits: readonly DynamicRateLimit[]): Promise<void> {
    if (limits.length === 0) return;
    const byKey = new Map(limits.map((limit) => [limit.key, limit]));
    await Promise.all([...byKey.values()].map((limit) => this.upsertRateLimit(tenantId, limit.key, limit.limit, limit.duration, true)));
  }

  /**
   * Checks a run to trigger, renders its policies and gives it its ids; throws the request error
   * it deserves.
   */
  /**
   * Creates a run. A run whose id was made up just now has a new stream, which is not read; a
   * child's id is derived from its parent and key, a schedule's or a cron tick's from it, and such
   * a run may exist already (a repeated spawn, a re-fired schedule).
   */
  #create(create: Extract<RunCommand, { type: 'CreateRun' }>, fresh: boolean): Promise<RunEvent[]> {
    return this.#host.send(create.runId, create, { fresh });
  }

  #prepareRun(tenantId: string, run: InternalRun): { create: Extract<RunCommand, { type: 'CreateRun' }>; dynamic: DynamicRateLimit[]; fresh: boolean } {
    const workflow = this.#tenantWorkflows(tenantId).byName.get(run.workflow);
    if (workflow === undefined) throw new ProtocolError(ProtocolErrorCode.WorkflowNotFound, `workflow '${run.workflow}' is not registered; start a worker that declares it first`);
    const bytes = run.input.length;
    if (bytes > engineLimits.payloadBytesMax) {
      throw new ProtocolError(ProtocolErrorCode.PayloadTooLarge, `the input of a run of '${run.workflow}' is ${bytes} bytes; the limit is ${engineLimits.payloadBytesMax}`);
    }
    if (run.parentTaskId !== undefined) {
      const parent = this.#tasks.get(run.parentTaskId);
      if (parent === undefined || parent.tenantId !== tenantId) {
        throw new ProtocolError(ProtocolErrorCode.InvalidInput, `parent task run '${run.parentTaskId}' is not running; children are spawned by a running task`);
      }
    }
    if (run.desiredWorkerId !== undefined) this.#checkStickyChild(tenantId, workflow.spec, run.desiredWorkerId);
    const { policy, dynamic } = renderPolicy(workflow.spec, run, this.#rateLimitDefinitions(tenantId));
    const runId = run.runId ?? (run.parentTaskId === undefined ? randomUUID() : childRunId(run.parentTaskId, run.childKey ?? String(run.childIndex ?? 0)));
    const standalone = workflow.spec.tasks.length === 1 && workflow.spec.onFailure === undefined;
    const taskIds: Record<string, string> = {};
    for (const task of workflow.spec.tasks) taskIds[task.name] = standalone ? runId : randomUUID();
    if (workflow.spec.onFailure !== undefined) taskIds[ON_FAILURE_TASK] = randomUUID();
    const create: Mutable<Extract<RunCommand, { type: 'CreateRun' }>> = {
      type: 'CreateRun',
      runId,
      tenantId,
      taskIds,
      workflow: workflow.runSpec,
      input: run.input,
      additionalMetadata: run.additionalMetadata ?? {},
      priority: run.priority ?? workflow.spec.defaultPriority ?? 1,
    };
    // Optional fields one by one, in this order (no spread of a throwaway object each).
    if (run.parentTaskId !== undefined) create.parentTaskId = run.parentTaskId;
    if (run.childIndex !== undefined) create.childIndex = run.childIndex;
    if (run.childKey !== undefined) create.childKey = run.childKey;
    if (policy !== undefined) create.policy = policy;
    if (run.trigger !== undefined) create.trigger = run.trigger;
    // A made-up id names a stream that does not exist yet; a derived one may (a repeated spawn, a re-fired schedule).
    return { create, dynamic, fresh: run.parentTaskId === undefined && (run.runId === undefined || run.freshId === true) };
  }

  async cancel(tenantId: string, runIds: readonly string[], taskIds: readonly string[]): Promise<void> {
    // Only active runs can be cancelled; anything else (finished, unknown, another tenant's) is left as it is.
    const cancelRun = async (runId: string) => {
      const state = await this.#tenantRun(tenantId, runId).catch(() => undefined);
      if (state?.kind === 'active') await this.#host.send(runId, { type: 'CancelRun', reason: 'cancelled by request' });
    };
    await Promise.all([
      ...runIds.map(cancelRun),
      ...taskIds.map((taskId) => {
        const where = this.#tasks.get(taskId);
        return where === undefined || where.tenantId !== tenantId ? Promise.resolve([]) : this.#host.send(where.runId, { type: 'CancelTask', task: where.task, reason: 'cancelled by request' });
      }),
    ]);
  }

  /** Runs finished runs again from the tasks that did not complete. */
  async replay(tenantId: string, runIds: readonly string[]): Promise<void> {
    await Promise.all(
      runIds.map(async (runId) => {
        await this.#tenantRun(tenantId, runId);
        await this.#host.send(runId, { type: 'ReplayRun' });
      }),
    );
  }

  /**
   * A run's details folded from its whole history (the task events are part of the answer), or as
   * of a log position: the run as it stood once every event at or before it was applied.
   */
  async getRun(tenantId: string, runId: string, options: { asOfPosition?: number } = {}): Promise<RunDetails> {
    const records = await this.runHistory(tenantId, runId);
    const asOf = options.asOfPosition;
    const events = records.filter((record) => asOf === undefined || record.position <= asOf).map((record) => record.data as RunEvent);
    const state = events.reduce(evolve, initialState());
    if (state.kind === 'none') throw new ProtocolError(ProtocolErrorCode.RunNotFound, `run '${runId}' did not exist yet at position ${asOf}`);
    return {
      runId,
      status: runStatus(state),
      workflow: state.workflow.name,
      input: state.input,
      additionalMetadata: state.additionalMetadata,
      createdAtMs: state.createdAtMs,
      tasks: Object.values(state.tasks).map((task) => ({
        name: task.name,
        taskId: task.taskId,
        status: taskRunStatus(task),
        attempt: task.attempt,
        ...(task.output === undefined ? {} : { output: task.output }),
        ...(task.error === undefined ? {} : { error: task.error }),
        ...(task.workerId === undefined ? {} : { workerId: task.workerId }),
      })),
      taskEvents: events.flatMap(taskEventsOf).map(({ task, ...view }) => ({ taskId: state.tasks[task]?.taskId ?? '', taskName: task, ...view })),
      ...(state.finished === undefined ? {} : { finished: state.finished }),
    };
  }

  /** Every event of a tenant's run, in order, with its log position and time (the audit trail). */
  async runHistory(tenantId: string, runId: string): Promise<LogRecord[]> {
    const records: LogRecord[] = [];
    for (;;) {
      const page = await this.#log.readStream(runStream(runId), { fromSeq: records.length + 1 });
      records.push(...page);
      if (page.length < limits.readRecordsMax) break;
    }
    const first = records[0]?.data as RunEvent | undefined;
    // Another tenant's run is reported exactly like one that does not exist.
    if (first?.type !== 'RunCreated' || first.tenantId !== tenantId) throw new ProtocolError(ProtocolErrorCode.RunNotFound, `run '${runId}' does not exist`);
    return records;
  }

  async #readRun(runId: string): Promise<RunState> {
    return (await loadRun(this.#log, runId)).state;
  }

  /**
   * Sends `runFinished` for each run once it ends (at once for runs already finished). Returns the
   * ids of runs that do not exist, which it does not wait for.
   */
  async subscribe(session: Session, runIds: readonly string[]): Promise<string[]> {
    const missing: string[] = [];
    for (const runId of runIds) {
      const done = this.#finished.get(runId);
      if (done !== undefined) {
        if (done.tenantId === session.tenantId) this.#queueFinished(session, done.finished);
        else missing.push(runId);
        continue;
      }
      const active = this.#host.peek(runId);
      if (active !== undefined && active.kind !== 'none' && active.tenantId !== session.tenantId) {
        missing.push(runId);
        continue;
      }
      let subscribers = this.#subscribers.get(runId);
      if (subscribers === undefined) {
        subscribers = new Set();
        this.#subscribers.set(runId, subscribers);
      }
      subscribers.add(session);
      if (active === undefined) {
        const state = await this.#readRun(runId);
        if (state.kind === 'finished' && state.finished !== undefined && state.tenantId === session.tenantId) this.#runFinished(runId, state.tenantId, state.finished);
        if (state.kind === 'none' || state.tenantId !== session.tenantId) {
          missing.push(runId);
          subscribers.delete(session);
          if (subscribers.size === 0) this.#subscribers.delete(runId);
        }
      }
    }
    return missing;
  }

  unsubscribeAll(session: Session): void {
    if (session.tokenId !== undefined) {
      const sessions = this.#sessionsByToken.get(session.tokenId);
      sessions?.delete(session);
      if (sessions?.size === 0) this.#sessionsByToken.delete(session.tokenId);
    }
    for (const [runId, subscribers] of this.#subscribers) {
      subscribers.delete(session);
      if (subscribers.size === 0) this.#subscribers.delete(runId);
    }
    this.#finishedOutbox.delete(session);
    this.#streams.sessionClosed(session);
  }

  // -------------------------------------------------------------------------------------------
  // Live streams (streams.ts)

  /** A chunk of a task's live output; only the worker holding that attempt may send one. */
  putStream(workerId: string, chunk: StreamChunk): void {
    const where = this.#heldBy(workerId, chunk.taskId, chunk.attempt);
    const tenantId = this.#tasks.get(chunk.taskId)?.tenantId;
    if (where === undefined || tenantId === undefined) throw new ProtocolError(ProtocolErrorCode.TaskNotHeld, `task run '${chunk.taskId}' attempt ${chunk.attempt} is not held by this worker`);
    this.#streams.put(where.runId, tenantId, chunk);
  }

  /** Subscribes a connection to a run's stream: the chunks kept so far, then live ones, then the end. */
  async subscribeStream(session: Session, runId: string): Promise<void> {
    const kept = this.#streams.tenantOf(runId);
    const done = this.#finished.get(runId);
    let status: FinishedRun['status'] | undefined;
    if (kept !== undefined || done !== undefined) {
      // Another tenant's run reads as one that does not exist.
      if ((kept ?? done?.tenantId) !== session.tenantId) throw new ProtocolError(ProtocolErrorCode.RunNotFound, `run '${runId}' does not exist`);
      status = done?.finished.status;
    } else {
      const state = await this.#tenantRun(session.tenantId, runId);
      // Read again after the wait: the run may have ended meanwhile (#finished is set as it does).
      status = this.#finished.get(runId)?.finished.status ?? (state.kind === 'finished' ? state.finished?.status : undefined);
    }
    this.#streams.subscribe(session, runId, status);
  }

  unsubscribeStream(session: Session, runId: string): void {
    this.#streams.unsubscribe(session, runId);
  }

  // -------------------------------------------------------------------------------------------
  // Events and durable tasks

  /**
   * Pushes events: stored, routed to the workflows listening for their keys (through the tenant's
   * filters) and handed to the runs waiting for them; resolves once all of it is durable. The
   * WebSocket's `pushEvents` and webhooks both come here.
   */
  pushEvents(tenantId: string, events: readonly PushedEvent[]) {
    return this.triggers.pushEvents(tenantId, events);
  }

  async #notifyWaiters(tenantId: string, event: OccurredEvent): Promise<void> {
    await Promise.all(this.#waiters.waiting(tenantId, event.key).map((runId) => this.#host.send(runId, { type: 'EventOccurred', event }).catch(() => [])));
  }

  /** A durable task's checkpoint, from the worker running it: recorded or replayed; the reply says whether it is done. */
  durableCheckpoint(workerId: string, frame: Omit<Extract<ClientFrame, { t: 'checkpoint' }>, 't' | 'req'>): Promise<CheckpointReply> {
    const where = this.#heldBy(workerId, frame.taskId, frame.attempt);
    if (where === undefined) return Promise.reject(new ProtocolError(ProtocolErrorCode.InvalidInput, `task run '${frame.taskId}' attempt ${frame.attempt} is not held by this worker`));
    return this.#durable.checkpoint(where.runId, where.task, frame);
  }

  /** Runs a durable task again from checkpoint `nodeId` (earlier ones replayed); without one, from its first checkpoint not done. */
  async branchDurableTask(tenantId: string, taskId: string, nodeId?: number): Promise<void> {
    const where = this.#tasks.get(taskId) ?? (await this.#durable.findTask(taskId));
    if (where === undefined) throw new ProtocolError(ProtocolErrorCode.RunNotFound, `task run '${taskId}' does not exist`);
    const state = await this.#tenantRun(tenantId, where.runId);
    const checkpoints = state.tasks[where.task]?.durable?.checkpoints ?? [];
    const pending = checkpoints.findIndex((checkpoint) => checkpoint.result === undefined);
    const from = nodeId ?? (pending >= 0 ? pending + 1 : checkpoints.length + 1);
    await this.#host.send(where.runId, { type: 'BranchDurable', task: where.task, nodeId: from });
  }

  // -------------------------------------------------------------------------------------------
  // Workers

  /** Registers (or re-registers) a worker; resolves once the registration is durable. */
  async registerWorker(
    session: Session,
    registration: {
      workerId: string;
      name: string;
      actions: string[];
      slots: number;
      labels: Record<string, string | number>;
      running?: Array<{ taskId: string; attempt: number }>;
      /** Actions of durable tasks, run from a pool of their own (`durableSlots`). */
      durableActions?: string[];
      durableSlots?: number;
    },
  ): Promise<string> {
    const { workerId } = registration;
    const { tenantId } = session;
    const previous = this.#workerActors.get(workerId)?.state;
    if (previous !== undefined && previous.kind !== 'none' && previous.tenantId !== tenantId) {
      throw new ProtocolError(ProtocolErrorCode.InvalidInput, `worker id '${workerId}' is taken; register without a workerId to get a new one`);
    }
    await this.#workerCommand(workerId, { type: 'RegisterWorker', workerId, tenantId, name: registration.name, actions: registration.actions, slots: registration.slots, labels: registration.labels });
    // The connection may have closed while the registration was being stored: then it is not live.
    if (!session.open) return workerId;
    const existing = this.#workers.get(workerId);
    const worker = existing ?? this.#newWorker(workerId, tenantId, registration.name, registration.actions, registration.slots);
    if (existing?.session !== undefined && existing.session !== session) existing.session.close('WORKER_REPLACED', 'another connection registered this worker id');
    worker.name = registration.name;
    worker.actions = registration.actions;
    worker.slots = registration.slots;
    worker.labels = registration.labels;
    worker.session = session;
    worker.lastSeenMs = this.#clock();
    const state = this.#workerActors.get(workerId)?.state;
    worker.paused = state !== undefined && state.kind === 'registered' && state.paused === true;
    if (state !== undefined && state.kind === 'registered') worker.registeredAtMs = state.registeredAtMs;
    this.#workers.set(workerId, worker);
    this.#queue.upsertWorker(workerId, registration.actions.map((action) => queueAction(tenantId, action)), registration.slots, { labels: worker.labels, paused: worker.paused });
    // Durable tasks take slots of a pool of their own, so one waiting on children cannot starve them.
    const durableActions = registration.durableActions ?? [];
    if (durableActions.length > 0) {
      this.#queue.upsertWorker(durablePool(workerId), durableActions.map((action) => queueAction(tenantId, action)), registration.durableSlots ?? 1000, { labels: worker.labels, paused: worker.paused });
    } else this.#queue.removeWorker(durablePool(workerId));
    // Attempts assigned to this worker that it does not list never reached it (the engine restarted,
    // or the connection dropped, between the assignment and its frame), or it will not run them
    // (it is stopping): they go back to the queue as new attempts.
    const known = new Set((registration.running ?? []).map((task) => `${task.taskId}:${task.attempt}`));
    for (const [taskId, assigned] of this.#assignedTo) {
      if (assigned.workerId !== workerId || known.has(`${taskId}:${assigned.attempt}`)) continue;
      const where = this.#tasks.get(taskId);
      if (where === undefined) continue;
      worker.assignOutbox = worker.assignOutbox.filter((task) => task.taskId !== taskId);
      this.#host.send(where.runId, { type: 'RequeueTask', task: where.task, attempt: assigned.attempt }).catch(() => {});
    }
    // Attempts the worker runs that the log has as queued: their assignment was not stored before
    // the engine stopped. They stay with this worker — holding its slots and their keys — rather
    // than run a second time elsewhere beside the first.
    for (const { taskId, attempt } of registration.running ?? []) {
      if (this.#assignedTo.has(taskId)) continue;
      const claimed = this.#queue.claim(taskId, attempt, workerId);
      if (claimed === undefined) continue;
      const { task, rateLimits } = claimed;
      this.#host
        .send(task.runId, { type: 'AssignTask', task: task.task, attempt, workerId, ...(rateLimits === undefined ? {} : { rateLimits }), note: 'the worker was already running it', adopted: true })
        .then((events) => {
          if (!events.some((event) => event.type === 'TaskAssigned')) this.#release(taskId);
        })
        .catch(() => this.#release(taskId));
    }
    this.#schedulePump();
    return workerId;
  }

  heartbeat(workerId: string): void {
    const worker = this.#workers.get(workerId);
    if (worker !== undefined) worker.lastSeenMs = this.#clock();
  }

  /** The worker's connection closed: no new tasks go to it; its tasks wait for it to come back. */
  workerDisconnected(workerId: string, session: Session): void {
    const worker = this.#workers.get(workerId);
    if (worker === undefined || worker.session !== session) return;
    worker.session = undefined;
    this.#queue.removeWorker(workerId, { keepHeld: true });
    this.#queue.removeWorker(durablePool(workerId), { keepHeld: true });
  }

  #sweepWorkers(): void {
    const now = this.#clock();
    for (const worker of this.#workers.values()) {
      if (now - worker.lastSeenMs < this.#livenessMs) continue;
      this.#workers.delete(worker.workerId);
      worker.session?.close('WORKER_EXPIRED', `no heartbeat for ${this.#livenessMs} ms`);
      this.#workerCommand(worker.workerId, { type: 'ExpireWorker', reason: `no heartbeat for ${this.#livenessMs} ms` }).catch(() => {});
      this.#queue.removeWorker(worker.workerId);
      this.#queue.removeWorker(durablePool(worker.workerId));
      const runs = new Set<string>();
      for (const [taskId, assigned] of this.#assignedTo) {
        const runId = this.#tasks.get(taskId)?.runId;
        if (assigned.workerId === worker.workerId && runId !== undefined) runs.add(runId);
      }
      for (const runId of runs) this.#host.send(runId, { type: 'WorkerLost', workerId: worker.workerId }).catch(() => {});
    }
  }

  /**
   * Where a task is, if this worker holds this attempt of it. Frames about a task count only from
   * its worker: another worker — of this tenant or another — cannot start, finish or extend it.
   */
  #heldBy(workerId: string, taskId: string, attempt: number): { runId: string; task: string } | undefined {
    const assigned = this.#assignedTo.get(taskId);
    if (assigned === undefined || assigned.workerId !== workerId || assigned.attempt !== attempt) return undefined;
    return this.#tasks.get(taskId);
  }

  taskStarted(workerId: string, taskId: string, attempt: number): void {
    const where = this.#heldBy(workerId, taskId, attempt);
    if (where !== undefined) this.#host.send(where.runId, { type: 'StartTask', task: where.task, attempt }).catch(() => {});
  }

  taskResult(workerId: string, item: { taskId: string; attempt: number; ok: boolean; output?: Payload | undefined; error?: { message: string; stack?: string | undefined } | undefined; nonRetryable?: boolean | undefined }): void {
    const where = this.#heldBy(workerId, item.taskId, item.attempt);
    if (where === undefined) return;
    // The worker's slot is free the moment it reports; freeing it before the result is durable lets
    // the next assignment overlap the commit (the slot acknowledges nothing). This is the current
    // attempt on this worker (#heldBy), so the slot it frees is its own.
    if (workerOfPool(this.#queue.holder(item.taskId)) === workerId && this.#queue.release(item.taskId) !== undefined) this.#schedulePump();
    let command: Parameters<RunHost['send']>[1];
    const outputBytes = item.ok ? (item.output?.length ?? 0) : 0;
    if (item.ok && outputBytes <= engineLimits.payloadBytesMax) {
      command = { type: 'CompleteTask', task: where.task, attempt: item.attempt, output: item.output ?? NULL_PAYLOAD };
    } else {
      const error = item.ok ? `the task's output is ${outputBytes} bytes; the limit is ${engineLimits.payloadBytesMax}` : (item.error?.message ?? 'task failed');
      command = { type: 'FailTask', task: where.task, attempt: item.attempt, error, nonRetryable: item.ok || item.nonRetryable === true };
    }
    this.#host.send(where.runId, command).catch(ignore);
  }

  refreshTimeout(workerId: string, taskId: string, attempt: number, incrementMs: number): void {
    const where = this.#heldBy(workerId, taskId, attempt);
    if (where !== undefined) this.#host.send(where.runId, { type: 'RefreshTimeout', task: where.task, attempt, incrementMs }).catch(() => {});
  }

  /** Stores a line a task logged, in the task's own log stream. */
  taskLog(workerId: string, taskId: string, attempt: number, level: LogLine['level'], message: string): void {
    // Only the worker running this attempt may log for it.
    const assigned = this.#assignedTo.get(taskId);
    if (assigned === undefined || assigned.workerId !== workerId || assigned.attempt !== attempt) return;
    const worker = this.#workers.get(workerId);
    if (worker === undefined) return;
    const stream = logsStream(worker.tenantId, taskId);
    const line: LogLine = { taskId, attempt, level, message, timestampMs: this.#clock() };
    // A task keeps at most `logLinesPerTaskMax` lines (Hatchet's 1000); later ones are dropped. The
    // count starts from what the stream already holds (an earlier attempt, a restart).
    let count = this.#logCounts.get(taskId);
    if (count === undefined) {
      const entry = { lines: 0, ready: Promise.resolve() };
      entry.ready = this.#log.streamVersion(stream).then(
        (version) => {
          entry.lines += version;
        },
        () => {},
      );
      count = entry;
      this.#logCounts.set(taskId, entry);
    }
    const entry = count;
    void entry.ready.then(() => {
      if (entry.lines >= engineLimits.logLinesPerTaskMax) return;
      entry.lines += 1;
      this.#log.append(stream, [{ type: 'TaskLogged', data: line }], { expectedVersion: 'any' }).catch(() => {});
    });
  }

  /** The newest `limit` lines a task logged, oldest of them first. */
  async listLogs(tenantId: string, taskId: string, limit: number): Promise<LogLine[]> {
    const stream = logsStream(tenantId, taskId);
    const fromSeq = Math.max(1, (await this.#log.streamVersion(stream)) - limit + 1);
    return (await this.#log.readStream(stream, { fromSeq, limit })).map((record) => record.data as LogLine);
  }

  /** The task keeps running but gives its slots back (`ctx.releaseSlot()`): only its own worker's current attempt. */
  releaseSlot(workerId: string, taskId: string, attempt: number): void {
    const assigned = this.#assignedTo.get(taskId);
    if (assigned === undefined || assigned.workerId !== workerId || assigned.attempt !== attempt || workerOfPool(this.#queue.holder(taskId)) !== workerId) return;
    if (this.#queue.releaseSlot(taskId) !== undefined) this.#schedulePump();
    // Recorded in the run (SLOT_RELEASED): a worker lost after this does not take the task along.
    const where = this.#tasks.get(taskId);
    if (where !== undefined) this.#host.send(where.runId, { type: 'ReleaseSlot', task: where.task, attempt }).catch(() => {});
  }

  // -------------------------------------------------------------------------------------------
  // Effects (invariant 1: called only with durable events)

  #queued(runId: string, state: Extract<RunState, { kind: 'active' | 'finished' }>, task: TaskState): QueuedTask {
    const policy = taskPolicy(state, task);
    return {
      runId,
      task: task.name,
      taskId: task.taskId,
      attempt: task.attempt,
      action: queueAction(state.tenantId, `${state.workflow.name}:${task.name}`),
      priority: state.priority,
      // A durable task takes one slot of its worker's durable pool.
      slotCost: task.spec.durable === true ? 1 : task.spec.slotCost,
      ...(policy === undefined ? {} : { policy }),
    };
  }

  /** Effects of durable events: what acknowledges something (a run's result) waits for these. */
  #applied(runId: string, _before: RunState, events: readonly RunEvent[], after: RunState): void {
    if (after.kind === 'none') return;
    for (const event of events) {
      if (event.type === 'RunCreated' || event.type === 'RunReplayed') {
        this.#finished.delete(runId);
        this.#activeRuns.add(runId);
      } else if (event.type === 'RunFinished') {
        if (after.finished !== undefined) this.#runFinished(runId, after.tenantId, after.finished);
        this.#activeRuns.delete(runId);
        // Once the end is durable: its idempotency key is free, and a durable parent hears of it.
        this.#idempotency.release(runId);
        if (after.parentTaskId !== undefined && after.finished !== undefined) this.#durable.childFinished(after.parentTaskId, this.#tasks.get(after.parentTaskId)?.runId, runId, after.finished);
      } else if (event.type === 'DurableCheckpointed' && event.children !== undefined) {
        this.#durable.recheckChildren(runId, after);
      } else if (event.type === 'DurableCompleted' || (event.type === 'TaskEvicted' && (event.reason === 'ttl' || event.reason === 'capacity'))) {
        this.#tellResident(after, event);
      }
    }
  }

  /**
   * A resident durable task's worker hears, once it is durable, that its wait is over (the
   * invocation goes on) or that it is evicted (the invocation ends). A worker that misses it (its
   * connection dropped) asks again with the checkpoint when it reconnects.
   */
  #tellResident(state: Extract<RunState, { kind: 'active' | 'finished' }>, event: Extract<RunEvent, { type: 'DurableCompleted' | 'TaskEvicted' }>): void {
    const task = state.tasks[event.task];
    if (task === undefined) return;
    if (event.type === 'TaskEvicted') {
      const worker = this.#workers.get(event.workerId);
      if (worker?.session === undefined) return;
      worker.evictOutbox.push({ taskId: task.taskId, attempt: event.attempt, invocation: event.invocation, reason: event.reason as EvictedInvocation['reason'] });
    } else {
      // Resumed in place: the task is still on its worker (an evicted one was queued instead).
      if ((task.status !== 'running' && task.status !== 'assigned') || task.workerId === undefined) return;
      const worker = this.#workers.get(task.workerId);
      if (worker?.session === undefined) return;
      worker.checkpointOutbox.push({ taskId: task.taskId, attempt: task.attempt, invocation: task.durable?.invocation ?? 1, nodeId: event.nodeId, result: event.result });
    }
    this.#scheduleFlush();
  }

  /**
   * Effects of events as soon as they are decided, before they are durable (invariant 1), in
   * decision order: the in-memory indexes follow the run's latest decisions. A task that became
   * ready is queued — and may be assigned — while the event that made it ready is still being
   * written, since an assignment acknowledges nothing; should that event be lost in a crash, the
   * task runs again from what the log holds (at-least-once). A task that ended frees its slot and
   * leaves the indexes. A failed append reloads the run, and `#reconciled` puts the indexes right.
   */
  #decided(runId: string, _before: RunState, events: readonly RunEvent[], after: RunState, command: RunCommand): void {
    if (command.type === 'AssignTask' && !events.some((event) => event.type === 'TaskAssigned')) {
      // The assignment was stale (the task moved on): give back the slot the queue took for it.
      const taskId = after.kind === 'none' ? undefined : after.tasks[command.task]?.taskId;
      if (taskId !== undefined) this.#releaseHold(taskId, command.workerId);
    }
    if (after.kind === 'none') return;
    // A tick that decides nothing still re-arms: a waiting task's next wake-up moves with the clock.
    if (events.length === 0) {
      if (command.type === 'Tick') this.#timers.set(runId, nextDeadline(after, this.#clock()));
      return;
    }
    this.#waiters.decided(runId, after, events);
    for (const event of events) {
      switch (event.type) {
        case 'RunCreated':
        case 'RunReplayed':
          for (const task of Object.values(after.tasks)) this.#tasks.set(task.taskId, { runId, task: task.name, tenantId: after.tenantId });
          break;
        case 'TaskQueued': {
          const task = after.tasks[event.task];
          if (task !== undefined && task.status === 'queued' && task.attempt === event.attempt) {
            this.#queue.enqueue(this.#queued(runId, after, task));
            this.#schedulePump();
          }
          break;
        }
        case 'TaskEvicted': {
          // The slot is free as soon as the eviction is decided (it acknowledges nothing), so the
          // assignment that resumes the task — decided after it — finds it free.
          const taskId = after.tasks[event.task]?.taskId;
          if (taskId !== undefined) this.#release(taskId);
          break;
        }
        case 'TaskAssigned': {
          const taskId = after.tasks[event.task]?.taskId;
          if (taskId !== undefined) this.#assignedTo.set(taskId, { workerId: event.workerId, attempt: event.attempt });
          // An adopted attempt is already running on its worker: nothing is sent to it.
          if (event.adopted !== true) this.#sendAssignment(runId, after, event.task, event.attempt, event.workerId);
          break;
        }
        case 'TaskTimedOut':
        case 'TaskCancelled': {
          const task = after.tasks[event.task];
          const workerId = event.workerId || undefined;
          if (task !== undefined) {
            this.#queue.dequeue(task.taskId);
            if (workerId !== undefined) this.#sendCancel(workerId, task.taskId, event.attempt);
            this.#release(task.taskId);
          }
          break;
        }
        case 'TaskRateLimitError':
        case 'TaskCompleted':
        case 'TaskFailed':
        case 'TaskSchedulingTimedOut':
        case 'TaskReassigned': {
          const task = after.tasks[event.task];
          if (task !== undefined) {
            if (event.type === 'TaskSchedulingTimedOut') this.#queue.dequeue(task.taskId);
            this.#release(task.taskId);
          }
          break;
        }
        case 'RunFinished':
          for (const task of Object.values(after.tasks)) {
            this.#tasks.delete(task.taskId);
            this.#logCounts.delete(task.taskId);
            this.#queue.dequeue(task.taskId);
            this.#release(task.taskId);
          }
          this.#queue.finishRun(runId);
          this.#waiters.remove(runId);
          this.#schedulePump();
          break;
        default:
          break;
      }
    }
    if (this.#residents.hasRun(runId) || events.some((event) => event.type === 'TaskResident')) {
      this.#residents.sync(runId, after);
      // A new resident may make room for work queued behind a full durable pool.
      this.#schedulePump();
    }
    this.#timers.set(runId, nextDeadline(after, this.#clock()));
  }

  /**
   * After a failed append the run was reloaded: its indexes are made to say what the log says —
   * tasks queued, held or ended as there, whatever was decided and did not land.
   */
  #reconciled(runId: string, state: RunState): void {
    if (state.kind !== 'none') {
      for (const task of Object.values(state.tasks)) {
        if (task.status !== 'assigned' && task.status !== 'running') {
          this.#assignedTo.delete(task.taskId);
          if (this.#queue.release(task.taskId) !== undefined) this.#schedulePump();
        }
        if (task.status !== 'queued') this.#queue.dequeue(task.taskId);
        if (isTerminal(task) || state.kind === 'finished') this.#tasks.delete(task.taskId);
      }
    }
    this.#adoptEffects(runId, state);
  }

  /** Frees the slots a task holds on `workerId`, if it holds any there. */
  #releaseHold(taskId: string, workerId: string): void {
    if (workerOfPool(this.#queue.holder(taskId)) === workerId && this.#queue.release(taskId) !== undefined) this.#schedulePump();
  }

  #release(taskId: string): void {
    this.#assignedTo.delete(taskId);
    if (this.#queue.release(taskId) !== undefined) this.#schedulePump();
  }

  #sendAssignment(runId: string, state: Extract<RunState, { kind: 'active' | 'finished' }>, taskName: string, attempt: number, workerId: string): void {
    const worker = this.#workers.get(workerId);
    const task = state.tasks[taskName];
    if (worker?.session === undefined || task === undefined) return; // the liveness sweep will reassign it
    const parents: Record<string, Payload> = {};
    for (const parent of task.spec.parents) parents[parent] = state.tasks[parent]?.output ?? NULL_PAYLOAD;
    // Optional fields are added one by one, in the frame's field order (no spread of a throwaway object each).
    // `priority` is set just below, after `errors` (the frame's field order).
    const assigned = {
      taskId: task.taskId,
      attempt,
      runId,
      workflow: state.workflow.name,
      task: taskName,
      action: `${state.workflow.name}:${taskName}`,
      input: state.input,
      parents,
      additionalMetadata: state.additionalMetadata,
    } as Mutable<AssignedTask>;
    if (taskName === ON_FAILURE_TASK) {
      const errors: Record<string, string> = {};
      for (const t of Object.values(state.tasks)) if (t.status === 'failed' && t.error !== undefined) errors[t.name] = t.error;
      assigned.errors = errors;
    }
    assigned.priority = state.priority;
    if (state.parentTaskId !== undefined) {
      assigned.parentTaskId = state.parentTaskId;
      const parentRunId = this.#tasks.get(state.parentTaskId)?.runId;
      if (parentRunId !== undefined) assigned.parentRunId = parentRunId;
    }
    if (state.childIndex !== undefined) assigned.childIndex = state.childIndex;
    if (state.childKey !== undefined) assigned.childKey = state.childKey;
    addTriggerFields(assigned, state);
    if (task.spec.conditions !== undefined) assigned.triggers = conditionTriggers(state, task, this.#clock()) as Payload;
    // The state includes the assignment, which made this invocation.
    if (task.spec.durable === true) {
      assigned.durable = {
        invocation: task.durable?.invocation ?? 1,
        checkpoints: (task.durable?.checkpoints ?? []).map((c) => ({ nodeId: c.nodeId, signature: c.signature, ...(c.result === undefined ? {} : { result: c.result }) })),
      };
    }
    worker.assignOutbox.push(assigned);
    this.#scheduleFlush();
  }

  #sendCancel(workerId: string, taskId: string, attempt: number): void {
    const worker = this.#workers.get(workerId);
    if (worker?.session === undefined) return;
    worker.cancelOutbox.push({ taskId, attempt });
    this.#scheduleFlush();
  }

  #runFinished(runId: string, tenantId: string, finished: FinishedRun): void {
    this.#finished.set(runId, { tenantId, finished });
    this.#streams.runFinished(runId, finished.status);
    const subscribers = this.#subscribers.get(runId);
    if (subscribers === undefined) return;
    this.#subscribers.delete(runId);
    for (const session of subscribers) this.#queueFinished(session, finished);
  }

  #queueFinished(session: Session, finished: FinishedRun): void {
    const outbox = this.#finishedOutbox.get(session) ?? [];
    outbox.push(finished);
    this.#finishedOutbox.set(session, outbox);
    this.#scheduleFlush();
  }

  /** Batches frames: everything for one connection made in one turn goes in one frame. */
  readonly #scheduleFlush = coalesce(() => {
    for (const worker of this.#workers.values()) {
      if (worker.session === undefined) continue;
      for (const { bytes } of encodeBatches(worker.assignOutbox, (tasks) => ({ t: 'assign', tasks }), engineLimits.frameBytesMax, engineLimits.frameItemsMax)) {
        worker.session.send(bytes);
      }
      if (worker.cancelOutbox.length > 0) worker.session.send({ t: 'cancelTasks', tasks: worker.cancelOutbox });
      if (worker.checkpointOutbox.length > 0) {
        for (const { bytes } of encodeBatches(worker.checkpointOutbox, (items) => ({ t: 'checkpointResult', items }), engineLimits.frameBytesMax, engineLimits.frameItemsMax)) worker.session.send(bytes);
      }
      if (worker.evictOutbox.length > 0) worker.session.send({ t: 'evictTasks', tasks: worker.evictOutbox });
      worker.assignOutbox = [];
      worker.cancelOutbox = [];
      worker.checkpointOutbox = [];
      worker.evictOutbox = [];
    }
    for (const [session, runs] of this.#finishedOutbox) {
      for (const { bytes } of encodeBatches(runs, (batch) => ({ t: 'runFinished', runs: batch }), engineLimits.frameBytesMax, engineLimits.frameItemsMax)) session.send(bytes);
    }
    this.#finishedOutbox.clear();
  });

  #schedulePump(): void {
    if (this.#pumpScheduled || this.#closed) return;
    this.#pumpScheduled = true;
    queueMicrotask(() => {
      this.#pumpScheduled = false;
      this.metrics.queueInvoked();
      for (const { task, workerId: pool, rateLimits, note } of this.#queue.assign(this.#clock())) {
        // A durable task's assignment names its worker's durable pool: the worker is the same.
        const workerId = workerOfPool(pool) as string;
        // A stale assignment gives its slot back when it is decided (#decided); one that could not be
        // decided at all (a full mailbox, the log unreachable) gives it back here.
        this.#host
          .send(task.runId, assignTask(task.task, task.attempt, workerId, rateLimits, note))
          .catch(() => {
            if (this.#assignedTo.get(task.taskId)?.attempt !== task.attempt) this.#releaseHold(task.taskId, workerId);
          });
      }
      this.#recordNotices();
      this.#evictForCapacity();
      this.#armRateWake();
    });
  }

  /**
   * Work is queued for durable pools that are all full: a resident task on one of them, whose
   * policy allows it, is evicted to make room (residency.ts). Costs nothing while no task is resident.
   */
  #evictForCapacity(): void {
    const starved = this.#queue.takeStarved();
    if (starved.length === 0 || !this.#residents.anyEvictable) return;
    for (const { workers } of starved) {
      const chosen = this.#residents.choose(workers);
      if (chosen === undefined) continue;
      this.#host
        .send(chosen.runId, { type: 'EvictResident', task: chosen.task, attempt: chosen.attempt, invocation: chosen.invocation })
        .catch(() => {})
        .finally(() => {
          this.#residents.settled(chosen.pool);
          this.#schedulePump();
        });
    }
  }

  /** Records what the queue decided besides assignments: why tasks wait, cancellations, rejections. */
  #recordNotices(): void {
    for (const notice of this.#queue.takeNotices()) {
      switch (notice.kind) {
        case 'waiting':
          this.#host.send(notice.task.runId, { type: 'NoteWaiting', task: notice.task.task, attempt: notice.task.attempt, eventType: notice.eventType, message: notice.message }).catch(() => {});
          break;
        case 'reject':
          this.#host.send(notice.task.runId, { type: 'RejectQueuedTask', task: notice.task.task, attempt: notice.task.attempt, error: notice.error }).catch(() => {});
          break;
        case 'cancel': {
          if (notice.scope === 'run') {
            this.#host.send(notice.id, { type: 'CancelRun', reason: notice.reason }).catch(() => {});
            break;
          }
          const where = this.#tasks.get(notice.id);
          if (where !== undefined) this.#host.send(where.runId, { type: 'CancelTask', task: where.task, reason: notice.reason }).catch(() => {});
          break;
        }
      }
    }
  }

  #armRateWake(): void {
    const atMs = this.#queue.nextWakeMs();
    if (atMs === undefined || (this.#rateWake !== undefined && this.#rateWake.atMs <= atMs)) return;
    if (this.#rateWake !== undefined) clearTimeout(this.#rateWake.timer);
    const timer = setTimeout(() => {
      this.#rateWake = undefined;
      this.#schedulePump();
    }, Math.max(0, atMs - this.#clock()) + 1);
    timer.unref();
    this.#rateWake = { timer, atMs };
  }

  // -------------------------------------------------------------------------------------------
  // Flow control: rate limits, sticky children, worker labels and pauses

  #rateLimitDefinitions(tenantId: string): ReadonlyMap<string, RateLimitDefinition> {
    const state = this.#rateLimits.peek(tenantId);
    return new Map(Object.entries(state?.definitions ?? {}));
  }

  /** Creates or changes a tenant's rate limit; resolves once it is durable. */
  async upsertRateLimit(tenantId: string, key: string, limit: number, duration: RateLimitDurationName, dynamic = false): Promise<void> {
    if (!Number.isSafeInteger(limit) || limit <= 0) throw new ProtocolError(ProtocolErrorCode.InvalidInput, `rate limit '${key}': the limit is a positive whole number, not ${limit}`);
    await this.#rateLimits.send(tenantId, { type: 'UpsertRateLimit', key, limit, duration, dynamic });
  }

  /** A tenant's rate limits, with how much of each current window is used. */
  listRateLimits(tenantId: string): Array<RateLimitDefinition & { used: number; windowStartMs: number }> {
    const now = this.#clock();
    return Object.values(this.#rateLimits.peek(tenantId)?.definitions ?? {}).map((definition) => ({
      ...definition,
      ...(this.#queue.rateLimitUsage(rateLimitQueueKey(tenantId, definition.key), now) ?? { used: 0, windowStartMs: now }),
    }));
  }

  #rateLimitWindows() {
    const now = this.#clock();
    const windows: Array<{ key: string; startMs: number; used: number }> = [];
    for (const { tenantId } of this.tenants.tenants()) {
      for (const definition of Object.values(this.#rateLimits.peek(tenantId)?.definitions ?? {})) {
        const key = rateLimitQueueKey(tenantId, definition.key);
        const usage = this.#queue.rateLimitUsage(key, now);
        if (usage !== undefined && usage.used > 0) windows.push({ key, startMs: usage.windowStartMs, used: usage.used });
      }
    }
    return [...new Map(windows.map((w) => [w.key, w])).values()];
  }

  /** A sticky child runs on its parent's worker: it must declare a sticky strategy, and that worker must run it. */
  #checkStickyChild(tenantId: string, spec: WorkflowSpec, workerId: string): void {
    if (spec.sticky === undefined) {
      throw new ProtocolError(ProtocolErrorCode.InvalidInput, `cannot run '${spec.name}' sticky: it declares no sticky strategy (set sticky: StickyStrategy.SOFT or HARD on it)`);
    }
    const worker = this.#workers.get(workerId);
    const first = spec.tasks.find((task) => task.parents.length === 0) ?? spec.tasks[0];
    if (worker === undefined || worker.tenantId !== tenantId || first === undefined || !worker.actions.includes(`${spec.name}:${first.name}`)) {
      throw new ProtocolError(ProtocolErrorCode.InvalidInput, `cannot run '${spec.name}' sticky: worker '${workerId}' has not registered it (register the child workflow on the same worker as its parent)`);
    }
  }

  #queueWorker(worker: WorkerEntry): void {
    if (worker.session === undefined) return;
    this.#queue.upsertWorker(worker.workerId, worker.actions.map((action) => queueAction(worker.tenantId, action)), worker.slots, { labels: worker.labels, paused: worker.paused });
    this.#schedulePump();
  }

  /** Merges labels into a worker's (`worker.upsertLabels`); resolves with all of its labels once durable. */
  async upsertWorkerLabels(tenantId: string, workerId: string, labels: Record<string, string | number>): Promise<Record<string, string | number>> {
    const worker = this.#tenantWorker(tenantId, workerId);
    await this.#workerCommand(workerId, { type: 'UpsertLabels', labels });
    const state = this.#workerActors.get(workerId)?.state;
    worker.labels = state !== undefined && state.kind !== 'none' ? { ...state.labels } : { ...worker.labels, ...labels };
    this.#queueWorker(worker);
    return { ...worker.labels };
  }

  /** Pauses or unpauses a worker: a paused worker keeps its tasks and is given no new ones. */
  async setWorkerPaused(tenantId: string, workerId: string, paused: boolean): Promise<WorkerView> {
    const worker = this.#tenantWorker(tenantId, workerId);
    await this.#workerCommand(workerId, { type: paused ? 'PauseWorker' : 'UnpauseWorker' });
    worker.paused = paused;
    if (worker.session !== undefined) {
      if (paused) this.#queue.upsertWorker(worker.workerId, worker.actions.map((action) => queueAction(worker.tenantId, action)), worker.slots, { labels: worker.labels, paused: true });
      else this.#queueWorker(worker);
    }
    return this.#workerView(worker);
  }

  listWorkers(tenantId: string): WorkerView[] {
    return [...this.#workers.values()].filter((worker) => worker.tenantId === tenantId && worker.name !== '').map((worker) => this.#workerView(worker));
  }

  getWorker(tenantId: string, workerId: string): WorkerView {
    return this.#workerView(this.#tenantWorker(tenantId, workerId));
  }

  #tenantWorker(tenantId: string, workerId: string): WorkerEntry {
    const worker = this.#workers.get(workerId);
    // Another tenant's worker reads as one that does not exist.
    if (worker === undefined || worker.tenantId !== tenantId) throw new ProtocolError(ProtocolErrorCode.WorkerNotFound, `worker '${workerId}' does not exist`);
    return worker;
  }

  #workerView(worker: WorkerEntry): WorkerView {
    const used = this.#queue.usedSlots(worker.workerId);
    return {
      workerId: worker.workerId,
      name: worker.name,
      actions: [...worker.actions],
      slots: worker.slots,
      usedSlots: used,
      labels: { ...worker.labels },
      paused: worker.paused,
      connected: worker.session !== undefined,
      registeredAtMs: worker.registeredAtMs,
      lastSeenMs: worker.lastSeenMs,
    };
  }

  get stats() {
    return { activeRuns: this.#activeRuns.size, runsInMemory: this.#host.activeCount, queued: this.#queue.queuedCount, workers: this.#workers.size, checkpointPosition: this.#checkpointPosition };
  }

  /** Stops the engine's timers and takes a last checkpoint, so the next start reads little. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweeper);
    clearInterval(this.#retentionTimer);
    await this.#sweeping?.catch(() => {});
    this.#timers.stop();
    this.triggers.stop();
    await this.checkpoint();
    await this.readModels.close();
  }
}

/** A task's log lines, in its tenant's space: no other tenant's request can name the stream. */
const logsStream = (tenantId: string, taskId: string) => `logs:${tenantId}:${taskId}`;

/**
 * Actions in the queue are the tenant's: a worker only ever matches its own tenant's tasks. One
 * string per action, shared by every queued task of it (a backlog of 100,000 holds one, not 100,000).
 */
const queueActions = new Map<string, Map<string, string>>();
function queueAction(tenantId: string, action: string): string {
  let ofTenant = queueActions.get(tenantId);
  if (ofTenant === undefined) {
    ofTenant = new Map();
    queueActions.set(tenantId, ofTenant);
  }
  let key = ofTenant.get(action);
  if (key === undefined) {
    key = `${tenantId}/${action}`;
    if (ofTenant.size < engineLimits.workflowTasksMax * 100) ofTenant.set(action, key);
  }
  return key;
}

/** A workflow's tasks form a DAG of distinct, safe names whose parents exist. */
function checkWorkflow(spec: WorkflowSpec): void {
  const invalid = (why: string) => new ProtocolError(ProtocolErrorCode.InvalidInput, `workflow '${spec.name}': ${why}`);
  const names = new Set<string>();
  for (const task of [...spec.tasks, ...(spec.onFailure === undefined ? [] : [{ ...spec.onFailure, name: ON_FAILURE_TASK }])]) {
    if (task.name in Object.prototype) throw invalid(`'${task.name}' cannot be a task name`);
    if (names.has(task.name)) throw invalid(`two tasks are named '${task.name}'`);
    names.add(task.name);
  }
  for (const task of spec.tasks) {
    for (const parent of task.parents) if (!names.has(parent) || parent === ON_FAILURE_TASK) throw invalid(`task '${task.name}' names an unknown parent '${parent}'`);
  }
  // Kahn's algorithm: every task must be reachable without a cycle.
  const remaining = new Map(spec.tasks.map((task) => [task.name, new Set(task.parents)]));
  for (let progressed = true; progressed && remaining.size > 0; ) {
    progressed = false;
    for (const [name, parents] of remaining) {
      if ([...parents].every((parent) => !remaining.has(parent))) {
        remaining.delete(name);
        progressed = true;
      }
    }
  }
  if (remaining.size > 0) throw invalid(`the tasks ${[...remaining.keys()].map((n) => `'${n}'`).join(', ')} depend on each other in a cycle`);
}

/** The fields of an assignment that say what started its run. */
/** A no-op: the `.catch` of a send whose outcome nobody waits for (one function, not one per call). */
const ignore = (): void => {};

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The command that assigns a task attempt to a worker (the optional fields only when set). */
function assignTask(task: string, attempt: number, workerId: string, rateLimits: AssignCommand['rateLimits'], note: AssignCommand['note']): AssignCommand {
  const command: Mutable<AssignCommand> = { type: 'AssignTask', task, attempt, workerId };
  if (rateLimits !== undefined) command.rateLimits = rateLimits;
  if (note !== undefined) command.note = note;
  return command;
}

type AssignCommand = Extract<RunCommand, { type: 'AssignTask' }>;

function addTriggerFields(assigned: Mutable<AssignedTask>, state: Extract<RunState, { kind: 'active' | 'finished' }>): void {
  const trigger = state.trigger;
  if (trigger === undefined) return;
  assigned.triggeredBy = trigger.kind;
  if (trigger.kind === 'event') {
    assigned.eventId = trigger.eventId;
    assigned.eventKey = trigger.eventKey;
    if (trigger.filterPayload !== undefined) assigned.filterPayload = trigger.filterPayload;
  }
}

/** A child run's id is derived from its parent task and key, so a repeated spawn finds the same run. */
function childRunId(parentTaskId: string, key: string): string {
  const hex = createHash('sha256').update(`${parentTaskId}\u0000${key}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
