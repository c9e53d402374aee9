/**
 * A tail for logs that live in this process (memory, LMDB): page through `readAll`, then sleep
 * until the log says something was committed. Because the cursor is the last delivered position,
 * every record is delivered once and in order however commits and reads interleave (log
 * invariant 7), and memory stays bounded by one page however far behind the consumer is.
 */
import { deferred } from '../src/lib/deferred.js';
import { limits } from '../src/lib/limits.js';
import type { LogRecord, Tail } from './log.js';

/** Wakes tails when the log commits, and ends them when it closes. */
export class CommitSignal {
  #next = deferred();
  #closed = false;

  get closed(): boolean {
    return this.#closed;
  }

  /** A promise that settles at the next commit (or close). Take it before reading, not after. */
  next(): Promise<void> {
    return this.#next.promise;
  }

  notify(): void {
    const current = this.#next;
    this.#next = deferred();
    current.resolve();
  }

  close(): void {
    this.#closed = true;
    this.#next.resolve();
  }
}

type ReadPage = (after: number, limit: number) => Promise<LogRecord[]>;

export function pollingTail(readPage: ReadPage, signal: CommitSignal, after: number): Tail {
  let position = after;
  let closed = false;
  const stopped = deferred();
  return {
    async *[Symbol.asyncIterator]() {
      while (!closed && !signal.closed) {
        const committed = signal.next();
        const page = await readPage(position, limits.tailBufferRecordsMax);
        for (const record of page) {
          if (closed) return;
          position = record.position;
          yield record;
        }
        if (page.length === 0) await Promise.race([committed, stopped.promise]);
      }
    },
    async close() {
      closed = true;
      stopped.resolve();
    },
  };
}
