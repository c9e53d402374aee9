/**
 * `HatchetClient` — the entry point of the SDK, source-compatible with Hatchet's TypeScript v1
 * client for what Kindling implements: declaring tasks and workflows, running them, workers.
 */
import type { AssignedTask, FinishedRun, LogLine, RunDetails, TriggerRun } from '../../protocol/frames.js';
import { decodePayload, encodePayload, type Payload } from '../../protocol/payload.js';
import { chunkBySize } from '../lib/chunks.js';
import { deferred, type Deferred } from '../lib/deferred.js';
import { engineLimits } from '../lib/limits.js';
import { type ClientConfig, engineUrl, loadConfig } from './config.js';
import { Connection, EngineError } from './connection.js';
import type { ChildRunOpts } from './context.js';
import {
  type BaseWorkflowDeclaration,
  type CreateTaskWorkflowOpts,
  type CreateWorkflowOpts,
  type DeclarationHost,
  type RunOpts,
  TaskWorkflowDeclaration,
  WorkflowDeclaration,
} from './declaration.js';
import { HatchetError } from './errors.js';
import { consoleLogger, type Logger } from './logger.js';
import { type RunWatcher, WorkflowRunRef } from './run-ref.js';
import { type CreateWorkerOpts, Worker, type WorkerClient } from './worker.js';

/** An input as the payload the engine carries (JSON, as in Hatchet); refused here when JSON cannot hold it. */
function inputPayload(workflow: string, input: unknown): Payload {
  try {
    return encodePayload(input, `the input of a run of '${workflow}'`);
  } catch (error) {
    throw new EngineError('INVALID_INPUT', (error as Error).message);
  }
}

/** A run's details with their payloads decoded, as Hatchet's `runs.get` returns them. */
function decodeDetails(details: RunDetails) {
  return {
    ...details,
    input: decodePayload(details.input),
    tasks: details.tasks.map((task) => ({ ...task, ...(task.output === undefined ? {} : { output: decodePayload(task.output) }) })),
  };
}

export class HatchetClient implements DeclarationHost, RunWatcher, WorkerClient {
  readonly config: ClientConfig;
  readonly logger: Logger;
  #connection: Connection | undefined;
  readonly #waiting = new Map<string, Deferred<FinishedRun>>();
  /** Runs awaited in this turn, subscribed to together at its end. */
  readonly #toSubscribe: string[] = [];

  constructor(config: Partial<ClientConfig> = {}) {
    this.config = loadConfig(config);
    this.logger = consoleLogger(this.config.log_level);
  }

  static init(config: Partial<ClientConfig> = {}): HatchetClient {
    return new HatchetClient(config);
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
          if (frame.t !== 'runFinished') return;
          for (const run of frame.runs) {
            this.#waiting.get(run.runId)?.resolve(run);
            this.#waiting.delete(run.runId);
          }
        },
        onOpen: () => {
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

  task<I = unknown, O = unknown>(opts: CreateTaskWorkflowOpts<I, O>): TaskWorkflowDeclaration<I, O> {
    return new TaskWorkflowDeclaration<I, O>(this, opts);
  }

  workflow<I = unknown, O = Record<string, unknown>>(opts: CreateWorkflowOpts): WorkflowDeclaration<I, O> {
    return new WorkflowDeclaration<I, O>(this, opts);
  }

  worker(name: string, opts: CreateWorkerOpts | number = {}): Promise<Worker> {
    return Worker.create(this, name, typeof opts === 'number' ? { slots: opts } : opts);
  }

  // biome-ignore lint/suspicious/noExplicitAny: declarations of any input and output register alike.
  async putWorkflow(workflow: BaseWorkflowDeclaration<any, any>): Promise<void> {
    await this.#conn.request({ t: 'putWorkflow', workflow: workflow.spec() });
  }

  // -------------------------------------------------------------------------------------------
  // Running

  async #trigger(runs: TriggerRun[]): Promise<string[]> {
    const ids: string[] = [];
    // At most 500 runs, and half a frame of inputs, per request.
    for (const chunk of chunkBySize(runs, (run) => run.input.length + 256, engineLimits.frameBytesMax / 2, 500)) {
      const reply = await this.#conn.request<{ runIds: string[] }>({ t: 'trigger', runs: chunk });
      ids.push(...reply.runIds);
    }
    return ids;
  }

