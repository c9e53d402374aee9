/**
 * The driver: runs one workload against one subject and measures it, the same way for every
 * subject. It paces the triggers (a fixed rate, or as fast as they are acknowledged, optionally
 * bounded by unfinished runs), keeps the trigger time of every run, the time its result arrived
 * and (from the workers' reports) the time its first task started, and turns them into figures.
 *
 * Invariants:
 *  1. One clock: every time is `performance.timeOrigin + performance.now()`, here and in the
 *     worker processes, which run on the same machine.
 *  2. A run's trigger time is taken just before the call that triggers it; for a bulk call, every
 *     run in it shares that time. Its result time is when the driver learns the run finished.
 *  3. Measuring adds nothing to the runs' payloads: start times come back from the workers after
 *     the row, keyed by the ids the subject handed out.
 *  4. Triggering never runs unbounded: at most `windowOf(mode)` trigger calls are in flight.
 *  5. A row is measured warm: a warm-up on the same server and workers comes first, and the
 *     server's and workers' CPU count from its end (unless the workers start late by design).
 */
import type { Progress } from './progress.js';
import { ProcessMeter } from './processes.js';
import { type Percentiles, percentiles } from './stats.js';
import type { RunHandle, Subject } from './subjects/subject.js';
import { WorkerPool, type PoolReport } from './worker-pool.js';
import { type BacklogWorkload, inputsFor, type LoadWorkload, type LogLevel, noopTask, outputIsRight, type WorkerConfig } from './workload.js';

