/**
 * `HatchetClient` — the entry point of the SDK, source-compatible with Hatchet's TypeScript v1
 * client: declaring tasks and workflows (typed as Hatchet's are, global and middleware types
 * included), running them, workers, middleware, and the feature clients (`runs`, `logs`, …).
 */
import type { AssignedTask, FinishedRun, LogLine, PushedEvent, RegisteredWorkflow, RunDetails, TriggerRun } from '../../protocol/frames.js';
import { decodePayload, encodePayload, type Payload } from '../../protocol/payload.js';
import { chunkBySize } from '../lib/chunks.js';
import { deferred, type Deferred } from '../lib/deferred.js';
import { engineLimits } from '../lib/limits.js';
import { type ClientConfig, type ClientOptions, engineUrl, loadConfig } from './config.js';
import { traced } from './tracing.js';
import { Connection, EngineError } from './connection.js';
import { RestClient } from './rest.js';
import { desiredLabels } from './policies.js';
import { type ChildRunOpts, DurableContext } from './context.js';
import { taskContext } from './task-context.js';
import {
  type BaseWorkflowDeclaration,
  type CreateBatchTaskWorkflowOpts,
  type CreateDurableTaskWorkflowOpts,
  type CreateTaskWorkflowOpts,
  type CreateWorkflowOpts,
  type DeclarationHost,
  TaskWorkflowDeclaration,
  WorkflowDeclaration,
} from './declaration.js';
import { StreamSubscriptions } from './stream.js';
import { BulkTriggerIdempotencyCollisionError, HatchetError, IdempotencyCollisionError, NotSupportedError } from './errors.js';
import {
  CELClient,
  CronClient,
  EventClient,
  type FeatureHost,
  type RunView,
  FiltersClient,
  LogsClient,
  MetricsClient,
  RatelimitsClient,
  RunsClient,
  ScheduleClient,
  TenantClient,
  WebhooksClient,
  WorkersClient,
  WorkflowsClient,
} from './features.js';
import type { Logger } from './logger.js';
import { appendMiddleware, type InferMiddlewareAfter, type InferMiddlewareBefore, type TaskMiddleware } from './middleware.js';
import { type RunWatcher, WorkflowRunRef } from './run-ref.js';
import type { BatchTaskConfig, BatchTaskFn } from './task.js';
import type { AnyRecord, InputType, MergeIfNonEmpty, OutputType, Resolved, RunOpts, StrictWorkflowOutputType, UnknownInputType } from './types.js';
import { type CreateWorkerOpts, Worker, type WorkerClient } from './worker.js';

/** A workflow as the run methods take it: a declaration, or its name. */
// biome-ignore lint/suspicious/noExplicitAny: any declaration.
type WorkflowArg = BaseWorkflowDeclaration<any, any> | string;

/** An input as the payload the engine carries (JSON, as in Hatchet); refused here when JSON cannot hold it. */
function inputPayload(workflow: string, input: unknown): Payload {
  try {
    return encodePayload(input, `the input of a run of '${workflow}'`);
  } catch (error) {
    throw new EngineError('INVALID_INPUT', (error as Error).message);
  }
}

/** The engine's answer for one run of a `trigger` with `each: true`. */
type TriggerResult = { runId: string } | { error: { code: string; message: string; existingRunId?: string } };

/** A run's details with their payloads decoded, as Hatchet's `runs.get` returns them. */
function decodeDetails(details: RunDetails): RunView {
  return {
    ...details,
    input: decodePayload(details.input),
    tasks: details.tasks.map((task) => ({ ...task, ...(task.output === undefined ? {} : { output: decodePayload(task.output) }) })),
  };
}

/**
 * The client. Its type parameters carry the global input every task's callers must supply
 * (`init<GlobalInput>()`), the global output every task must return, and what middleware adds to
 * inputs and outputs (`withMiddleware`), so tasks declared on it are typed accordingly.
 */
