/**
 * A worker (Hatchet's `Worker`): registers its workflows, holds a connection to the engine, runs
 * the tasks the engine assigns, and reports them — started, then completed or failed.
 *
 * Invariants:
 *  1. A result is reported at most once per (task, attempt), and only if the task was not
 *     cancelled locally (results after an abort are dropped, as in Hatchet).
 *  2. Results the connection could not carry are kept and sent again after a reconnect; the engine
 *     fences any that belong to a reassigned attempt.
 *  3. `stop()` lets the tasks in flight finish before the connection closes; durable tasks waiting
 *     here (resident) are let go instead, and the engine evicts them.
 *  4. A resident durable invocation waits for the engine's word (`checkpointResult`, `evictTasks`),
 *     which may come before its checkpoint's reply; after a reconnect it asks again.
 */
import { encodeBatches } from '../../protocol/codec.js';
import type { AssignedTask, CheckpointReply, ClientFrame, ServerFrame } from '../../protocol/frames.js';
import { encodePayload, type Payload } from '../../protocol/payload.js';
import { coalesce } from '../lib/coalesce.js';
import { engineLimits } from '../lib/limits.js';
import { type ClientConfig, engineUrl } from './config.js';
import { Connection, EngineError } from './connection.js';
import { Context, type ContextHost, DurableContext, type LogExtra, type TaskLogLevel, type WorkerLabels } from './context.js';
import { type BaseWorkflowDeclaration, type DeclaredTask, validateInput } from './declaration.js';
import { HatchetError, NonRetryableError, TaskRunTerminatedError } from './errors.js';
import type { WorkersClient } from './features.js';
import type { Logger } from './logger.js';
import { HealthServer } from './healthcheck.js';
import { runWithMiddleware } from './middleware.js';
import { taskContext } from './task-context.js';
import { consumerSpan, endSpan, withContext } from './tracing.js';

export interface CreateWorkerOpts {
  // biome-ignore lint/suspicious/noExplicitAny: a worker holds declarations of any input and output.
  workflows?: Array<BaseWorkflowDeclaration<any, any>>;
  /** Default 100. */
  slots?: number;
  /** Slots for durable tasks, a pool of their own (default 1000). */
  durableSlots?: number;
  /** @deprecated use slots */
  maxRuns?: number;
  labels?: WorkerLabels;
  /** Stop gracefully and exit on SIGTERM/SIGINT (default true). */
  handleKill?: boolean;
}

/** A task a worker runs, with the workflow it belongs to. */
interface Handler {
  readonly task: DeclaredTask;
  // biome-ignore lint/suspicious/noExplicitAny: any declaration.
  readonly workflow: BaseWorkflowDeclaration<any, any>;
}

/** What a worker needs of the client that made it. */
export interface WorkerClient {
  readonly config: ClientConfig;
  readonly logger: Logger;
  readonly namespace: string;
  // biome-ignore lint/suspicious/noExplicitAny: any declaration.
  putWorkflow(workflow: BaseWorkflowDeclaration<any, any>): Promise<void>;
  cancelRun(runId: string): Promise<void>;
  /** `workerId`: the worker the parent task runs on, for a sticky child. */
  runChild(...args: [...Parameters<ContextHost['runChild']>, workerId?: string]): Promise<unknown>;
  /** The workers feature client (REST), for pausing. */
  readonly workers: WorkersClient;
  resolveWorkflow: ContextHost['resolveWorkflow'];
}

type Result = Extract<ClientFrame, { t: 'results' }>['items'][number];


