/**
 * What a task function receives besides its input (Hatchet's `Context` and `DurableContext`): the
 * run's identity and metadata, parent outputs, logging, cancellation, child runs. It talks to the
 * worker that runs the task through `ContextHost`, never to the connection directly.
 */
import type { AssignedTask } from '../../protocol/frames.js';
import { decodePayload } from '../../protocol/payload.js';
import type { Conditions } from './conditions.js';
import { type Duration, durationToMs } from './duration.js';
import type { Priority } from './enums.js';
import { AbortError, NotSupportedError, TaskRunTerminatedError } from './errors.js';
import type { LogLevel } from './logger.js';
import type { WorkflowRunRef } from './run-ref.js';
import type { JsonObject, OutputType, RunOpts, WorkflowRef } from './types.js';

export type ChildRunOpts = RunOpts & { key?: string; sticky?: boolean };

/** The level of a line a task logs. */
export type TaskLogLevel = Exclude<LogLevel, 'OFF'>;

/** Extra fields of a warning or error line. */
export type LogExtra = { extra?: unknown; error?: Error };

export interface ContextHost {
  refreshTimeout(task: AssignedTask, incrementMs: number): void;
  releaseSlot(task: AssignedTask): void;
  cancelRun(runId: string): Promise<void>;
  runChild(parent: AssignedTask, childIndex: number, workflow: unknown, input: unknown, options: ChildRunOpts, wait: boolean): Promise<unknown>;
  /** Stores the line in the task's log and writes it to the client's logger. */
  log(task: AssignedTask, message: string, level: TaskLogLevel, extra?: LogExtra): void;
  /** Writes to the client's logger's named extra method, when it has one. */
  logUtil(key: string, message: string, extra?: unknown): void;
  hasWorkflow(name: string): boolean;
  upsertLabels(labels: WorkerLabels): Promise<WorkerLabels>;
  readonly workerId: string;
  readonly workerLabels: Record<string, string | number>;
}

export type WorkerLabels = Record<string, string | number | undefined>;

/** The worker running a task, as the task sees it. */
export class ContextWorker {
  constructor(private readonly host: ContextHost) {}

  id(): string | undefined {
    return this.host.workerId === '' ? undefined : this.host.workerId;
  }

  hasWorkflow(workflowName: string): boolean {
    return this.host.hasWorkflow(workflowName);
  }

  labels(): WorkerLabels {
    return { ...this.host.workerLabels };
  }

  /** Merges labels into the worker's; tasks are assigned by them from then on. */
  upsertLabels(labels: WorkerLabels): Promise<WorkerLabels> {
    return this.host.upsertLabels(labels);
  }
}

/** A parent task as `wf.task(...)` returned it: its output type comes from its `fn`. */
// biome-ignore lint/suspicious/noExplicitAny: any input and context; only the output is inferred.
type ParentTask<L> = { name: string; fn?: ((input: any, ctx: any) => L | Promise<L>) | undefined };

type TriggerData = Record<string, Record<string, unknown>>;

export class Context<T, K = {}> {
  /** The input as the engine delivered it (before middleware). */
  input: T;
  readonly controller = new AbortController();
  readonly action: AssignedTask;
  readonly worker: ContextWorker;
  #childIndex = 0;
  #streamIndex = 0;

  constructor(
    task: AssignedTask,
    protected readonly host: ContextHost,
  ) {
    this.action = task;
    this.input = decodePayload(task.input) as T;
    this.worker = new ContextWorker(host);
  }

  get abortController(): AbortController {
    return this.controller;
  }

  get cancelled(): boolean {
    return this.controller.signal.aborted;
  }

  /** The output of a parent task, typed by that task's `fn` when given the task itself. */
  async parentOutput<L extends OutputType>(parentTask: ParentTask<L> | string): Promise<L> {
    const name = typeof parentTask === 'string' ? parentTask : parentTask.name;
    const output = this.action.parents[name.toLowerCase()];
    if (output === undefined) throw new Error(`'${name}' is not a parent of task '${this.action.task}'`);
    return decodePayload(output) as L;
  }

  /** For on-failure tasks: the error of each failed task, by task name. */
  errors(): Record<string, string> {
    return { ...(this.action.errors ?? {}) };
  }

  /** @deprecated use errors() */
  stepRunErrors(): Record<string, string> {
    return this.errors();
  }

  /** The conditions that triggered the task; none on this engine yet. */
  triggers(): TriggerData {
    return {};
  }

  /** The payload of the event filter that triggered the run (`{}` when none did). */
  filterPayload(): Record<string, unknown> {
    return {};
  }

  /** Whether an event triggered the run (never yet: this engine has no event triggers). */
  triggeredByEvent(): boolean {
    return false;
  }

