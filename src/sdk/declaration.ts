/**
 * Workflow and task declarations (Hatchet's `WorkflowDeclaration`, `TaskWorkflowDeclaration`):
 * what a program declares, turned into the engine's `WorkflowSpec` (when a worker registers it) and
 * into the handlers a worker runs. The generic signatures follow Hatchet's so that programs infer
 * the same input and output types; the implementation is this SDK's own.
 *
 * Options this engine does not carry out yet are accepted by the types and refused with a
 * `NotSupportedError` when a worker registers the workflow (`unsupportedOptions`), never silently
 * ignored: a program that relies on, say, a concurrency limit learns at start-up that it has none.
 */
import { z } from 'zod';
import type { Condition, TaskCondition, TaskSpec, WorkflowSpec } from '../../protocol/frames.js';
import { Action, type Conditions, ParentCondition, Render, SleepCondition, UserEventCondition } from './conditions.js';
import { engineLimits } from '../lib/limits.js';
import type { Context, DurableContext } from './context.js';
import { type Duration, durationToMs } from './duration.js';
import type { Priority, StickyStrategyInput } from './enums.js';
import { HatchetError, NotSupportedError } from './errors.js';
import { concurrencySpecs, desiredLabels, rateLimitSpecs, stickyName } from './policies.js';
import type { Logger } from './logger.js';
import type { WorkflowRunRef } from './run-ref.js';
import type {
  BatchTaskConfig,
  BatchTaskFn,
  Concurrency,
  CreateBaseTaskOpts,
  CreateOnFailureTaskOpts,
  CreateOnSuccessTaskOpts,
  CreateWorkflowDurableTaskOpts,
  CreateWorkflowTaskOpts,
  DurableTaskFn,
  EvictionPolicy,
  IdempotencyConfig,
  TaskFn,
} from './task.js';
import { DEFAULT_DURABLE_TASK_EVICTION_POLICY } from './task.js';
import type { AnyRecord, InputType, JsonObject, OutputType, Resolved, RunManyOpt, RunOpts, UnknownInputType } from './types.js';

// Declarations hold the options of tasks of every input and output type.
// biome-ignore-start lint/suspicious/noExplicitAny: as in Hatchet's own declaration types.

/** A filter created with the workflow (`defaultFilters`). */
export type DefaultFilter = { expression: string; scope: string; payload?: Record<string, any> };

export type CreateBaseWorkflowOpts = {
  /** Lower-cased and prefixed with the client's namespace when registered. */
  name: string;
  description?: string;
  version?: string;
  sticky?: StickyStrategyInput;
  /** @deprecated use onCrons and onEvents */
  on?: { cron?: string | string[]; event?: string | string[] };
  onCrons?: string[];
  onEvents?: string[];
  concurrency?: Concurrency | Concurrency[];
  defaultPriority?: Priority;
  defaultFilters?: DefaultFilter[];
  /**
   * A zod schema of the input. The worker checks each run's input against it before the task runs
   * (a mismatch fails the task at once, without retries), and its JSON Schema is registered with
   * the workflow.
   */
  inputValidator?: z.ZodType<any>;
  idempotency?: IdempotencyConfig;
};

export type TaskDefaults = {
  executionTimeout?: Duration;
  scheduleTimeout?: Duration;
  retries?: CreateWorkflowTaskOpts<any, any>['retries'];
  backoff?: CreateWorkflowTaskOpts<any, any>['backoff'];
  rateLimits?: CreateWorkflowTaskOpts<any, any>['rateLimits'];
  workerLabels?: CreateWorkflowTaskOpts<any, any>['desiredWorkerLabels'];
  concurrency?: Concurrency | Concurrency[];
};

export type CreateWorkflowOpts = CreateBaseWorkflowOpts & { taskDefaults?: TaskDefaults };
export type CreateTaskWorkflowOpts<I extends InputType = UnknownInputType, O extends OutputType = void> = CreateBaseWorkflowOpts & CreateBaseTaskOpts<I, O, TaskFn<I, O>>;
export type CreateDurableTaskWorkflowOpts<I extends InputType = UnknownInputType, O extends OutputType = void> = CreateBaseWorkflowOpts &
  CreateBaseTaskOpts<I, O, DurableTaskFn<I, O>> & { evictionPolicy?: EvictionPolicy };
export type CreateBatchTaskWorkflowOpts<I extends InputType = UnknownInputType, O extends OutputType = void> = CreateBaseWorkflowOpts &
  CreateBaseTaskOpts<I, O, BatchTaskFn<I, O>> & { batch: BatchTaskConfig };

/** What a declaration holds: its options and its tasks (Hatchet's `definition`). */
export type WorkflowDefinition = CreateWorkflowOpts & {
  _tasks: CreateWorkflowTaskOpts<any, any>[];
  _durableTasks: CreateWorkflowDurableTaskOpts<any, any>[];
  onFailure?: TaskFn<any, any> | CreateOnFailureTaskOpts<any, any>;
  onSuccess?: TaskFn<any, any> | CreateOnSuccessTaskOpts<any, any>;
};