export class Worker {
  readonly name: string;
  readonly #client: WorkerClient;
  readonly #opts: CreateWorkerOpts;
  readonly #handlers = new Map<string, Handler>();
  // biome-ignore lint/suspicious/noExplicitAny: see CreateWorkerOpts.workflows.
  readonly #workflows: Array<BaseWorkflowDeclaration<any, any>> = [];
  #connection: Connection | undefined;
  #workerId: string | undefined;
  readonly #running = new Map<string, { ctx: Context<unknown>; attempt: number; evicted?: boolean }>();
  /** Durable invocations waiting here on a checkpoint (their task is resident), by task id. */
  readonly #resident = new Map<string, { attempt: number; invocation: number; nodeId: number; settle: (outcome: CheckpointReply | 'ask again') => void }>();
  /** What the engine said of a resident invocation before its checkpoint's reply came, by task id. */
  readonly #early = new Map<string, { attempt: number; invocation: number; nodeId?: number; reply: CheckpointReply }>();
  /**
   * Tasks started whose start is not sent yet: task id → attempt, in the order they started (a
   * newer attempt of a task takes the place of an older one, which the engine would fence anyway).
   */
  readonly #startedOutbox = new Map<string, number>();
  #resultOutbox: Result[] = [];
  #heartbeat: NodeJS.Timeout | undefined;
  #stopped: (() => void) | undefined;
  #stopping = false;
  #started = false;
  #health: HealthServer | undefined;
  labels: WorkerLabels;

  private constructor(client: WorkerClient, name: string, opts: CreateWorkerOpts) {
    this.#client = client;
    this.name = `${client.namespace}${name}`;
    this.#opts = opts;
    this.labels = { ...(opts.labels ?? {}) };
  }

  /** Creates a worker and registers its workflows with the engine. */
  static async create(client: WorkerClient, name: string, opts: CreateWorkerOpts = {}): Promise<Worker> {
    const worker = new Worker(client, name, opts);
    await worker.registerWorkflows(opts.workflows ?? []);
    return worker;
  }

  // biome-ignore lint/suspicious/noExplicitAny: see CreateWorkerOpts.workflows.
  async registerWorkflows(workflows: Array<BaseWorkflowDeclaration<any, any>>): Promise<void> {
    for (const workflow of workflows) {
      await this.#client.putWorkflow(workflow);
      this.#workflows.push(workflow);
      for (const task of workflow.tasks) this.#handlers.set(`${workflow.name}:${task.name}`, { task, workflow });
    }
  }

  // biome-ignore lint/suspicious/noExplicitAny: see CreateWorkerOpts.workflows.
  registerWorkflow(workflow: BaseWorkflowDeclaration<any, any>): Promise<void> {
    return this.registerWorkflows([workflow]);
  }

  get workerId(): string | undefined {
    return this.#workerId;
  }

