/**
 * Workflow and task declarations (Hatchet's `WorkflowDeclaration` and `TaskWorkflowDeclaration`):
 * what a program declares, turned into the engine's `WorkflowSpec` and the worker's handlers.
 */
import type { TaskSpec, WorkflowSpec } from '../../protocol/frames.js';
import type { Context } from './context.js';
import { type Duration, durationToMs } from './duration.js';
import type { WorkflowRunRef } from './run-ref.js';

export type TaskFn<I, O> = (input: I, ctx: Context<I>) => O | Promise<O>;

export interface CreateBaseTaskOpts<I, O> {
  name: string;
  fn: TaskFn<I, O>;
  description?: string;
  /** Default 60 s. */
  executionTimeout?: Duration;
  /** Alias of `executionTimeout`. */
  timeout?: Duration;
  /** Default 5 m. */
  scheduleTimeout?: Duration;
  /** Default 0. */
  retries?: number;
  backoff?: { factor?: number; maxSeconds?: number };
  /** Default 1. */
  slotCost?: number;
}

export interface CreateWorkflowTaskOpts<I, O> extends CreateBaseTaskOpts<I, O> {
  // biome-ignore lint/suspicious/noExplicitAny: a parent's output type is its own business.
  parents?: Array<CreateWorkflowTaskOpts<I, any>>;
}

export interface CreateWorkflowOpts {
  name: string;
  description?: string;
  version?: string;
  taskDefaults?: Partial<Pick<CreateBaseTaskOpts<unknown, unknown>, 'executionTimeout' | 'scheduleTimeout' | 'retries' | 'backoff'>>;
}

export type CreateTaskWorkflowOpts<I, O> = CreateBaseTaskOpts<I, O> & Omit<CreateWorkflowOpts, 'name' | 'taskDefaults'>;

export interface RunOpts {
  additionalMetadata?: Record<string, string>;
  priority?: number;
  childKey?: string;
  returnExceptions?: boolean;
}

/** What a declaration needs from the client that made it. */
export interface DeclarationHost {
  readonly namespace: string;
  runNoWait<O>(declaration: BaseWorkflowDeclaration<unknown, O>, inputs: unknown[], options: RunOpts): Promise<WorkflowRunRef<O>[]>;
}

export interface DeclaredTask {
  readonly name: string;
  // biome-ignore lint/suspicious/noExplicitAny: handlers are stored untyped and called with the input the engine sends.
  readonly fn: TaskFn<any, any>;
  readonly spec: TaskSpec;
}

export const ON_FAILURE_TASK = 'on-failure-task';
export const ON_SUCCESS_TASK = 'on-success-task';

function taskSpec(opts: CreateBaseTaskOpts<unknown, unknown>, parents: string[], defaults: CreateWorkflowOpts['taskDefaults'] = {}): TaskSpec {
  const execution = opts.executionTimeout ?? opts.timeout ?? defaults.executionTimeout;
  const schedule = opts.scheduleTimeout ?? defaults.scheduleTimeout;
  const backoff = opts.backoff ?? defaults.backoff;
  return {
    name: opts.name.toLowerCase(),
    parents: parents.map((p) => p.toLowerCase()),
    executionTimeoutMs: execution === undefined ? 60_000 : durationToMs(execution),
    scheduleTimeoutMs: schedule === undefined ? 300_000 : durationToMs(schedule),
    retries: opts.retries ?? defaults.retries ?? 0,
    ...(backoff === undefined ? {} : { backoff }),
    slotCost: opts.slotCost ?? 1,
  };
}

export abstract class BaseWorkflowDeclaration<I, O> {
  readonly #name: string;

  protected constructor(
    protected readonly host: DeclarationHost,
    name: string,
    protected readonly options: CreateWorkflowOpts,
  ) {
    this.#name = name;
  }

  /** The workflow's name as registered: lower-cased, with the client's namespace. */
  get name(): string {
    const lower = this.#name.toLowerCase();
    return lower.startsWith(this.host.namespace) ? lower : `${this.host.namespace}${lower}`;
  }

  /** Deprecated in Hatchet: the name. */
  get id(): string {
    return this.name;
  }

  /** The tasks a worker runs for this workflow. */
  abstract get tasks(): DeclaredTask[];

  /** The definition the engine stores. */
  spec(): WorkflowSpec {
    const tasks = this.tasks;
    const onFailure = tasks.find((task) => task.name === ON_FAILURE_TASK);
    return {
      name: this.name,
      ...(this.options.description === undefined ? {} : { description: this.options.description }),
      ...(this.options.version === undefined ? {} : { version: this.options.version }),
      tasks: tasks.filter((task) => task.name !== ON_FAILURE_TASK).map((task) => task.spec),
      ...(onFailure === undefined ? {} : { onFailure: onFailure.spec }),
    };
  }

  /** The standalone task's name, when this is a one-task declaration. */
  get standaloneTaskName(): string | undefined {
    return undefined;
  }

