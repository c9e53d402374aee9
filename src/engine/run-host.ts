/**
 * The actor host for workflow runs: a bounded mailbox per run, one command at a time, and
 * `decide → append (expected version) → evolve → effects` (STYLE practice 1).
 *
 * Owns: which runs are in memory (activation from the newest snapshot and the events after it,
 * passivation once finished), snapshots of long runs,
 * and the order of commands per run. Talks to: the log (appends, reads for activation), and the
 * engine through `RunEffects`, which it calls only after an append is durable (DESIGN invariant 1).
 *
 * Invariants:
 *  1. A run's commands are decided one at a time, in arrival order, against the state the log
 *     holds; appends carry the version they were decided at, so a second writer is a conflict.
 *  2. After a failed append the actor reloads its state from the log before deciding again: it
 *     never keeps state the log does not have.
 *  3. A mailbox holds at most `engineLimits.mailboxCommandsMax` commands; beyond that `send`
 *     refuses with ENGINE_BUSY (backpressure, DESIGN invariant 8).
 */
import { type DecideContext, decide, evolve, initialState, type RunCommand, type RunEvent, type RunState } from '../../actors/workflow-run.js';
import { ProtocolError, ProtocolErrorCode } from '../../protocol/errors.js';
import type { EventLog, LogRecord } from '../../store/log.js';
import { engineLimits, limits } from '../lib/limits.js';

export const runStream = (runId: string) => `run:${runId}`;

export interface RunEffects {
  /** Called once the events are durable, with the state before and after them. */
  applied(runId: string, before: RunState, events: readonly RunEvent[], after: RunState): void;
  /** Called after a run was reloaded from the log, whose effects may not all have run. */
  reconciled(runId: string, state: RunState): void;
  /**
   * Called with freshly decided events before they are appended, for the one effect that may run
   * ahead of durability: sending an assignment (an assignment is not an acknowledgement; if the
   * append fails, the worker's result for it is fenced and the task is assigned again).
   */
  decided(runId: string, state: RunState, events: readonly RunEvent[]): void;
}

interface Pending {
  readonly command: RunCommand;
  resolve(events: RunEvent[]): void;
  reject(error: unknown): void;
}

interface RunActor {
  state: RunState;
  version: number;
  loaded: Promise<unknown> | undefined;
  readonly mailbox: Pending[];
  draining: boolean;
}

/** A run's state from the log: its newest snapshot, then the events after it (all of them, paged). */
export async function loadRun(log: EventLog, runId: string): Promise<{ state: RunState; version: number; records: LogRecord[] }> {
  const stream = runStream(runId);
  const snapshot = await log.loadSnapshot(stream);
  let state = snapshot === undefined ? initialState() : (snapshot.state as RunState);
  let version = snapshot?.seq ?? 0;
  const records: LogRecord[] = [];
  for (;;) {
    const page = await log.readStream(stream, { fromSeq: version + 1 });
    for (const record of page) state = evolve(state, record.data as RunEvent);
    records.push(...page);
    version += page.length;
    if (page.length < limits.readRecordsMax) break;
  }
  return { state, version, records };
}

export class RunHost {
  readonly #actors = new Map<string, RunActor>();

  constructor(
    private readonly log: EventLog,
    private readonly clock: () => number,
    private readonly effects: RunEffects,
  ) {}

  get activeCount(): number {
    return this.#actors.size;
  }

  /** Installs a run rebuilt during recovery. */
  adopt(runId: string, state: RunState, version: number): void {
    this.#actors.set(runId, { state, version, loaded: undefined, mailbox: [], draining: false });
  }

  /** The in-memory state of a run, when it is active. */
  peek(runId: string): RunState | undefined {
    return this.#actors.get(runId)?.state;
  }

