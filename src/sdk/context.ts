/**
 * What a task function receives besides its input (Hatchet's `Context` and `DurableContext`): the
 * run's identity and metadata, parent outputs, logging, cancellation, child runs. It talks to the
 * worker that runs the task through `ContextHost`, never to the connection directly.
 */
import { opSignature } from '../../protocol/durable.js';
import type { AssignedTask, CheckpointReply, Condition as ConditionSpec, DurableOp } from '../../protocol/frames.js';
import { decodePayload, encodePayload, type Payload } from '../../protocol/payload.js';
import { type Conditions, Render, SleepCondition, UserEventCondition } from './conditions.js';
import { type Duration, durationToMs } from './duration.js';
import type { Priority } from './enums.js';
import { AbortError, HatchetError, NonDeterminismError, TaskRunTerminatedError } from './errors.js';
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
  /** A workflow argument's registered name, and its standalone task's name when it is one. */
  resolveWorkflow(workflow: unknown): { name: string; standalone: string | undefined };
  /** Sends a durable checkpoint of this invocation; the reply says whether it is done. */
  checkpoint(task: AssignedTask, invocation: number, nodeId: number, op: DurableOp): Promise<CheckpointReply>;
  /** Sends a chunk of the task's live stream. */
  putStream(task: AssignedTask, index: number, data: string | Uint8Array): Promise<void>;
  /** The engine evicted this invocation (it waits): the worker forgets it and reports nothing for it. */
  evicted(task: AssignedTask): void;
  /** Prefixes the client's namespace to an event key. */
  namespaced(key: string): string;
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
  readonly action: AssignedTask;
  readonly worker: ContextWorker;
  #childIndex = 0;
  #streamIndex = 0;

  /** The next child index of this task: `ctx.runChild` and `decl.run()` inside it share the count. */
  nextChildIndex(): number {
    return this.#childIndex++;
  }

  constructor(
    task: AssignedTask,
    protected readonly host: ContextHost,
  ) {
    this.action = task;
    this.input = decodePayload(task.input) as T;
    this.worker = new ContextWorker(host);
  }

  /**
   * Made on first use: an AbortSignal is an EventTarget, costly to build, and most tasks never ask
   * for it. Nothing can abort a controller no one has been given, so until then the task is not
   * cancelled.
   */
  #controller: AbortController | undefined;

  get controller(): AbortController {
    this.#controller ??= new AbortController();
    return this.#controller;
  }

  get abortController(): AbortController {
    return this.controller;
  }

  get cancelled(): boolean {
    return this.#controller?.signal.aborted ?? false;
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

  /** What satisfied the task's `waitFor` conditions, by readable data key (and the filter's payload). */
  triggers(): TriggerData {
    const matched = this.action.triggers === undefined ? {} : (decodePayload(this.action.triggers) as TriggerData);
    return this.action.filterPayload === undefined ? matched : { ...matched, filter_payload: this.filterPayload() };
  }

  /** The payload of the event filter that triggered the run (`{}` when none did). */
  filterPayload(): Record<string, unknown> {
    return this.action.filterPayload === undefined ? {} : (decodePayload(this.action.filterPayload) as Record<string, unknown>);
  }

  /** Whether a pushed event triggered the run. */
  triggeredByEvent(): boolean {
    return this.action.triggeredBy === 'event';
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
    return this.action.parentRunId ?? this.action.parentTaskId;
  }

  childIndex(): number | undefined {
    return this.action.childIndex;
  }

  childKey(): string | undefined {
    return this.action.childKey;
  }

  triggeringEventId(): string | undefined {
    return this.action.eventId;
  }

  triggeringEventKey(): string | undefined {
    return this.action.eventKey;
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

  /**
   * Streams a chunk to the run's subscribers (live: not stored in the run's log). Resolves once the
   * engine passed it on; rejects with `STREAM_CHUNK_TOO_LARGE` over 64 KiB, or `TASK_NOT_HELD`
   * when this attempt is no longer the task's current one.
   */
  putStream(data: string | Uint8Array): Promise<void> {
    return this.host.putStream(this.action, this._incrementStreamIndex(), data);
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
    return this.host.runChild(this.action, this.nextChildIndex(), workflow, input, options ?? {}, wait);
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
 * The context of a durable task: its waits, children and `now()` are checkpoints, events of its
 * run's own stream. A checkpoint the run already recorded is replayed from the recorded result (a
 * different operation at the same position is a `NonDeterminismError`); a new one is sent to the
 * engine, and when it has to wait the engine evicts the task (its slot is freed) and queues it
 * again once the wait is over, on any worker, which replays the function up to there — or, under
 * an `evictionPolicy`, keeps it waiting on this worker for up to its ttl, and the checkpoint
 * resolves in place when the wait ends within it.
 */
export class DurableContext<T, K = {}> extends Context<T, K> {
  #node = 0;

  get invocationCount(): number {
    return this.action.durable?.invocation ?? 1;
  }

  get supportsEviction(): boolean {
    return true;
  }

  /** Records or replays the next checkpoint; resolves with its result once it is done. */
  async #checkpoint(op: DurableOp): Promise<unknown> {
    const nodeId = ++this.#node;
    const signature = opSignature(op);
    const known = this.action.durable?.checkpoints[nodeId - 1];
    if (known !== undefined && known.signature !== signature) {
      throw new NonDeterminismError(this.action.taskId, this.invocationCount, nodeId, `non-determinism at checkpoint ${nodeId}: this run did ${signature}, the recorded run did ${known.signature}`);
    }
    if (known?.result !== undefined) return decodePayload(known.result);
    if (this.cancelled) throw new AbortError();
    let reply: CheckpointReply;
    try {
      reply = await this.host.checkpoint(this.action, this.invocationCount, nodeId, op);
    } catch (error) {
      if ((error as { code?: string }).code === 'NON_DETERMINISM') throw new NonDeterminismError(this.action.taskId, this.invocationCount, nodeId, (error as Error).message);
      throw error;
    }
    // An invocation replaced by a newer one (or cancelled) goes no further, whatever the reply.
    if (this.cancelled) return new Promise<never>(() => {});
    if (reply.done) return decodePayload(reply.result);
    // Evicted: this invocation ends here. A later one replays up to this checkpoint and goes on.
    this.host.evicted(this.action);
    this.controller.abort(new TaskRunTerminatedError('evicted'));
    return new Promise<never>(() => {});
  }

  #conditions(conditions: Conditions | Conditions[]): ConditionSpec[] {
    return Render(undefined, conditions).map((condition): ConditionSpec => {
      const base = { orGroupId: condition.base.orGroupId ?? 'group', readableDataKey: condition.base.readableDataKey ?? '' };
      if (condition instanceof SleepCondition) return { kind: 'sleep', ...base, sleepForMs: durationToMs(condition.sleepFor) };
      if (condition instanceof UserEventCondition) {
        return { kind: 'event', ...base, eventKey: this.host.namespaced(condition.eventKey), expression: condition.expression, ...(condition.scope === undefined ? {} : { scope: condition.scope }) };
      }
      throw new HatchetError('a durable wait takes sleep and user-event conditions');
    });
  }

  /** Sleeps for `duration`, counted by the engine: a restart mid-sleep sleeps only what is left. */
  async sleepFor(duration: Duration, options?: SleepForOptions | string, _label?: string): Promise<SleepResult> {
    const durationMs = durationToMs(duration);
    const readableDataKey = typeof options === 'string' ? options : (options?.readableDataKey ?? `sleep-${durationMs}ms`);
    await this.#checkpoint({ kind: 'wait', conditions: [{ kind: 'sleep', orGroupId: 'sleep', readableDataKey, sleepForMs: durationMs }] });
    return { durationMs };
  }

  /** Sleeps until `wakeAt`, from the memoised `now()`. */
  async sleepUntil(wakeAt: Date): Promise<SleepResult> {
    const now = await this.now();
    return this.sleepFor(Math.max(0, wakeAt.getTime() - now.getTime()));
  }

  /** Waits for conditions (an array is AND, `Or(...)` is OR); resolves with what satisfied them, by readable data key. */
  // biome-ignore lint/suspicious/noExplicitAny: the matched payload, as in Hatchet.
  async waitFor(conditions: Conditions | Conditions[], _label?: string): Promise<Record<string, any>> {
    // Events pushed since `considerEventsSince` (an ISO time) count too.
    const since = Render(undefined, conditions)
      .map((condition) => (condition instanceof UserEventCondition && condition.considerEventsSince !== undefined ? Date.parse(condition.considerEventsSince) : Number.NaN))
      .filter((ms) => Number.isFinite(ms));
    const op: DurableOp = { kind: 'wait', conditions: this.#conditions(conditions), ...(since.length === 0 ? {} : { considerEventsSinceMs: Math.min(...since) }) };
    // biome-ignore lint/suspicious/noExplicitAny: as above.
    return (await this.#checkpoint(op)) as Record<string, any>;
  }

  waitForEvent(key: string, expression?: string, payloadSchema?: undefined, scope?: string, lookbackWindow?: Duration, label?: string): Promise<Record<string, unknown>>;
  waitForEvent<S extends { parse(value: unknown): unknown }>(key: string, expression?: string, payloadSchema?: S, scope?: string, lookbackWindow?: Duration, label?: string): Promise<ReturnType<S['parse']>>;
  /**
   * Waits for an event with this key (and scope) whose payload makes `expression` true; resolves
   * with its payload. With `lookbackWindow`, an event pushed that long before the wait counts too.
   */
  async waitForEvent(key: string, expression?: string, payloadSchema?: { parse(value: unknown): unknown }, scope?: string, lookbackWindow?: Duration): Promise<unknown> {
    const since = lookbackWindow === undefined ? undefined : new Date(Date.now() - durationToMs(lookbackWindow)).toISOString();
    const condition = new UserEventCondition(key, expression ?? '', key, undefined, scope, since);
    const result = (await this.waitFor(condition)) as Record<string, Record<string, unknown>>;
    const matched = result[key] ?? {};
    const payload = matched[Object.keys(matched)[0] as string];
    return payloadSchema === undefined ? payload : payloadSchema.parse(payload);
  }

  /** The time, memoised: every replay of this checkpoint sees the same Date. */
  async now(): Promise<Date> {
    return new Date((await this.#checkpoint({ kind: 'now' })) as number);
  }

  async spawnChild<Q extends JsonObject, P extends JsonObject>(workflow: string | WorkflowRef<Q, P>, input?: Q, options?: ChildRunOpts): Promise<P> {
    const [output] = await this.spawnChildren<Q, P>([{ workflow, ...(input === undefined ? {} : { input }), ...(options === undefined ? {} : { options }) }]);
    return output as P;
  }

  /**
   * Spawns children as one checkpoint and waits for all of them (the task is evicted meanwhile);
   * throws a `HatchetError` with a failed child's errors.
   */
  // biome-ignore lint/suspicious/noExplicitAny: as bulkRunChildren.
  async spawnChildren<Q extends JsonObject = any, P extends JsonObject = any>(children: Array<{ workflow: string | WorkflowRef<Q, P>; input?: Q; options?: ChildRunOpts }>): Promise<P[]> {
    if (children.length === 0) return [];
    const resolved = children.map((child) => ({ ...this.host.resolveWorkflow(child.workflow), child }));
    const op: DurableOp = {
      kind: 'children',
      children: resolved.map(({ name, child }) => ({
        workflow: name,
        input: encodePayload(child.input ?? {}, `the input of a child run of '${name}'`),
        ...(child.options?.additionalMetadata === undefined ? {} : { additionalMetadata: child.options.additionalMetadata }),
        ...(child.options?.priority === undefined ? {} : { priority: child.options.priority }),
        ...((child.options?.key ?? child.options?.childKey) === undefined ? {} : { key: (child.options?.key ?? child.options?.childKey) as string }),
      })),
    };
    const results = (await this.#checkpoint(op)) as Array<{ status: string; output?: Record<string, unknown>; errors?: string[] }>;
    return results.map((result, i) => {
      if (result.status !== 'COMPLETED') throw new HatchetError((result.errors ?? [`child run ${result.status.toLowerCase()}`]).join('\n'));
      const standalone = resolved[i]?.standalone;
      return (standalone === undefined ? result.output : result.output?.[standalone]) as P;
    });
  }

  override runChild<Q extends JsonObject, P extends JsonObject>(workflow: string | WorkflowRef<Q, P>, input: Q, options?: ChildRunOpts): Promise<P> {
    return this.spawnChild(workflow, input, options);
  }

  // biome-ignore lint/suspicious/noExplicitAny: as bulkRunChildren.
  override bulkRunChildren<Q extends JsonObject = any, P extends JsonObject = any>(children: Array<{ workflow: string | WorkflowRef<Q, P>; input: Q; options?: ChildRunOpts }>): Promise<P[]> {
    return this.spawnChildren(children);
  }
}

export type { Payload };
