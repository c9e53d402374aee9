/**
 * The actor host: runs one kind of actor (a pure decider from `actors/`) over the log, one stream
 * per actor, with a bounded mailbox each, and `decide → append (expected version) → evolve →
 * effects` (STYLE practice 1).
 *
 * Owns: which actors are in memory (activation from the newest snapshot and the events after it,
 * passivation once idle and inactive), snapshots of long streams, and the order of each actor's
 * commands. Talks to: the log (appends, reads for activation), and its owner through
 * `ActorEffects`, whose `applied` it calls only once an append is durable (DESIGN invariant 1).
 *
 * Appends are pipelined: an actor decides its next command against the state that includes the
 * events still being written, without waiting for them to be durable. Acknowledgements still wait:
 * a command's promise resolves only once its own events and every earlier event of its actor are
 * durable, and effects are applied in stream order.
 *
 * A decider that has the state its events lead to at hand while deciding (`decideEvolved`) hands
 * it over, and the host evolves nothing itself.
 *
 * Events the decider calls deferrable (they acknowledge nothing: a task assigned to a worker, a
 * task started) are not written on their own at once: they go with the actor's next append, or
 * after `deferMs` if none comes. A short task's assignment, start and result are one append. One
 * timer serves every actor's deferred events: they are due in the order they were deferred.
 *
 * Invariants:
 *  1. An actor's commands are decided one at a time, in arrival order. Each append carries the
 *     exact version its events were decided at, so a second writer is a conflict, and an append
 *     decided on top of one that failed fails too (no backend stores a gap).
 *  2. After a failed append the actor waits for its other appends to settle, reloads its state from
 *     the log and applies the effects of whatever did land; it never keeps state the log lacks.
 *     Commands whose events did not land are rejected; the ones that did are resolved.
 *  3. `applied` sees every durable event exactly once, in stream order, with the states before and
 *     after it.
 *  4. An actor holds at most `engineLimits.mailboxCommandsMax` commands waiting or in flight; beyond
 *     that `send` refuses with ENGINE_BUSY (backpressure, DESIGN invariant 8).
 *  5. Idle actors — nothing waiting, in flight or deferred — stay in memory up to `memory.bytesMax`
 *     (as `memory.sizeOf` counts them); beyond that the least recently used leave it, and their
 *     next command loads them from the log again. Idle actors that `memory.waiting` names (waiting
 *     for their turn, such as queued runs) have a budget of their own, `memory.waiting.bytesMax`,
 *     which keeps the first to wait: once it is full, the next to go idle leaves memory at once. A
 *     queue is served oldest first, so what stays is what is needed next, and a backlog of queued
 *     runs costs memory for its index entries, not for every run's state and input.
 */
import { isDeepStrictEqual } from 'node:util';
import { ProtocolError, ProtocolErrorCode } from '../../protocol/errors.js';
import type { EventLog, LogRecord } from '../../store/log.js';
import { engineLimits, limits } from '../lib/limits.js';

export interface DecideContext {
  readonly nowMs: number;
}

/** A kind of actor, as `actors/` defines it. */
export interface Decider<S, C, E extends { readonly type: string }> {
  initialState(): S;
  decide(state: S, command: C, ctx: DecideContext): E[];
  evolve(state: S, event: E): S;
  /**
   * `decide`, with the state its events lead to — exactly what evolving `state` by each of them
   * gives — for a decider that has it at hand while deciding (the host then evolves nothing).
   */
  decideEvolved?(state: S, command: C, ctx: DecideContext): { readonly events: E[]; readonly after: S };
  /** An actor whose state is not active leaves memory once it has nothing in flight. */
  isActive(state: S): boolean;
  /** Events that acknowledge nothing and may be written with the actor's next append. */
  deferrable?(event: E): boolean;
}

export interface ActorEffects<S, E, C = unknown> {
  /**
   * Called once the events are durable, in stream order, with the state before and after them and
   * the stream seq of the first of them.
   */
  applied(id: string, before: S, events: readonly E[], after: S, firstSeq: number): void;
  /** Called after an actor was reloaded from the log following a failed append. */
  reconciled(id: string, state: S): void;
  /**
   * Called for every command as soon as it is decided — with its events before they are appended,
   * or with none — for effects that may run ahead of durability because they acknowledge nothing
   * (queueing a task, sending an assignment, freeing a slot). Called in decision order.
   */
  decided(id: string, before: S, events: readonly E[], after: S, command: C): void;
}