  send(runId: string, command: RunCommand): Promise<RunEvent[]> {
    let actor = this.#actors.get(runId);
    if (actor === undefined) {
      const created: RunActor = { state: initialState(), version: 0, loaded: undefined, mailbox: [], draining: false };
      created.loaded = this.#load(runId, created);
      this.#actors.set(runId, created);
      actor = created;
    }
    if (actor.mailbox.length >= engineLimits.mailboxCommandsMax) {
      return Promise.reject(new ProtocolError(ProtocolErrorCode.EngineBusy, `run ${runId} has ${actor.mailbox.length} commands waiting; retry later`));
    }
    return new Promise<RunEvent[]>((resolve, reject) => {
      (actor as RunActor).mailbox.push({ command, resolve, reject });
      if (!(actor as RunActor).draining) void this.#drain(runId, actor as RunActor);
    });
  }

  /** Activation: returns the events read after the snapshot. */
  async #load(runId: string, actor: RunActor): Promise<LogRecord[]> {
    const { state, version, records } = await loadRun(this.log, runId);
    actor.state = state;
    actor.version = version;
    return records;
  }

  /** Every `runSnapshotEveryEvents` events an active run's state is saved, to shorten activation. */
  #maybeSnapshot(runId: string, actor: RunActor, previousVersion: number): void {
    const every = engineLimits.runSnapshotEveryEvents;
    if (actor.state.kind !== 'active' || Math.floor(actor.version / every) === Math.floor(previousVersion / every)) return;
    // Best effort: a missing snapshot only makes the next activation replay more.
    this.log.saveSnapshot({ stream: runStream(runId), seq: actor.version, state: actor.state }).catch(() => {});
  }

  async #drain(runId: string, actor: RunActor): Promise<void> {
    actor.draining = true;
    try {
      if (actor.loaded !== undefined) {
        try {
          await actor.loaded;
          actor.loaded = undefined;
        } catch (error) {
          this.#actors.delete(runId);
          for (const pending of actor.mailbox.splice(0)) pending.reject(error);
          return;
        }
      }
      for (let pending = actor.mailbox.shift(); pending !== undefined; pending = actor.mailbox.shift()) {
        const ctx: DecideContext = { nowMs: this.clock() };
        let events: RunEvent[] | undefined;
        try {
          events = decide(actor.state, pending.command, ctx);
          if (events.length > 0) {
            this.effects.decided(runId, actor.state, events);
            await this.log.append(runStream(runId), events.map((event) => ({ type: event.type, data: event })), { expectedVersion: actor.version });
          }
        } catch (error) {
          // Invariant 2: the log is the truth; reload before deciding anything else. An append can
          // fail ambiguously (a JetStream timeout): whatever did land gets its effects now.
          const before = actor.state;
          const beforeVersion = actor.version;
          let records: LogRecord[];
          try {
            records = await this.#load(runId, actor);
          } catch {
            // The log is still unreachable: stop here; the next drain loads (or fails) first.
            actor.loaded = this.#load(runId, actor);
            actor.loaded.catch(() => {});
            pending.reject(error);
            break;
          }
          const landed = records.filter((record) => record.seq > beforeVersion).map((record) => record.data as RunEvent);
          if (landed.length > 0) this.effects.applied(runId, before, landed, actor.state);
          this.effects.reconciled(runId, actor.state);
          const same = events !== undefined && landed.length === events.length && landed.every((event, i) => event.type === events?.[i]?.type);
          if (same) pending.resolve(landed);
          else pending.reject(error);
          continue;
        }
        if (events === undefined) continue;
        const before = actor.state;
        const previousVersion = actor.version;
        for (const event of events) actor.state = evolve(actor.state, event);
        actor.version += events.length;
        if (events.length > 0) {
          this.effects.applied(runId, before, events, actor.state);
          this.#maybeSnapshot(runId, actor, previousVersion);
        }
        pending.resolve(events);
      }
    } finally {
      actor.draining = false;
    }
    if (actor.mailbox.length === 0 && actor.state.kind !== 'active' && this.#actors.get(runId) === actor) {
      // Passivation: a finished (or never created) run leaves memory; the log keeps it.
      this.#actors.delete(runId);
    } else if (actor.mailbox.length > 0) {
      void this.#drain(runId, actor);
    }
  }
}
