/**
 * Durable timers, by run: each active run has at most one wake-up time (its earliest deadline, from
 * `nextDeadline`). Nothing here is stored: the deadlines are in the runs' events, so after a restart
 * recovery re-arms every timer from the rebuilt states (workflow-run invariant 4).
 */
import { MinHeap } from '../lib/heap.js';

const TIMEOUT_MS_MAX = 2 ** 31 - 1;

export class RunTimers {
  readonly #due = new Map<string, number>();
  #heap = new MinHeap<string>();
  #timer: NodeJS.Timeout | undefined;
  #armedFor: number | undefined;

  constructor(
    private readonly clock: () => number,
    private readonly fire: (runId: string) => void,
  ) {}

  /** Sets (or clears, with undefined) the wake-up of a run. */
  set(runId: string, dueMs: number | undefined): void {
    if (dueMs === undefined) {
      this.#due.delete(runId);
      if (this.#heap.size > 2 * this.#due.size + 1024) this.#rebuild();
      return;
    }
    if (this.#due.get(runId) === dueMs) return;
    this.#due.set(runId, dueMs);
    this.#heap.push(dueMs, runId);
    // Stale entries (superseded wake-ups) are dropped lazily; rebuild before they dominate.
    if (this.#heap.size > 2 * this.#due.size + 1024) this.#rebuild();
    this.#arm();
  }

  #rebuild(): void {
    this.#heap = new MinHeap<string>();
    for (const [runId, due] of this.#due) this.#heap.push(due, runId);
  }

  #arm(): void {
    const next = this.#heap.peekKey();
    if (next === undefined || (this.#armedFor !== undefined && this.#armedFor <= next)) return;
    clearTimeout(this.#timer);
    this.#armedFor = next;
    // setTimeout takes at most 2^31 - 1 ms; a later wake-up re-arms when this one fires.
    this.#timer = setTimeout(() => this.#run(), Math.min(TIMEOUT_MS_MAX, Math.max(0, next - this.clock())));
  }

  #run(): void {
    this.#armedFor = undefined;
    const now = this.clock();
    for (let key = this.#heap.peekKey(); key !== undefined && key <= now; key = this.#heap.peekKey()) {
      const entry = this.#heap.pop();
      if (entry === undefined) break;
      // Lazy deletion: a heap entry counts only if it is still the run's current wake-up.
      if (this.#due.get(entry.value) !== entry.key) continue;
      this.#due.delete(entry.value);
      this.fire(entry.value);
    }
    this.#arm();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#armedFor = undefined;
  }
}