export class HatchetClient<GlobalInput extends AnyRecord = {}, GlobalOutput extends AnyRecord = {}, MiddlewareBefore extends AnyRecord = {}, MiddlewareAfter extends AnyRecord = {}>
  implements DeclarationHost, RunWatcher, WorkerClient, FeatureHost
{
  readonly config: ClientConfig;
  readonly logger: Logger;
  #connection: Connection | undefined;
  readonly #waiting = new Map<string, Deferred<FinishedRun>>();
  /** Runs awaited in this turn, subscribed to together at its end. */
  readonly #toSubscribe: string[] = [];
  /** Live streams this client reads (`runs.subscribeToStream`), and the workers it made (`events.putStream`). */
  readonly #streams = new StreamSubscriptions(() => this.#conn);
  readonly #workers = new Set<Worker>();

  constructor(config: ClientOptions = {}, _options?: { config_path?: string; credentials?: unknown }, _axiosConfig?: unknown) {
    this.config = loadConfig(config);
    this.logger = this.config.logger('HatchetClient', this.config.log_level);
  }

  static init<T extends AnyRecord = {}, U extends AnyRecord = {}>(
    config: Omit<ClientOptions, 'middleware'> = {},
    options?: { config_path?: string; credentials?: unknown },
    axiosConfig?: unknown,
  ): HatchetClient<T, U> {
    return new HatchetClient<T, U>(config, options, axiosConfig);
  }

  /**
   * Adds middleware hooks behind those already on this client (see `middleware.ts` for what they
   * do), and returns the client typed with what they add. Like Hatchet's, it changes this client:
   * every worker made from it runs the hooks.
   */
  withMiddleware<const M extends TaskMiddleware<Resolved<GlobalInput, MiddlewareBefore>, Resolved<GlobalOutput, MiddlewareAfter>>>(
    middleware: M,
  ): HatchetClient<GlobalInput, GlobalOutput, MiddlewareBefore & InferMiddlewareBefore<M>, MiddlewareAfter & InferMiddlewareAfter<M>> {
    this.config.middleware = appendMiddleware(this.config.middleware, middleware as TaskMiddleware);
    return this as unknown as HatchetClient<GlobalInput, GlobalOutput, MiddlewareBefore & InferMiddlewareBefore<M>, MiddlewareAfter & InferMiddlewareAfter<M>>;
  }

  get tenantId(): string {
    return this.config.tenant_id;
  }

  #rest: RestClient | undefined;

  /** @internal The REST API, for the feature clients. */
  get rest(): RestClient {
    this.#rest ??= new RestClient(this.config.api_url, this.config.token, async () => {
      if (this.config.tenant_id !== '') return this.config.tenant_id;
      // The engine names the token's tenant when the WebSocket opens.
      await this.#conn.ready;
      return this.#conn.tenantId ?? '';
    });
    return this.#rest;
  }

  get namespace(): string {
    return this.config.namespace;
  }

  get #conn(): Connection {
    if (this.#connection === undefined) {
      this.#connection = new Connection({
        url: engineUrl(this.config),
        token: this.config.token,
        logger: this.logger,
        onFrame: (frame) => {
          if (this.#streams.onFrame(frame) || frame.t !== 'runFinished') return;
          for (const run of frame.runs) {
            this.#waiting.get(run.runId)?.resolve(run);
            this.#waiting.delete(run.runId);
          }
        },
        onOpen: () => {
          this.#streams.reconnected();
          // After a reconnect, ask again for every run still awaited.
          const runIds = [...this.#waiting.keys()];
          for (let i = 0; i < runIds.length; i += 1000) this.#connection?.send({ t: 'subscribe', runIds: runIds.slice(i, i + 1000) });
        },
      });
    }
    return this.#connection;
  }

  // -------------------------------------------------------------------------------------------
  // Declarations

  /** A workflow of several tasks; `O` maps its task names to their outputs. */
  workflow<I extends InputType = UnknownInputType, O extends StrictWorkflowOutputType = {}>(options: CreateWorkflowOpts): WorkflowDeclaration<I, O, Resolved<GlobalInput, MiddlewareBefore>> {
    return new WorkflowDeclaration<I, O, Resolved<GlobalInput, MiddlewareBefore>>(options, this);
  }

  /** A standalone task, typed by its generics… */
  task<I extends InputType = UnknownInputType, O extends OutputType = void>(
    options: CreateTaskWorkflowOpts<I & Resolved<GlobalInput, MiddlewareBefore>, MergeIfNonEmpty<O, GlobalOutput>>,
  ): TaskWorkflowDeclaration<I, O, GlobalInput, GlobalOutput, MiddlewareBefore, MiddlewareAfter>;
  /** …or by its `fn`. */
  task<
    // biome-ignore lint/suspicious/noExplicitAny: any context, as in Hatchet.
    Fn extends (input: I, ctx?: any) => O | Promise<O>,
    I extends InputType = Parameters<Fn>[0] | UnknownInputType,
    O extends OutputType = ReturnType<Fn> extends Promise<infer P> ? (P extends OutputType ? P : void) : ReturnType<Fn> extends OutputType ? ReturnType<Fn> : void,
  >(options: { fn: Fn } & Omit<CreateTaskWorkflowOpts<I, O>, 'fn'>): TaskWorkflowDeclaration<I, O, GlobalInput, GlobalOutput, MiddlewareBefore, MiddlewareAfter>;
  // biome-ignore lint/suspicious/noExplicitAny: the overloads above type it.
  task(options: any): TaskWorkflowDeclaration<any, any> {
    return new TaskWorkflowDeclaration(options, this);
  }

  /** A durable task (not carried out by this engine yet: refused when a worker registers it). */
  durableTask<I extends InputType, O extends OutputType>(
    options: CreateDurableTaskWorkflowOpts<I & Resolved<GlobalInput, MiddlewareBefore>, MergeIfNonEmpty<O, GlobalOutput>>,
  ): TaskWorkflowDeclaration<I, O, GlobalInput, GlobalOutput, MiddlewareBefore, MiddlewareAfter>;
  durableTask<
    Fn extends (input: I, ctx: DurableContext<I>) => O | Promise<O>,
    I extends InputType = Parameters<Fn>[0],
    O extends OutputType = ReturnType<Fn> extends Promise<infer P> ? (P extends OutputType ? P : void) : ReturnType<Fn> extends OutputType ? ReturnType<Fn> : void,
  >(options: { fn: Fn } & Omit<CreateDurableTaskWorkflowOpts<I, O>, 'fn'>): TaskWorkflowDeclaration<I, O, GlobalInput, GlobalOutput, MiddlewareBefore, MiddlewareAfter>;
  // biome-ignore lint/suspicious/noExplicitAny: the overloads above type it.
  durableTask(options: any): TaskWorkflowDeclaration<any, any> {
    return new TaskWorkflowDeclaration(options, this, 'durable');
  }

  /** A batch task (a preview in Hatchet; not carried out by this engine yet). */
  batchTask<I extends InputType = UnknownInputType, O extends OutputType = void>(
    options: { fn: BatchTaskFn<I, O>; batch: BatchTaskConfig } & Omit<CreateBatchTaskWorkflowOpts<I, O>, 'fn' | 'batch'>,
  ): TaskWorkflowDeclaration<I, O, GlobalInput, GlobalOutput, MiddlewareBefore, MiddlewareAfter> {
    // biome-ignore lint/suspicious/noExplicitAny: stored untyped, like every declaration.
    return new TaskWorkflowDeclaration(options as any, this, 'batch');
  }

  worker(name: string, opts: CreateWorkerOpts | number = {}): Promise<Worker> {
    return Worker.create(this, name, typeof opts === 'number' ? { slots: opts } : opts).then((worker) => {
      this.#workers.add(worker);
      return worker;
    });
  }

  /** @internal A run's live stream (`runs.subscribeToStream`). */
  subscribeToStream(runId: string): AsyncGenerator<string, void, undefined> {
    return this.#streams.iterate(runId);
  }

  /** @internal A chunk of a task's stream, sent by the worker of this client that runs it (`events.putStream`). */
  putStream(taskId: string, data: string | Uint8Array, index?: number): Promise<void> {
    for (const worker of this.#workers) {
      const sent = worker.putStreamFor(taskId, data, index);
      if (sent !== undefined) return sent;
    }
    return Promise.reject(new EngineError('TASK_NOT_HELD', `task run '${taskId}' is not running on a worker of this client; only the worker running a task streams for it`));
  }

  // biome-ignore lint/suspicious/noExplicitAny: declarations of any input and output register alike.
  async putWorkflow(workflow: BaseWorkflowDeclaration<any, any>): Promise<void> {
    await this.#conn.request({ t: 'putWorkflow', workflow: workflow.spec() });
  }

  // -------------------------------------------------------------------------------------------
  // Running

  #trigger(runs: TriggerRun[], idempotent = false): Promise<string[]> {
    if (runs.length === 1) return this.#triggerOne(runs[0] as TriggerRun);
    if (idempotent) return this.#triggerEach(runs);
    return this.#triggerAll(runs);
  }

  async #triggerAll(runs: TriggerRun[]): Promise<string[]> {
    const ids: string[] = [];
    // At most 500 runs, and half a frame of inputs, per request.
    for (const chunk of chunkBySize(runs, (run) => run.input.length + 256, engineLimits.frameBytesMax / 2, 500)) {
      const reply = await this.#conn.request<{ runIds: string[] }>({ t: 'trigger', runs: chunk });
      ids.push(...reply.runIds);
    }
    return ids;
  }

  /** Single runs triggered in one turn, sent together at its end (each answered on its own). */
  #oneByOne: Array<{ run: TriggerRun; done: Deferred<string[]> }> = [];

  /**
   * Triggers one run; resolves with its id (alone in a list, as `#trigger` answers). Calls made in
   * the same turn share a `trigger` frame with `each: true`, so a program that starts runs one by
   * one pays one round trip per batch, not per run — and one run's error (a workflow not
   * registered, say) is its caller's alone.
   */
  #triggerOne(run: TriggerRun): Promise<string[]> {
    const done = deferred<string[]>();
    if (this.#oneByOne.length === 0) queueMicrotask(() => this.#sendOneByOne());
    this.#oneByOne.push({ run, done });
    return done.promise;
  }

  /**
   * Runs of an idempotent workflow, each answered on its own: the others are created when some
   * collide, which then reject together in a `BulkTriggerIdempotencyCollisionError`.
   */
  async #triggerEach(runs: TriggerRun[]): Promise<string[]> {
    const ids: string[] = [];
    const collisions: IdempotencyCollisionError[] = [];
    for (const chunk of chunkBySize(runs, (run) => run.input.length + 256, engineLimits.frameBytesMax / 2, 500)) {
      const { results } = await this.#conn.request<{ results: TriggerResult[] }>({ t: 'trigger', runs: chunk, each: true });
      for (const result of results) {
        if ('runId' in result) ids.push(result.runId);
        else if (result.error.code === 'IDEMPOTENCY_COLLISION') collisions.push(new IdempotencyCollisionError(result.error.existingRunId ?? ''));
        else throw new EngineError(result.error.code, result.error.message);
      }
    }
    if (collisions.length > 0) throw new BulkTriggerIdempotencyCollisionError(ids, collisions);
    return ids;
  }

  #sendOneByOne(): void {
    const waiting = this.#oneByOne;
    this.#oneByOne = [];
    for (const chunk of chunkBySize(waiting, ({ run }) => run.input.length + 256, engineLimits.frameBytesMax / 2, 500)) {
      this.#conn.request<{ results: TriggerResult[] }>({ t: 'trigger', runs: chunk.map(({ run }) => run), each: true }).then(
        ({ results }) => {
          chunk.forEach(({ done }, i) => {
            const result = results[i];
            if (result !== undefined && 'runId' in result) done.resolve([result.runId]);
            else if (result?.error.code === 'IDEMPOTENCY_COLLISION') done.reject(new IdempotencyCollisionError(result.error.existingRunId ?? ''));
            else done.reject(new EngineError(result?.error.code ?? 'ENGINE_UNAVAILABLE', result?.error.message ?? 'the engine did not answer for this run'));
          });
        },
        (error: unknown) => {
          for (const { done } of chunk) done.reject(error);
        },
      );
    }
  }

  /** @internal A workflow argument's registered name (namespaced), and its standalone task's name. */
  resolveWorkflow(workflow: unknown): { name: string; standalone: string | undefined } {
    return this.#workflowName(workflow);
  }

  #workflowName(workflow: WorkflowArg | unknown): { name: string; standalone: string | undefined } {
    if (typeof workflow === 'string') {
      const lower = workflow.toLowerCase();
      return { name: lower.startsWith(this.namespace) ? lower : `${this.namespace}${lower}`, standalone: undefined };
    }
    // biome-ignore lint/suspicious/noExplicitAny: any declaration.
    const declaration = workflow as BaseWorkflowDeclaration<any, any>;
    return { name: declaration.name, standalone: declaration.standaloneTaskName };
  }

  /** @internal Triggers runs of a declaration or a workflow by name (used by the declarations). */
  async triggerRuns<O>(declaration: WorkflowArg, inputs: unknown[], options: RunOpts = {}): Promise<WorkflowRunRef<O>[]> {
    const { name, standalone } = this.#workflowName(declaration);
    // Called inside a task, the runs are its children (Hatchet's implicit parenting).
    const parent = taskContext.getStore();
    if (parent === undefined && (options.sticky || options.childKey !== undefined)) {
      this.logger.warn('ignoring childKey or sticky because run is not being spawned from a parent task (use ctx.runChild inside a task)');
    }
    const idempotent = typeof declaration !== 'string' && declaration.definition.idempotency !== undefined;
    const inherited = parent === undefined ? options.additionalMetadata : { ...parent.additionalMetadata, ...(options.additionalMetadata ?? {}) };
    let labels: TriggerRun['desiredWorkerLabels'];
    const runsWith = (carrier: Record<string, string> | undefined): TriggerRun[] => {
      // The trigger's span is the parent of the tasks' spans (tracing.ts).
      const metadata = carrier === undefined ? inherited : { ...inherited, ...carrier };
      return inputs.map((input) => {
        const run: TriggerRun = { workflow: name, input: inputPayload(name, input) };
        if (metadata !== undefined) run.additionalMetadata = metadata;
        if (options.priority !== undefined) run.priority = options.priority;
        if (options.desiredWorkerLabels !== undefined) {
          labels ??= desiredLabels(options.desiredWorkerLabels) as TriggerRun['desiredWorkerLabels'];
          run.desiredWorkerLabels = labels;
        }
        if (parent !== undefined) {
          run.parentTaskId = parent.taskId;
          run.childIndex = parent.nextChildIndex();
          if (options.childKey !== undefined && inputs.length === 1) run.childKey = options.childKey;
        }
        return run;
      });
    };
    const ids = await traced(
      inputs.length === 1 ? 'hatchet.run_workflow' : 'hatchet.run_workflows',
      { 'hatchet.step_name': name },
      (carrier) => this.#trigger(runsWith(carrier), idempotent),
      (span, runIds) => {
        if (runIds.length === 1) span.setAttribute('hatchet.child_workflow_run_id', runIds[0] as string);
      },
    );
    return ids.map((id) => new WorkflowRunRef<O>(id, this, standalone));
  }

  /** @internal Inside a durable task, a run waited for is one of its checkpoints (children spawned through its log). */
  // biome-ignore lint/suspicious/noExplicitAny: any declaration.
  durableRun<O>(declaration: BaseWorkflowDeclaration<any, any>, inputs: unknown[], options: RunOpts): Promise<O[]> | undefined {
    const ctx = taskContext.getStore()?.ctx;
    if (!(ctx instanceof DurableContext)) return undefined;
    const childOptions: ChildRunOpts = {
      ...(options.additionalMetadata === undefined ? {} : { additionalMetadata: options.additionalMetadata }),
      ...(options.priority === undefined ? {} : { priority: options.priority }),
      ...(options.childKey === undefined || inputs.length > 1 ? {} : { key: options.childKey }),
    };
    return ctx.spawnChildren(inputs.map((input) => ({ workflow: declaration, input: input as Record<string, never>, options: childOptions }))) as Promise<O[]>;
  }

  /** @internal Pushes events over the WebSocket (at most 1,000 per request). */
  pushEvents(events: PushedEvent[]) {
    return traced(events.length === 1 ? 'hatchet.push_event' : 'hatchet.bulk_push_event', events.length === 1 ? { 'hatchet.event_key': events[0]?.key ?? '' } : {}, (carrier) =>
      this.#conn
        .request<{ events: Array<{ eventId: string; key: string; additionalMetadata: Record<string, string>; scope?: string; eventTimestampMs: number; runIds?: string[] }> }>({
          t: 'pushEvents',
          events: carrier === undefined ? events : events.map((event) => ({ ...event, additionalMetadata: { ...(event.additionalMetadata ?? {}), ...carrier } })),
        })
        .then((reply) => reply.events),
    );
  }

  /** Runs a workflow by declaration or name; resolves with its run reference. */
  async runNoWait<I extends InputType = UnknownInputType, O extends OutputType = void>(workflow: BaseWorkflowDeclaration<I, O> | string, input: I, options: RunOpts = {}): Promise<WorkflowRunRef<O>> {
    if (typeof workflow !== 'string') return workflow.runNoWait(input, options);
    const [ref] = await this.triggerRuns<O>(workflow, [input], options);
    return ref as WorkflowRunRef<O>;
  }

  /** Runs a workflow by declaration or name and waits for its output. */
  async run<I extends InputType = UnknownInputType, O extends OutputType = void>(workflow: BaseWorkflowDeclaration<I, O> | string, input: I, options: RunOpts = {}): Promise<O> {
    return (await this.runNoWait<I, O>(workflow, input, options)).result();
  }

  runAndWait<I extends InputType = UnknownInputType, O extends OutputType = void>(workflow: BaseWorkflowDeclaration<I, O> | string, input: I, options: RunOpts = {}): Promise<O> {
    return this.run<I, O>(workflow, input, options);
  }

  runRef<T = unknown>(runId: string): WorkflowRunRef<T> {
    return new WorkflowRunRef<T>(runId, this);
  }

  /** @internal Used by `ctx.runChild` and friends. */
  async runChild(parent: AssignedTask, childIndex: number, workflow: unknown, input: unknown, options: ChildRunOpts, wait: boolean, workerId?: string): Promise<unknown> {
    const { name, standalone } = this.#workflowName(workflow);
    const [id] = await traced('hatchet.run_workflow', { 'hatchet.step_name': name }, (carrier) => this.#trigger([
      {
        workflow: name,
        input: inputPayload(name, input),
        additionalMetadata: { ...parent.additionalMetadata, ...(options.additionalMetadata ?? {}), ...(carrier ?? {}) },
        ...(options.priority === undefined ? {} : { priority: options.priority }),
        parentTaskId: parent.taskId,
        childIndex,
        ...(options.key === undefined ? {} : { childKey: options.key }),
        // A sticky child runs on its parent's worker (the engine checks that it may).
        ...(options.sticky === true && workerId !== undefined && workerId !== '' ? { desiredWorkerId: workerId } : {}),
        ...(options.desiredWorkerLabels === undefined ? {} : { desiredWorkerLabels: desiredLabels(options.desiredWorkerLabels) as TriggerRun['desiredWorkerLabels'] }),
      },
    ]));
    const ref = new WorkflowRunRef(id as string, this, standalone);
    return wait ? ref.result() : ref;
  }

  finished(runId: string): Promise<FinishedRun> {
    let waiting = this.#waiting.get(runId);
    if (waiting === undefined) {
      waiting = deferred<FinishedRun>();
      this.#waiting.set(runId, waiting);
      if (this.#toSubscribe.length === 0) queueMicrotask(() => this.#subscribe());
      this.#toSubscribe.push(runId);
    }
    return waiting.promise;
  }

  /** Subscribes to every run awaited in this turn, in as few requests as the frame limits allow. */
  #subscribe(): void {
    const runIds = this.#toSubscribe.splice(0);
    const fail = (ids: readonly string[], error: (runId: string) => unknown) => {
      for (const runId of ids) {
        const waiting = this.#waiting.get(runId);
        this.#waiting.delete(runId);
        waiting?.reject(error(runId));
      }
    };
    for (let i = 0; i < runIds.length; i += engineLimits.frameItemsMax) {
      const chunk = runIds.slice(i, i + engineLimits.frameItemsMax);
      this.#conn.request<{ missing: string[] }>({ t: 'subscribe', runIds: chunk }).then(
        ({ missing }) => fail(missing, (runId) => new EngineError('RUN_NOT_FOUND', `run '${runId}' does not exist`)),
        (error: unknown) => {
          // A connection lost before the reply is not the run's failure: the runs stay awaited and
          // are subscribed to again when the connection is back (onOpen).
          if (error instanceof EngineError && error.code === 'ENGINE_UNAVAILABLE') return;
          fail(chunk, () => error);
        },
      );
    }
  }

  async replayRun(runId: string): Promise<void> {
    await this.#conn.request({ t: 'replay', runIds: [runId] });
  }

  async cancelRun(runId: string): Promise<void> {
    await this.#conn.request({ t: 'cancel', runIds: [runId], taskIds: [] });
  }

  // -------------------------------------------------------------------------------------------
  // Feature clients

  #features: Map<string, unknown> = new Map();

  #feature<T>(name: string, make: () => T): T {
    let feature = this.#features.get(name) as T | undefined;
    if (feature === undefined) {
      feature = make();
      this.#features.set(name, feature);
    }
    return feature;
  }

  /** Runs: get, status, cancel, replay. */
  get runs(): RunsClient {
    return this.#feature('runs', () => new RunsClient(this));
  }

  /** Task logs: the lines a task run logged with `ctx.log` and `ctx.logger`. */
  get logs(): LogsClient {
    return this.#feature('logs', () => new LogsClient(this));
  }

  get events(): EventClient {
    return this.#feature('events', () => new EventClient(this));
  }

  /** @deprecated use events */
  get event(): EventClient {
    return this.events;
  }

  get crons(): CronClient {
    return this.#feature('crons', () => new CronClient(this));
  }

  /** @deprecated use crons */
  get cron(): CronClient {
    return this.crons;
  }

  get scheduled(): ScheduleClient {
    return this.#feature('scheduled', () => new ScheduleClient(this));
  }

  get schedules(): ScheduleClient {
    return this.scheduled;
  }

  /** @deprecated use scheduled */
  get schedule(): ScheduleClient {
    return this.scheduled;
  }

  get filters(): FiltersClient {
    return this.#feature('filters', () => new FiltersClient(this));
  }

  get ratelimits(): RatelimitsClient {
    return this.#feature('ratelimits', () => new RatelimitsClient(this.rest));
  }

  get workers(): WorkersClient {
    return this.#feature('workers', () => new WorkersClient(this.rest));
  }

  get workflows(): WorkflowsClient {
    return this.#feature('workflows', () => new WorkflowsClient(this));
  }

  get tasks(): WorkflowsClient {
    return this.workflows;
  }

  get metrics(): MetricsClient {
    return this.#feature('metrics', () => new MetricsClient(this));
  }

  get webhooks(): WebhooksClient {
    return this.#feature('webhooks', () => new WebhooksClient(this));
  }

  get cel(): CELClient {
    return this.#feature('cel', () => new CELClient(this));
  }

  get tenant(): TenantClient {
    return this.#feature('tenant', () => new TenantClient(this));
  }

  /** Hatchet's generated REST client; this engine's REST API is not there yet. */
  get api(): never {
    throw new NotSupportedError("the REST API client (hatchet.api)");
  }

  /** @internal A run as the engine's protocol describes it (the WebSocket's `getRun`). */
  async getRun(runId: string): Promise<RunView> {
    return decodeDetails(await this.#conn.request<RunDetails>({ t: 'getRun', runId }));
  }

  /** @internal */
  listLogs(taskId: string, limit: number): Promise<LogLine[]> {
    return this.#conn.request<LogLine[]>({ t: 'listLogs', taskId, limit });
  }

  /** @internal A workflow's definition as the engine registered it (its current version). */
  getWorkflow(workflow: WorkflowArg): Promise<RegisteredWorkflow> {
    return this.#conn.request<RegisteredWorkflow>({ t: 'getWorkflow', name: this.#workflowName(workflow).name });
  }

  /** Closes the client's connection. */
  close(): void {
    this.#connection?.close();
    for (const waiting of this.#waiting.values()) waiting.reject(new HatchetError('the client is closed'));
    this.#waiting.clear();
  }
}
