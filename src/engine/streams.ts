/**
 * Live streams of task output: the chunks a task sends with `ctx.putStream`, passed on to the
 * connections subscribed to its run (`runs.subscribeToStream`), and an end once the run finishes.
 *
 * Invariants:
 *  1. Ephemeral: nothing here is written to the log. A chunk goes to the subscribers the moment it
 *     arrives; a restart loses every stream (a subscription, like its connection, ends with it).
 *  2. Order: a subscriber gets a run's chunks in the order the engine received them, each once,
 *     then exactly one `streamEnd`. The end follows the run's `RunFinished` being durable, which
 *     follows the last result, which follows every chunk of that attempt on the worker's connection.
 *  3. Late subscribers: the newest chunks of each run are kept (bounded per run and in all, see
 *     `engineLimits.streamKept…`), also for a while after the run ends; a subscription gets those
 *     first, so one opened before the first chunk — or soon enough after — misses nothing.
 *  4. Bounded memory: the engine buffers nothing per subscriber beyond the socket's own send buffer.
 *     A connection with more than `streamSubscriberBufferBytesMax` unsent loses the subscription a
 *     chunk was for, with a `streamEnd` carrying STREAM_SUBSCRIBER_TOO_SLOW; the connection stays.
 *  5. Tenants: the engine checks that a run is the subscriber's tenant's before subscribing it and
 *     that a chunk comes from the worker holding its attempt (engine.ts); kept chunks carry their
 *     tenant, so another tenant's run reads as not found.
 */
import { encodeFrame } from '../../protocol/codec.js';
import { ProtocolError, ProtocolErrorCode } from '../../protocol/errors.js';
import type { FinishedRun, ServerFrame } from '../../protocol/frames.js';
import { BoundedMap } from '../lib/bounded-map.js';
import { engineLimits } from '../lib/limits.js';

/** What streams need of a connection (the engine's `Session` is one). */
export interface Subscriber {
  readonly open: boolean;
  /** Bytes sent to it that the socket has not written yet. */
  readonly bufferedBytes?: number;
  send(frame: ServerFrame | Uint8Array): void;
}

export interface StreamChunk {
  readonly taskId: string;
  readonly attempt: number;
  readonly index: number;
  readonly data: Uint8Array;
}

type EndStatus = FinishedRun['status'];

interface Kept {
  readonly tenantId: string;
  readonly chunks: StreamChunk[];
  bytes: number;
  /** Set once the run finished: a subscription then gets the kept chunks and ends at once. */
  ended?: EndStatus;
}

/** What one kept chunk costs, roughly: its bytes and its envelope. */
const chunkCost = (chunk: StreamChunk): number => chunk.data.length + 64 + chunk.taskId.length;

export class RunStreams {
  readonly #kept = new BoundedMap<string, Kept>(engineLimits.streamKeptRunsMax, { bytesMax: engineLimits.streamKeptBytesMax, sizeOf: (kept) => kept.bytes + 128 });
  readonly #subscribers = new Map<string, Set<Subscriber>>();
  readonly #bySubscriber = new Map<Subscriber, Set<string>>();

  /** The tenant of a run whose chunks are kept, if any are. */
  tenantOf(runId: string): string | undefined {
    return this.#kept.get(runId)?.tenantId;
  }

  /** A chunk from the worker holding its attempt (the engine checked that) of a run of `tenantId`. */
  put(runId: string, tenantId: string, { taskId, attempt, index, data }: StreamChunk): void {
    const chunk = { taskId, attempt, index, data };
    if (chunk.data.length > engineLimits.streamChunkBytesMax) {
      throw new ProtocolError(ProtocolErrorCode.StreamChunkTooLarge, `a stream chunk is at most ${engineLimits.streamChunkBytesMax} bytes; this one is ${chunk.data.length}: send it in smaller pieces`);
    }
    let kept = this.#kept.get(runId);
    // A run streaming again after it ended was replayed: its stream starts afresh. (Chunks may come
    // before the run's creation is durable — a task is assigned as soon as that is decided — so
    // nothing but a new chunk resets a stream.)
    if (kept === undefined || kept.ended !== undefined) kept = { tenantId, chunks: [], bytes: 0 };
    kept.chunks.push(chunk);
    kept.bytes += chunkCost(chunk);
    while (kept.chunks.length > engineLimits.streamKeptChunksPerRunMax || kept.bytes > engineLimits.streamKeptBytesPerRunMax) {
      kept.bytes -= chunkCost(kept.chunks.shift() as StreamChunk);
    }
    // Set again: the map counts its bytes anew and the run becomes the most recent.
    this.#kept.set(runId, kept);
    const subscribers = this.#subscribers.get(runId);
    if (subscribers === undefined) return;
    const bytes = encodeFrame({ t: 'streamChunk', runId, taskId: chunk.taskId, attempt: chunk.attempt, index: chunk.index, data: chunk.data });
    for (const session of subscribers) this.#deliver(session, runId, bytes);
  }