/** The output type of task `Key` in a workflow output `O`, or `Fallback`. */
export type TaskOutput<O, Key extends string, Fallback> = O extends Record<Key, infer Value> ? (Value extends OutputType ? Value : Fallback) : Fallback;
/** The output type `O` declares for task `TaskName`, or the one inferred from its function. */
export type TaskOutputType<O, TaskName extends string, InferredType extends OutputType> = TaskName extends keyof O
  ? O[TaskName] extends OutputType
    ? O[TaskName]
    : InferredType
  : InferredType;

/** What a declaration needs from the client that made it. */
export interface DeclarationHost {
  readonly namespace: string;
  readonly logger: Logger;
  triggerRuns<O>(declaration: BaseWorkflowDeclaration<any, any>, inputs: unknown[], options: RunOpts): Promise<WorkflowRunRef<O>[]>;
  /** Runs inside a durable task go through its checkpoints; elsewhere this is undefined. */
  durableRun?<O>(declaration: BaseWorkflowDeclaration<any, any>, inputs: unknown[], options: RunOpts): Promise<O[]> | undefined;
  readonly scheduled: { create(workflow: string, input: { triggerAt: Date; input?: Record<string, unknown>; additionalMetadata?: Record<string, string>; priority?: number }): Promise<ScheduledWorkflows> };
  readonly crons: { create(workflow: string, input: { name: string; expression: string; input?: Record<string, unknown>; additionalMetadata?: Record<string, string>; priority?: number }): Promise<CronWorkflows> };
}

/** A task as a worker runs it. */
export interface DeclaredTask {
  readonly name: string;
  readonly kind: 'task' | 'durable' | 'batch';
  /** Missing on declarations made only to trigger runs; a worker refuses to register those. */
  readonly fn: ((input: any, ctx: Context<any>) => unknown) | undefined;
  readonly opts: CreateWorkflowTaskOpts<any, any>;
  readonly parents: readonly string[];
}

// biome-ignore-end lint/suspicious/noExplicitAny: see above.

export const ON_FAILURE_TASK = 'on-failure-task';
export const ON_SUCCESS_TASK = 'on-success-task';

const UNBOUND = 'this declaration is not bound to a client; declare it with hatchet.task or hatchet.workflow';

/** The options of a workflow and its tasks that this engine does not carry out yet, by name. */
export function unsupportedOptions(_options: CreateWorkflowOpts, tasks: readonly DeclaredTask[]): string[] {
  const found = new Set<string>();
  for (const task of tasks) {
    if (task.kind === 'batch') found.add('batch tasks (batchTask)');
  }
  return [...found];
}

/** A condition as the engine takes it: event keys get the namespace, durations become milliseconds. */
export function conditionSpec(condition: ReturnType<typeof Render>[number], namespace: string): Condition & { action?: TaskCondition['action'] } {
  const base = { orGroupId: condition.base.orGroupId ?? 'group', readableDataKey: condition.base.readableDataKey ?? '' };
  const action: TaskCondition['action'] | undefined =
    condition.base.action === Action.SKIP ? 'skip' : condition.base.action === Action.CANCEL ? 'cancel' : condition.base.action === Action.QUEUE ? 'queue' : undefined;
  const withAction = action === undefined ? {} : { action };
  if (condition instanceof SleepCondition) return { kind: 'sleep', ...base, sleepForMs: durationToMs(condition.sleepFor), ...withAction };
  if (condition instanceof UserEventCondition) {
    const key = condition.eventKey.startsWith(namespace) ? condition.eventKey : `${namespace}${condition.eventKey}`;
    return { kind: 'event', ...base, eventKey: key, expression: condition.expression, ...(condition.scope === undefined ? {} : { scope: condition.scope }), ...withAction };
  }
  if (condition instanceof ParentCondition) return { kind: 'parent', ...base, parent: condition.parent.name.toLowerCase(), expression: condition.base.expression ?? '', ...withAction };
  throw new HatchetError(`not a condition: ${JSON.stringify(condition)}`);
}

function taskConditions(opts: { waitFor?: Conditions | Conditions[]; skipIf?: Conditions | Conditions[]; cancelIf?: Conditions | Conditions[] }, namespace: string): TaskCondition[] {
  const all = [...Render(Action.QUEUE, opts.waitFor), ...Render(Action.SKIP, opts.skipIf), ...Render(Action.CANCEL, opts.cancelIf)];
  return all.map((condition) => conditionSpec(condition, namespace) as TaskCondition);
}

