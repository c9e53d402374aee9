/**
 * The read models' writer: a worker thread that owns every write to the read-model environment,
 * so folding runs into rows and index entries — a few LMDB puts per run — costs the engine's
 * thread nothing but handing over each run's lean events (read-models.ts).
 *
 * Talks to: the engine's thread only, by messages (`WriterRequest` → `WriterReply`), answered in
 * the order they came.
 *
 * Invariants:
 *  1. Requests are carried out one at a time, in order: a fold's transaction is committed before
 *     the next request starts, so the reply to a request means its writes (and all before) are
 *     stored.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { foldBatches, openReadModelDbs, type RunBatch, removeRun, replaceRun } from './read-model-store.js';
import type { RunSummary } from './run-summary.js';

export type WriterRequest =
  | { readonly id: number; readonly op: 'fold'; readonly batches: readonly RunBatch[]; readonly position: number }
  | { readonly id: number; readonly op: 'replace'; readonly row: RunSummary }
  | { readonly id: number; readonly op: 'remove'; readonly tenantId: string; readonly runId: string }
  | { readonly id: number; readonly op: 'close' };

export type WriterReply = { readonly id: number; readonly ok: true; readonly gaps?: Array<{ runId: string; tenantId: string }> } | { readonly id: number; readonly ok: false; readonly error: string };

const port = parentPort;
if (port !== null) {
  const dbs = openReadModelDbs((workerData as { directory: string }).directory);
  let queue: Promise<void> = Promise.resolve();
  const carryOut = async (request: WriterRequest): Promise<{ gaps?: Array<{ runId: string; tenantId: string }> }> => {
    if (request.op === 'fold') return { gaps: await foldBatches(dbs, request.batches, request.position) };
    if (request.op === 'replace') await replaceRun(dbs, request.row);
    else if (request.op === 'remove') await removeRun(dbs, request.tenantId, request.runId);
    else await dbs.root.close();
    return {};
  };
  port.on('message', (request: WriterRequest) => {
    // Invariant 1.
    queue = queue.then(async () => {
      let reply: WriterReply;
      try {
        reply = { id: request.id, ok: true, ...(await carryOut(request)) };
      } catch (error) {
        reply = { id: request.id, ok: false, error: error instanceof Error ? error.message : String(error) };
      }
      port.postMessage(reply);
    });
  });
}
