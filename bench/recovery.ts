/**
 * W6, recovery: how long the engine takes from start to accepting work when its log already holds
 * `events` events. The log is built as the engine would have written it: run histories of the
 * three-task chain decided by the real workflow-run decider (`decide` / `evolve`) and appended by
 * the real LMDB log, mostly finished runs plus one in `activeEvery` left queued or running. Then
 * `kindling start` is timed until `/health` answers and until a trigger → result round trip
 * through a worker (already booted in its own process) succeeds — twice: first on the log as
 * built, which has no recovery checkpoint (the engine reads all of it), then again after that
 * engine stopped (SIGTERM), which left a checkpoint as a running engine does every 50,000 appends.
 *
 * The history's runs belong to a workflow no worker serves (`bench-history`), so the ones left
 * active stay queued and the round trip measures recovery, not their draining.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { type DecideContext, decide, evolve, initialState, type RunCommand, type RunEvent, type RunState } from '../actors/workflow-run.js';
import { encodePayload } from '../protocol/payload.js';
import { runStream } from '../src/engine/run-host.js';
import { HatchetClient } from '../src/sdk/index.js';
import { LmdbLog } from '../store/lmdb.js';
import { now } from './driver.js';
import type { Progress } from './progress.js';
import { processCpuSeconds, processPeakRssMb } from './processes.js';
import { startKindling } from './servers.js';
import { chainStep } from './subjects/task-body.js';
import { WorkerPool } from './worker-pool.js';
import { type LogLevel, noopTask, type RecoveryWorkload } from './workload.js';

export interface RecoveryFigures {
  /** Which start: on the log as built, or after an engine stopped and left a checkpoint. */
  readonly start: 'no checkpoint' | 'from checkpoint';
  /** Records the engine read from the log at start (from its own report). */
  readonly recordsRead: number | undefined;
  readonly events: number;
  readonly finishedRuns: number;
  readonly activeRuns: number;
  /** Spawning `kindling start` to its first `/health` answer. */
  readonly listenSeconds: number;
  /** Spawning `kindling start` to the first trigger → result round trip. */
  readonly firstResultSeconds: number;
  readonly serverCpuSeconds: number;
  readonly serverPeakRssMb: number;
}

function declareChain(hatchet: HatchetClient, name: string) {
  const chain = hatchet.workflow<{ n: number }>({ name });
  const a = chain.task({ name: 'a', fn: (input) => chainStep(input) });
  const b = chain.task({ name: 'b', parents: [a], fn: async (_input, ctx) => chainStep(await ctx.parentOutput(a)) });
  chain.task({ name: 'c', parents: [b], fn: async (_input, ctx) => chainStep(await ctx.parentOutput(b)) });
  return chain;
}

/** One run's history as the decider writes it: finished, or stopped while queued or running. */
function history(spec: ReturnType<ReturnType<typeof declareChain>['spec']>, n: number, startMs: number, end: 'finished' | 'queued' | 'running'): RunEvent[] {
  let state: RunState = initialState();
  const events: RunEvent[] = [];
  let clock = startMs;
  const apply = (command: RunCommand) => {
    clock += 2;
    const ctx: DecideContext = { nowMs: clock };
    for (const event of decide(state, command, ctx)) {
      state = evolve(state, event);
      events.push(event);
    }
  };
  const runId = randomUUID();
  const taskIds = Object.fromEntries(spec.tasks.map((task) => [task.name, randomUUID()]));
  apply({ type: 'CreateRun', runId, tenantId: 'bench', taskIds, workflow: spec, input: encodePayload({ n }, 'input'), additionalMetadata: {}, priority: 1 });
  let value = { n };
  for (const task of spec.tasks) {
    if (end === 'queued') break;
    const attempt = state.kind === 'none' ? 0 : (state.tasks[task.name]?.attempt ?? 0);
    apply({ type: 'AssignTask', task: task.name, attempt, workerId: 'bench-history-worker' });
    apply({ type: 'StartTask', task: task.name, attempt });
    if (end === 'running') break;
    value = chainStep(value);
    apply({ type: 'CompleteTask', task: task.name, attempt, output: encodePayload(value, 'output') });
  }
  return events;
}