  runNoWait(input: I, options?: RunOpts): Promise<WorkflowRunRef<O>>;
  runNoWait(input: I[], options?: RunOpts): Promise<WorkflowRunRef<O>[]>;
  async runNoWait(input: I | I[], options: RunOpts = {}): Promise<WorkflowRunRef<O> | WorkflowRunRef<O>[]> {
    const refs = await this.host.runNoWait(this as BaseWorkflowDeclaration<unknown, O>, Array.isArray(input) ? input : [input], options);
    return Array.isArray(input) ? refs : (refs[0] as WorkflowRunRef<O>);
  }

  run(input: I, options?: RunOpts): Promise<O>;
  run(input: I[], options?: RunOpts): Promise<O[]>;
  async run(input: I | I[], options: RunOpts = {}): Promise<O | O[]> {
    if (!Array.isArray(input)) return (await this.runNoWait(input, options)).result();
    const refs = await this.runNoWait(input, options);
    if (options.returnExceptions) {
      return Promise.all(refs.map((ref) => ref.result().catch((errors: unknown) => new Error(Array.isArray(errors) ? errors.join('\n') : String(errors)) as unknown as O)));
    }
    return Promise.all(refs.map((ref) => ref.result()));
  }

  runAndWait(input: I, options?: RunOpts): Promise<O> {
    return this.run(input, options);
  }

  async runManyNoWait(runs: Array<{ input: I; options?: RunOpts }>): Promise<WorkflowRunRef<O>[]> {
    return Promise.all(runs.map((run) => this.runNoWait(run.input, run.options)));
  }

  async runMany(runs: Array<{ input: I; options?: RunOpts }>): Promise<O[]> {
    return Promise.all((await this.runManyNoWait(runs)).map((ref) => ref.result()));
  }
}

/** A workflow of several tasks (a DAG through `parents`). Its output maps task names to outputs. */
export class WorkflowDeclaration<I = unknown, O = Record<string, unknown>> extends BaseWorkflowDeclaration<I, O> {
  readonly #tasks: DeclaredTask[] = [];
  #onFailure: DeclaredTask | undefined;
  #onSuccess: CreateBaseTaskOpts<I, unknown> | undefined;

  constructor(host: DeclarationHost, options: CreateWorkflowOpts) {
    super(host, options.name, options);
  }

  task<TO>(opts: CreateWorkflowTaskOpts<I, TO>): CreateWorkflowTaskOpts<I, TO> {
    const parents = (opts.parents ?? []).map((parent) => parent.name);
    this.#tasks.push({ name: opts.name.toLowerCase(), fn: opts.fn, spec: taskSpec(opts as CreateBaseTaskOpts<unknown, unknown>, parents, this.options.taskDefaults) });
    return opts;
  }

  onFailure(opts: Omit<CreateBaseTaskOpts<I, unknown>, 'name'> & { name?: string }): void {
    const spec = taskSpec({ ...opts, name: ON_FAILURE_TASK } as CreateBaseTaskOpts<unknown, unknown>, [], this.options.taskDefaults);
    this.#onFailure = { name: ON_FAILURE_TASK, fn: opts.fn, spec };
  }

  onSuccess(opts: Omit<CreateBaseTaskOpts<I, unknown>, 'name'> & { name?: string }): void {
    this.#onSuccess = { ...opts, name: ON_SUCCESS_TASK } as CreateBaseTaskOpts<I, unknown>;
  }

  get tasks(): DeclaredTask[] {
    const tasks = [...this.#tasks];
    if (this.#onSuccess !== undefined) {
      // The on-success task runs after every leaf: the tasks no other task names as a parent.
      const parents = new Set(tasks.flatMap((task) => task.spec.parents));
      const leaves = tasks.filter((task) => !parents.has(task.name)).map((task) => task.name);
      tasks.push({ name: ON_SUCCESS_TASK, fn: this.#onSuccess.fn, spec: taskSpec(this.#onSuccess as CreateBaseTaskOpts<unknown, unknown>, leaves, this.options.taskDefaults) });
    }
    if (this.#onFailure !== undefined) tasks.push(this.#onFailure);
    return tasks;
  }
}

/** A standalone task: a workflow of one task, whose run output is the task's output. */
export class TaskWorkflowDeclaration<I = unknown, O = unknown> extends BaseWorkflowDeclaration<I, O> {
  readonly #task: DeclaredTask;

  constructor(host: DeclarationHost, opts: CreateTaskWorkflowOpts<I, O>) {
    super(host, opts.name, opts);
    this.#task = { name: opts.name.toLowerCase(), fn: opts.fn, spec: taskSpec(opts as CreateBaseTaskOpts<unknown, unknown>, []) };
  }

  get tasks(): DeclaredTask[] {
    return [this.#task];
  }

  override get standaloneTaskName(): string {
    return this.#task.name;
  }

  get taskDef(): DeclaredTask {
    return this.#task;
  }
}