  get #slots(): number {
    return this.#opts.slots ?? this.#opts.maxRuns ?? 100;
  }

  get #durableSlots(): number {
    return this.#opts.durableSlots ?? 1000;
  }

  /** The actions this worker runs: durable tasks from their own slot pool. */
  #actions(): { actions: string[]; durableActions: string[]; durableSlots: number } {
    const actions: string[] = [];
    const durableActions: string[] = [];
    for (const [action, handler] of this.#handlers) (handler.task.kind === 'durable' ? durableActions : actions).push(action);
    return { actions, durableActions, durableSlots: this.#durableSlots };
  }

  #labels(): Record<string, string | number> {
    const labels: Record<string, string | number> = {};
    for (const [key, value] of Object.entries(this.labels)) if (value !== undefined) labels[key] = value;
    return labels;
  }

  getLabels(): WorkerLabels {
    return { ...this.labels };
  }

  /**
   * Merges labels into this worker's (worker affinity): once the engine has them, tasks are
   * assigned by the new labels. Before the worker has started they are simply registered with it.
   */
  async upsertLabels(labels: WorkerLabels): Promise<WorkerLabels> {
    const merged = { ...this.labels, ...labels };
    const defined: Record<string, string | number> = {};
    for (const [key, value] of Object.entries(merged)) if (value !== undefined) defined[key] = value;
    this.labels = merged;
    if (this.#workerId === undefined || this.#connection === undefined) return { ...this.labels };
    const reply = await this.#connection.request<{ labels: Record<string, string | number> }>({ t: 'upsertLabels', labels: defined });
    return { ...reply.labels };
  }

  #registeredId(): string {
    if (this.#workerId === undefined) throw new HatchetError(`worker '${this.name}' is not registered yet: start it (and waitUntilReady) first`);
    return this.#workerId;
  }

  /** Whether the engine gives this worker no new tasks. */
  async isPaused(): Promise<boolean> {
    return this.#client.workers.isPaused(this.#registeredId());
  }

  /** The engine gives this worker no new tasks (it keeps running the ones it has) until `unpause()`. */
  async pause(): Promise<void> {
    await this.#client.workers.pause(this.#registeredId());
  }

  async unpause(): Promise<void> {
    await this.#client.workers.unpause(this.#registeredId());
  }

  /** The port of the health-check server, while it is open (`healthcheck.enabled`). */
  get healthcheckPort(): number | undefined {
    return this.#health?.port;
  }

  /**
   * Connects and takes tasks; resolves when the worker stops. With the health check enabled its
   * server opens first, and a port it cannot listen on rejects this.
   */
  start(): Promise<void> {
    if (this.#started) throw new Error('the worker is already started');
    this.#started = true;
    const done = new Promise<void>((resolve) => {
      this.#stopped = resolve;
    });
    const healthcheck = this.#client.config.healthcheck;
    if (!healthcheck.enabled) {
      this.#connect();
      return done;
    }
    const source = {
      name: this.name,
      connected: () => this.#workerId !== undefined && this.#connection?.connected === true,
      registered: () => this.#workerId !== undefined,
      details: () => ({ slots: this.#slots, actions: [...this.#handlers.keys()], labels: this.#labels() }),
    };
    return HealthServer.start(source, healthcheck).then(async (health) => {
      this.#health = health;
      if (this.#stopping) {
        await this.#closeHealth();
        return;
      }
      this.#connect();
      return done;
    });
  }

  async #closeHealth(): Promise<void> {
    const health = this.#health;
    this.#health = undefined;
    await health?.close();
  }

  #connect(): void {
    this.#connection = new Connection({
      url: engineUrl(this.#client.config),
      token: this.#client.config.token,
      logger: this.#client.logger,
      onFrame: (frame) => this.#onFrame(frame),
      onOpen: async () => {
        const reply = await (this.#connection as Connection).sendNow<{ workerId: string }>({
          t: 'register',
          name: this.name,
          ...this.#actions(),
          slots: this.#slots,
          labels: this.#labels(),
          ...(this.#workerId === undefined ? {} : { workerId: this.#workerId }),
          running: this.#held(),
        });
        this.#workerId = reply.workerId;
        // Heartbeat at the rate this engine asked for in its welcome.
        clearInterval(this.#heartbeat);
        this.#heartbeat = setInterval(() => this.#connection?.send({ t: 'heartbeat' }), (this.#connection as Connection).heartbeatMs);
        this.#heartbeat.unref();
        this.#scheduleFlush();
        // Word about resident invocations may have been lost with the connection: they ask again.
        for (const waiting of [...this.#resident.values()]) waiting.settle('ask again');
      },
    });
    if (this.#opts.handleKill !== false) {
      const kill = () => {
        void this.stop().then(() => process.exit(0));
      };
      process.once('SIGTERM', kill);
      process.once('SIGINT', kill);
    }
  }

  /** Resolves once the worker is registered with the engine. */
  async waitUntilReady(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#workerId === undefined) {
      if (Date.now() > deadline) throw new Error(`worker '${this.name}' did not register within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Stops taking tasks, lets the tasks in flight finish, then disconnects. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    // Registering again with no actions stops new assignments; any assignment already on its way
    // that this worker will not run is not in `running`, so the engine queues it again.
    // Durable tasks waiting here are let go (not listed as held): the engine evicts them, and they
    // resume by replay, on another worker, once their waits are over.
    const resident = new Set(this.#resident.keys());
    if (this.#workerId !== undefined) {
      await this.#connection
        ?.request({ t: 'register', name: this.name, actions: [], durableActions: [], durableSlots: this.#durableSlots, slots: this.#slots, labels: this.#labels(), workerId: this.#workerId, running: this.#held().filter((task) => !resident.has(task.taskId)) })
        .catch(() => {});
    }
    for (const taskId of resident) this.#resident.get(taskId)?.settle({ done: false });
    while (this.#running.size > 0) await new Promise((resolve) => setTimeout(resolve, 20));
    await this.#flush();
    clearInterval(this.#heartbeat);
    this.#connection?.close();
    await this.#closeHealth();
    this.#stopped?.();
  }

  /** What this worker still has: running, or finished with the result not yet delivered. */
  #held(): Array<{ taskId: string; attempt: number }> {
    return [...[...this.#running].map(([taskId, { attempt }]) => ({ taskId, attempt })), ...this.#resultOutbox.map(({ taskId, attempt }) => ({ taskId, attempt }))];
  }

  #onFrame(frame: ServerFrame): void {
    if (frame.t === 'assign') for (const task of frame.tasks) this.#run(task);
    else if (frame.t === 'checkpointResult') {
      for (const item of frame.items) this.#residentOutcome(item.taskId, item.attempt, item.invocation, item.nodeId, { done: true, result: item.result });
    } else if (frame.t === 'evictTasks') {
      for (const item of frame.tasks) this.#residentOutcome(item.taskId, item.attempt, item.invocation, undefined, { done: false });
    } else if (frame.t === 'cancelTasks') {
      for (const { taskId, attempt } of frame.tasks) {
        const running = this.#running.get(taskId);
        if (running !== undefined && running.attempt === attempt) running.ctx.abortController.abort(new TaskRunTerminatedError('cancelled'));
      }
    }
  }

  /** What every task's context asks of this worker: made once, shared by all of them. */
  #host: ContextHost | undefined;

  #contextHost(): ContextHost {
    this.#host ??= this.#makeContextHost();
    return this.#host;
  }

  #makeContextHost(): ContextHost {
    const worker = this;
    // The tasks' logger, made when the first line is logged.
    let logger: Logger | undefined;
    const ctxLogger = () => {
      logger ??= this.#client.config.logger('ctx', this.#client.config.log_level);
      return logger;
    };
    return {
      get workerId() {
        return worker.#workerId ?? '';
      },
      get workerLabels() {
        return worker.#labels();
      },
      refreshTimeout: (task, incrementMs) => this.#connection?.send({ t: 'refresh', taskId: task.taskId, attempt: task.attempt, incrementMs }),
      releaseSlot: (task) => this.#connection?.send({ t: 'release', taskId: task.taskId, attempt: task.attempt }),
      cancelRun: (runId) => this.#client.cancelRun(runId),
      runChild: (parent, childIndex, workflow, input, options, wait) => this.#client.runChild(parent, childIndex, workflow, input, options, wait, this.#workerId),
      upsertLabels: (labels) => this.upsertLabels(labels),
      resolveWorkflow: (workflow) => this.#client.resolveWorkflow(workflow),
      namespaced: (key) => (key.startsWith(this.#client.namespace) ? key : `${this.#client.namespace}${key}`),
      checkpoint: (task, invocation, nodeId, op) => this.#checkpoint(task, invocation, nodeId, op),
      putStream: (task, index, data) => this.#putStream(task, index, data),
      evicted: (task) => {
        // Only this invocation: the task may already be assigned here again (same attempt) to resume.
        const running = this.#running.get(task.taskId);
        if (running !== undefined && running.ctx.action === task) {
          running.evicted = true;
          this.#running.delete(task.taskId);
        }
      },
      hasWorkflow: (name) => this.#workflows.some((workflow) => workflow.name === name.toLowerCase() || workflow.name === `${this.#client.namespace}${name.toLowerCase()}`),
      log: (task, message, level, extra) => this.#log(ctxLogger(), task, message, level, extra),
      logUtil: (key, message, extra) => ctxLogger().util?.(key, message, extra),
    };
  }

  /** A task's log line: stored with the task (when the connection can carry it) and logged here. */
  #log(logger: Logger, task: AssignedTask, message: string, level: TaskLogLevel, extra: LogExtra | undefined): void {
    const cut = '… (truncated)';
    const text = message.length > engineLimits.logMessageCharsMax ? message.slice(0, engineLimits.logMessageCharsMax - cut.length) + cut : message;
    this.#connection?.send({ t: 'log', taskId: task.taskId, attempt: task.attempt, level, message: text });
    const fields = {
      workflowRunId: task.runId,
      taskRunExternalId: task.taskId,
      retryCount: task.attempt,
      workflowName: task.workflow,
      ...(typeof extra?.extra === 'object' && extra.extra !== null ? extra.extra : extra?.extra === undefined ? {} : { extra: extra.extra }),
    };
    if (level === 'DEBUG') logger.debug(message, fields);
    else if (level === 'INFO') logger.info(message, fields);
    else if (level === 'WARN') logger.warn(message, extra?.error, fields);
    else logger.error(message, extra?.error, fields);
  }

  #putStream(task: AssignedTask, index: number, data: string | Uint8Array): Promise<void> {
    const connection = this.#connection;
    if (connection === undefined) return Promise.reject(new EngineError('ENGINE_UNAVAILABLE', 'the worker is not connected'));
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    return connection.request<null>({ t: 'putStream', taskId: task.taskId, attempt: task.attempt, index, data: bytes }).then(() => undefined);
  }

  /** `events.putStream`: a chunk for a task this worker runs; undefined when it runs no such task. */
  putStreamFor(taskId: string, data: string | Uint8Array, index?: number): Promise<void> | undefined {
    const running = this.#running.get(taskId);
    if (running === undefined) return undefined;
    return this.#putStream(running.ctx.action, index ?? running.ctx._incrementStreamIndex(), data);
  }

  /**
   * Sends a checkpoint and resolves once it is done or the invocation is evicted. A task that waits
   * resident (its eviction policy) keeps its invocation here until the engine sends the result or
   * evicts it; after a lost connection it asks again.
   */
  async #checkpoint(task: AssignedTask, invocation: number, nodeId: number, op: Parameters<ContextHost['checkpoint']>[3]): ReturnType<ContextHost['checkpoint']> {
    for (;;) {
      const reply = await this.#sendCheckpoint(task, invocation, nodeId, op);
      if (reply.done || reply.resident !== true) return reply;
      const outcome = await this.#awaitResident(task, invocation, nodeId);
      if (outcome !== 'ask again') return outcome;
    }
  }

  #awaitResident(task: AssignedTask, invocation: number, nodeId: number): Promise<CheckpointReply | 'ask again'> {
    const early = this.#early.get(task.taskId);
    if (early !== undefined && early.attempt === task.attempt && early.invocation === invocation && (early.nodeId === undefined || early.nodeId === nodeId)) {
      this.#early.delete(task.taskId);
      return Promise.resolve(early.reply);
    }
    const signal = this.#running.get(task.taskId)?.ctx.abortController.signal;
    if (signal === undefined || signal.aborted || this.#stopping) return Promise.resolve({ done: false });
    return new Promise((resolve) => {
      const settle = (outcome: CheckpointReply | 'ask again') => {
        if (this.#resident.get(task.taskId)?.settle === settle) this.#resident.delete(task.taskId);
        signal.removeEventListener('abort', cancelled);
        resolve(outcome);
      };
      // A cancelled (or replaced) invocation stops waiting; the context goes no further.
      const cancelled = () => settle({ done: false });
      signal.addEventListener('abort', cancelled, { once: true });
      this.#resident.get(task.taskId)?.settle({ done: false });
      this.#resident.set(task.taskId, { attempt: task.attempt, invocation, nodeId, settle });
    });
  }

  /** The engine's word on a resident invocation: to its waiting checkpoint, or kept until that waits. */
  #residentOutcome(taskId: string, attempt: number, invocation: number, nodeId: number | undefined, reply: CheckpointReply): void {
    const waiting = this.#resident.get(taskId);
    if (waiting !== undefined && waiting.attempt === attempt && waiting.invocation === invocation && (nodeId === undefined || waiting.nodeId === nodeId)) {
      waiting.settle(reply);
      return;
    }
    const running = this.#running.get(taskId);
    if (running !== undefined && running.attempt === attempt && (running.ctx.action.durable?.invocation ?? 1) === invocation) {
      this.#early.set(taskId, { attempt, invocation, ...(nodeId === undefined ? {} : { nodeId }), reply });
    }
  }

  /** Sends a checkpoint, again after a lost connection (the engine replays a known one). */
  async #sendCheckpoint(task: AssignedTask, invocation: number, nodeId: number, op: Parameters<ContextHost['checkpoint']>[3]): ReturnType<ContextHost['checkpoint']> {
    for (let attempt = 0; ; attempt++) {
      const connection = this.#connection;
      if (connection === undefined) throw new EngineError('ENGINE_UNAVAILABLE', 'the worker is not connected');
      try {
        return await connection.request({ t: 'checkpoint', taskId: task.taskId, attempt: task.attempt, invocation, nodeId, op });
      } catch (error) {
        if (!(error instanceof EngineError) || error.code !== 'ENGINE_UNAVAILABLE' || attempt >= 20 || this.#stopping) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 100 * 2 ** attempt)));
      }
    }
  }

  #run(task: AssignedTask): void {
    // A stopping worker leaves the task alone: it is not in what `stop()` told the engine it holds,
    // so the engine queues it again for another worker.
    if (this.#stopping) return;
    // An assignment of an attempt this worker is running is not a second run of it. (One it has
    // finished may come again after an engine restart lost its result: that one runs again.)
    const running = this.#running.get(task.taskId);
    if (running !== undefined && running.attempt === task.attempt) {
      // A durable task resumed may be assigned here again before the reply that evicted its last
      // invocation arrives: the newer invocation replaces the older, which ends where it stands.
      if ((task.durable?.invocation ?? 1) <= (running.ctx.action.durable?.invocation ?? 1)) return;
      running.evicted = true;
      running.ctx.abortController.abort(new TaskRunTerminatedError('evicted'));
    }
    const handler = this.#handlers.get(task.action);
    if (handler === undefined) {
      this.#report({ taskId: task.taskId, attempt: task.attempt, ok: false, error: { message: `worker '${this.name}' has no handler for '${task.action}'` } });
      return;
    }
    const ctx: Context<unknown> = handler.task.kind === 'durable' ? new DurableContext(task, this.#contextHost()) : new Context(task, this.#contextHost());
    this.#running.set(task.taskId, { ctx, attempt: task.attempt });
    this.#startedOutbox.set(task.taskId, task.attempt);
    this.#scheduleFlush();
    // Nothing is made unless the program installed an OpenTelemetry SDK (tracing.ts).
    const span = consumerSpan('hatchet.start_step_run', task.additionalMetadata, () => ({
      'hatchet.tenant_id': this.#client.config.tenant_id,
      'hatchet.worker_id': this.#workerId ?? '',
      'hatchet.workflow_run_id': task.runId,
      'hatchet.step_run_id': task.taskId,
      'hatchet.workflow_name': task.workflow,
      'hatchet.action_name': task.action,
      'hatchet.step_name': task.task,
      'hatchet.retry_count': task.attempt,
      ...(task.parentRunId === undefined ? {} : { 'hatchet.parent_workflow_run_id': task.parentRunId }),
      ...(task.childIndex === undefined ? {} : { 'hatchet.child_workflow_index': task.childIndex }),
      ...(task.childKey === undefined ? {} : { 'hatchet.child_workflow_key': task.childKey }),
    }));
    // The task ends here: it is no longer running (unless a newer invocation replaced it).
    const ended = () => {
      if (this.#running.get(task.taskId)?.ctx.action === task) {
        this.#running.delete(task.taskId);
        this.#early.delete(task.taskId);
      }
    };
    Promise.resolve()
      .then(() => {
        // A run whose input breaks the workflow's validator fails now: retrying the same input
        // cannot help, so the failure is not retried.
        try {
          validateInput(handler.workflow.name, handler.workflow.definition.inputValidator, ctx.input);
        } catch (error) {
          throw new NonRetryableError((error as Error).message);
        }
        const fn = handler.task.fn;
        if (fn === undefined) throw new NonRetryableError(`task '${task.action}' has no fn`);
        // Runs triggered from inside the task are its children (implicit parenting).
        const parent = { taskId: task.taskId, runId: task.runId, additionalMetadata: task.additionalMetadata, nextChildIndex: () => ctx.nextChildIndex(), durable: ctx instanceof DurableContext, ctx };
        const runTask = () => taskContext.run(parent, () => runWithMiddleware(this.#client.config.middleware, ctx.input, ctx, fn));
        return span === undefined ? runTask() : withContext(span.context, runTask);
      })
      .then(
        (output: unknown) => {
          try {
            if (span !== undefined) endSpan(span.span);
            if (ctx.cancelled || this.#isEvicted(task)) return;
            // An output JSON cannot carry fails the task for good: running it again cannot help.
            let payload: Payload;
            try {
              payload = encodePayload(output, `the output of task '${task.task}'`);
            } catch (error) {
              this.#report({ taskId: task.taskId, attempt: task.attempt, ok: false, error: { message: (error as Error).message }, nonRetryable: true });
              return;
            }
            this.#report({ taskId: task.taskId, attempt: task.attempt, ok: true, output: payload });
          } finally {
            ended();
          }
        },
        (error: unknown) => {
          try {
            if (span !== undefined) endSpan(span.span, error);
            if (ctx.cancelled || this.#isEvicted(task)) return;
            const e = error instanceof Error ? error : new Error(String(error));
            this.#report({ taskId: task.taskId, attempt: task.attempt, ok: false, error: { message: e.message, ...(e.stack === undefined ? {} : { stack: e.stack }) }, nonRetryable: error instanceof NonRetryableError });
          } finally {
            ended();
          }
        },
      );
  }

  /** Whether this invocation was evicted (or replaced by a newer one): its outcome is not the task's. */
  #isEvicted(task: AssignedTask): boolean {
    return (task.durable !== undefined || this.#handlers.get(task.action)?.task.kind === 'durable') && this.#running.get(task.taskId)?.ctx.action !== task;
  }

  #report(result: Result): void {
    // A task whose result goes out needs no separate start: the result implies it.
    if (this.#startedOutbox.get(result.taskId) === result.attempt) this.#startedOutbox.delete(result.taskId);
    this.#resultOutbox.push(result);
    this.#scheduleFlush();
  }

  readonly #scheduleFlush = coalesce(() => void this.#flush());

  /** Sends what is waiting, in batches; keeps what the connection cannot carry (invariant 2). */
  async #flush(): Promise<void> {
    const connection = this.#connection;
    if (connection === undefined) return;
    while (this.#startedOutbox.size > 0) {
      const tasks: Array<{ taskId: string; attempt: number }> = [];
      for (const [taskId, attempt] of this.#startedOutbox) {
        tasks.push({ taskId, attempt });
        if (tasks.length === 1000) break;
      }
      if (!connection.send({ t: 'started', tasks })) break;
      for (const { taskId } of tasks) this.#startedOutbox.delete(taskId);
    }
    // Batched by size as well as count, so a batch of large outputs never outgrows a frame.
    for (const { bytes, count } of encodeBatches(this.#resultOutbox, (items) => ({ t: 'results', items }), engineLimits.frameBytesMax, engineLimits.frameItemsMax)) {
      if (!connection.send(bytes)) break;
      this.#resultOutbox = this.#resultOutbox.slice(count);
    }
    // What could not be sent waits for the next connection (`onOpen` flushes again).
  }
}
