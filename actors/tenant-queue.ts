/**
 * The tenant queue: which ready task runs on which worker, and when. A pure in-memory index — no
 * I/O; time comes in as an argument — that the engine feeds from the runs' events (`TaskQueued`,
 * attempts ending, runs finishing) and from workers (registrations, labels, pauses), and asks for
 * assignments. Its state is rebuilt from the log on recovery: every queued task is in a run
 * stream, every slot and concurrency key in use belongs to an assigned task or an active run, and
 * rate-limit windows are refilled from the assignments that consumed them.
 *
 * A task passes, in order:
 *  1. its **concurrency gates** (`policy.concurrency`, all must hold): each key admits `maxRuns`
 *     holders — a task, or a whole run for a workflow's limits. A task that finds a key full waits
 *     in that key's queue (priority, then arrival); when a holder leaves, the key admits its next
 *     waiter. So keys take turns: `GROUP_ROUND_ROBIN`. On arrival, `CANCEL_NEWEST` cancels the
 *     newcomer of a full key and `CANCEL_IN_PROGRESS` cancels its oldest members instead.
 *  2. a **lane** of its action: one per placement (none; sticky to a worker, soft or hard; desired
 *     labels), each a FIFO per priority, higher priority first.
 *  3. a **worker**: one that registered the action, is not paused, has `slotCost` free slots and
 *     matches the placement (required labels match; among the rest the heaviest matching weights
 *     win; a soft sticky worker first, a hard one only).
 *  4. its **rate limits** (`policy.rateLimits`), checked as the worker is found: units come out of
 *     each key's window; a task that finds one used up waits for the window to refill, and a task
 *     that needs more units than the whole limit is rejected.
 * What it decides besides assignments — a task waiting and why, a run cancelled by a concurrency
 * strategy, a task rejected — it hands out as notices (`takeNotices`) for the engine to record.
 *
 * Invariants:
 *  1. A task is in the queue at most once (by task id), holds a worker's slots at most once, and a
 *     key at most once per holder.
 *  2. A worker's used slots never exceed its slots; a key's holders exceed its `maxRuns` only when
 *     recovery found them so.
 *  3. A key with waiters is full: whenever a holder leaves, waiters are admitted until it is full
 *     again or has none (so newcomers never overtake them).
 *  4. Each decision costs O(1) amortized per task considered, plus a scan of the action's workers
 *     for a task with a placement: no scan of the whole queue. A task without a policy takes
 *     exactly the path it took before policies existed.
 */
import { assert } from '../src/lib/errors.js';
import { MinHeap } from '../src/lib/heap.js';
import type { DesiredLabel } from '../protocol/frames.js';

export type ConcurrencyStrategy = 'GROUP_ROUND_ROBIN' | 'CANCEL_IN_PROGRESS' | 'CANCEL_NEWEST';

/** One concurrency limit a task is under, with its key already rendered. */
export interface ConcurrencyGate {
  /** Unique across the engine (tenant, workflow or task, limit, rendered key). */
  readonly key: string;
  readonly maxRuns: number;
  readonly strategy: ConcurrencyStrategy;
  /** `run`: a workflow's limit, held by the whole run; `task`: held by the task while it runs. */
  readonly scope: 'run' | 'task';
  /** The key as a person reads it, e.g. `input.group = "a"`. */
  readonly label: string;
}

/** Where a task wants to run. */
export interface Placement {
  /** A sticky run's worker. */
  readonly workerId?: string | undefined;
  readonly sticky?: 'soft' | 'hard' | undefined;
  readonly labels?: Readonly<Record<string, DesiredLabel>> | undefined;
}

export interface RateLimitUse {
  readonly key: string;
  readonly units: number;
}

/** A task's flow control; a task without one costs what a task cost before policies existed. */
export interface TaskPolicy {
  readonly concurrency?: readonly ConcurrencyGate[] | undefined;
  readonly rateLimits?: readonly RateLimitUse[] | undefined;
  readonly placement?: Placement | undefined;
}

export interface QueuedTask {
  readonly runId: string;
  readonly task: string;
  readonly taskId: string;
  readonly attempt: number;
  readonly action: string;
  /** 1 (low) … 3 (high). */
  readonly priority: number;
  readonly slotCost: number;
  readonly policy?: TaskPolicy | undefined;
}