export interface ActorHostOptions<S, C, E extends { readonly type: string }> {
  readonly log: EventLog;
  readonly clock: () => number;
  readonly decider: Decider<S, C, E>;
  /** The stream an actor's events live in. */
  readonly stream: (id: string) => string;
  readonly effects: ActorEffects<S, E, C>;
  /** An active actor's state is snapshotted each time its stream grows by this many events. */
  readonly snapshotEveryEvents?: number;
  /** How long deferrable events may wait for the next append before they are written alone. */
  readonly deferMs?: number;
  /** The memory idle actors may hold (invariant 5); without it, every active actor stays. */
  readonly memory?: {
    readonly bytesMax: number;
    sizeOf(state: S): number;
    /** Idle actors waiting for their turn, held to a budget of their own (invariant 5). */
    readonly waiting?: { readonly bytesMax: number; is(state: S): boolean };
  };
}

interface Pending<C, E> {
  readonly command: C;
  resolve(events: E[]): void;
  reject(error: unknown): void;
}

/** Events decided together and appended (or to be appended) as one, and the commands waiting on them. */
interface Batch<S, C, E> {
  readonly before: S;
  after: S;
  readonly events: E[];
  readonly firstSeq: number;
  /** The commands that decided the events, then commands that decided nothing after them. */
  readonly waiting: Array<{ pending: Pending<C, E>; events: E[] }>;
  settled: boolean;
  /** For deferred events: when they are written alone if no append takes them along first. */
  dueMs: number;
}

interface Actor<S, C, E> {
  readonly id: string;
  /** The state with every decided event, durable or still in flight. */
  state: S;
  version: number;
  /** The state with only the durable events. */
  durableState: S;
  durableVersion: number;
  /** Activation, or a reload after a failed append, in progress. */
  loading: boolean;
  /** Replaced by a fresh array when it empties, so an idle actor holds no spare capacity. */
  mailbox: Array<Pending<C, E>>;
  scheduled: boolean;
  inFlight: Array<Batch<S, C, E>>;
  /** Deferrable events decided after the last append, not yet written. */
  deferred: Batch<S, C, E> | undefined;
  /** The first append failure not yet recovered from. */
  failure: unknown;
}

/** An actor's state from the log: its newest snapshot, then the events after it (all of them, paged). */
export async function loadActor<S, E>(log: EventLog, stream: string, initial: S, evolve: (state: S, event: E) => S): Promise<{ state: S; version: number; records: LogRecord[] }> {
  const snapshot = await log.loadSnapshot(stream);
  let state = snapshot === undefined ? initial : (snapshot.state as S);
  let version = snapshot?.seq ?? 0;
  const records: LogRecord[] = [];
  for (;;) {
    const page = await log.readStream(stream, { fromSeq: version + 1 });
    for (const record of page) state = evolve(state, record.data as E);
    records.push(...page);
    version += page.length;
    if (page.length < limits.readRecordsMax) break;
  }
  return { state, version, records };
}

export class ActorHost<S, C, E extends { readonly type: string }> {
  readonly #actors = new Map<string, Actor<S, C, E>>();
  readonly #log: EventLog;
  readonly #clock: () => number;
  readonly #decider: Decider<S, C, E>;
  readonly #stream: (id: string) => string;
  readonly #effects: ActorEffects<S, E, C>;
  readonly #snapshotEvery: number;
  readonly #deferMs: number;
  readonly #memory: ActorHostOptions<S, C, E>['memory'];
  /** Idle actors in memory, least recently used first, with the bytes each holds. */
  readonly #idle = new Map<string, number>();
  #idleBytes = 0;
  /** Idle actors waiting for their turn, first to wait first, with the bytes each holds. */
  readonly #waiting = new Map<string, number>();
  #waitingBytes = 0;
  /**
   * Deferred batches in the order they were deferred — so in the order they are due, as each is due
   * `deferMs` after it was — from `#dueHead` on, with their actors; one timer serves them all, armed
   * for the first. A batch an append took along first is passed over.
   */
  #dueBatches: Array<Batch<S, C, E>> = [];
  #dueActors: Array<Actor<S, C, E>> = [];
  #dueHead = 0;
  #dueTimer: NodeJS.Timeout | undefined;

  constructor(options: ActorHostOptions<S, C, E>) {
    this.#log = options.log;
    this.#clock = options.clock;
    this.#decider = options.decider;
    this.#stream = options.stream;
    this.#effects = options.effects;
    this.#snapshotEvery = options.snapshotEveryEvents ?? engineLimits.runSnapshotEveryEvents;
    this.#deferMs = options.deferMs ?? engineLimits.deferredEventsWriteMs;
    this.#memory = options.memory;
  }

