/** What a task function receives besides its input (Hatchet's `Context`). */
import type { AssignedTask } from '../../protocol/frames.js';
import { decodePayload } from '../../protocol/payload.js';
import { type Duration, durationToMs } from './duration.js';
import { TaskRunTerminatedError } from './errors.js';

export interface ContextHost {
  refreshTimeout(task: AssignedTask, incrementMs: number): void;
  releaseSlot(task: AssignedTask): void;
  cancelRun(runId: string): Promise<void>;
  runChild(parent: AssignedTask, childIndex: number, workflow: unknown, input: unknown, options: ChildRunOpts, wait: boolean): Promise<unknown>;
  log(task: AssignedTask, message: string, level: string): void;
  readonly workerId: string;
  readonly workerLabels: Record<string, string | number>;
}

export interface ChildRunOpts {
  key?: string;
  sticky?: boolean;
  priority?: number;
  additionalMetadata?: Record<string, string>;
}

type TaskRef = string | { name: string };

export class Context<I = unknown> {
  readonly input: I;
  readonly abortController = new AbortController();
  readonly action: AssignedTask;
  #childIndex = 0;
  readonly worker: { id(): string; labels(): Record<string, string | number> };

  constructor(
    task: AssignedTask,
    private readonly host: ContextHost,
  ) {
    this.action = task;
    this.input = decodePayload(task.input) as I;
    this.worker = { id: () => host.workerId, labels: () => ({ ...host.workerLabels }) };
  }

  /** Alias of `abortController`. */
  get controller(): AbortController {
    return this.abortController;
  }

  get cancelled(): boolean {
    return this.abortController.signal.aborted;
  }

  /** A parent task's output; typed from the parent's `fn` when given the task itself. */
  // biome-ignore lint/suspicious/noExplicitAny: any input, inferred output.
  parentOutput<Task extends { name: string; fn: (...args: any[]) => unknown }>(task: Task): Promise<Awaited<ReturnType<Task['fn']>>>;
  parentOutput<T = unknown>(task: string | { name: string }): Promise<T>;
  async parentOutput<T = unknown>(task: TaskRef): Promise<T> {
    const name = typeof task === 'string' ? task : task.name;
    const output = this.action.parents[name.toLowerCase()];
    if (output === undefined) throw new Error(`'${name}' is not a parent of task '${this.action.task}'`);
    return decodePayload(output) as T;
  }

  /** For on-failure tasks: the error of each failed task, by task name. */
  errors(): Record<string, string> {
    return { ...(this.action.errors ?? {}) };
  }

  stepRunErrors(): Record<string, string> {
    return this.errors();
  }

  retryCount(): number {
    return this.action.attempt;
  }

  workflowRunId(): string {
    return this.action.runId;
  }

  taskRunExternalId(): string {
    return this.action.taskId;
  }

  taskRunId(): string {
    return this.action.taskId;
  }

  taskName(): string {
    return this.action.task;
  }

  workflowName(): string {
    return this.action.workflow;
  }

  additionalMetadata(): Record<string, string> {
    return { ...this.action.additionalMetadata };
  }

  priority(): number {
    return this.action.priority;
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

  /** Gives the task more time before its execution timeout. */
  refreshTimeout(by: Duration): void {
    this.host.refreshTimeout(this.action, durationToMs(by));
  }

  /** Frees this task's worker slot while it keeps running. */
  releaseSlot(): void {
    this.host.releaseSlot(this.action);
  }

  log(message: string, level: 'INFO' | 'WARN' | 'ERROR' | 'DEBUG' = 'INFO'): void {
    this.host.log(this.action, message, level);
  }

  /** Cancels this task's run and aborts locally. */
  async cancel(): Promise<void> {
    await this.host.cancelRun(this.action.runId);
    this.abortController.abort(new TaskRunTerminatedError('cancelled'));
  }

  rethrowIfCancelled(error: unknown): void {
    if (this.cancelled || error instanceof TaskRunTerminatedError) throw error;
  }

  runChild<O = unknown>(workflow: unknown, input: unknown, options: ChildRunOpts = {}): Promise<O> {
    return this.host.runChild(this.action, this.#childIndex++, workflow, input, options, true) as Promise<O>;
  }

  runNoWaitChild(workflow: unknown, input: unknown, options: ChildRunOpts = {}): Promise<unknown> {
    return this.host.runChild(this.action, this.#childIndex++, workflow, input, options, false);
  }

  bulkRunChildren<O = unknown>(children: Array<{ workflow: unknown; input: unknown; options?: ChildRunOpts }>): Promise<O[]> {
    return Promise.all(children.map((child) => this.runChild<O>(child.workflow, child.input, child.options)));
  }

  bulkRunNoWaitChildren(children: Array<{ workflow: unknown; input: unknown; options?: ChildRunOpts }>): Promise<unknown[]> {
    return Promise.all(children.map((child) => this.runNoWaitChild(child.workflow, child.input, child.options)));
  }
}