export interface Assignment {
  readonly task: QueuedTask;
  readonly workerId: string;
  /** Rate-limit units the assignment consumed. */
  readonly rateLimits?: readonly RateLimitUse[];
  /** Why this worker, when a placement chose it. */
  readonly note?: string;
}

/** Hatchet's task event types for a task that waits. */
export const WaitReason = {
  concurrency: 'CONCURRENCY_LIMITED',
  rateLimit: 'REQUEUED_RATE_LIMIT',
  noWorker: 'REQUEUED_NO_WORKER',
} as const;
export type WaitReason = (typeof WaitReason)[keyof typeof WaitReason];

const NOTICE_BIT: Readonly<Record<WaitReason, number>> = { CONCURRENCY_LIMITED: 1, REQUEUED_RATE_LIMIT: 2, REQUEUED_NO_WORKER: 4 };

export type QueueNotice =
  | { readonly kind: 'waiting'; readonly task: QueuedTask; readonly eventType: WaitReason; readonly message: string }
  /** Cancel a run (`scope: 'run'`, `id` a run id) or a task (`id` a task id) for a concurrency strategy. */
  | { readonly kind: 'cancel'; readonly scope: 'run' | 'task'; readonly id: string; readonly reason: string }
  | { readonly kind: 'reject'; readonly task: QueuedTask; readonly error: string };

export interface WorkerOptions {
  readonly labels?: Readonly<Record<string, string | number>>;
  /** A paused worker keeps its tasks and gets no new ones. */
  readonly paused?: boolean;
}

interface WorkerSlots {
  readonly workerId: string;
  readonly actions: ReadonlySet<string>;
  readonly labels: Readonly<Record<string, string | number>>;
  readonly paused: boolean;
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

  *[Symbol.iterator](): Iterator<T> {
    for (let i = this.#head; i < this.#items.length; i++) yield this.#items[i] as T;
  }
}

type Stage = 'lane' | 'key' | 'rate' | 'parked';

/** A queued task and where it waits. Entries are left in FIFOs when they move: a slot is live only while its token is the entry's. */
interface Entry {
  readonly task: QueuedTask;
  stage: Stage;
  token: number;
  /** The key or rate limit it waits on (stages `key` and `rate`). */
  waitsOn: KeyState | RateWindow | undefined;
  /** Let out of a rate limit's waiters: it may take units ahead of tasks that never waited. */
  admitted: boolean;
  /** Notices already given: a bit per reason (`NOTICE_BIT`), so a backlog of waiting entries holds no set each. */
  noted: number;
}

interface Slot {
  readonly entry: Entry;
  readonly token: number;
}

/** Three FIFOs, one per priority: index 0 is priority 3 (highest). */
type ByPriority = [Fifo<Slot>, Fifo<Slot>, Fifo<Slot>];
const byPriority = (): ByPriority => [new Fifo(), new Fifo(), new Fifo()];
const priorityIndex = (priority: number) => 3 - Math.min(3, Math.max(1, priority));
const fifoFor = (fifos: ByPriority, priority: number) => fifos[priorityIndex(priority)] as Fifo<Slot>;

interface Lane {
  readonly placement: Placement | undefined;
  readonly fifos: ByPriority;
}

interface ActionQueue {
  readonly lanes: Map<string, Lane>;
  /** Live entries in the lanes; at 0 the action's lanes (all stale) are dropped. */
  live: number;
}

class KeyState {
  /** Holders in the order they were admitted (the oldest first, for CANCEL_IN_PROGRESS). */
  readonly holders = new Set<string>();
  /** Holders asked to cancel: they hold until they leave, but no longer count as members. */
  readonly cancelling = new Set<string>();
  readonly waiting = byPriority();
  /** Live waiters per holder (a run's tasks wait as one member). */
  readonly waitingHolders = new Map<string, number>();

  constructor(
    readonly key: string,
    public maxRuns: number,
    public strategy: ConcurrencyStrategy,
    public label: string,
  ) {}

  get members(): number {
    return this.holders.size - this.cancelling.size + this.waitingHolders.size;
  }
}

class RateWindow {
  startMs = Number.NEGATIVE_INFINITY;
  used = 0;
  readonly waiting = byPriority();
  waitingCount = 0;
  /** The wake-up armed in the heap for this window, if any. */
  armedFor: number | undefined;

  constructor(
    readonly key: string,
    public limit: number,
    public windowMs: number,
  ) {}

