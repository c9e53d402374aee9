/**
 * Which runs wait for which event keys: DAG tasks with event conditions (`waitFor`, `skipIf`,
 * `cancelIf` on a user event) and durable tasks waiting in `waitFor`/`waitForEvent`. A pushed
 * event is handed only to the runs listed under its key.
 *
 * An in-memory index, rebuilt from the active runs at start. A run is listed as soon as a wait is
 * decided (before it is durable), so an event pushed meanwhile still reaches it; a listing that is
 * no longer needed costs one command that decides nothing. A run leaves the index when it finishes.
 */
import type { RunEvent, RunState } from '../../actors/workflow-run.js';

export class EventWaiters {
  /** tenant → event key → run ids. */
  readonly #byKey = new Map<string, Map<string, Set<string>>>();
  /** run id → its tenant and keys, to take it out again. */
  readonly #byRun = new Map<string, { tenantId: string; keys: Set<string> }>();

  get size(): number {
    return this.#byRun.size;
  }

  add(tenantId: string, runId: string, key: string): void {
    let keys = this.#byKey.get(tenantId);
    if (keys === undefined) {
      keys = new Map();
      this.#byKey.set(tenantId, keys);
    }
    let runs = keys.get(key);
    if (runs === undefined) {
      runs = new Set();
      keys.set(key, runs);
    }
    runs.add(runId);
    let entry = this.#byRun.get(runId);
    if (entry === undefined) {
      entry = { tenantId, keys: new Set() };
      this.#byRun.set(runId, entry);
    }
    entry.keys.add(key);
  }

  remove(runId: string): void {
    const entry = this.#byRun.get(runId);
    if (entry === undefined) return;
    this.#byRun.delete(runId);
    const keys = this.#byKey.get(entry.tenantId);
    for (const key of entry.keys) {
      const runs = keys?.get(key);
      runs?.delete(runId);
      if (runs?.size === 0) keys?.delete(key);
    }
  }

  /** The runs of a tenant waiting for `key`. */
  waiting(tenantId: string, key: string): string[] {
    return [...(this.#byKey.get(tenantId)?.get(key) ?? [])];
  }

  /** Lists the keys that newly decided events of a run wait for. */
  decided(runId: string, state: RunState, events: readonly RunEvent[]): void {
    for (const event of events) {
      if (event.type === 'RunCreated') {
        for (const task of event.workflow.tasks) for (const condition of task.conditions ?? []) if (condition.kind === 'event') this.add(event.tenantId, runId, condition.eventKey);
      } else if (event.type === 'DurableCheckpointed' && state.kind !== 'none') {
        for (const condition of event.conditions ?? []) if (condition.kind === 'event') this.add(state.tenantId, runId, condition.eventKey);
      }
    }
  }

  /** Lists a run rebuilt from the log by what its unfinished tasks still wait for. */
  adopt(runId: string, state: RunState): void {
    if (state.kind !== 'active') return;
    for (const task of Object.values(state.tasks)) {
      if (task.status === 'pending' || task.status === 'waiting') {
        for (const condition of task.spec.conditions ?? []) if (condition.kind === 'event') this.add(state.tenantId, runId, condition.eventKey);
      }
      const last = task.durable?.checkpoints.at(-1);
      if (task.status === 'evicted' && last?.result === undefined) {
        for (const condition of last?.wait?.conditions ?? []) if (condition.kind === 'event') this.add(state.tenantId, runId, condition.eventKey);
      }
    }
  }
}