// biome-ignore lint/suspicious/noExplicitAny: any task's options.
function taskSpec(opts: CreateBaseTaskOpts<any, any, unknown>, parents: readonly string[], defaults: TaskDefaults = {}, extra: { durable?: boolean; namespace?: string } = {}): TaskSpec {
  const execution = opts.executionTimeout ?? opts.timeout ?? defaults.executionTimeout;
  const schedule = opts.scheduleTimeout ?? defaults.scheduleTimeout;
  const backoff = opts.backoff ?? defaults.backoff;
  const concurrency = concurrencySpecs(opts.concurrency ?? defaults.concurrency);
  const rateLimits = rateLimitSpecs(opts.rateLimits ?? defaults.rateLimits);
  const labels = desiredLabels(opts.desiredWorkerLabels ?? defaults.workerLabels);
  // The engine validates these (and fills in its defaults); bad values come back as INVALID_INPUT.
  return {
    name: opts.name.toLowerCase(),
    parents: parents.map((p) => p.toLowerCase()),
    executionTimeoutMs: execution === undefined ? 60_000 : durationToMs(execution),
    scheduleTimeoutMs: schedule === undefined ? 300_000 : durationToMs(schedule),
    retries: opts.retries ?? defaults.retries ?? 0,
    ...(backoff === undefined ? {} : { backoff: { ...(backoff.factor === undefined ? {} : { factor: backoff.factor }), ...(backoff.maxSeconds === undefined ? {} : { maxSeconds: backoff.maxSeconds }) } }),
    slotCost: opts.slotCost ?? 1,
    ...(concurrency === undefined ? {} : { concurrency: concurrency as TaskSpec['concurrency'] }),
    ...(rateLimits === undefined ? {} : { rateLimits: rateLimits as TaskSpec['rateLimits'] }),
    ...(labels === undefined ? {} : { desiredWorkerLabels: labels as TaskSpec['desiredWorkerLabels'] }),
    ...(extra.durable === true ? { durable: true } : {}),
    ...((): Partial<TaskSpec> => {
      const policy = (opts as { evictionPolicy?: EvictionPolicy }).evictionPolicy;
      return extra.durable === true && policy !== undefined ? { eviction: evictionSpec(opts.name, policy) } : {};
    })(),
    ...((): Partial<TaskSpec> => {
      const conditions = taskConditions(opts as CreateWorkflowTaskOpts<never, never>, extra.namespace ?? '');
      return conditions.length === 0 ? {} : { conditions };
    })(),
  };
}

/**
 * A durable task's eviction policy as the engine takes it. A task that declares none is evicted
 * as soon as it waits; one that declares a policy stays on its worker for `ttl` (default 15 m).
 */
function evictionSpec(task: string, policy: EvictionPolicy): NonNullable<TaskSpec['eviction']> {
  let ttlMs: number;
  try {
    ttlMs = durationToMs(policy.ttl ?? (DEFAULT_DURABLE_TASK_EVICTION_POLICY.ttl as Duration));
  } catch (error) {
    throw new HatchetError(`durable task '${task}': evictionPolicy.ttl: ${(error as Error).message}`);
  }
  // The engine validates the rest (ranges); bad values come back as INVALID_INPUT.
  return { ttlMs, allowCapacityEviction: policy.allowCapacityEviction ?? true, priority: policy.priority ?? 0 };
}

/** A workflow's idempotency as the engine takes it. */
function idempotencySpec(idempotency: IdempotencyConfig): NonNullable<WorkflowSpec['idempotency']> {
  const ttlMs = idempotency.strategy === 'ttl' ? idempotency.ttlMs : idempotency.fallbackTtlMs;
  return { expression: idempotency.expression, strategy: idempotency.strategy, ...(ttlMs === undefined ? {} : { ttlMs }) };
}