  /** A window that has run out starts again at `nowMs`, empty. */
  roll(nowMs: number): void {
    if (nowMs >= this.startMs + this.windowMs) {
      this.startMs = nowMs;
      this.used = 0;
    }
  }
}

const holderOf = (task: QueuedTask, gate: ConcurrencyGate) => (gate.scope === 'run' ? `run:${task.runId}` : `task:${task.taskId}`);
const holderRef = (holder: string): { scope: 'run' | 'task'; id: string } => ({ scope: holder.startsWith('run:') ? 'run' : 'task', id: holder.slice(holder.indexOf(':') + 1) });

/** Whether a worker's label satisfies a desired one. Comparators read "the worker's value is … the desired value". */
export function labelMatches(have: string | number | undefined, want: DesiredLabel): boolean {
  if (have === undefined) return false;
  const equal = typeof have === typeof want.value && have === want.value;
  switch (want.comparator) {
    case 'EQUAL':
      return equal;
    case 'NOT_EQUAL':
      return !equal;
    default: {
      if (typeof have !== 'number' || typeof want.value !== 'number') return false;
      if (want.comparator === 'GREATER_THAN') return have > want.value;
      if (want.comparator === 'GREATER_THAN_OR_EQUAL') return have >= want.value;
      if (want.comparator === 'LESS_THAN') return have < want.value;
      return have <= want.value;
    }
  }
}

function laneKey(placement: Placement | undefined): string {
  if (placement === undefined) return '';
  const labels = placement.labels === undefined ? undefined : Object.keys(placement.labels).sort().map((key) => [key, placement.labels?.[key]]);
  return JSON.stringify([placement.sticky ?? null, placement.workerId ?? null, labels ?? null]);
}

export class TenantQueue {
  readonly #actions = new Map<string, ActionQueue>();
  /** Every queued task, wherever it waits. */
  readonly #tasks = new Map<string, Entry>();
  /** Tasks whose slot cost no registered worker for their action can ever meet, by action. */
  readonly #parked = new Map<string, Entry[]>();
  readonly #workers = new Map<string, WorkerSlots>();
  readonly #workersByAction = new Map<string, string[]>();
  readonly #rotation = new Map<string, number>();
  readonly #holding = new Map<string, { workerId: string; cost: number }>();
  readonly #keys = new Map<string, KeyState>();
  /** The keys each holder holds. */
  readonly #holds = new Map<string, KeyState[]>();
  readonly #rates = new Map<string, RateWindow>();
  /** Wake-ups of rate limits with waiters (lazy: an entry counts only while it is its window's `armedFor`). */
  #wakes = new MinHeap<RateWindow>();
  #notices: QueueNotice[] = [];
  /** Actions whose next task (without a placement) found every worker full in the last `assign`. */
  #starved = new Set<string>();

  get queuedCount(): number {
    return this.#tasks.size;
  }

  /** Actions with lanes in memory (for tests of memory release). */
  get actionCount(): number {
    return this.#actions.size;
  }

  /** Concurrency keys in memory (for tests of memory release). */
  get keyCount(): number {
    return this.#keys.size;
  }

  isQueued(taskId: string): boolean {
    return this.#tasks.has(taskId);
  }

  /** The notices decided since the last call, in order. */
  takeNotices(): QueueNotice[] {
    const notices = this.#notices;
    if (notices.length > 0) this.#notices = [];
    return notices;
  }

  // -------------------------------------------------------------------------------------------
  // Tasks in

  enqueue(task: QueuedTask): void {
    if (this.#tasks.has(task.taskId)) return;
    const entry: Entry = { task, stage: 'lane', token: 0, waitsOn: undefined, admitted: false, noted: 0 };
    this.#tasks.set(task.taskId, entry);
    if (task.policy?.concurrency !== undefined && task.policy.concurrency.length > 0) this.#gate(entry, true);
    else this.#toLane(entry);
  }

  /** Forgets a queued task (cancelled, timed out in the queue, its run finished). */
  dequeue(taskId: string): void {
    const entry = this.#tasks.get(taskId);
    if (entry === undefined) return;
    this.#tasks.delete(taskId);
    this.#leave(entry);
  }

  /** Takes an entry out of the place it waits in (its FIFO slot goes lazily). */
  #leave(entry: Entry): void {
    entry.token += 1;
    switch (entry.stage) {
      case 'lane':
        this.#leftLane(entry.task.action);
        break;
      case 'key': {
        const key = entry.waitsOn as KeyState;
        const gate = entry.task.policy?.concurrency?.find((g) => g.key === key.key);
        if (gate !== undefined) this.#unwait(key, holderOf(entry.task, gate));
        break;
      }
      case 'rate':
        (entry.waitsOn as RateWindow).waitingCount -= 1;
        break;
      case 'parked': {
        const parked = this.#parked.get(entry.task.action);
        if (parked !== undefined) {
          const rest = parked.filter((e) => e !== entry);
          if (rest.length > 0) this.#parked.set(entry.task.action, rest);
          else this.#parked.delete(entry.task.action);
        }
        break;
      }
    }
    entry.waitsOn = undefined;
  }

