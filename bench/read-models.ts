/**
 * The read-model benchmark: what folding runs into the read models costs, and how fast their lists
 * answer over a large set of runs.
 *
 *   node build/bench/read-models.js [--runs 20000] [--preload 200000] [--flush 200]
 *
 * Measured: this process's CPU microseconds per run (every thread: the fold on this one, LMDB's
 * commits on its own) to fold `--runs` one-task runs — the events a no-op run has — through
 * `foldBatches`, `--flush` runs per flush, on top of `--preload` runs already there: once with each
 * run's events in one flush, once with each run spanning two (queued in one, finished in the next,
 * as most runs under load are). Then the wall time of list queries over all of them, each the
 * median of several: pages and counts, unfiltered, by status, by workflow, by both.
 * Not measured: the engine, the writer thread's messages, the log.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { RunStatus } from '../protocol/frames.js';
import { foldBatches, openReadModelDbs, type RunBatch } from '../src/engine/read-model-store.js';
import { type RunQuery, ReadModels } from '../src/engine/read-models.js';
import type { SummaryEvent } from '../src/engine/run-summary.js';
import { MemoryLog } from '../store/memory.js';

const TENANT = 'bench-tenant';
/** Ten workflows; the last gets 1% of the runs (a selective filter). */
const WORKFLOWS = Array.from({ length: 10 }, (_, i) => `workflow-${i}`);

/** A run's events, as a no-op one-task run has them, ending as `status` (a live status: not ended). */
function runEvents(n: number, atMs: number, status: RunStatus): SummaryEvent[] {
  const runId = randomUUID();
  const workflow = n % 100 === 0 ? (WORKFLOWS[9] as string) : (WORKFLOWS[n % 9] as string);
  const events: SummaryEvent[] = [
    { type: 'RunCreated', atMs, runId, tenantId: TENANT, workflow, additionalMetadata: {}, taskIds: { task: runId } },
    { type: 'TaskQueued', task: 'task', attempt: 0, atMs },
  ];
  if (status === 'QUEUED') return events;
  events.push({ type: 'TaskAssigned', task: 'task', workerId: `worker-${n % 4}`, atMs: atMs + 1 }, { type: 'TaskStarted', task: 'task', atMs: atMs + 1 });
  if (status === 'RUNNING') return events;
  if (status === 'COMPLETED') events.push({ type: 'TaskCompleted', task: 'task', atMs: atMs + 2 });
  else if (status === 'FAILED') events.push({ type: 'TaskFailed', task: 'task', error: 'boom', atMs: atMs + 2 });
  else events.push({ type: 'TaskCancelled', task: 'task', reason: 'cancelled', atMs: atMs + 2 });
  events.push({ type: 'RunFinished', status, atMs: atMs + 2 });
  return events;
}

/** Mostly completed, some failed and cancelled, a few still queued or running. */
function statusOf(n: number): RunStatus {
  const r = n % 100;
  return r < 2 ? 'FAILED' : r < 3 ? 'CANCELLED' : r < 4 ? 'QUEUED' : r < 5 ? 'RUNNING' : 'COMPLETED';
}

const batchOf = (events: SummaryEvent[], firstSeq: number, from = 0, to = events.length): RunBatch => {
  const created = events[0] as Extract<SummaryEvent, { type: 'RunCreated' }>;
  return { runId: created.runId, tenantId: TENANT, firstSeq: firstSeq + from, events: events.slice(from, to) };
};

const cpuMicros = () => {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
};

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '20000' }, preload: { type: 'string', default: '200000' }, flush: { type: 'string', default: '200' } } });
  const runs = Number(values.runs);
  const preload = Number(values.preload);
  const perFlush = Number(values.flush);
  const directory = mkdtempSync(join(tmpdir(), 'kindling-bench-read-'));
  let n = 0;
  let position = 0;
  const at = (i: number) => 1_700_000_000_000 + i * 10;
  try {
    const dbs = openReadModelDbs(directory, { reset: true });
    const started = performance.now();
    for (let done = 0; done < preload; ) {
      const batches: RunBatch[] = [];
      for (let i = 0; i < 1000 && done < preload; i++, done++, n++) batches.push(batchOf(runEvents(n, at(n), statusOf(n)), 1));
      await foldBatches(dbs, batches, ++position);
    }
    console.log(`preloaded ${preload.toLocaleString()} runs in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    // One flush per run: every event of a run in the same flush.
    let before = cpuMicros();
    for (let done = 0; done < runs; ) {
      const batches: RunBatch[] = [];
      for (let i = 0; i < perFlush && done < runs; i++, done++, n++) batches.push(batchOf(runEvents(n, at(n), 'COMPLETED'), 1));
      await foldBatches(dbs, batches, ++position);
    }
    const oneFlush = (cpuMicros() - before) / runs;

    // Two flushes per run: created and queued in one, assigned, started and finished in the next.
    before = cpuMicros();
    let carried: RunBatch[] = [];
    for (let done = 0; done < runs || carried.length > 0; ) {
      const batches = carried;
      carried = [];
      for (let i = 0; i < perFlush && done < runs; i++, done++, n++) {
        const events = runEvents(n, at(n), 'COMPLETED');
        batches.push(batchOf(events, 1, 0, 2));
        carried.push(batchOf(events, 1, 2));
      }
      await foldBatches(dbs, batches, ++position);
    }
    const twoFlushes = (cpuMicros() - before) / runs;
    await dbs.root.close();
    console.log(`fold: ${oneFlush.toFixed(1)} µs CPU per run in one flush, ${twoFlushes.toFixed(1)} µs per run spanning two (${perFlush} runs a flush)`);

    const models = ReadModels.open(new MemoryLog(), { path: directory });
    await models.fresh();
    const time = (label: string, query: Omit<RunQuery, 'tenantId' | 'offset' | 'limit'>, offset = 0) => {
      const samples: number[] = [];
      let total = 0;
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        total = models.listRuns({ tenantId: TENANT, ...query, offset, limit: 50 }).total;
        samples.push(performance.now() - t0);
      }
      samples.sort((a, b) => a - b);
      console.log(`  ${label.padEnd(44)} ${(samples[2] as number).toFixed(1).padStart(8)} ms  (${total.toLocaleString()} match)`);
    };
    console.log(`lists over ${n.toLocaleString()} runs (a page of 50 and the count, median of 5):`);
    time('all', {});
    time('all, offset 10,000', {}, 10_000);
    time('all, the newest 1% by time', { sinceMs: at(Math.floor(n * 0.99)) });
    time('status COMPLETED', { statuses: ['COMPLETED'] });
    time('status FAILED', { statuses: ['FAILED'] });
    time('status QUEUED or RUNNING', { statuses: ['QUEUED', 'RUNNING'] });
    time('workflow (11% of runs)', { workflows: [WORKFLOWS[0] as string] });
    time('workflow (1% of runs)', { workflows: [WORKFLOWS[9] as string] });
    time('workflow (11%) + FAILED', { workflows: [WORKFLOWS[0] as string], statuses: ['FAILED'] });
    time('workflow (1%) + COMPLETED', { workflows: [WORKFLOWS[9] as string], statuses: ['COMPLETED'] });
    time('worker (25% of runs)', { workerId: 'worker-1' });
    const t0 = performance.now();
    const counts = models.countTasks({ tenantId: TENANT, statuses: ['QUEUED', 'RUNNING'] });
    console.log(`  ${'task counts of live runs'.padEnd(44)} ${(performance.now() - t0).toFixed(1).padStart(8)} ms  (${(counts.QUEUED + counts.RUNNING).toLocaleString()} tasks)`);
    await models.close();
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

await main();