/** Appends run histories until the log holds at least `events` events; returns the run counts. */
async function buildLog(dataDir: string, workload: RecoveryWorkload, spec: Parameters<typeof history>[0], progress: Progress) {
  // Building is not measured, so it need not wait for each fsync; what is timed is the start.
  const log = await LmdbLog.open({ path: join(dataDir, 'log'), durability: 'relaxed' });
  let appended = 0;
  let finishedRuns = 0;
  let activeRuns = 0;
  let n = 0;
  const startMs = Date.now() - 86_400_000;
  try {
    const writers = Array.from({ length: 64 }, async () => {
      while (appended < workload.events) {
        const i = n++;
        const active = i % workload.activeEvery === workload.activeEvery - 1;
        const events = history(spec, i, startMs + i, active ? (i % 2 === 0 ? 'queued' : 'running') : 'finished');
        appended += events.length;
        if (active) activeRuns++;
        else finishedRuns++;
        const runId = (events[0] as Extract<RunEvent, { type: 'RunCreated' }>).runId;
        await log.append(runStream(runId), events.map((event) => ({ type: event.type, data: event })), { expectedVersion: 'no-stream' });
        if (i % 500 === 0) progress.update(`${workload.scenario} · building the log · ${appended} events`);
      }
    });
    await Promise.all(writers);
  } finally {
    progress.clear();
    await log.close();
  }
  return { events: appended, finishedRuns, activeRuns };
}

export async function runRecovery(workload: RecoveryWorkload, progress: Progress, logLevel: LogLevel): Promise<RecoveryFigures[]> {
  // A first start creates the tenant and token and registers the workflows, as a deployment would.
  const first = await startKindling();
  const dataDir = first.dataDir;
  const token = first.token;
  let spec: Parameters<typeof history>[0];
  try {
    const hatchet = HatchetClient.init({ token, host_port: first.hostPort, log_level: 'ERROR' });
    const historyChain = declareChain(hatchet, 'bench-history');
    spec = historyChain.spec();
    await hatchet.worker('bench-registrar', { workflows: [historyChain, declareChain(hatchet, 'bench-chain')], handleKill: false });
    hatchet.close();
  } finally {
    await first.stop();
  }

  const built = await buildLog(dataDir, workload, spec, progress);
  const figures: RecoveryFigures[] = [];
  for (const start of ['no checkpoint', 'from checkpoint'] as const) {
    progress.update(`${workload.scenario} · starting the engine on ${built.events} events (${start})`);
    figures.push({ ...built, start, ...(await timeStart(dataDir, token, logLevel)) });
  }
  progress.clear();
  return figures;
}

/**
 * Spawns `kindling start` on the data directory and times it to `/health` and to a first result
 * through a worker booted beforehand in its own process; stops the engine with SIGTERM.
 */
async function timeStart(dataDir: string, token: string, logLevel: LogLevel) {
  const pool = await WorkerPool.spawn('kindling', 1);
  const spawnedAt = now();
  const server = await startKindling({ dataDir }).catch(async (error: unknown) => {
    await pool.kill();
    throw error;
  });
  try {
    const healthUrl = `http://${server.hostPort}/health`;
    while (!(await fetch(healthUrl).then((response) => response.ok, () => false))) await new Promise((resolve) => setTimeout(resolve, 5));
    const listenSeconds = (now() - spawnedAt) / 1000;
    const hatchet = HatchetClient.init({ token, host_port: server.hostPort, log_level: 'ERROR' });
    try {
      await pool.start({ hostPort: server.hostPort, token }, { slots: 100, task: noopTask, concurrency: undefined, logLevel });
      const output = (await hatchet.run('bench-chain', { n: 1 })) as { c?: { n: number } };
      if (output.c?.n !== 4) throw new Error(`the round trip after recovery returned ${JSON.stringify(output)}`);
    } finally {
      hatchet.close();
    }
    const firstResultSeconds = (now() - spawnedAt) / 1000;
    const read = server.output().match(/reading (\d+) records/);
    return {
      recordsRead: read === null ? undefined : Number(read[1]),
      listenSeconds,
      firstResultSeconds,
      serverCpuSeconds: processCpuSeconds(server.pid),
      serverPeakRssMb: processPeakRssMb(server.pid),
    };
  } finally {
    await pool.stop().catch(() => pool.kill());
    await server.stop();
  }
}