  #workflowName(workflow: unknown): { name: string; standalone: string | undefined } {
    if (typeof workflow === 'string') {
      const lower = workflow.toLowerCase();
      return { name: lower.startsWith(this.namespace) ? lower : `${this.namespace}${lower}`, standalone: undefined };
    }
    // biome-ignore lint/suspicious/noExplicitAny: any declaration.
    const declaration = workflow as BaseWorkflowDeclaration<any, any>;
    return { name: declaration.name, standalone: declaration.standaloneTaskName };
  }

  async runNoWait<O>(declaration: BaseWorkflowDeclaration<unknown, O> | string, inputs: unknown[], options: RunOpts = {}): Promise<WorkflowRunRef<O>[]> {
    const { name, standalone } = this.#workflowName(declaration);
    const ids = await this.#trigger(
      inputs.map((input) => ({
        workflow: name,
        input: inputPayload(name, input),
        ...(options.additionalMetadata === undefined ? {} : { additionalMetadata: options.additionalMetadata }),
        ...(options.priority === undefined ? {} : { priority: options.priority }),
      })),
    );
    return ids.map((id) => new WorkflowRunRef<O>(id, this, standalone));
  }

  /** Runs a workflow by declaration or name and waits for its output. */
  async run<O = unknown>(workflow: BaseWorkflowDeclaration<unknown, O> | string, input: unknown, options: RunOpts = {}): Promise<O> {
    const [ref] = await this.runNoWait<O>(workflow, [input], options);
    return (ref as WorkflowRunRef<O>).result();
  }

  runAndWait<O = unknown>(workflow: BaseWorkflowDeclaration<unknown, O> | string, input: unknown, options: RunOpts = {}): Promise<O> {
    return this.run(workflow, input, options);
  }

  runRef<T = unknown>(runId: string): WorkflowRunRef<T> {
    return new WorkflowRunRef<T>(runId, this);
  }

  /** @internal Used by `ctx.runChild` and friends. */
  async runChild(parent: AssignedTask, childIndex: number, workflow: unknown, input: unknown, options: ChildRunOpts, wait: boolean): Promise<unknown> {
    const { name, standalone } = this.#workflowName(workflow);
    const [id] = await this.#trigger([
      {
        workflow: name,
        input: inputPayload(name, input),
        additionalMetadata: { ...parent.additionalMetadata, ...(options.additionalMetadata ?? {}) },
        ...(options.priority === undefined ? {} : { priority: options.priority }),
        parentTaskId: parent.taskId,
        childIndex,
        ...(options.key === undefined ? {} : { childKey: options.key }),
      },
    ]);
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

  /** Runs (Hatchet's `hatchet.runs`): get, cancel. */
  get runs() {
    return {
      get: async (run: string | WorkflowRunRef<unknown>) => decodeDetails(await this.#conn.request<RunDetails>({ t: 'getRun', runId: typeof run === 'string' ? run : run.workflowRunId })),
      cancel: async (opts: { ids?: string[] }) => {
        await this.#conn.request({ t: 'cancel', runIds: opts.ids ?? [], taskIds: [] });
      },
      /** Runs finished runs again from the tasks that did not complete. */
      replay: async (opts: { ids?: string[] }) => {
        if ((opts.ids ?? []).length > 0) await this.#conn.request({ t: 'replay', runIds: opts.ids ?? [] });
      },
      runRef: <T = unknown>(id: string) => this.runRef<T>(id),
    };
  }

  /** Task logs (Hatchet's `hatchet.logs`): the lines a task run logged with `ctx.log`, oldest first. */
  get logs() {
    return {
      list: (taskRunId: string, options: { limit?: number } = {}) => this.#conn.request<LogLine[]>({ t: 'listLogs', taskId: taskRunId, limit: options.limit ?? 1000 }),
    };
  }

  /** Closes the client's connection. */
  close(): void {
    this.#connection?.close();
    for (const waiting of this.#waiting.values()) waiting.reject(new HatchetError('the client is closed'));
    this.#waiting.clear();
  }
}