  workflowName(): string {
    return this.action.workflow;
  }

  workflowNameV1(): string {
    return this.action.workflow;
  }

  userData(): K {
    return {} as K;
  }

  taskName(): string {
    return this.action.task;
  }

  /** @deprecated use taskName() */
  stepName(): string {
    return this.action.task;
  }

  workflowRunId(): string {
    return this.action.runId;
  }

  workflowId(): string | undefined {
    return undefined;
  }

  workflowVersionId(): string | undefined {
    return undefined;
  }

  taskRunExternalId(): string {
    return this.action.taskId;
  }

  /** @deprecated use taskRunExternalId() */
  taskRunId(): string {
    return this.action.taskId;
  }

  retryCount(): number {
    return this.action.attempt;
  }

  additionalMetadata(): Record<string, string> {
    return { ...this.action.additionalMetadata };
  }

  priority(): Priority | undefined {
    return this.action.priority as Priority;
  }

  parentWorkflowRunId(): string | undefined {
    return this.action.parentTaskId;
  }

  childIndex(): number | undefined {
    return this.action.childIndex;
  }

  childKey(): string | undefined {
    return this.action.childKey;
  }

  triggeringEventId(): string | undefined {
    return undefined;
  }

  triggeringEventKey(): string | undefined {
    return undefined;
  }

  /** @deprecated the run's input */
  workflowInput(): T {
    return this.input;
  }

  /** @deprecated use parentOutput() */
  stepOutput<L = unknown>(step: string): L {
    const output = this.action.parents[step.toLowerCase()];
    if (output === undefined) throw new Error(`Output for parent task '${step}' not found`);
    return decodePayload(output) as L;
  }

  /**
   * Logs a line: it is stored with the task's logs (`hatchet.logs.list`) and written to the
   * client's logger.
   */
  async log(message: string, level: LogLevel = 'INFO', extra?: LogExtra): Promise<void> {
    if (level === 'OFF') return;
    this.host.log(this.action, message, level, extra);
  }

  /** `ctx.logger.info(message, extra)` and the other levels: `ctx.log` at that level. */
  get logger() {
    return {
      info: (message: string, extra?: unknown) => this.log(message, 'INFO', { extra }),
      debug: (message: string, extra?: unknown) => this.log(message, 'DEBUG', { extra }),
      warn: (message: string, extra?: LogExtra) => this.log(message, 'WARN', extra),
      error: (message: string, extra?: LogExtra) => this.log(message, 'ERROR', extra),
      util: (key: string, message: string, extra?: LogExtra) => this.host.logUtil(key, message, extra?.extra),
    };
  }

  /** Gives the task more time before its execution timeout. */
  async refreshTimeout(incrementBy: Duration): Promise<void> {
    this.host.refreshTimeout(this.action, durationToMs(incrementBy));
  }

  /** Frees this task's worker slots while it keeps running. */
  async releaseSlot(): Promise<void> {
    this.host.releaseSlot(this.action);
  }

  /** Streams a chunk to the run's subscribers. */
  async putStream(_data: string | Uint8Array): Promise<void> {
    throw new NotSupportedError('streaming from a task (ctx.putStream)');
  }

  /** Cancels this task's run and aborts locally. */
  async cancel(): Promise<void> {
    await this.host.cancelRun(this.action.runId);
    this.controller.abort(new TaskRunTerminatedError('cancelled'));
  }

  /** Rethrows `error` if it is this task's cancellation, so a broad `catch` does not swallow it. */
  rethrowIfCancelled(error: unknown): void {
    if (this.cancelled || error instanceof TaskRunTerminatedError || (error instanceof Error && error.name === 'AbortError')) throw error;
  }

  #spawn(workflow: unknown, input: unknown, options: ChildRunOpts | undefined, wait: boolean): Promise<unknown> {
    // A cancelled task spawns nothing.
    if (this.cancelled) return Promise.reject(new AbortError());
    return this.host.runChild(this.action, this.#childIndex++, workflow, input, options ?? {}, wait);
  }

  /** Runs a child workflow or task and waits for its output. */
  runChild<Q extends JsonObject, P extends JsonObject>(workflow: string | WorkflowRef<Q, P>, input: Q, options?: ChildRunOpts): Promise<P> {
    return this.#spawn(workflow, input, options, true) as Promise<P>;
  }

  /** Runs a child workflow or task; resolves with its run reference. */
  runNoWaitChild<Q extends JsonObject, P extends JsonObject>(workflow: string | WorkflowRef<Q, P>, input: Q, options?: ChildRunOpts): Promise<WorkflowRunRef<P>> {
    return this.#spawn(workflow, input, options, false) as Promise<WorkflowRunRef<P>>;
  }