  #leftLane(action: string): void {
    const queue = this.#actions.get(action);
    if (queue === undefined) return;
    queue.live -= 1;
    if (queue.live <= 0) this.#actions.delete(action);
  }

  #toLane(entry: Entry): void {
    entry.stage = 'lane';
    entry.token += 1;
    entry.waitsOn = undefined;
    const { action, priority } = entry.task;
    let queue = this.#actions.get(action);
    if (queue === undefined) {
      queue = { lanes: new Map(), live: 0 };
      this.#actions.set(action, queue);
    }
    const placement = entry.task.policy?.placement;
    const key = laneKey(placement);
    let lane = queue.lanes.get(key);
    if (lane === undefined) {
      lane = { placement, fifos: byPriority() };
      queue.lanes.set(key, lane);
    }
    fifoFor(lane.fifos, priority).push({ entry, token: entry.token });
    queue.live += 1;
  }

  #notice(entry: Entry, eventType: WaitReason, message: string): void {
    const bit = NOTICE_BIT[eventType];
    if ((entry.noted & bit) !== 0) return;
    entry.noted |= bit;
    this.#notices.push({ kind: 'waiting', task: entry.task, eventType, message });
  }

  // -------------------------------------------------------------------------------------------
  // Concurrency

  #key(gate: ConcurrencyGate): KeyState {
    let key = this.#keys.get(gate.key);
    if (key === undefined) {
      key = new KeyState(gate.key, gate.maxRuns, gate.strategy, gate.label);
      this.#keys.set(gate.key, key);
    } else {
      // The newest definition of the limit governs (a workflow's new version may change it).
      key.maxRuns = gate.maxRuns;
      key.strategy = gate.strategy;
    }
    return key;
  }

  /** Passes an entry through its concurrency gates: on to a lane, or to wait in a full key. */
  #gate(entry: Entry, arriving: boolean): void {
    const { task } = entry;
    const gates = task.policy?.concurrency ?? [];
    if (arriving) {
      for (const gate of gates) {
        const key = this.#key(gate);
        const holder = holderOf(task, gate);
        if (gate.strategy === 'GROUP_ROUND_ROBIN' || key.holders.has(holder) || key.waitingHolders.has(holder)) continue;
        if (key.members < key.maxRuns) continue;
        if (gate.strategy === 'CANCEL_NEWEST') {
          this.#tasks.delete(task.taskId);
          entry.token += 1;
          this.#notices.push({ kind: 'cancel', ...holderRef(holder), reason: `cancelled by its concurrency limit (CANCEL_NEWEST): ${gate.label} already has ${key.maxRuns} run(s) in progress` });
          return;
        }
        this.#cancelOldest(key, key.members - key.maxRuns + 1, holder, gate.label);
      }
    }
    for (const gate of gates) {
      const key = this.#key(gate);
      const holder = holderOf(task, gate);
      if (key.holders.has(holder) || key.holders.size < key.maxRuns) continue;
      entry.stage = 'key';
      entry.token += 1;
      entry.waitsOn = key;
      fifoFor(key.waiting, task.priority).push({ entry, token: entry.token });
      key.waitingHolders.set(holder, (key.waitingHolders.get(holder) ?? 0) + 1);
      this.#notice(entry, WaitReason.concurrency, `waiting for concurrency key ${gate.label} (${gate.strategy}, maxRuns ${gate.maxRuns})`);
      return;
    }
    for (const gate of gates) this.#hold(holderOf(task, gate), this.#key(gate));
    this.#toLane(entry);
  }

  /** CANCEL_IN_PROGRESS: the oldest members of a key make way for a newer run. */
  #cancelOldest(key: KeyState, count: number, except: string, label: string): void {
    const reason = `cancelled by its concurrency limit (CANCEL_IN_PROGRESS): a newer run of ${label} took its place`;
    let left = count;
    for (const holder of key.holders) {
      if (left <= 0) return;
      if (holder === except || key.cancelling.has(holder)) continue;
      key.cancelling.add(holder);
      this.#notices.push({ kind: 'cancel', ...holderRef(holder), reason });
      left -= 1;
    }
    // Then waiters, oldest first: they leave the queue now; the cancellation follows.
    for (const holder of [...key.waitingHolders.keys()]) {
      if (left <= 0) return;
      if (holder === except) continue;
      for (const fifo of key.waiting) {
        for (const slot of fifo) {
          const { entry } = slot;
          if (slot.token !== entry.token || this.#tasks.get(entry.task.taskId) !== entry) continue;
          const gate = entry.task.policy?.concurrency?.find((g) => g.key === key.key);
          if (gate !== undefined && holderOf(entry.task, gate) === holder) this.dequeue(entry.task.taskId);
        }
      }
      key.waitingHolders.delete(holder);
      this.#notices.push({ kind: 'cancel', ...holderRef(holder), reason });
      left -= 1;
    }
  }

  #unwait(key: KeyState, holder: string): void {
    const count = (key.waitingHolders.get(holder) ?? 0) - 1;
    if (count > 0) key.waitingHolders.set(holder, count);
    else key.waitingHolders.delete(holder);
  }

  #hold(holder: string, key: KeyState): void {
    if (key.holders.has(holder)) return;
    key.holders.add(holder);
    const keys = this.#holds.get(holder);
    if (keys === undefined) this.#holds.set(holder, [key]);
    else keys.push(key);
  }

  /** A holder leaves its keys; each admits its next waiters (invariant 3). */
  #releaseHolder(holder: string): void {
    const keys = this.#holds.get(holder);
    if (keys === undefined) return;
    this.#holds.delete(holder);
    for (const key of keys) {
      key.holders.delete(holder);
      key.cancelling.delete(holder);
      this.#admit(key);
    }
  }

  #admit(key: KeyState): void {
    while (key.holders.size < key.maxRuns) {
      const slot = this.#pop(key.waiting);
      if (slot === undefined) break;
      const { entry } = slot;
      const gate = entry.task.policy?.concurrency?.find((g) => g.key === key.key);
      if (gate !== undefined) this.#unwait(key, holderOf(entry.task, gate));
      entry.waitsOn = undefined;
      this.#gate(entry, false);
    }
    if (key.holders.size === 0 && key.waitingHolders.size === 0) this.#keys.delete(key.key);
  }

  /** The first live slot of a set of FIFOs, taken out. */
  #pop(fifos: ByPriority): Slot | undefined {
    for (const fifo of fifos) {
      for (let slot = fifo.shift(); slot !== undefined; slot = fifo.shift()) {
        if (slot.token === slot.entry.token && this.#tasks.get(slot.entry.task.taskId) === slot.entry) return slot;
      }
    }
    return undefined;
  }

  /**
   * Recovery: a task (or its run) that was running when the engine stopped holds its keys again,
   * before the queued tasks are enqueued, so strategies see the same members they saw before.
   */
  holdConcurrency(task: Pick<QueuedTask, 'runId' | 'taskId' | 'policy'>, scopes: ReadonlyArray<'run' | 'task'> = ['run', 'task']): void {
    for (const gate of task.policy?.concurrency ?? []) {
      if (scopes.includes(gate.scope)) this.#hold(holderOf(task as QueuedTask, gate), this.#key(gate));
    }
  }

  /**
   * A worker says it is running this queued attempt (its assignment was lost in a restart): the
   * task leaves the queue and holds that worker's slots, its keys and its rate-limit units at once,
   * whatever they hold now (the work is already running).
   */
  claim(taskId: string, attempt: number, workerId: string): { task: QueuedTask; rateLimits?: readonly RateLimitUse[] } | undefined {
    const entry = this.#tasks.get(taskId);
    if (entry === undefined || entry.task.attempt !== attempt) return undefined;
    this.#tasks.delete(taskId);
    this.#leave(entry);
    this.holdConcurrency(entry.task);
    this.hold(taskId, workerId, entry.task.slotCost);
    const uses = entry.task.policy?.rateLimits;
    for (const use of uses ?? []) {
      const window = this.#rates.get(use.key);
      if (window !== undefined) window.used += use.units;
    }
    return uses === undefined || uses.length === 0 ? { task: entry.task } : { task: entry.task, rateLimits: uses };
  }

  /** A run finished: its hold on its workflow's keys ends. */
  finishRun(runId: string): void {
    this.#releaseHolder(`run:${runId}`);
  }

  // -------------------------------------------------------------------------------------------
  // Rate limits

  /** Defines (or changes) a rate limit: `limit` units per window of `windowMs`. */
  setRateLimit(key: string, limit: number, windowMs: number): void {
    const window = this.#rates.get(key);
    if (window === undefined) {
      this.#rates.set(key, new RateWindow(key, limit, windowMs));
      return;
    }
    window.limit = limit;
    window.windowMs = windowMs;
    if (window.waitingCount > 0) this.#arm(window);
  }

  /** Recovery: units consumed at `atMs`, counted against the window they fell in. */
  consumed(key: string, units: number, atMs: number): void {
    const window = this.#rates.get(key);
    if (window === undefined) return;
    window.roll(atMs);
    window.used += units;
  }

  /** How a rate limit's current window stands, for the REST API. */
  rateLimitUsage(key: string, nowMs: number): { used: number; windowStartMs: number } | undefined {
    const window = this.#rates.get(key);
    if (window === undefined) return undefined;
    return nowMs >= window.startMs + window.windowMs ? { used: 0, windowStartMs: nowMs } : { used: window.used, windowStartMs: window.startMs };
  }

  /** When a rate limit with waiters refills next (the engine wakes `assign` then), if any does. */
  nextWakeMs(): number | undefined {
    for (;;) {
      const top = this.#wakes.peekKey();
      if (top === undefined) return undefined;
      const window = this.#wakes.peek()?.value;
      if (window !== undefined && window.armedFor === top && window.waitingCount > 0) return top;
      this.#wakes.pop();
    }
  }

  #arm(window: RateWindow): void {
    const at = window.startMs + window.windowMs;
    if (window.armedFor === at) return;
    window.armedFor = at;
    this.#wakes.push(at, window);
    if (this.#wakes.size > 2 * this.#rates.size + 1024) {
      const live = new MinHeap<RateWindow>();
      for (const w of this.#rates.values()) if (w.armedFor !== undefined && w.waitingCount > 0) live.push(w.armedFor, w);
      this.#wakes = live;
    }
  }

  /** Windows that refilled by `nowMs` let out as many waiters as they have room for. */
  #wake(nowMs: number): void {
    for (let top = this.#wakes.peekKey(); top !== undefined && top <= nowMs; top = this.#wakes.peekKey()) {
      const window = (this.#wakes.pop() as { value: RateWindow }).value;
      if (window.armedFor !== top) continue;
      window.armedFor = undefined;
      window.roll(nowMs);
      let room = window.limit - window.used;
      while (room > 0 && window.waitingCount > 0) {
        const slot = this.#pop(window.waiting);
        if (slot === undefined) break;
        window.waitingCount -= 1;
        room -= slot.entry.task.policy?.rateLimits?.find((use) => use.key === window.key)?.units ?? 0;
        slot.entry.admitted = true;
        this.#toLane(slot.entry);
      }
      if (window.waitingCount > 0) this.#arm(window);
    }
  }

  /** Takes an entry's rate-limit units at `nowMs`: all of them, or none and it waits, or it can never run. */
  #takeUnits(entry: Entry, nowMs: number): 'taken' | 'waiting' | 'rejected' {
    const uses = entry.task.policy?.rateLimits ?? [];
    for (const use of uses) {
      const window = this.#rates.get(use.key);
      if (window === undefined || use.units > window.limit) {
        const error =
          window === undefined
            ? `rate limit '${use.key}' does not exist`
            : `the task needs ${use.units} units of rate limit '${use.key}', more than its whole limit of ${window.limit} per window`;
        this.#tasks.delete(entry.task.taskId);
        this.#leave(entry);
        this.#notices.push({ kind: 'reject', task: entry.task, error });
        return 'rejected';
      }
      window.roll(nowMs);
      if ((window.waitingCount > 0 && !entry.admitted) || window.used + use.units > window.limit) {
        this.#leave(entry);
        entry.stage = 'rate';
        entry.token += 1;
        entry.waitsOn = window;
        fifoFor(window.waiting, entry.task.priority).push({ entry, token: entry.token });
        window.waitingCount += 1;
        this.#arm(window);
        this.#notice(entry, WaitReason.rateLimit, `rate limit '${use.key}' is used up (${window.limit} units per window) until ${new Date(window.startMs + window.windowMs).toISOString()}`);
        return 'waiting';
      }
    }
    for (const use of uses) (this.#rates.get(use.key) as RateWindow).used += use.units;
    entry.admitted = false;
    return 'taken';
  }

  // -------------------------------------------------------------------------------------------
  // Workers and slots

  upsertWorker(workerId: string, actions: Iterable<string>, slots: number, options: WorkerOptions = {}): void {
    this.removeWorker(workerId, { keepHeld: true });
    const worker: WorkerSlots = { workerId, actions: new Set(actions), slots, used: 0, labels: options.labels ?? {}, paused: options.paused === true };
    for (const held of this.#holding.values()) if (held.workerId === workerId) worker.used += held.cost;
    this.#workers.set(workerId, worker);
    if (worker.paused) return;
    for (const action of worker.actions) {
      const list = this.#workersByAction.get(action) ?? [];
      list.push(workerId);
      this.#workersByAction.set(action, list);
      // Tasks parked for want of a big enough worker get another chance.
      const parked = this.#parked.get(action);
      if (parked !== undefined) {
        this.#parked.delete(action);
        for (const entry of parked) this.#toLane(entry);
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

  /** Frees the slots a task held, but not its concurrency keys (`ctx.releaseSlot()`); returns its worker. */
  releaseSlot(taskId: string): string | undefined {
    const held = this.#holding.get(taskId);
    if (held === undefined) return undefined;
    this.#holding.delete(taskId);
    const worker = this.#workers.get(held.workerId);
    if (worker !== undefined) worker.used = Math.max(0, worker.used - held.cost);
    return held.workerId;
  }

  /** A task's attempt is over: its slots and its task-level concurrency keys are free. Returns the worker it held slots on. */
  release(taskId: string): string | undefined {
    this.#releaseHolder(`task:${taskId}`);
    return this.releaseSlot(taskId);
  }

  /** The worker a task holds slots on, if any. */
  holder(taskId: string): string | undefined {
    return this.#holding.get(taskId)?.workerId;
  }

  /** Slots a worker's tasks hold. */
  usedSlots(workerId: string): number {
    let used = 0;
    for (const held of this.#holding.values()) if (held.workerId === workerId) used += held.cost;
    return used;
  }

  tasksHeldBy(workerId: string): string[] {
    return [...this.#holding].filter(([, held]) => held.workerId === workerId).map(([taskId]) => taskId);
  }

  // -------------------------------------------------------------------------------------------
  // Assignment

  /** Takes every assignment possible at `nowMs`: tasks leave the queue and hold their worker's slots. */
  assign(nowMs = 0): Assignment[] {
    if (this.#wakes.size > 0) this.#wake(nowMs);
    const out: Assignment[] = [];
    for (const [action, queue] of this.#actions) {
      const workers = this.#workersByAction.get(action);
      if (workers === undefined) continue;
      const capacity = Math.max(...workers.map((id) => this.#workers.get(id)?.slots ?? 0));
      for (const lane of queue.lanes.values()) {
        for (const fifo of lane.fifos) {
          for (let slot = fifo.peek(); slot !== undefined; slot = fifo.peek()) {
            const { entry } = slot;
            if (slot.token !== entry.token || this.#tasks.get(entry.task.taskId) !== entry) {
              fifo.shift();
              continue;
            }
            const { task } = entry;
            if (task.slotCost > capacity) {
              // No worker could ever take it: park it rather than block the tasks behind it.
              fifo.shift();
              this.#leave(entry);
              entry.stage = 'parked';
              const parked = this.#parked.get(action) ?? [];
              parked.push(entry);
              this.#parked.set(action, parked);
              continue;
            }
            const pick = lane.placement === undefined ? this.#rotate(action, workers, task.slotCost) : this.#place(action, workers, task.slotCost, lane.placement);
            if (pick === undefined) {
              if (lane.placement !== undefined) this.#notice(entry, WaitReason.noWorker, `no worker that ${describe(lane.placement)} has ${task.slotCost} free slot(s)`);
              else this.#starved.add(action);
              break;
            }
            if (task.policy?.rateLimits !== undefined && task.policy.rateLimits.length > 0) {
              const taken = this.#takeUnits(entry, nowMs);
              if (taken !== 'taken') {
                fifo.shift();
                continue;
              }
            }
            fifo.shift();
            this.#tasks.delete(task.taskId);
            this.#leave(entry);
            this.hold(task.taskId, pick.workerId, task.slotCost);
            if (pick.rotation !== undefined) this.#rotation.set(action, pick.rotation);
            out.push({
              task,
              workerId: pick.workerId,
              ...(task.policy?.rateLimits === undefined || task.policy.rateLimits.length === 0 ? {} : { rateLimits: task.policy.rateLimits }),
              ...(pick.note === undefined ? {} : { note: pick.note }),
            });
          }
        }
      }
    }
    return out;
  }

  /**
   * The actions whose next task found every worker registered for it full in the last `assign`
   * (tasks with a placement are not counted), with those workers; the list is cleared.
   */
  takeStarved(): Array<{ action: string; workers: readonly string[] }> {
    if (this.#starved.size === 0) return [];
    const out = [...this.#starved].map((action) => ({ action, workers: this.#workersByAction.get(action) ?? [] }));
    this.#starved.clear();
    return out;
  }

  #room(workerId: string, cost: number): WorkerSlots | undefined {
    const worker = this.#workers.get(workerId);
    assert(worker !== undefined, 'a worker listed for an action is registered');
    return worker.slots - worker.used >= cost ? worker : undefined;
  }

  /** The next worker with room, rotating over the action's workers so load spreads. */
  #rotate(action: string, workers: readonly string[], cost: number): { workerId: string; rotation?: number; note?: string } | undefined {
    const start = this.#rotation.get(action) ?? 0;
    for (let i = 0; i < workers.length; i++) {
      const index = (start + i) % workers.length;
      const worker = this.#room(workers[index] as string, cost);
      if (worker !== undefined) return { workerId: worker.workerId, rotation: index + 1 };
    }
    return undefined;
  }

  /** A worker for a placement: the sticky one first (or only), else the best match of the labels. */
  #place(action: string, workers: readonly string[], cost: number, placement: Placement): { workerId: string; rotation?: number; note?: string } | undefined {
    const labels = placement.labels ?? {};
    const required = Object.entries(labels).filter(([, label]) => label.required);
    const preferred = Object.entries(labels).filter(([, label]) => !label.required);
    const fits = (worker: WorkerSlots) => required.every(([key, label]) => labelMatches(worker.labels[key], label));
    if (placement.workerId !== undefined && placement.sticky !== undefined) {
      const id = placement.workerId;
      const worker = workers.includes(id) ? this.#room(id, cost) : undefined;
      if (worker !== undefined && fits(worker)) return { workerId: id, note: `sticky (${placement.sticky})` };
      if (placement.sticky === 'hard') return undefined;
    }
    if (required.length === 0 && preferred.length === 0) return this.#rotate(action, workers, cost);
    let best: { worker: WorkerSlots; top: number; sum: number; index: number } | undefined;
    const start = this.#rotation.get(action) ?? 0;
    for (let i = 0; i < workers.length; i++) {
      const index = (start + i) % workers.length;
      const worker = this.#room(workers[index] as string, cost);
      if (worker === undefined || !fits(worker)) continue;
      let top = 0;
      let sum = 0;
      for (const [key, label] of preferred) {
        if (!labelMatches(worker.labels[key], label)) continue;
        top = Math.max(top, label.weight);
        sum += label.weight;
      }
      // The highest matching weight wins; then the highest sum of matching weights; then rotation.
      if (best === undefined || top > best.top || (top === best.top && sum > best.sum)) best = { worker, top, sum, index };
    }
    if (best === undefined) return undefined;
    const note = preferred.length === 0 ? 'its required labels match' : `its labels match with weight ${best.sum}`;
    return { workerId: best.worker.workerId, rotation: best.index + 1, note };
  }
}

function describe(placement: Placement): string {
  const parts: string[] = [];
  if (placement.sticky === 'hard' && placement.workerId !== undefined) parts.push(`is ${placement.workerId} (sticky: hard)`);
  const required = Object.entries(placement.labels ?? {}).filter(([, label]) => label.required);
  if (required.length > 0) parts.push(`has the labels ${required.map(([key, label]) => `${key} ${label.comparator} ${JSON.stringify(label.value)}`).join(', ')}`);
  return parts.length === 0 ? 'matches' : parts.join(' and ');
}
