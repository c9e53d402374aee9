/**
 * The benchmark's workers: N child processes (bench/worker-process.ts), each one worker of the
 * subject with its own connection, so that a worker's CPU never competes with the driver's event
 * loop and several workers are really several clients.
 *
 * Lifecycle: `spawn` (processes boot and load their subject) → `start` (they connect; resolves
 * once every one takes tasks) → `mark` (optional: the measured section begins) → `stop` (they
 * stop, and each sends its report: the start time of every run it began since the mark, its CPU
 * seconds since then and its peak RSS). A worker that fails or
 * exits early rejects the step that waits on it with what it said; `kill` ends them all.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { stopProcess } from './processes.js';
import type { SubjectName, Target } from './subjects/subject.js';
import type { WorkerConfig } from './workload.js';

export type ToWorker =
  | { type: 'start'; target: Target; config: WorkerConfig }
  /** The measured section begins: forget the starts seen so far and count CPU from here. */
  | { type: 'mark' }
  | { type: 'stop' };

export type FromWorker =
  | { type: 'booted' }
  | { type: 'ready' }
  | { type: 'report'; starts: Array<[string, number]>; cpuSeconds: number; peakRssMb: number }
  | { type: 'failed'; message: string };

export type WorkerReport = Extract<FromWorker, { type: 'report' }>;

export interface PoolReport {
  /** Every run start any worker saw: start id → time (the earliest, if several saw it). */
  readonly starts: Map<string, number>;
  readonly cpuSeconds: number;
  readonly peakRssMbMax: number;
  readonly peakRssMbSum: number;
}

const entry = fileURLToPath(new URL('./worker-process.js', import.meta.url));

/** Resolves with the next message of `type` from a worker; rejects if it fails or exits first. */
function next<T extends FromWorker['type']>(child: ChildProcess, type: T, timeoutMs: number): Promise<Extract<FromWorker, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`a worker process sent no '${type}' within ${timeoutMs / 1000} s`)), timeoutMs);
    const onMessage = (message: FromWorker) => {
      if (message.type === type) done(undefined, message as Extract<FromWorker, { type: T }>);
      else if (message.type === 'failed') done(new Error(`a worker process failed: ${message.message}`));
    };
    // A process may exit before its last messages are read off the channel (a large report, say):
    // what it said counts until the channel is drained and closed.
    const onExit = (code: number | null) => {
      const fail = () => setImmediate(() => done(new Error(`a worker process exited (${code}) before '${type}'`)));
      if (child.connected) child.once('disconnect', fail);
      else fail();
    };
    let settled = false;
    const done = (error: Error | undefined, message?: Extract<FromWorker, { type: T }>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (error === undefined) resolve(message as Extract<FromWorker, { type: T }>);
      else reject(error);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

export class WorkerPool {
  private constructor(private readonly children: ChildProcess[]) {}

  /** Forks `count` worker processes of `subject` and waits until each has loaded it. */
  static async spawn(subject: SubjectName, count: number): Promise<WorkerPool> {
    const children = Array.from({ length: count }, () => fork(entry, [subject], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    const pool = new WorkerPool(children);
    try {
      await Promise.all(children.map((child) => next(child, 'booted', 60_000)));
    } catch (error) {
      await pool.kill();
      throw error;
    }
    return pool;
  }

  get size(): number {
    return this.children.length;
  }

  /** Connects every worker; resolves once all of them take tasks. */
  async start(target: Target, config: WorkerConfig): Promise<void> {
    const ready = this.children.map((child) => next(child, 'ready', 60_000));
    for (const child of this.children) child.send({ type: 'start', target, config } satisfies ToWorker);
    await Promise.all(ready);
  }

  /** Begins the measured section (after a warm-up): what came before is not reported. */
  mark(): void {
    for (const child of this.children) child.send({ type: 'mark' } satisfies ToWorker);
  }

  /** Stops every worker and gathers their reports; the processes exit. */
  async stop(): Promise<PoolReport> {
    const reports = this.children.map((child) => next(child, 'report', 60_000));
    for (const child of this.children) child.send({ type: 'stop' } satisfies ToWorker);
    const all: WorkerReport[] = await Promise.all(reports);
    const running = this.children.filter((child) => child.exitCode === null && child.signalCode === null);
    await Promise.all(running.map((child) => new Promise((resolve) => child.once('exit', resolve))));
    const starts = new Map<string, number>();
    for (const report of all) {
      for (const [id, at] of report.starts) starts.set(id, Math.min(at, starts.get(id) ?? Number.POSITIVE_INFINITY));
    }
    return {
      starts,
      cpuSeconds: all.reduce((sum, report) => sum + report.cpuSeconds, 0),
      peakRssMbMax: Math.max(...all.map((report) => report.peakRssMb)),
      peakRssMbSum: all.reduce((sum, report) => sum + report.peakRssMb, 0),
    };
  }

  /** Ends every worker process at once (after a failure, or on Ctrl-C). */
  async kill(): Promise<void> {
    await Promise.all(this.children.map((child) => stopProcess(child, 'SIGKILL')));
  }
}
