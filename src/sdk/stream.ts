/**
 * The consuming side of live streams (`hatchet.runs.subscribeToStream`): one engine subscription
 * per run on the client's connection, shared by every iterator of that run, which each get the
 * run's chunks as strings in order and end when the run ends.
 *
 * Invariants:
 *  1. An iterator yields each chunk once, in the engine's order, and ends after the last one (the
 *     engine's `streamEnd`). A subscription the engine drops (a too-slow reader) or a connection
 *     lost after the engine took the subscription rejects the iteration: chunks may have been missed.
 *  2. An iterator left early (`break`, `return()`) unsubscribes once no iterator of its run is left.
 */
import type { ServerFrame } from '../../protocol/frames.js';
import type { Connection } from './connection.js';
import { EngineError } from './connection.js';

class Listener {
  readonly chunks: string[] = [];
  ended = false;
  failure: unknown;
  #wake: (() => void) | undefined;

  push(chunk: string): void {
    this.chunks.push(chunk);
    this.#notify();
  }

  end(failure?: unknown): void {
    this.ended = true;
    this.failure = failure;
    this.#notify();
  }

  wait(): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

interface RunSubscription {
  readonly listeners: Set<Listener>;
  /** The engine took the subscription: a lost connection now means chunks may be missed. */
  acknowledged: boolean;
}

export class StreamSubscriptions {
  readonly #byRun = new Map<string, RunSubscription>();
  readonly #decoder = new TextDecoder();

  constructor(private readonly connection: () => Connection) {}

  /** Takes the stream frames of the connection; false for any other frame. */
  onFrame(frame: ServerFrame): boolean {
    if (frame.t === 'streamChunk') {
      const text = this.#decoder.decode(frame.data);
      for (const listener of this.#byRun.get(frame.runId)?.listeners ?? []) listener.push(text);
      return true;
    }
    if (frame.t === 'streamEnd') {
      this.#endRun(frame.runId, frame.error === undefined ? undefined : new EngineError(frame.error.code, frame.error.message));
      return true;
    }
    return false;
  }

  /** The connection was (re)opened: subscriptions the engine held on the lost one are gone. */
  reconnected(): void {
    for (const [runId, subscription] of this.#byRun) {
      if (subscription.acknowledged) this.#endRun(runId, new EngineError('ENGINE_UNAVAILABLE', `the connection to the engine was lost while streaming run '${runId}'; chunks may have been missed`));
    }
  }

  async *iterate(runId: string): AsyncGenerator<string, void, undefined> {
    const listener = new Listener();
    let subscription = this.#byRun.get(runId);
    if (subscription === undefined) {
      const fresh: RunSubscription = { listeners: new Set(), acknowledged: false };
      subscription = fresh;
      this.#byRun.set(runId, fresh);
      this.connection()
        .request({ t: 'subscribeStream', runId })
        .then(
          () => {
            fresh.acknowledged = true;
          },
          (error: unknown) => {
            if (this.#byRun.get(runId) === fresh) this.#endRun(runId, error);
          },
        );
    }
    subscription.listeners.add(listener);
    const mine = subscription;
    try {
      for (;;) {
        const chunk = listener.chunks.shift();
        if (chunk !== undefined) {
          yield chunk;
          continue;
        }
        if (listener.ended) {
          if (listener.failure !== undefined) throw listener.failure;
          return;
        }
        await listener.wait();
      }
    } finally {
      mine.listeners.delete(listener);
      if (mine.listeners.size === 0 && this.#byRun.get(runId) === mine) {
        this.#byRun.delete(runId);
        this.connection().send({ t: 'unsubscribeStream', runId });
      }
    }
  }

  #endRun(runId: string, failure?: unknown): void {
    const subscription = this.#byRun.get(runId);
    if (subscription === undefined) return;
    this.#byRun.delete(runId);
    for (const listener of subscription.listeners) listener.end(failure);
  }
}
