/**
 * The adapter every benchmarked system implements, in two halves: the driver side (`Subject`:
 * declares the workload, triggers runs, reports them finished) and the worker side
 * (`WorkerHandle`, started inside a worker process by `startWorker`). One file per subject holds
 * both; everything else — pacing, timing, figures, workers in their own processes — is shared.
 *
 * Invariants:
 *  1. `trigger` resolves once the subject acknowledged the runs, with one handle per input, in
 *     input order.
 *  2. `onFinished` is called at most once per run the subject was asked to watch, possibly before
 *     `trigger` resolved (the driver keeps such early results); ids it never handed out may also
 *     arrive and are ignored.
 *  3. A worker reports `onStart(startId)` as the first thing a run's first task does, so the
 *     driver can time trigger → start without adding anything to the payloads.
 */
import type { LoadWorkload, Shape, TriggerMode, WorkerConfig } from '../workload.js';

export const SubjectNames = ['kindling', 'bullmq'] as const;
export type SubjectName = (typeof SubjectNames)[number];

/** Where a subject's server is and how to reach it; plain data, so it crosses to worker processes. */
export interface Target {
  readonly hostPort: string;
  readonly token?: string;
  readonly tls?: boolean;
}

export interface RunHandle {
  /** The id `onFinished` reports the run by. */
  readonly resultId: string;
  /** The id the worker reports the run's first task start by (undefined: not timed). */
  readonly startId: string | undefined;
}

export type FinishedListener = (resultId: string, ok: boolean, output: unknown) => void;

export interface Subject {
  readonly name: SubjectName;
  readonly target: Target;
  /** The server's process id when it runs on this machine (the engine, redis-server), for its CPU and memory. */
  readonly serverPid: number | undefined;
  /** Makes the workload's workflows or queues known before any worker or trigger. */
  prepare(workload: Pick<LoadWorkload, 'shape' | 'concurrency' | 'policy'>): Promise<void>;
  trigger(shape: Shape, inputs: unknown[], mode: TriggerMode): Promise<RunHandle[]>;
  /** Starts reporting these runs to the listener once they finish. */
  watch(handles: readonly RunHandle[]): void;
  /** Puts `count` durable tasks to sleep in the background; resolves once they all sleep (subjects with durable tasks only). */
  sleepInBackground?(count: number): Promise<void>;
  close(): Promise<void>;
}

export interface WorkerHandle {
  stop(): Promise<void>;
}

/** The worker half: connects, serves every shape, and resolves once it takes tasks. */
export type StartWorker = (target: Target, config: WorkerConfig, onStart: (startId: string) => void) => Promise<WorkerHandle>;

/** Where to find the engine when it is not started here. */
export interface RemoteEngine {
  readonly url: string;
  readonly token: string | undefined;
  readonly pid: number | undefined;
}

/** Why a subject cannot run a workload as asked (undefined: it can); asked before anything starts. */
export type Unsupported = (workload: LoadWorkload) => string | undefined;

/** Opens a subject: starts its server here unless told where one is. */
export type OpenSubject = (options: { remote: RemoteEngine | undefined; logLevel: WorkerConfig['logLevel']; onFinished: FinishedListener }) => Promise<Subject>;
