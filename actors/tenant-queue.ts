/**
 * The tenant queue: which ready task runs on which worker. A pure in-memory index — no I/O, no
 * clock — that the engine feeds from the runs' events (`TaskQueued`, attempts ending) and from
 * worker connections, and asks for assignments. Its state is rebuilt from the log on recovery:
 * every queued task is in a run stream, and every slot in use is an assigned task there.
 *
 * Policy (this version): FIFO within a priority, higher priority first; a task goes to a worker
 * that registered its action (`workflow:task`) and has `slotCost` free slots, rotating over such
 * workers so load spreads.
 *
 * Invariants:
 *  1. A task is in the queue at most once (by task id), and holds a worker's slots at most once.
 *  2. A worker's used slots never exceed its slots.
 *  3. Each decision costs O(1) amortized per task considered: no scan of the whole queue.
 */
import { assert } from '../src/lib/errors.js';

export interface QueuedTask {
  readonly runId: string;
  readonly task: string;
  readonly taskId: string;
  readonly attempt: number;
  readonly action: string;
  /** 1 (low) … 3 (high). */
  readonly priority: number;
  readonly slotCost: number;
}

export interface Assignment {
  readonly task: QueuedTask;
  readonly workerId: string;
}

interface WorkerSlots {
  readonly workerId: string;
  readonly actions: ReadonlySet<string>;
  slots: number;
  used: number;
}

/** A FIFO with a moving head, compacted now and then: O(1) amortized push and shift. */
class Fifo<T> {
  #items: T[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  peek(): T | undefined {
    return this.#items[this.#head];
  }

  shift(): T | undefined {
    const item = this.#items[this.#head];
    if (item === undefined) return undefined;
    this.#head += 1;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
}

export class TenantQueue {
  /** Per action, one FIFO per priority: index 0 = priority 3 (highest). */
  readonly #ready = new Map<string, [Fifo<QueuedTask>, Fifo<QueuedTask>, Fifo<QueuedTask>]>();
  /** Queued task ids and their actions (a dequeued task leaves this at once, its FIFO entry lazily). */
  readonly #queued = new Map<string, string>();
  /** Live queued tasks per action; when it drops to 0 the action's FIFOs (all stale) are dropped. */
  readonly #live = new Map<string, number>();
  /** Tasks whose slot cost no registered worker for their action can ever meet, by action. */
  readonly #parked = new Map<string, QueuedTask[]>();
  readonly #workers = new Map<string, WorkerSlots>();
  readonly #workersByAction = new Map<string, string[]>();
  readonly #rotation = new Map<string, number>();
  readonly #holding = new Map<string, { workerId: string; cost: number }>();

  get queuedCount(): number {
    return this.#queued.size;
  }

  /** Actions with FIFOs in memory (for tests of memory release). */
  get actionCount(): number {
    return this.#ready.size;
  }

