/** A handle on a triggered run: its id now, its output when it finishes (Hatchet's `WorkflowRunRef`). */
import type { FinishedRun } from '../../protocol/frames.js';
import { decodePayload } from '../../protocol/payload.js';

export interface RunWatcher {
  /** Resolves when the run finishes, in any status. */
  finished(runId: string): Promise<FinishedRun>;
  cancelRun(runId: string): Promise<void>;
  replayRun(runId: string): Promise<void>;
}

export class WorkflowRunRef<T> {
  readonly workflowRunId: string;
  readonly _standaloneTaskName: string | undefined;

  constructor(
    runId: string,
    private readonly watcher: RunWatcher,
    standaloneTaskName?: string,
  ) {
    this.workflowRunId = runId;
    this._standaloneTaskName = standaloneTaskName;
  }

  get runId(): Promise<string> {
    return Promise.resolve(this.workflowRunId);
  }

  getWorkflowRunId(): Promise<string> {
    return this.runId;
  }

  /**
   * The run's output: `{ [taskName]: output }`, or the task's own output for a standalone task. A run
   * that failed or was cancelled rejects with an array of error strings, as Hatchet's SDK does.
   */
  result(): Promise<T> {
    return this.watcher.finished(this.workflowRunId).then((finished) => this.#outputOf(finished));
  }

  #outputOf(finished: FinishedRun): T {
    if (finished.status !== 'COMPLETED') throw finished.errors ?? [`run ${finished.status.toLowerCase()}`];
    const output = finished.output ?? {};
    if (this._standaloneTaskName !== undefined) {
      const own = output[this._standaloneTaskName];
      return (own === undefined ? undefined : decodePayload(own)) as T;
    }
    return Object.fromEntries(Object.entries(output).map(([task, payload]) => [task, decodePayload(payload)])) as T;
  }

  get output(): Promise<T> {
    return this.result();
  }

  cancel(): Promise<void> {
    return this.watcher.cancelRun(this.workflowRunId);
  }

  /** Runs the run again from its tasks that did not complete; `result()` then awaits the new end. */
  replay(): Promise<void> {
    return this.watcher.replayRun(this.workflowRunId);
  }

  async toJSON(): Promise<string> {
    return JSON.stringify({ workflowRunId: this.workflowRunId });
  }
}