/** The JSON Schema of a zod input validator, as the engine stores it with the workflow. */
export function inputJsonSchema(workflow: string, validator: z.ZodType): Record<string, unknown> {
  let schema: Record<string, unknown>;
  try {
    schema = z.toJSONSchema(validator, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  } catch (error) {
    throw new HatchetError(`workflow '${workflow}': its inputValidator has no JSON Schema (is it a zod 4 schema?): ${(error as Error).message}`);
  }
  const bytes = new TextEncoder().encode(JSON.stringify(schema)).length;
  if (bytes > engineLimits.inputJsonSchemaBytesMax) {
    throw new HatchetError(`workflow '${workflow}': the JSON Schema of its inputValidator is ${bytes} bytes; the limit is ${engineLimits.inputJsonSchemaBytesMax}`);
  }
  return schema;
}

/** Checks a run's input against a workflow's validator; the error says what is wrong. */
export function validateInput(workflow: string, validator: z.ZodType | undefined, input: unknown): void {
  if (validator === undefined) return;
  const result = validator.safeParse(input);
  if (!result.success) throw new HatchetError(`the input of '${workflow}' does not match its inputValidator:\n${z.prettifyError(result.error)}`);
}

export class BaseWorkflowDeclaration<I extends InputType = UnknownInputType, O extends OutputType = void> {
  /** Type-level only (see `WorkflowRef`). */
  declare readonly __types?: { readonly input: I; readonly output: O };
  client: DeclarationHost | undefined;
  definition: WorkflowDefinition;

  constructor(options: CreateWorkflowOpts, client?: DeclarationHost) {
    this.definition = { ...options, _tasks: [], _durableTasks: [] };
    this.client = client;
  }

  #host(): DeclarationHost {
    if (this.client === undefined) throw new HatchetError(UNBOUND);
    return this.client;
  }

  /** The workflow's name as registered: lower-cased, with the client's namespace. */
  get name(): string {
    const lower = this.definition.name.toLowerCase();
    const namespace = this.client?.namespace ?? '';
    return lower.startsWith(namespace) ? lower : `${namespace}${lower}`;
  }

  /** @deprecated the name */
  get id(): string {
    return this.name;
  }

  /** The standalone task's name, when this is a one-task declaration. */
  get standaloneTaskName(): string | undefined {
    return undefined;
  }

  /** The tasks a worker runs for this workflow (on-success and on-failure included). */
  get tasks(): DeclaredTask[] {
    return [];
  }

  /** The definition the engine stores; refuses what this engine does not carry out yet. */
  spec(): WorkflowSpec {
    const tasks = this.tasks;
    const missing = tasks.find((task) => typeof task.fn !== 'function');
    if (missing !== undefined) throw new HatchetError(`task '${missing.name}' of workflow '${this.name}' has no fn, so no worker can run it`);
    const unsupported = unsupportedOptions(this.definition, tasks);
    if (unsupported.length > 0) {
      throw new NotSupportedError(unsupported.join(', '), `workflow '${this.name}' uses ${unsupported.join(', ')}: not supported by this engine yet`);
    }
    const defaults = this.definition.taskDefaults ?? {};
    const onFailure = tasks.find((task) => task.name === ON_FAILURE_TASK);
    const validator = this.definition.inputValidator;
    const concurrency = concurrencySpecs(this.definition.concurrency);
    const sticky = stickyName(this.definition.sticky);
    const priority = this.definition.defaultPriority;
    const namespace = this.client?.namespace ?? '';
    const { events, crons } = this.triggers();
    const filters = this.definition.defaultFilters ?? [];
    return {
      name: this.name,
      ...(this.definition.description === undefined ? {} : { description: this.definition.description }),
      ...(this.definition.version === undefined ? {} : { version: this.definition.version }),
      tasks: tasks.filter((task) => task.name !== ON_FAILURE_TASK).map((task) => taskSpec(task.opts, task.parents, defaults, { durable: task.kind === 'durable', namespace })),
      ...(onFailure === undefined ? {} : { onFailure: taskSpec(onFailure.opts, [], defaults) }),
      ...(events.length === 0 ? {} : { onEvents: events.map((key) => (key.startsWith(namespace) ? key : `${namespace}${key}`)) }),
      ...(crons.length === 0 ? {} : { onCrons: crons }),
      ...(this.definition.idempotency === undefined ? {} : { idempotency: idempotencySpec(this.definition.idempotency) }),
      ...(filters.length === 0 ? {} : { defaultFilters: filters.map((f) => ({ expression: f.expression, scope: f.scope, ...(f.payload === undefined ? {} : { payload: f.payload }) })) }),
      ...(validator === undefined ? {} : { inputJsonSchema: inputJsonSchema(this.name, validator) }),
      ...(concurrency === undefined ? {} : { concurrency: concurrency as WorkflowSpec['concurrency'] }),
      ...(sticky === undefined ? {} : { sticky }),
      ...(priority === undefined ? {} : { defaultPriority: priority }),
    };
  }

  /** The event keys and cron expressions that trigger this workflow (workflow and task `on` alike). */
  triggers(): { events: string[]; crons: string[] } {
    const list = (value: string | string[] | undefined) => (value === undefined ? [] : Array.isArray(value) ? value : [value]);
    const events = new Set([...(this.definition.onEvents ?? []), ...list(this.definition.on?.event)]);
    const crons = new Set([...(this.definition.onCrons ?? []), ...list(this.definition.on?.cron)]);
    for (const task of this.tasks) {
      const on = (task.opts as { on?: { event?: string | string[]; cron?: string | string[] } }).on;
      for (const key of list(on?.event)) events.add(key);
      for (const expression of list(on?.cron)) crons.add(expression);
    }
    return { events: [...events], crons: [...crons] };
  }

  runNoWait(input: I, options?: RunOpts, _standaloneTaskName?: string): Promise<WorkflowRunRef<O>>;
  runNoWait(input: I[], options?: RunOpts, _standaloneTaskName?: string): Promise<WorkflowRunRef<O>[]>;
  async runNoWait(input: I | I[], options: RunOpts = {}): Promise<WorkflowRunRef<O> | WorkflowRunRef<O>[]> {
    const host = this.#host();
    const refs = await host.triggerRuns<O>(this, Array.isArray(input) ? input : [input], options);
    return Array.isArray(input) ? refs : (refs[0] as WorkflowRunRef<O>);
  }

  run(input: I, options?: RunOpts, _standaloneTaskName?: string): Promise<O>;
  run(input: I[], options?: RunOpts, _standaloneTaskName?: string): Promise<O[]>;
  async run(input: I | I[], options: RunOpts = {}): Promise<O | O[]> {
    // Inside a durable task, a run waited for is a checkpoint of it.
    const durable = this.#host().durableRun?.<O>(this, Array.isArray(input) ? input : [input], options);
    if (durable !== undefined) return Array.isArray(input) ? durable : ((await durable)[0] as O);
    if (!Array.isArray(input)) return (await this.runNoWait(input, options)).result();
    const refs = await this.runNoWait(input, options);
    if (options.returnExceptions) {
      return Promise.all(refs.map((ref) => ref.result().catch((errors: unknown) => new Error(Array.isArray(errors) ? errors.join('\n') : String(errors)) as unknown as O)));
    }
    return Promise.all(refs.map((ref) => ref.result()));
  }

  runAndWait(input: I, options?: RunOpts, _standaloneTaskName?: string): Promise<O>;
  runAndWait(input: I[], options?: RunOpts, _standaloneTaskName?: string): Promise<O[]>;
  runAndWait(input: I | I[], options: RunOpts = {}): Promise<O | O[]> {
    return Array.isArray(input) ? this.run(input, options) : this.run(input, options);
  }

  async runManyNoWait(runs: RunManyOpt<I>[], _standaloneTaskName?: string): Promise<WorkflowRunRef<O>[]> {
    return Promise.all(runs.map((run) => this.runNoWait(run.input, run.opts)));
  }

  async runMany(runs: RunManyOpt<I>[], _standaloneTaskName?: string): Promise<O[]> {
    return Promise.all((await this.runManyNoWait(runs)).map((ref) => ref.result()));
  }

  /** Runs the workflow at a time (Hatchet's scheduled runs); UTC, at least now. */
  async schedule(enqueueAt: Date, input: I, options: RunOpts = {}): Promise<ScheduledWorkflows> {
    if (!(enqueueAt instanceof Date) || Number.isNaN(enqueueAt.getTime())) throw new HatchetError('schedule() takes the time to run as a Date');
    return this.#host().scheduled.create(this.name, {
      triggerAt: enqueueAt,
      input: input as Record<string, unknown>,
      ...(options.additionalMetadata === undefined ? {} : { additionalMetadata: options.additionalMetadata }),
      ...(options.priority === undefined ? {} : { priority: options.priority }),
    });
  }

  /** Runs the workflow after a delay, in seconds (as Hatchet's SDK reference says). */
  async delay(duration: number, input: I, options: RunOpts = {}): Promise<ScheduledWorkflows> {
    if (!Number.isFinite(duration) || duration < 0) throw new HatchetError(`delay() takes a number of seconds >= 0, not ${duration}`);
    return this.schedule(new Date(Date.now() + duration * 1000), input, options);
  }

  /** Runs the workflow on a cron schedule (5 or 6 fields, UTC); the name is unique per workflow. */
  async cron(name: string, expression: string, input: I, options: RunOpts = {}): Promise<CronWorkflows> {
    return this.#host().crons.create(this.name, {
      name,
      expression,
      input: input as Record<string, unknown>,
      ...(options.additionalMetadata === undefined ? {} : { additionalMetadata: options.additionalMetadata }),
      ...(options.priority === undefined ? {} : { priority: options.priority }),
    });
  }

  async metrics(_opts?: { since?: string; until?: string }): Promise<TaskStatusMetrics> {
    throw new NotSupportedError('task status metrics (metrics)');
  }

  async taskStatusMetrics(_opts?: { since?: string; until?: string }): Promise<TaskStatusMetrics> {
    throw new NotSupportedError('task status metrics (taskStatusMetrics)');
  }

  /** The workflow as the REST API describes it. */
  async get(): Promise<ApiWorkflow> {
    throw new NotSupportedError('reading workflows through the REST API (get)');
  }
}