  // biome-ignore lint/suspicious/noExplicitAny: Hatchet's defaults, so an untyped list of children compiles.
  bulkRunChildren<Q extends JsonObject = any, P extends JsonObject = any>(children: Array<{ workflow: string | WorkflowRef<Q, P>; input: Q; options?: ChildRunOpts }>): Promise<P[]> {
    return Promise.all(children.map((child) => this.runChild<Q, P>(child.workflow, child.input, child.options)));
  }

  // biome-ignore lint/suspicious/noExplicitAny: as bulkRunChildren.
  bulkRunNoWaitChildren<Q extends JsonObject = any, P extends JsonObject = any>(
    children: Array<{ workflow: string | WorkflowRef<Q, P>; input: Q; options?: ChildRunOpts }>,
  ): Promise<WorkflowRunRef<P>[]> {
    return Promise.all(children.map((child) => this.runNoWaitChild<Q, P>(child.workflow, child.input, child.options)));
  }

  /** @deprecated use runNoWaitChild() */
  spawnWorkflow<Q extends JsonObject, P extends JsonObject>(workflow: string | WorkflowRef<Q, P>, input: Q, options?: ChildRunOpts): Promise<WorkflowRunRef<P>> {
    return this.runNoWaitChild(workflow, input, options);
  }

  /** @deprecated use bulkRunNoWaitChildren() */
  // biome-ignore lint/suspicious/noExplicitAny: as bulkRunChildren.
  spawnWorkflows<Q extends JsonObject = any, P extends JsonObject = any>(workflows: Array<{ workflow: string | WorkflowRef<Q, P>; input: Q; options?: ChildRunOpts }>): Promise<WorkflowRunRef<P>[]> {
    return this.bulkRunNoWaitChildren(workflows);
  }

  _incrementStreamIndex(): number {
    return this.#streamIndex++;
  }
}

export interface SleepResult {
  /** How long the task slept, in milliseconds. */
  durationMs: number;
}

export interface SleepForOptions {
  readableDataKey?: string;
  label?: string;
}

/**
 * The context of a durable task. Durable execution (checkpoints replayed from the run's log) is not
 * carried out by this engine yet: durable tasks are refused when a worker registers them, so these
 * methods are never reached by a registered task; they reject with `NotSupportedError` if called.
 */
export class DurableContext<T, K = {}> extends Context<T, K> {
  get invocationCount(): number {
    return 1;
  }

  get supportsEviction(): boolean {
    return false;
  }

  sleepFor(_duration: Duration, _options?: SleepForOptions | string, _label?: string): Promise<SleepResult> {
    return Promise.reject(new NotSupportedError('durable sleep (ctx.sleepFor)'));
  }

  sleepUntil(_wakeAt: Date): Promise<SleepResult> {
    return Promise.reject(new NotSupportedError('durable sleep (ctx.sleepUntil)'));
  }

  // biome-ignore lint/suspicious/noExplicitAny: the matched payload, as in Hatchet.
  waitFor(_conditions: Conditions | Conditions[], _label?: string): Promise<Record<string, any>> {
    return Promise.reject(new NotSupportedError('durable waits (ctx.waitFor)'));
  }

  waitForEvent(key: string, expression?: string, payloadSchema?: undefined, scope?: string, lookbackWindow?: Duration, label?: string): Promise<Record<string, unknown>>;
  waitForEvent<S extends { parse(value: unknown): unknown }>(key: string, expression?: string, payloadSchema?: S, scope?: string, lookbackWindow?: Duration, label?: string): Promise<ReturnType<S['parse']>>;
  waitForEvent(_key: string): Promise<unknown> {
    return Promise.reject(new NotSupportedError('durable event waits (ctx.waitForEvent)'));
  }

  now(): Promise<Date> {
    return Promise.reject(new NotSupportedError('durable memoised time (ctx.now)'));
  }

  spawnChild<Q extends JsonObject, P extends JsonObject>(_workflow: string | WorkflowRef<Q, P>, _input?: Q, _options?: ChildRunOpts): Promise<P> {
    return Promise.reject(new NotSupportedError('durable child runs (ctx.spawnChild)'));
  }

  // biome-ignore lint/suspicious/noExplicitAny: as bulkRunChildren.
  spawnChildren<Q extends JsonObject = any, P extends JsonObject = any>(_children: Array<{ workflow: string | WorkflowRef<Q, P>; input?: Q; options?: ChildRunOpts }>): Promise<P[]> {
    return Promise.reject(new NotSupportedError('durable child runs (ctx.spawnChildren)'));
  }
}