  /** Idle actors in memory and the bytes they hold (invariant 5), waiting ones included. */
  get idle(): { actors: number; bytes: number } {
    return { actors: this.#idle.size + this.#waiting.size, bytes: this.#idleBytes + this.#waitingBytes };
  }

  /** Idle actors in memory that wait for their turn, and the bytes they hold (invariant 5). */
  get waiting(): { actors: number; bytes: number } {
    return { actors: this.#waiting.size, bytes: this.#waitingBytes };
  }

  /** Actors in memory. */
  get activeCount(): number {
    return this.#actors.size;
  }

  /** Installs an actor rebuilt during recovery. */
  adopt(id: string, state: S, version: number): void {
    const actor = this.#newActor(id, state, version);
    this.#actors.set(id, actor);
    this.#maybePassivate(id, actor);
  }

  /** The state of an actor in memory, including events still being written. */
  peek(id: string): S | undefined {
    return this.#actors.get(id)?.state;
  }

  /** The durable state of an actor in memory. */
  peekDurable(id: string): S | undefined {
    return this.#actors.get(id)?.durableState;
  }

  /**
   * Decides a command; resolves with its events once they (and all before them) are durable.
   * With `fresh`, the caller knows the actor is new (its id was just made up, say): it starts from
   * the initial state without reading the log. Were the stream not empty after all, the append's
   * expected version would fail, the actor reload, and the command be refused (invariant 2).
   */
  send(id: string, command: C, options: { fresh?: boolean } = {}): Promise<E[]> {
    this.#busy(id);
    let actor = this.#actors.get(id);
    if (actor === undefined) {
      actor = this.#newActor(id, this.#decider.initialState(), 0);
      this.#actors.set(id, actor);
      if (options.fresh !== true) {
        actor.loading = true;
        this.#activate(id, actor);
      }
    }
    const waiting = actor.mailbox.length + actor.inFlight.length;
    if (waiting >= engineLimits.mailboxCommandsMax) {
      return Promise.reject(new ProtocolError(ProtocolErrorCode.EngineBusy, `'${id}' has ${waiting} commands waiting; retry later`));
    }
    const target = actor;
    return new Promise<E[]>((resolve, reject) => {
      target.mailbox.push({ command, resolve, reject });
      this.#schedule(id, target);
    });
  }

  #newActor(id: string, state: S, version: number): Actor<S, C, E> {
    return {
      id,
      state,
      version,
      durableState: state,
      durableVersion: version,
      loading: false,
      mailbox: [],
      scheduled: false,
      inFlight: [],
      deferred: undefined,
      failure: undefined,
    };
  }

  #activate(id: string, actor: Actor<S, C, E>): void {
    loadActor(this.#log, this.#stream(id), this.#decider.initialState(), this.#decider.evolve).then(
      ({ state, version }) => {
        actor.state = actor.durableState = state;
        actor.version = actor.durableVersion = version;
        actor.loading = false;
        this.#schedule(id, actor);
      },
      (error: unknown) => {
        if (this.#actors.get(id) === actor) this.#actors.delete(id);
        for (const pending of actor.mailbox.splice(0)) pending.reject(error);
      },
    );
  }

  /** Commands sent in one turn are decided together, once the current one is done. */
  #schedule(id: string, actor: Actor<S, C, E>): void {
    if (actor.scheduled || actor.loading || actor.failure !== undefined || actor.mailbox.length === 0) return;
    actor.scheduled = true;
    queueMicrotask(() => this.#drain(id, actor));
  }

  #drain(id: string, actor: Actor<S, C, E>): void {
    actor.scheduled = false;
    if (actor.loading || actor.failure !== undefined) return;
    const ctx: DecideContext = { nowMs: this.#clock() };
    const decider = this.#decider;
    for (let pending = actor.mailbox.shift(); pending !== undefined; pending = actor.mailbox.shift()) {
      const before = actor.state;
      let events: E[];
      let after = before;
      try {
        if (decider.decideEvolved !== undefined) ({ events, after } = decider.decideEvolved(before, pending.command, ctx));
        else events = decider.decide(before, pending.command, ctx);
      } catch (error) {
        pending.reject(error);
        continue;
      }
      if (events.length === 0) {
        this.#effects.decided(id, before, events, before, pending.command);
        // Nothing to write: it answers once everything decided before it is durable.
        const last = actor.deferred ?? actor.inFlight[actor.inFlight.length - 1];
        if (last === undefined) pending.resolve(events);
        else last.waiting.push({ pending, events });
        continue;
      }
      if (decider.decideEvolved === undefined) for (const event of events) after = decider.evolve(after, event);
      this.#effects.decided(id, before, events, after, pending.command);
      actor.state = after;
      // Joins the deferred events, or starts them, or takes them along into an append now.
      const deferrable = this.#allDeferrable(events);
      let batch = actor.deferred;
      if (batch === undefined) {
        // A batch appended at once is never added to, so it may share the command's events.
        batch = { before, after, events: deferrable ? events.slice() : events, firstSeq: actor.version + 1, waiting: [], settled: false, dueMs: 0 };
      } else {
        for (const event of events) batch.events.push(event);
      }
      batch.after = after;
      batch.waiting.push({ pending, events });
      actor.version += events.length;
      if (deferrable) {
        if (actor.deferred === undefined) this.#defer(actor, batch);
        continue;
      }
      actor.deferred = undefined;
      this.#append(id, actor, batch);
    }
    actor.mailbox = [];
    this.#maybePassivate(id, actor);
  }

  #allDeferrable(events: readonly E[]): boolean {
    const deferrable = this.#decider.deferrable;
    if (deferrable === undefined) return false;
    for (const event of events) if (!deferrable(event)) return false;
    return true;
  }