/** A workflow of several tasks: a DAG through `parents`. Its run output maps task names to outputs. */
export class WorkflowDeclaration<I extends InputType = UnknownInputType, O extends OutputType = void, MiddlewareBefore extends AnyRecord = {}> extends BaseWorkflowDeclaration<I, O> {
  readonly #tasks: DeclaredTask[] = [];
  #onFailure: DeclaredTask | undefined;
  #onSuccess: Omit<DeclaredTask, 'parents'> | undefined;

  // biome-ignore lint/suspicious/noExplicitAny: any task's options.
  #add(kind: DeclaredTask['kind'], opts: CreateWorkflowTaskOpts<any, any>): void {
    const parents = (opts.parents ?? []).map((parent) => parent.name);
    this.#tasks.push({ name: opts.name.toLowerCase(), kind, fn: opts.fn, opts, parents });
  }

  /**
   * Adds a task. Its output type is the one `O` declares under its name, or else the one its `fn`
   * returns; the returned options are what `parents` and `ctx.parentOutput` take.
   */
  task<
    Name extends string,
    Fn extends Name extends keyof O
      ? (input: I & MiddlewareBefore, ctx: Context<I & MiddlewareBefore>) => O[Name] extends OutputType ? O[Name] | Promise<O[Name]> : void
      : (input: I & MiddlewareBefore, ctx: Context<I & MiddlewareBefore>) => void,
    FnReturn = ReturnType<Fn> extends Promise<infer P> ? P : ReturnType<Fn>,
    TO extends OutputType = Name extends keyof O ? (O[Name] extends OutputType ? O[Name] : never) : FnReturn extends OutputType ? FnReturn : never,
  >(options: (Omit<CreateWorkflowTaskOpts<I, TO>, 'fn'> & { name: Name; fn?: Fn }) | TaskWorkflowDeclaration<I, TO>): CreateWorkflowTaskOpts<I, TO> {
    const opts = (options instanceof TaskWorkflowDeclaration ? options.taskDef : options) as CreateWorkflowTaskOpts<I, TO>;
    this.#add('task', opts);
    this.definition._tasks.push(opts);
    return opts;
  }

  /** Adds a durable task: its function gets a `DurableContext`, and its checkpoints replay from the run's log. */
  durableTask<
    Name extends string,
    Fn extends Name extends keyof O
      ? (input: I & MiddlewareBefore, ctx: DurableContext<I & MiddlewareBefore>) => O[Name] extends OutputType ? O[Name] | Promise<O[Name]> : void
      : (input: I & MiddlewareBefore, ctx: DurableContext<I & MiddlewareBefore>) => void,
    FnReturn = ReturnType<Fn> extends Promise<infer P> ? P : ReturnType<Fn>,
    TO extends OutputType = Name extends keyof O ? (O[Name] extends OutputType ? O[Name] : never) : FnReturn extends OutputType ? FnReturn : never,
  >(options: Omit<CreateWorkflowTaskOpts<I, TO>, 'fn' | 'slotCost' | 'batch'> & { name: Name; fn: Fn; evictionPolicy?: EvictionPolicy }): CreateWorkflowDurableTaskOpts<I, TO> {
    const opts = options as unknown as CreateWorkflowDurableTaskOpts<I, TO>;
    this.#add('durable', opts as CreateWorkflowTaskOpts<I, TO>);
    this.definition._durableTasks.push(opts);
    return opts;
  }

  /** Adds a batch task (a preview in Hatchet; not carried out by this engine yet). */
  batchTask<
    Fn extends BatchTaskFn<TI, TO>,
    TI extends InputType = Parameters<Fn>[0] extends Record<string, infer II> ? (II extends InputType ? II : UnknownInputType) : UnknownInputType,
    TO extends OutputType = ReturnType<Fn> extends Promise<infer P> ? (P extends OutputType ? P : void) : ReturnType<Fn> extends OutputType ? ReturnType<Fn> : void,
  >(options: { fn: Fn; batch: BatchTaskConfig } & Omit<CreateBatchTaskWorkflowOpts<TI, TO>, 'fn' | 'batch' | 'name'> & { name: string }): CreateWorkflowTaskOpts<TI, TO> {
    const opts = options as unknown as CreateWorkflowTaskOpts<TI, TO>;
    this.#add('batch', opts);
    this.definition._tasks.push(opts);
    return opts;
  }

  /** Runs when any task of a run fails, with `ctx.errors()`. A second call replaces the first. */
  onFailure<Name extends string, L extends OutputType>(
    options:
      | (Omit<CreateOnFailureTaskOpts<I, TaskOutputType<O, Name, L>>, 'fn'> & { fn: (input: I, ctx: Context<I>) => TaskOutputType<O, Name, L> | Promise<TaskOutputType<O, Name, L>> })
      // biome-ignore lint/suspicious/noExplicitAny: any standalone task.
      | TaskWorkflowDeclaration<any, any>,
  ): CreateWorkflowTaskOpts<I, TaskOutputType<O, Name, L>> {
    const given = (options instanceof TaskWorkflowDeclaration ? options.taskDef : options) as CreateOnFailureTaskOpts<I, TaskOutputType<O, Name, L>>;
    if (this.#onFailure !== undefined) this.client?.logger.warn(`onFailure task will override existing onFailure task of '${this.definition.name}'`);
    const opts = { ...given, name: ON_FAILURE_TASK } as CreateWorkflowTaskOpts<I, TaskOutputType<O, Name, L>>;
    this.#onFailure = { name: ON_FAILURE_TASK, kind: 'task', fn: opts.fn, opts, parents: [] };
    this.definition.onFailure = given;
    return opts;
  }

  /** Runs after every task of a run has completed. A second call replaces the first. */
  onSuccess<Name extends string, L extends OutputType>(
    options:
      | (Omit<CreateOnSuccessTaskOpts<I, TaskOutputType<O, Name, L>>, 'fn'> & { fn: (input: I, ctx: Context<I>) => TaskOutputType<O, Name, L> | Promise<TaskOutputType<O, Name, L>> })
      // biome-ignore lint/suspicious/noExplicitAny: any standalone task.
      | TaskWorkflowDeclaration<any, any>,
  ): CreateWorkflowTaskOpts<I, TaskOutputType<O, Name, L>> {
    const given = (options instanceof TaskWorkflowDeclaration ? options.taskDef : options) as CreateOnSuccessTaskOpts<I, TaskOutputType<O, Name, L>>;
    if (this.#onSuccess !== undefined) this.client?.logger.warn(`onSuccess task will override existing onSuccess task of '${this.definition.name}'`);
    const opts = { ...given, name: ON_SUCCESS_TASK } as CreateWorkflowTaskOpts<I, TaskOutputType<O, Name, L>>;
    this.#onSuccess = { name: ON_SUCCESS_TASK, kind: 'task', fn: opts.fn, opts };
    this.definition.onSuccess = given;
    return opts;
  }

  override get tasks(): DeclaredTask[] {
    const tasks = [...this.#tasks];
    if (this.#onSuccess !== undefined) {
      // The on-success task runs after every leaf: the tasks no other task names as a parent.
      const parents = new Set(tasks.flatMap((task) => task.parents.map((p) => p.toLowerCase())));
      tasks.push({ ...this.#onSuccess, parents: tasks.filter((task) => !parents.has(task.name)).map((task) => task.name) });
    }
    if (this.#onFailure !== undefined) tasks.push(this.#onFailure);
    return tasks;
  }
}

/**
 * A standalone task: a workflow of one task, whose run output is the task's own output. Its run
 * methods take the client's global input type too, and resolve to the output as middleware leaves it.
 */
export class TaskWorkflowDeclaration<
  I extends InputType = UnknownInputType,
  O extends OutputType = void,
  GlobalInput extends AnyRecord = {},
  GlobalOutput extends AnyRecord = {},
  _MiddlewareBefore extends AnyRecord = {},
  MiddlewareAfter extends AnyRecord = {},
> extends BaseWorkflowDeclaration<I, O> {
  declare readonly __types?: { readonly input: I & GlobalInput; readonly output: O & Resolved<GlobalOutput, MiddlewareAfter> };
  _standalone_task_name: string;
  readonly #task: DeclaredTask;

  // biome-ignore lint/suspicious/noExplicitAny: any task options.
  constructor(options: CreateTaskWorkflowOpts<any, any>, client?: DeclarationHost, kind: DeclaredTask['kind'] = 'task') {
    super({ ...options }, client);
    this._standalone_task_name = options.name;
    // A standalone task's concurrency belongs to its task, not to a workflow around it.
    const { concurrency: _concurrency, ...workflowOptions } = this.definition;
    this.definition = { ...workflowOptions, _tasks: [], _durableTasks: [] };
    if (kind === 'durable') this.definition._durableTasks.push(options);
    else this.definition._tasks.push(options);
    this.#task = { name: options.name.toLowerCase(), kind, fn: options.fn, opts: options, parents: [] };
  }

  override get tasks(): DeclaredTask[] {
    return [this.#task];
  }

  override get standaloneTaskName(): string {
    return this.#task.name;
  }

  /** The task's options, as `wf.task(standaloneTask)` takes them. */
  // biome-ignore lint/suspicious/noExplicitAny: any task options.
  get taskDef(): CreateWorkflowTaskOpts<any, any> {
    return this.#task.opts;
  }

  override runNoWait(input: I & GlobalInput, options?: RunOpts): Promise<WorkflowRunRef<O & Resolved<GlobalOutput, MiddlewareAfter>>>;
  override runNoWait(input: (I & GlobalInput)[], options?: RunOpts): Promise<WorkflowRunRef<O & Resolved<GlobalOutput, MiddlewareAfter>>[]>;
  override runNoWait(input: (I & GlobalInput) | (I & GlobalInput)[], options?: RunOpts): Promise<unknown> {
    return Array.isArray(input) ? super.runNoWait(input, options) : super.runNoWait(input, options);
  }

  override run(input: I & GlobalInput, options?: RunOpts): Promise<O & Resolved<GlobalOutput, MiddlewareAfter>>;
  override run(input: (I & GlobalInput)[], options?: RunOpts): Promise<(O & Resolved<GlobalOutput, MiddlewareAfter>)[]>;
  override run(input: (I & GlobalInput) | (I & GlobalInput)[], options?: RunOpts): Promise<unknown> {
    return Array.isArray(input) ? super.run(input, options) : super.run(input, options);
  }

  override runAndWait(input: I & GlobalInput, options?: RunOpts): Promise<O & Resolved<GlobalOutput, MiddlewareAfter>>;
  override runAndWait(input: (I & GlobalInput)[], options?: RunOpts): Promise<(O & Resolved<GlobalOutput, MiddlewareAfter>)[]>;
  override runAndWait(input: (I & GlobalInput) | (I & GlobalInput)[], options?: RunOpts): Promise<unknown> {
    return Array.isArray(input) ? super.run(input, options) : super.run(input, options);
  }

  override runMany(runs: RunManyOpt<I & GlobalInput>[]): Promise<(O & Resolved<GlobalOutput, MiddlewareAfter>)[]> {
    return super.runMany(runs) as Promise<(O & Resolved<GlobalOutput, MiddlewareAfter>)[]>;
  }

  override runManyNoWait(runs: RunManyOpt<I & GlobalInput>[]): Promise<WorkflowRunRef<O & Resolved<GlobalOutput, MiddlewareAfter>>[]> {
    return super.runManyNoWait(runs) as Promise<WorkflowRunRef<O & Resolved<GlobalOutput, MiddlewareAfter>>[]>;
  }

  override schedule(enqueueAt: Date, input: I & GlobalInput, options?: RunOpts): Promise<ScheduledWorkflows> {
    return super.schedule(enqueueAt, input, options);
  }

  override delay(duration: number, input: I & GlobalInput, options?: RunOpts): Promise<ScheduledWorkflows> {
    return super.delay(duration, input, options);
  }

  override cron(name: string, expression: string, input: I & GlobalInput, options?: RunOpts): Promise<CronWorkflows> {
    return super.cron(name, expression, input, options);
  }
}

/** A scheduled run, as the REST API returns it (the fields programs read). */
export interface ScheduledWorkflows {
  metadata: { id: string; createdAt: string; updatedAt: string };
  tenantId: string;
  workflowVersionId: string;
  workflowId: string;
  workflowName: string;
  triggerAt: string;
  input?: JsonObject;
  additionalMetadata?: Record<string, string>;
  priority?: number;
  /** Once it triggered: its run. */
  workflowRunId?: string;
  workflowRunName?: string;
  workflowRunCreatedAt?: string;
  /** SCHEDULED until it triggers; then its run's status (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED). */
  workflowRunStatus?: string;
  /** DEFAULT for schedules a definition declares, API for those created through the API. */
  method?: 'DEFAULT' | 'API';
}

/** A cron trigger, as the REST API returns it (the fields programs read). */
export interface CronWorkflows {
  metadata: { id: string; createdAt: string; updatedAt: string };
  tenantId: string;
  workflowVersionId: string;
  workflowId: string;
  workflowName: string;
  cron: string;
  name?: string;
  input?: JsonObject;
  additionalMetadata?: Record<string, string>;
  enabled: boolean;
  priority?: number;
  /** DEFAULT for crons a workflow's definition declares, API for those created through the API. */
  method?: 'DEFAULT' | 'API';
}

/** A workflow, as the REST API returns it (the fields programs read). */
export interface ApiWorkflow {
  metadata: { id: string; createdAt: string; updatedAt: string };
  name: string;
  description?: string;
  isPaused?: boolean;
  tenantId: string;
}

/** Task run counts by status. */
export interface TaskStatusMetrics {
  queued: number;
  running: number;
  completed: number;
  failed: number;
  cancelled: number;
}

// biome-ignore-start lint/suspicious/noExplicitAny: Hatchet's factory signatures.
/** Makes a standalone task declaration without a client (Hatchet's `CreateTaskWorkflow`). */
export function CreateTaskWorkflow<
  Fn extends (input: I, ctx?: any) => O | Promise<O>,
  I extends InputType = Parameters<Fn>[0],
  O extends OutputType = ReturnType<Fn> extends Promise<infer P> ? (P extends OutputType ? P : void) : ReturnType<Fn> extends OutputType ? ReturnType<Fn> : void,
>(options: { fn: Fn } & Omit<CreateTaskWorkflowOpts<I, O>, 'fn'>, client?: DeclarationHost): TaskWorkflowDeclaration<I, O> {
  return new TaskWorkflowDeclaration<I, O>(options as CreateTaskWorkflowOpts<any, any>, client);
}

/** Makes a workflow declaration without a client (Hatchet's `CreateWorkflow`). */
export function CreateWorkflow<I extends InputType = UnknownInputType, O extends OutputType = void>(options: CreateWorkflowOpts, client?: DeclarationHost): WorkflowDeclaration<I, O> {
  return new WorkflowDeclaration<I, O>(options, client);
}

/** Makes a durable task declaration without a client (Hatchet's `CreateDurableTaskWorkflow`). */
export function CreateDurableTaskWorkflow<
  Fn extends (input: I, ctx: DurableContext<I>) => O | Promise<O>,
  I extends JsonObject = Parameters<Fn>[0],
  O extends JsonObject = ReturnType<Fn> extends Promise<infer P> ? (P extends JsonObject ? P : never) : ReturnType<Fn> extends JsonObject ? ReturnType<Fn> : never,
>(options: { fn: Fn } & Omit<CreateWorkflowDurableTaskOpts<I, O>, 'fn'>, client?: DeclarationHost): TaskWorkflowDeclaration<I, O> {
  return new TaskWorkflowDeclaration<I, O>(options as unknown as CreateTaskWorkflowOpts<any, any>, client, 'durable');
}

/** Makes a batch task declaration without a client (Hatchet's `CreateBatchTaskWorkflow`, preview). */
export function CreateBatchTaskWorkflow<I extends InputType = UnknownInputType, O extends OutputType = void>(
  options: { fn: BatchTaskFn<I, O>; batch: BatchTaskConfig } & Omit<CreateBatchTaskWorkflowOpts<I, O>, 'fn' | 'batch'>,
  client?: DeclarationHost,
): TaskWorkflowDeclaration<I, O> {
  return new TaskWorkflowDeclaration<I, O>(options as unknown as CreateTaskWorkflowOpts<any, any>, client, 'batch');
}
// biome-ignore-end lint/suspicious/noExplicitAny: see above.