  /**
   * Subscribes a connection to a run of its tenant (the engine checked), `finished` with the run's
   * status if it has ended: the kept chunks go out at once, then the end if the run is over.
   */
  subscribe(session: Subscriber, runId: string, finished?: EndStatus): void {
    if (!session.open) return;
    const mine = this.#bySubscriber.get(session);
    if (mine?.has(runId) === true) return;
    if ((mine?.size ?? 0) >= engineLimits.streamSubscriptionsPerConnectionMax) {
      throw new ProtocolError(ProtocolErrorCode.TooManySubscriptions, `a connection subscribes to at most ${engineLimits.streamSubscriptionsPerConnectionMax} streams at once; unsubscribe from one first`);
    }
    const kept = this.#kept.get(runId);
    this.#add(session, runId);
    for (const chunk of kept?.chunks ?? []) {
      if (!this.#deliver(session, runId, encodeFrame({ t: 'streamChunk', runId, taskId: chunk.taskId, attempt: chunk.attempt, index: chunk.index, data: chunk.data }))) return;
    }
    const ended = kept?.ended ?? finished;
    if (ended !== undefined) this.#end(session, runId, { status: ended });
  }

  /** Ends a subscription at the subscriber's request (no `streamEnd`). */
  unsubscribe(session: Subscriber, runId: string): void {
    this.#remove(session, runId);
  }

  /** The connection closed: its subscriptions go. */
  sessionClosed(session: Subscriber): void {
    for (const runId of this.#bySubscriber.get(session) ?? []) this.#subscribers.get(runId)?.delete(session);
    for (const runId of this.#bySubscriber.get(session) ?? []) if (this.#subscribers.get(runId)?.size === 0) this.#subscribers.delete(runId);
    this.#bySubscriber.delete(session);
  }

  /** The run's end is durable: every subscription ends; kept chunks stay for late subscribers. */
  runFinished(runId: string, status: EndStatus): void {
    const kept = this.#kept.get(runId);
    if (kept !== undefined) kept.ended = status;
    for (const session of this.#subscribers.get(runId) ?? []) this.#end(session, runId, { status });
  }

  /** Sends a chunk unless the connection is too far behind, in which case its subscription ends. */
  #deliver(session: Subscriber, runId: string, bytes: Uint8Array): boolean {
    if ((session.bufferedBytes ?? 0) > engineLimits.streamSubscriberBufferBytesMax) {
      this.#end(session, runId, {
        error: { code: ProtocolErrorCode.StreamSubscriberTooSlow, message: `the connection has more than ${engineLimits.streamSubscriberBufferBytesMax} bytes unread; its subscription to run '${runId}' was dropped` },
      });
      return false;
    }
    session.send(bytes);
    return true;
  }

  #end(session: Subscriber, runId: string, end: { status?: EndStatus; error?: { code: string; message: string } }): void {
    this.#remove(session, runId);
    session.send({ t: 'streamEnd', runId, ...end });
  }

  #add(session: Subscriber, runId: string): void {
    let subscribers = this.#subscribers.get(runId);
    if (subscribers === undefined) {
      subscribers = new Set();
      this.#subscribers.set(runId, subscribers);
    }
    subscribers.add(session);
    let mine = this.#bySubscriber.get(session);
    if (mine === undefined) {
      mine = new Set();
      this.#bySubscriber.set(session, mine);
    }
    mine.add(runId);
  }

  #remove(session: Subscriber, runId: string): void {
    const subscribers = this.#subscribers.get(runId);
    subscribers?.delete(session);
    if (subscribers?.size === 0) this.#subscribers.delete(runId);
    const mine = this.#bySubscriber.get(session);
    mine?.delete(runId);
    if (mine?.size === 0) this.#bySubscriber.delete(session);
  }
}
