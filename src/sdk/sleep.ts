/**
 * `sleep(ms, signal?)` (Hatchet's `util/sleep`): waits without blocking the event loop; rejects
 * with `Error('Cancelled')` when the signal aborts. Not durable: a restarted worker does not
 * remember it.
 */
import { type Duration, durationToMs } from './duration.js';

export default function sleep(duration: number | Duration, signal?: AbortSignal): Promise<void> {
  const ms = durationToMs(duration);
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new Error('Cancelled'));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(new Error('Cancelled'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export { sleep };