export const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What a row reports; a figure that could not be measured (a remote engine's CPU) is undefined. */
export interface Figures {
  /** Runs triggered (acknowledged). */
  readonly runs: number;
  readonly completed: number;
  /** Runs that failed, or finished with an output other than the one their shape promises. */
  readonly failed: number;
  /** Runs with no result when the wait was over. */
  readonly unfinished: number;
  /** Trigger calls that were refused (their runs are not in `runs`), and why the first one was. */
  readonly triggerErrors: number;
  readonly firstTriggerError: string | undefined;
  /** First trigger to last trigger acknowledged. */
  readonly triggerSeconds: number;
  readonly triggersPerSecond: number;
  /** First trigger (or, for a drain, the workers' start) to the last result. */
  readonly seconds: number;
  /** Finished runs (completed or failed) per second over `seconds`. */
  readonly completionsPerSecond: number;
  /** Per trigger call: the call to its acknowledgement. */
  readonly ackMs: Percentiles;
  readonly startMs: Percentiles | undefined;
  readonly resultMs: Percentiles | undefined;
  readonly serverCpuSeconds: number | undefined;
  readonly serverPeakRssMb: number | undefined;
  readonly serverRssMb: number | undefined;
  readonly workerProcesses: number;
  readonly workerCpuSeconds: number | undefined;
  readonly workerPeakRssMbMax: number | undefined;
  readonly workerPeakRssMbSum: number | undefined;
}

/** The record of one row's runs, indexed by sequence number. */
class Ledger {
  readonly triggerAt: number[] = [];
  readonly resultAt: number[] = [];
  readonly inputs: unknown[] = [];
  readonly #byResultId = new Map<string, number>();
  readonly #byStartId = new Map<string, number>();
  /** Results that arrived before their trigger call returned (subject.ts invariant 2). */
  readonly #early = new Map<string, { ok: boolean; output: unknown; at: number }>();
  readonly #waiters: Array<() => void> = [];
  readonly ackMs: number[] = [];
  triggered = 0;
  completed = 0;
  failed = 0;
  triggerErrors = 0;
  firstTriggerError: string | undefined;
  firstTriggerAt = Number.NaN;
  lastAckAt = Number.NaN;
  lastResultAt = Number.NaN;
  acceptEarly = true;

  constructor(private readonly shape: LoadWorkload['shape']) {}

  get finished(): number {
    return this.completed + this.failed;
  }

  get unfinished(): number {
    return this.triggered - this.finished;
  }

  triggeredRuns(first: number, inputs: unknown[], handles: readonly RunHandle[], at: number): void {
    handles.forEach((handle, k) => {
      const i = first + k;
      this.triggerAt[i] = at;
      this.inputs[i] = inputs[k];
      this.#byResultId.set(handle.resultId, i);
      if (handle.startId !== undefined) this.#byStartId.set(handle.startId, i);
    });
    this.triggered += handles.length;
    for (const handle of handles) {
      const early = this.#early.get(handle.resultId);
      if (early === undefined) continue;
      this.#early.delete(handle.resultId);
      this.finish(handle.resultId, early.ok, early.output, early.at);
    }
  }

  finish(resultId: string, ok: boolean, output: unknown, at = now()): void {
    const i = this.#byResultId.get(resultId);
    if (i === undefined) {
      if (this.acceptEarly) this.#early.set(resultId, { ok, output, at });
      return;
    }
    this.#byResultId.delete(resultId);
    this.resultAt[i] = at;
    this.lastResultAt = Number.isNaN(this.lastResultAt) ? at : Math.max(this.lastResultAt, at);
    if (ok && outputIsRight(this.shape, this.inputs[i], output)) this.completed++;
    else this.failed++;
    this.inputs[i] = undefined;
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Resolves when `done()` holds, checking after each result, or after `timeoutMs`. */
  async until(done: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = now() + timeoutMs;
    while (!done() && now() < deadline) {
      await Promise.race([new Promise<void>((resolve) => this.#waiters.push(resolve)), sleep(Math.min(250, Math.max(1, deadline - now())))]);
    }
  }

  startLatencies(starts: Map<string, number>): number[] {
    const out: number[] = [];
    for (const [id, at] of starts) {
      const i = this.#byStartId.get(id);
      if (i !== undefined) out.push(at - (this.triggerAt[i] as number));
    }
    return out;
  }

  resultLatencies(): number[] {
    const out: number[] = [];
    this.resultAt.forEach((at, i) => {
      if (at !== undefined) out.push(at - (this.triggerAt[i] as number));
    });
    return out;
  }
}

/** How many trigger calls may be in flight at once (invariant 4). */
const windowOf = (mode: LoadWorkload['trigger']['mode']) => (mode === 'bulk' ? 4 : 500);

/** Triggers the workload's runs as its plan says; resolves when the last trigger call returned. */
async function triggerAll(
  subject: Subject,
  workload: LoadWorkload,
  ledger: Ledger,
  progress: () => void,
  watch: (handles: readonly RunHandle[]) => void = (handles) => subject.watch(handles),
): Promise<void> {
  const { trigger } = workload;
  const started = now();
  let reserved = 0;
  const more = () => (trigger.total === undefined || reserved < trigger.total) && (trigger.durationMs === undefined || now() - started < trigger.durationMs);
  const room = () => trigger.maxUnfinished === undefined || ledger.unfinished < trigger.maxUnfinished;

  const fire = async (count: number) => {
    const first = reserved;
    reserved += count;
    const inputs = inputsFor(workload, first, count);
    const at = now();
    if (Number.isNaN(ledger.firstTriggerAt)) ledger.firstTriggerAt = at;
    try {
      const handles = await subject.trigger(workload.shape, inputs, trigger.mode);
      const acked = now();
      ledger.ackMs.push(acked - at);
      ledger.lastAckAt = Number.isNaN(ledger.lastAckAt) ? acked : Math.max(ledger.lastAckAt, acked);
      ledger.triggeredRuns(first, inputs, handles, at);
      watch(handles);
    } catch (error) {
      ledger.triggerErrors++;
      ledger.firstTriggerError ??= (error as Error).message ?? String(error);
    }
    progress();
  };
  const batch = () => Math.min(trigger.mode === 'bulk' ? trigger.bulkSize : 1, trigger.total === undefined ? Number.POSITIVE_INFINITY : trigger.total - reserved);

  if (trigger.ratePerSecond === 'max') {
    await Promise.all(
      Array.from({ length: windowOf(trigger.mode) }, async () => {
        while (more()) {
          if (!room()) {
            await ledger.until(room, 1000);
            continue;
          }
          await fire(batch());
        }
      }),
    );
    return;
  }
  // A fixed rate: every few milliseconds, trigger whatever has come due (in one bulk call, or one
  // call per run), without waiting for the calls to return unless the window is full.
  const rate = trigger.ratePerSecond;
  const inFlight = new Set<Promise<void>>();
  while (more()) {
    const due = Math.floor(((now() - started) / 1000) * rate) + 1;
    while (reserved < due && more() && room()) {
      if (inFlight.size >= windowOf(trigger.mode)) await Promise.race(inFlight);
      const count = Math.min(batch(), due - reserved);
      const call = fire(count).finally(() => inFlight.delete(call));
      inFlight.add(call);
    }
    await sleep(Math.max(1, Math.min(5, ((reserved / rate) * 1000 + started - now()))));
  }
  await Promise.all(inFlight);
}

function figuresOf(ledger: Ledger, startedAt: number, report: PoolReport | undefined, server: ReturnType<ProcessMeter['read']>, workerProcesses: number): Figures {
  const starts = report === undefined ? [] : ledger.startLatencies(report.starts);
  const results = ledger.resultLatencies();
  const seconds = (ledger.lastResultAt - startedAt) / 1000;
  const triggerSeconds = (ledger.lastAckAt - ledger.firstTriggerAt) / 1000;
  return {
    runs: ledger.triggered,
    completed: ledger.completed,
    failed: ledger.failed,
    unfinished: ledger.unfinished,
    triggerErrors: ledger.triggerErrors,
    firstTriggerError: ledger.firstTriggerError,
    triggerSeconds,
    triggersPerSecond: ledger.triggered / triggerSeconds,
    seconds,
    completionsPerSecond: ledger.finished / seconds,
    ackMs: percentiles(ledger.ackMs),
    startMs: starts.length === 0 ? undefined : percentiles(starts),
    resultMs: results.length === 0 ? undefined : percentiles(results),
    serverCpuSeconds: server.cpuSeconds,
    serverPeakRssMb: server.peakRssMb,
    serverRssMb: server.rssMb,
    workerProcesses,
    workerCpuSeconds: report?.cpuSeconds,
    workerPeakRssMbMax: report?.peakRssMbMax,
    workerPeakRssMbSum: report?.peakRssMbSum,
  };
}

/** Runs triggered and awaited before a row is measured, so that no subject is timed while cold. */
const WARMUP_RUNS: Record<LoadWorkload['shape'], number> = { task: 200, chain: 50, fanout: 1 };

async function warmUp(subject: Subject, workload: LoadWorkload, holder: LedgerHolder): Promise<void> {
  const ledger = new Ledger(workload.shape);
  holder.current = ledger;
  // Slow tasks warm up the same paths in fewer runs; the row, not the warm-up, should take the time.
  const count = workload.task.delayMs > 0 ? Math.min(20, WARMUP_RUNS[workload.shape]) : WARMUP_RUNS[workload.shape];
  const warm: LoadWorkload = { ...workload, trigger: { ...workload.trigger, mode: 'bulk', ratePerSecond: 'max', total: count, durationMs: undefined, maxUnfinished: undefined } };
  await triggerAll(subject, warm, ledger, () => {});
  ledger.acceptEarly = false;
  await ledger.until(() => ledger.unfinished === 0, 60_000);
  if (ledger.unfinished > 0 || ledger.triggerErrors > 0) throw new Error(`${workload.scenario} on ${subject.name}: the warm-up runs did not finish`);
}

const workerConfig = (slots: number, task: WorkerConfig['task'], concurrency: number | undefined, logLevel: LogLevel, policy?: WorkerConfig['policy']): WorkerConfig => ({
  slots,
  task,
  concurrency,
  logLevel,
  ...(policy === undefined ? {} : { policy }),
});

/** Runs a load workload: workers in their own processes, triggers as planned, results awaited. */
export async function runLoad(subject: Subject, workload: LoadWorkload, ledgerHolder: LedgerHolder, progress: Progress, logLevel: LogLevel): Promise<Figures> {
  const ledger = new Ledger(workload.shape);
  await subject.prepare(workload);
  const pool = await WorkerPool.spawn(subject.name, workload.workers.processes);
  try {
    const config = workerConfig(workload.workers.slots, workload.task, workload.concurrency, logLevel, workload.policy);
    const delayed = workload.workers.startDelayMs > 0;
    // With a worker delay there is no worker to warm up with: that row starts cold by design.
    if (!delayed) {
      await pool.start(subject.target, config);
      await warmUp(subject, workload, ledgerHolder);
      if (workload.background !== undefined) {
        if (subject.sleepInBackground === undefined) throw new Error(`${subject.name} has no durable tasks to put to sleep`);
        await subject.sleepInBackground(workload.background.durableSleepers);
      }
      pool.mark();
    }
    ledgerHolder.current = ledger;
    const workersStarted = delayed ? sleep(workload.workers.startDelayMs).then(() => pool.start(subject.target, config)) : Promise.resolve();
    // Awaited after the triggers; until then a failure must not count as unhandled.
    workersStarted.catch(() => {});
    const meter = new ProcessMeter(subject.serverPid);
    const show = () =>
      progress.update(`${workload.scenario} · ${subject.name} · triggered ${ledger.triggered} · finished ${ledger.finished} · failed ${ledger.failed} · ${((now() - ledger.firstTriggerAt) / 1000).toFixed(1)} s`);
    const ticker = setInterval(show, 250);
    try {
      await triggerAll(subject, workload, ledger, show);
      await workersStarted;
      ledger.acceptEarly = false;
      await ledger.until(() => ledger.unfinished === 0, workload.waitMs);
    } finally {
      clearInterval(ticker);
      progress.clear();
    }
    const server = meter.read();
    const report = await pool.stop();
    return figuresOf(ledger, ledger.firstTriggerAt, report, server, pool.size);
  } catch (error) {
    await pool.kill();
    throw error;
  }
}

/** Lets the subject's result listener, made before the row, reach the row's ledger. */
export interface LedgerHolder {
  current: { finish(resultId: string, ok: boolean, output: unknown): void } | undefined;
}

/**
 * A backlog: register the workload, trigger `tasks` no-op runs in bulk with no worker, read the
 * server's memory (the `queued` figures), then start the workers and time the drain (the `drain`
 * figures, measured from the moment every worker takes tasks to the last result).
 */
export async function runBacklog(subject: Subject, workload: BacklogWorkload, ledgerHolder: LedgerHolder, progress: Progress, logLevel: LogLevel): Promise<{ queued: Figures; drain: Figures }> {
  const fill: LoadWorkload = {
    kind: 'load',
    scenario: workload.scenario,
    shape: 'task',
    children: 0,
    task: noopTask,
    trigger: { mode: 'bulk', bulkSize: 500, ratePerSecond: 'max', total: workload.tasks, durationMs: undefined, maxUnfinished: undefined, eventFanout: 1 },
    workers: workload.workers,
    concurrency: undefined,
    waitMs: workload.waitMs,
    policy: workload.policy,
  };
  const ledger = new Ledger('task');
  ledgerHolder.current = ledger;
  await subject.prepare(fill);
  const pool = await WorkerPool.spawn(subject.name, workload.workers.processes);
  try {
    const meter = new ProcessMeter(subject.serverPid);
    // Watching subscribes to results, which costs the server memory of its own: hold the handles
    // until the memory of the backlog alone has been read.
    const held: RunHandle[] = [];
    await triggerAll(
      subject,
      fill,
      ledger,
      () => progress.update(`${workload.scenario} · ${subject.name} · queued ${ledger.triggered} of ${workload.tasks}`),
      (handles) => held.push(...handles),
    );
    progress.clear();
    const queued = figuresOf(ledger, ledger.firstTriggerAt, undefined, meter.read(), 0);

    const drainMeter = new ProcessMeter(subject.serverPid);
    subject.watch(held);
    // The drain is timed from the moment the workers are told to connect.
    const drainStart = now();
    await pool.start(subject.target, workerConfig(workload.workers.slots, noopTask, undefined, logLevel, workload.policy));
    const ticker = setInterval(() => progress.update(`${workload.scenario} · ${subject.name} · drained ${ledger.finished} of ${ledger.triggered}`), 250);
    try {
      ledger.acceptEarly = false;
      await ledger.until(() => ledger.unfinished === 0, workload.waitMs);
    } finally {
      clearInterval(ticker);
      progress.clear();
    }
    const server = drainMeter.read();
    const report = await pool.stop();
    return { queued, drain: figuresOf(ledger, drainStart, report, server, pool.size) };
  } catch (error) {
    await pool.kill();
    throw error;
  }
}