  enqueue(task: QueuedTask): void {
    if (this.#queued.has(task.taskId)) return;
    let fifos = this.#ready.get(task.action);
    if (fifos === undefined) {
      fifos = [new Fifo(), new Fifo(), new Fifo()];
      this.#ready.set(task.action, fifos);
    }
    const index = 3 - Math.min(3, Math.max(1, task.priority));
    (fifos[index] as Fifo<QueuedTask>).push(task);
    this.#queued.set(task.taskId, task.action);
    this.#live.set(task.action, (this.#live.get(task.action) ?? 0) + 1);
  }

  /** Forgets a queued task (cancelled, timed out in the queue). Its FIFO entry goes lazily. */
  dequeue(taskId: string): void {
    const action = this.#queued.get(taskId);
    if (action === undefined) return;
    this.#left(taskId, action);
    const parked = this.#parked.get(action);
    if (parked !== undefined) {
      const rest = parked.filter((task) => task.taskId !== taskId);
      if (rest.length > 0) this.#parked.set(action, rest);
      else this.#parked.delete(action);
    }
  }

  #left(taskId: string, action: string): void {
    this.#queued.delete(taskId);
    const live = (this.#live.get(action) ?? 1) - 1;
    if (live > 0) {
      this.#live.set(action, live);
      return;
    }
    this.#live.delete(action);
    this.#ready.delete(action);
  }

  isQueued(taskId: string): boolean {
    return this.#queued.has(taskId);
  }

  upsertWorker(workerId: string, actions: Iterable<string>, slots: number): void {
    this.removeWorker(workerId, { keepHeld: true });
    const worker: WorkerSlots = { workerId, actions: new Set(actions), slots, used: 0 };
    for (const held of this.#holding.values()) if (held.workerId === workerId) worker.used += held.cost;
    this.#workers.set(workerId, worker);
    for (const action of worker.actions) {
      const list = this.#workersByAction.get(action) ?? [];
      list.push(workerId);
      this.#workersByAction.set(action, list);
      // Tasks parked for want of a big enough worker get another chance.
      const parked = this.#parked.get(action);
      if (parked !== undefined) {
        this.#parked.delete(action);
        for (const task of parked) {
          this.#left(task.taskId, action);
          this.enqueue(task);
        }
      }
    }
  }

  /** A worker stops taking tasks. With `keepHeld`, the slots its tasks hold stay counted. */
  removeWorker(workerId: string, options: { keepHeld?: boolean } = {}): void {
    const worker = this.#workers.get(workerId);
    if (worker === undefined) return;
    this.#workers.delete(workerId);
    for (const action of worker.actions) {
      const list = (this.#workersByAction.get(action) ?? []).filter((id) => id !== workerId);
      if (list.length === 0) this.#workersByAction.delete(action);
      else this.#workersByAction.set(action, list);
    }
    if (!options.keepHeld) for (const [taskId, held] of this.#holding) if (held.workerId === workerId) this.#holding.delete(taskId);
  }

  /** Records that a task holds a worker's slots (an assignment, or one rebuilt after a restart). */
  hold(taskId: string, workerId: string, cost: number): void {
    if (this.#holding.has(taskId)) return;
    this.#holding.set(taskId, { workerId, cost });
    const worker = this.#workers.get(workerId);
    if (worker !== undefined) worker.used += cost;
  }

  /** Frees the slots a task held; returns the worker it was on. */
  release(taskId: string): string | undefined {
    const held = this.#holding.get(taskId);
    if (held === undefined) return undefined;
    this.#holding.delete(taskId);
    const worker = this.#workers.get(held.workerId);
    if (worker !== undefined) worker.used = Math.max(0, worker.used - held.cost);
    return held.workerId;
  }

  /** The worker a task holds slots on, if any. */
  holder(taskId: string): string | undefined {
    return this.#holding.get(taskId)?.workerId;
  }

  tasksHeldBy(workerId: string): string[] {
    return [...this.#holding].filter(([, held]) => held.workerId === workerId).map(([taskId]) => taskId);
  }

  /** Takes every assignment possible now: tasks leave the queue and hold their worker's slots. */
  assign(): Assignment[] {
    const out: Assignment[] = [];
    for (const [action, fifos] of this.#ready) {
      const workers = this.#workersByAction.get(action);
      if (workers === undefined) continue;
      const capacity = Math.max(...workers.map((id) => this.#workers.get(id)?.slots ?? 0));
      for (const fifo of fifos) {
        for (let task = fifo.peek(); task !== undefined; task = fifo.peek()) {
          if (this.#queued.get(task.taskId) !== action) {
            fifo.shift();
            continue;
          }
          if (task.slotCost > capacity) {
            // No worker could ever take it: park it rather than block the tasks behind it.
            fifo.shift();
            const parked = this.#parked.get(action) ?? [];
            parked.push(task);
            this.#parked.set(action, parked);
            continue;
          }
          const workerId = this.#pickWorker(action, workers, task.slotCost);
          if (workerId === undefined) break;
          fifo.shift();
          this.#left(task.taskId, action);
          this.hold(task.taskId, workerId, task.slotCost);
          out.push({ task, workerId });
        }
      }
    }
    return out;
  }

  #pickWorker(action: string, workers: readonly string[], cost: number): string | undefined {
    const start = this.#rotation.get(action) ?? 0;
    for (let i = 0; i < workers.length; i++) {
      const index = (start + i) % workers.length;
      const worker = this.#workers.get(workers[index] as string);
      assert(worker !== undefined, 'a worker listed for an action is registered');
      if (worker.slots - worker.used >= cost) {
        this.#rotation.set(action, index + 1);
        return worker.workerId;
      }
    }
    return undefined;
  }
}
