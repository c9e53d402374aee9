/**
 * Resident durable tasks: the in-memory index of durable tasks that wait on their worker under an
 * eviction policy (actors/workflow-run.ts, invariant 6), by the durable slot pool they hold a slot
 * of, and the choice of which to evict when queued work needs a pool's slots (capacity eviction).
 *
 * Owns: the index (rebuilt from the runs' states on recovery, kept in step with their decisions)
 * and the order of capacity eviction — lowest `priority` first, then the one waiting longest. Does
 * not own: the ttl deadline (an event of the run, driven by its timer), nor the eviction itself
 * (an `EvictResident` command of the run, sent by the engine).
 *
 * Invariants:
 *  1. A task is in the index exactly while its run's state says it is resident, on the pool of its
 *     worker; only those whose policy allows capacity eviction are candidates.
 *  2. At most one capacity eviction per pool is in flight: a pool's slot freed by one is taken by
 *     the queued work before another resident of it is chosen, so no more are evicted than needed.
 *  3. A choice costs O(log n) in the pool's residents (a heap with lazy deletion).
 */
import { isResident, type RunState } from '../../actors/workflow-run.js';
import { MinHeap } from '../lib/heap.js';
import { durablePool } from './durable.js';

export interface ResidentTask {
  readonly runId: string;
  readonly task: string;
  readonly taskId: string;
  readonly attempt: number;
  readonly invocation: number;
  readonly pool: string;
  readonly priority: number;
  readonly sinceMs: number;
  readonly evictable: boolean;
}

/** Priority first, then the wait's start: priorities are bounded (frames.ts) so the key stays exact. */
const PRIORITY_SCALE = 2 ** 42;

export class Residents {
  readonly #byTask = new Map<string, ResidentTask>();
  readonly #byRun = new Map<string, Set<string>>();
  readonly #heaps = new Map<string, { heap: MinHeap<ResidentTask>; live: number }>();
  readonly #evicting = new Set<string>();

  get size(): number {
    return this.#byTask.size;
  }

  hasRun(runId: string): boolean {
    return this.#byRun.has(runId);
  }

  /** Makes the index say what the run's state says of its tasks (invariant 1). */
  sync(runId: string, state: RunState): void {
    if (state.kind === 'none') return;
    for (const task of Object.values(state.tasks)) {
      const known = this.#byTask.get(task.taskId);
      if (!isResident(task) || task.workerId === undefined || state.kind === 'finished') {
        if (known !== undefined) this.#delete(known);
        continue;
      }
      if (known !== undefined && known.attempt === task.attempt && known.invocation === task.resident.invocation) continue;
      if (known !== undefined) this.#delete(known);
      const entry: ResidentTask = {
        runId,
        task: task.name,
        taskId: task.taskId,
        attempt: task.attempt,
        invocation: task.resident.invocation,
        pool: durablePool(task.workerId),
        priority: task.spec.eviction?.priority ?? 0,
        sinceMs: task.resident.sinceMs,
        evictable: task.spec.eviction?.allowCapacityEviction !== false,
      };
      this.#byTask.set(entry.taskId, entry);
      const ofRun = this.#byRun.get(runId) ?? new Set();
      ofRun.add(entry.taskId);
      this.#byRun.set(runId, ofRun);
      if (entry.evictable) {
        const pool = this.#heaps.get(entry.pool) ?? { heap: new MinHeap<ResidentTask>(), live: 0 };
        pool.heap.push(entry.priority * PRIORITY_SCALE + entry.sinceMs, entry);
        pool.live += 1;
        this.#heaps.set(entry.pool, pool);
      }
    }
  }

  #delete(entry: ResidentTask): void {
    this.#byTask.delete(entry.taskId);
    const ofRun = this.#byRun.get(entry.runId);
    ofRun?.delete(entry.taskId);
    if (ofRun?.size === 0) this.#byRun.delete(entry.runId);
    if (!entry.evictable) return;
    const pool = this.#heaps.get(entry.pool);
    if (pool === undefined) return;
    pool.live -= 1;
    if (pool.live === 0) this.#heaps.delete(entry.pool);
    else if (pool.heap.size > 2 * pool.live + 64) {
      // Lazy deletion leaves stale entries behind: rebuild once they outnumber the live ones.
      const heap = new MinHeap<ResidentTask>();
      for (let top = pool.heap.pop(); top !== undefined; top = pool.heap.pop()) if (this.#byTask.get(top.value.taskId) === top.value) heap.push(top.key, top.value);
      pool.heap = heap;
    }
  }

  /**
   * The resident task to evict for work queued on `pools` (all full): among pools without an
   * eviction in flight (invariant 2), the lowest priority, then the longest wait; it is marked in
   * flight until `settled`.
   */
  choose(pools: Iterable<string>): ResidentTask | undefined {
    let best: { key: number; value: ResidentTask } | undefined;
    for (const id of pools) {
      if (this.#evicting.has(id)) continue;
      const pool = this.#heaps.get(id);
      if (pool === undefined) continue;
      let top = pool.heap.peek();
      while (top !== undefined && this.#byTask.get(top.value.taskId) !== top.value) {
        pool.heap.pop();
        top = pool.heap.peek();
      }
      if (top !== undefined && (best === undefined || top.key < best.key)) best = top;
    }
    if (best !== undefined) this.#evicting.add(best.value.pool);
    return best?.value;
  }

  /** The capacity eviction on `pool` was decided (or came to nothing): the pool may be chosen again. */
  settled(pool: string): void {
    this.#evicting.delete(pool);
  }

  /** Whether any resident task could be evicted for capacity (the engine asks nothing otherwise). */
  get anyEvictable(): boolean {
    return this.#heaps.size > 0;
  }
}
