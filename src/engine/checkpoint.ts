/**
 * Recovery checkpoints: where a restarting engine may start reading the log, and which actors were
 * active there.
 *
 * Owns: the `checkpoints` stream (one `CheckpointTaken` per checkpoint, naming where it is stored)
 * and the `checkpoint:<n>` streams holding each checkpoint's actor ids. Talks to: the log only.
 *
 * A checkpoint says "every record at or before `position` is reflected in the states of these
 * actors, and every actor active at `position` is among them". Like a snapshot it only shortens
 * recovery and holds nothing the log lacks (DESIGN invariant 4): lose it and recovery reads the
 * whole log instead.
 *
 * Invariants:
 *  1. A checkpoint is used only when every event its pointer promises is there; it is written
 *     fully before its pointer, and the previous one is deleted only after that.
 *  2. `settledPosition()` returns a position at or below which every append has settled and had
 *     its effects applied, so a checkpoint taken from memory right after it misses nothing.
 */
import { limits } from '../lib/limits.js';
import type { AppendOptions, AppendResult, EventLog, NewEvent, ReadAllOptions, ReadStreamOptions, Snapshot, Tail } from '../../store/log.js';

const POINTER_STREAM = 'checkpoints';
const IDS_PER_EVENT = 5_000;
/** Ids are at most a stream name long, so four events of ids fit one append. */
const EVENTS_PER_APPEND = 4;

/** How much of a rate limit's current window assignments have used (by queue key). */
export interface RateLimitWindow {
  readonly key: string;
  readonly startMs: number;
  readonly used: number;
}

export interface Checkpoint {
  readonly position: number;
  readonly runs: readonly string[];
  readonly workers: readonly string[];
  /** Rate-limit windows in use at `position`: what assignments before it consumed. */
  readonly rateLimitUsage?: readonly RateLimitWindow[];
}

type IdsEvent = { readonly kind: 'run' | 'worker'; readonly ids: string[] } | { readonly kind: 'rateLimitUsage'; readonly windows: RateLimitWindow[] };
/** Keys are at most ~400 characters with their tenant, so four events of windows fit one append. */
const WINDOWS_PER_EVENT = 500;
interface CheckpointTaken {
  readonly stream: string;
  readonly position: number;
  readonly events: number;
}

export async function writeCheckpoint(log: EventLog, checkpoint: Checkpoint): Promise<void> {
  const version = await log.streamVersion(POINTER_STREAM);
  const stream = `checkpoint:${version + 1}`;
  const events: NewEvent<IdsEvent>[] = [];
  for (const [kind, ids] of [['run', checkpoint.runs], ['worker', checkpoint.workers]] as const) {
    for (let i = 0; i < ids.length; i += IDS_PER_EVENT) events.push({ type: 'CheckpointIds', data: { kind, ids: ids.slice(i, i + IDS_PER_EVENT) } });
  }
  const windows = checkpoint.rateLimitUsage ?? [];
  for (let i = 0; i < windows.length; i += WINDOWS_PER_EVENT) events.push({ type: 'CheckpointIds', data: { kind: 'rateLimitUsage', windows: windows.slice(i, i + WINDOWS_PER_EVENT) } });
  for (let i = 0; i < events.length; i += EVENTS_PER_APPEND) {
    await log.append(stream, events.slice(i, i + EVENTS_PER_APPEND), { expectedVersion: i });
  }
  const taken: CheckpointTaken = { stream, position: checkpoint.position, events: events.length };
  await log.append(POINTER_STREAM, [{ type: 'CheckpointTaken', data: taken }], { expectedVersion: version });
  if (version > 0) await log.deleteStream(`checkpoint:${version}`);
}

/** The newest complete checkpoint, or undefined when there is none (recovery reads the whole log). */
export async function readCheckpoint(log: EventLog): Promise<Checkpoint | undefined> {
  const version = await log.streamVersion(POINTER_STREAM);
  if (version === 0) return undefined;
  const [pointer] = await log.readStream(POINTER_STREAM, { fromSeq: version });
  const taken = pointer?.data as CheckpointTaken | undefined;
  if (taken === undefined) return undefined;
  const runs: string[] = [];
  const workers: string[] = [];
  const rateLimitUsage: RateLimitWindow[] = [];
  let events = 0;
  for (let page = await log.readStream(taken.stream); page.length > 0; page = await log.readStream(taken.stream, { fromSeq: events + 1 })) {
    for (const record of page) {
      const data = record.data as IdsEvent;
      if (data.kind === 'rateLimitUsage') rateLimitUsage.push(...data.windows);
      else (data.kind === 'run' ? runs : workers).push(...data.ids);
    }
    events += page.length;
    if (page.length < limits.readRecordsMax) break;
  }
  // Invariant 1: an incomplete checkpoint is not one.
  if (events !== taken.events) return undefined;
  return { position: taken.position, runs, workers, rateLimitUsage };
}

/**
 * The engine's log: the log it was given, with every append in flight tracked, so a checkpoint can
 * wait for everything before a position to be applied (invariant 2).
 */
export class TrackedLog implements EventLog {
  readonly #inner: EventLog;
  readonly #inFlight = new Set<Promise<unknown>>();
  /** Appends made so far (it only grows). */
  appends = 0;
  /** Called (once per turn at most) when `every` appends were made since `markCheckpoint`. */
  readonly #due: { readonly every: number; readonly call: () => void; since: number; called: boolean };

  constructor(inner: EventLog, due: { every: number; call: () => void }) {
    this.#inner = inner;
    this.#due = { ...due, since: 0, called: false };
  }

  /** Counts appends towards the next checkpoint from here. */
  markCheckpoint(appends: number): void {
    this.#due.since = appends;
    this.#due.called = false;
  }

  get backend() {
    return this.#inner.backend;
  }

  append(stream: string, events: readonly NewEvent[], options: AppendOptions): Promise<AppendResult> {
    const appended = this.#inner.append(stream, events, options);
    this.appends += 1;
    const due = this.#due;
    if (!due.called && this.appends - due.since >= due.every) {
      due.called = true;
      queueMicrotask(due.call);
    }
    this.#inFlight.add(appended);
    const settled = () => this.#inFlight.delete(appended);
    appended.then(settled, settled);
    return appended;
  }

  /**
   * A position at or below which every append has settled and its effects have run. Appends in
   * flight when the head is read, and those started while it is read, are awaited; whatever settled
   * meanwhile has had its reactions run by the next turn of the event loop.
   */
  async settledPosition(): Promise<number> {
    const before = [...this.#inFlight];
    const position = await this.#inner.headPosition();
    await Promise.allSettled([...before, ...this.#inFlight]);
    await new Promise((resolve) => setImmediate(resolve));
    return position;
  }

  readStream(stream: string, options?: ReadStreamOptions) {
    return this.#inner.readStream(stream, options);
  }

  streamVersion(stream: string) {
    return this.#inner.streamVersion(stream);
  }

  readAll(options?: ReadAllOptions) {
    return this.#inner.readAll(options);
  }

  headPosition() {
    return this.#inner.headPosition();
  }

  tail(options?: { readonly after?: number }): Tail {
    return this.#inner.tail(options);
  }

  saveSnapshot(snapshot: Omit<Snapshot, 'timestampMs'>) {
    return this.#inner.saveSnapshot(snapshot);
  }

  loadSnapshot(stream: string) {
    return this.#inner.loadSnapshot(stream);
  }

  deleteStream(stream: string) {
    return this.#inner.deleteStream(stream);
  }

  /** The engine does not own the log: closing is its owner's call. */
  async close(): Promise<void> {}
}