  /** The batch waits for the actor's next append, or `deferMs`, whichever comes first. */
  #defer(actor: Actor<S, C, E>, batch: Batch<S, C, E>): void {
    actor.deferred = batch;
    batch.dueMs = performance.now() + this.#deferMs;
    this.#dueBatches.push(batch);
    this.#dueActors.push(actor);
    this.#dueTimer ??= setTimeout(() => this.#flushDue(), this.#deferMs);
  }

  /** Writes the deferred batches that are due, then waits for the next. */
  #flushDue(): void {
    this.#dueTimer = undefined;
    const batches = this.#dueBatches;
    const actors = this.#dueActors;
    const now = performance.now();
    let head = this.#dueHead;
    for (; head < batches.length; head++) {
      const batch = batches[head] as Batch<S, C, E>;
      const actor = actors[head] as Actor<S, C, E>;
      if (actor.deferred !== batch) continue;
      if (batch.dueMs > now) break;
      this.#flushDeferred(actor);
    }
    if (head === batches.length) {
      this.#dueBatches = [];
      this.#dueActors = [];
      this.#dueHead = 0;
      return;
    }
    if (head > 1024 && head * 2 > batches.length) {
      batches.splice(0, head);
      actors.splice(0, head);
      head = 0;
    }
    this.#dueHead = head;
    this.#dueTimer = setTimeout(() => this.#flushDue(), Math.max(0, (batches[head] as Batch<S, C, E>).dueMs - now));
  }

  #flushDeferred(actor: Actor<S, C, E>): void {
    // While a failure is being recovered from, the recovery settles the deferred events.
    if (actor.failure !== undefined || actor.loading) return;
    const deferred = actor.deferred;
    actor.deferred = undefined;
    if (deferred !== undefined) this.#append(actor.id, actor, deferred);
  }

  #append(id: string, actor: Actor<S, C, E>, batch: Batch<S, C, E>): void {
    actor.inFlight.push(batch);
    let appended: Promise<unknown>;
    try {
      appended = this.#log.append(
        this.#stream(id),
        batch.events.map((event) => ({ type: event.type, data: event })),
        { expectedVersion: batch.firstSeq - 1 },
      );
    } catch (error) {
      appended = Promise.reject(error);
    }
    appended.then(
      () => this.#settled(id, actor, batch, undefined),
      (error: unknown) => this.#settled(id, actor, batch, error ?? new Error('append failed')),
    );
  }

  #settled(id: string, actor: Actor<S, C, E>, entry: Batch<S, C, E>, error: unknown): void {
    entry.settled = true;
    if (error !== undefined) actor.failure ??= error;
    if (actor.failure !== undefined) {
      if (actor.inFlight.every((e) => e.settled)) void this.#recover(id, actor);
      return;
    }
    // Invariant 3: effects in stream order, however the backend orders its acknowledgements.
    while (actor.inFlight[0]?.settled === true) {
      this.#durable(id, actor, actor.inFlight.shift() as Batch<S, C, E>);
    }
    if (actor.inFlight.length === 0) actor.inFlight = [];
    this.#maybePassivate(id, actor);
  }

  #durable(id: string, actor: Actor<S, C, E>, entry: Batch<S, C, E>): void {
    const previous = actor.durableVersion;
    actor.durableState = entry.after;
    actor.durableVersion = entry.firstSeq + entry.events.length - 1;
    this.#effects.applied(id, entry.before, entry.events, entry.after, entry.firstSeq);
    const every = this.#snapshotEvery;
    if (this.#decider.isActive(entry.after) && Math.floor(actor.durableVersion / every) !== Math.floor(previous / every)) {
      // Best effort: a missing snapshot only makes the next activation replay more.
      this.#log.saveSnapshot({ stream: this.#stream(id), seq: actor.durableVersion, state: entry.after }).catch(() => {});
    }
    for (const { pending, events } of entry.waiting) pending.resolve(events);
  }

  /** Invariant 2: the log is the truth; reload, and settle every command by what landed. */
  async #recover(id: string, actor: Actor<S, C, E>): Promise<void> {
    const error = actor.failure;
    actor.loading = true;
    const entries = actor.inFlight.splice(0);
    // Deferred events were decided on top of what failed: they are decided again, or not at all.
    const deferred = actor.deferred;
    actor.deferred = undefined;
    if (deferred !== undefined) entries.push(deferred);
    let loaded: Awaited<ReturnType<typeof loadActor<S, E>>>;
    try {
      loaded = await loadActor(this.#log, this.#stream(id), this.#decider.initialState(), this.#decider.evolve);
    } catch {
      // The log is unreachable: forget the actor; the next command activates it from the log.
      if (this.#actors.get(id) === actor) this.#actors.delete(id);
      for (const entry of entries) for (const { pending } of entry.waiting) pending.reject(error);
      for (const pending of actor.mailbox.splice(0)) pending.reject(error);
      return;
    }
    const landed = new Map(loaded.records.map((record) => [record.seq, record]));
    let intact = true;
    for (const entry of entries) {
      // Landed means these very events are there, not merely events of the same types.
      intact &&= entry.events.every((event, i) => isDeepStrictEqual(landed.get(entry.firstSeq + i)?.data, event));
      if (intact) this.#durable(id, actor, entry);
      else for (const { pending } of entry.waiting) pending.reject(error);
    }
    actor.state = actor.durableState = loaded.state;
    actor.version = actor.durableVersion = loaded.version;
    actor.failure = undefined;
    actor.loading = false;
    this.#effects.reconciled(id, loaded.state);
    this.#schedule(id, actor);
    this.#maybePassivate(id, actor);
  }

  /** Passivation: an idle actor that is not active leaves memory; the log keeps it. */
  #maybePassivate(id: string, actor: Actor<S, C, E>): void {
    if (actor.mailbox.length > 0 || actor.inFlight.length > 0 || actor.deferred !== undefined || actor.loading || actor.scheduled) return;
    if (this.#actors.get(id) !== actor) return;
    if (!this.#decider.isActive(actor.durableState)) {
      this.#actors.delete(id);
      return;
    }
    const memory = this.#memory;
    if (memory === undefined) return;
    // Invariant 5: idle and active — it may leave memory if others were used more recently…
    this.#busy(id);
    const bytes = memory.sizeOf(actor.durableState);
    const waiting = memory.waiting;
    if (waiting !== undefined && waiting.is(actor.durableState)) {
      // …or, waiting for its turn, if those that waited before it fill their budget.
      if (this.#waitingBytes + bytes > waiting.bytesMax) {
        this.#actors.delete(id);
        return;
      }
      this.#waiting.set(id, bytes);
      this.#waitingBytes += bytes;
      return;
    }
    this.#idle.set(id, bytes);
    this.#idleBytes += bytes;
    for (const [oldest, size] of this.#idle) {
      if (this.#idleBytes <= memory.bytesMax) break;
      this.#idle.delete(oldest);
      this.#idleBytes -= size;
      this.#actors.delete(oldest);
    }
  }

  /** The actor is in use: it is not idle until it is again. */
  #busy(id: string): void {
    const bytes = this.#idle.get(id);
    if (bytes !== undefined) {
      this.#idle.delete(id);
      this.#idleBytes -= bytes;
      return;
    }
    const waiting = this.#waiting.get(id);
    if (waiting === undefined) return;
    this.#waiting.delete(id);
    this.#waitingBytes -= waiting;
  }
}
