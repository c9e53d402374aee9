/**
 * What a benchmark runs, said once for every subject (Kindling, BullMQ, …): the shape of each run,
 * what each task does, how runs are triggered, and the workers that take them. The subjects'
 * adapters (bench/subjects/) turn a workload into their own calls; the driver (bench/driver.ts)
 * triggers and times it the same way for all of them.
 *
 * Invariants:
 *  1. A workload is plain data (it crosses to the worker processes over IPC).
 *  2. The inputs a run gets depend only on the workload and the run's sequence number, never on
 *     the subject, so every subject carries the same payloads.
 */

/** What one run is: a single task, a chain A → B → C passing its output on, or a parent fanning out to children. */
export const Shapes = { task: 'task', chain: 'chain', fanout: 'fanout' } as const;
export type Shape = (typeof Shapes)[keyof typeof Shapes];

/** How runs are triggered: one per call, many per call, or by pushing an event that workflows listen to. */
export const TriggerModes = { direct: 'direct', bulk: 'bulk', event: 'event' } as const;
export type TriggerMode = (typeof TriggerModes)[keyof typeof TriggerModes];

export const LogLevels = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LogLevels)[number];

/** What every task of the `task` shape (and every fan-out child) does. */
export interface TaskBehaviour {
  /** How long each task waits before it returns, to stand for real work. */
  readonly delayMs: number;
  /** The fraction of tasks that throw (0 to 1). */
  readonly failureRate: number;
  /** The size of each run's input payload, in bytes of JSON (0: an empty object). */
  readonly payloadBytes: number;
}

export interface TriggerPlan {
  readonly mode: TriggerMode;
  /** Runs per bulk call. */
  readonly bulkSize: number;
  /** Triggers per second, or 'max' for as fast as the subject acknowledges them. */
  readonly ratePerSecond: number | 'max';
  /** Stop after this many runs (undefined: when the duration is over). */
  readonly total: number | undefined;
  /** Stop triggering after this long (undefined: when the total is reached). */
  readonly durationMs: number | undefined;
  /** Trigger no further while this many runs are unfinished (undefined: no limit). */
  readonly maxUnfinished: number | undefined;
  /** Workflows each pushed event starts (event mode only). */
  readonly eventFanout: number;
}

export interface WorkerPlan {
  /** Worker processes, each with its own connection. */
  readonly processes: number;
  /** Slots (concurrent tasks) per worker process. */
  readonly slots: number;
  /** Start the workers this long after the first trigger. */
  readonly startDelayMs: number;
}

/**
 * Flow control on every task of a workload: `round-robin` — a concurrency limit on `input.key`,
 * GROUP_ROUND_ROBIN with maxRuns 1; `rate-limit` — a dynamic rate limit on `input.key` (1,000 units
 * per second each, which the workload never reaches: it measures what checking one costs). Runs
 * spread over `keys` keys in turn.
 */
export interface FlowPolicy {
  readonly kind: 'round-robin' | 'rate-limit';
  readonly keys: number;
}

export interface LoadWorkload {
  readonly kind: 'load';
  readonly scenario: string;
  readonly shape: Shape;
  /** Children per fan-out run. */
  readonly children: number;
  readonly task: TaskBehaviour;
  readonly trigger: TriggerPlan;
  readonly workers: WorkerPlan;
  /** At most this many runs at once, as a workflow concurrency limit (undefined: none). */
  readonly concurrency: number | undefined;
  /** How long to wait for unfinished runs after the last trigger. */
  readonly waitMs: number;
  readonly policy?: FlowPolicy | undefined;
  /** Work kept in the background while the workload runs: durable tasks asleep (Kindling only). */
  readonly background?: { readonly durableSleepers: number } | undefined;
}

/** Fill the queue with no worker, read the server's memory, then start a worker and time the drain. */
export interface BacklogWorkload {
  readonly kind: 'backlog';
  readonly scenario: string;
  readonly tasks: number;
  readonly workers: WorkerPlan;
  readonly waitMs: number;
  readonly policy?: FlowPolicy | undefined;
}

/** Time from engine start to a trigger → result round trip, with a log of `events` events. */
export interface RecoveryWorkload {
  readonly kind: 'recovery';
  readonly scenario: string;
  readonly events: number;
  /** One run in this many is left unfinished (queued or running) in the log. */
  readonly activeEvery: number;
}

export type Workload = LoadWorkload | BacklogWorkload | RecoveryWorkload;

/** The task every run of `shape: 'task'` gets in a backlog: a no-op. */
export const noopTask: TaskBehaviour = { delayMs: 0, failureRate: 0, payloadBytes: 0 };

/** Everything a worker process needs to know about the workload it serves. */
export interface WorkerConfig {
  readonly task: TaskBehaviour;
  readonly slots: number;
  readonly concurrency: number | undefined;
  readonly logLevel: LogLevel;
  readonly policy?: FlowPolicy | undefined;
}

const filler = (bytes: number) => 'x'.repeat(Math.max(0, bytes - '{"data":""}'.length));

/** The inputs of runs `first` … `first + count - 1` (invariant 2). */
export function inputsFor(workload: Pick<LoadWorkload, 'shape' | 'children' | 'task' | 'policy'>, first: number, count: number): unknown[] {
  const data = workload.task.payloadBytes > 0 ? filler(workload.task.payloadBytes) : undefined;
  const keys = workload.policy?.keys;
  const one = (k: number): unknown => {
    switch (workload.shape) {
      case 'task':
        if (keys !== undefined) return { key: `k${(first + k) % keys}`, ...(data === undefined ? {} : { data }) };
        return data === undefined ? {} : { data };
      case 'chain':
        return { n: first + k };
      case 'fanout':
        return { children: workload.children };
    }
  };
  return Array.from({ length: count }, (_, k) => one(k));
}

/** Whether a finished run's output (as the subject normalised it) is what the shape promises. */
export function outputIsRight(shape: Shape, input: unknown, output: unknown): boolean {
  switch (shape) {
    case 'task':
      return true;
    case 'chain':
      return (output as { n?: unknown } | null)?.n === (input as { n: number }).n + 3;
    case 'fanout':
      return (output as { children?: unknown } | null)?.children === (input as { children: number }).children;
  }
}

/** The parameters of a workload, as rows report them. */
export function paramsOf(workload: Workload): Record<string, string | number> {
  switch (workload.kind) {
    case 'load': {
      const { trigger, workers, task } = workload;
      return {
        shape: workload.shape,
        ...(workload.shape === 'fanout' ? { children: workload.children } : {}),
        trigger: trigger.mode,
        ...(trigger.mode === 'bulk' ? { bulkSize: trigger.bulkSize } : {}),
        rate: trigger.ratePerSecond,
        ...(trigger.total === undefined ? {} : { total: trigger.total }),
        ...(trigger.durationMs === undefined ? {} : { durationMs: trigger.durationMs }),
        ...(trigger.maxUnfinished === undefined ? {} : { maxUnfinished: trigger.maxUnfinished }),
        workers: workers.processes,
        slots: workers.slots,
        ...(workers.startDelayMs > 0 ? { workerDelayMs: workers.startDelayMs } : {}),
        delayMs: task.delayMs,
        failureRate: task.failureRate,
        payloadBytes: task.payloadBytes,
        ...(workload.concurrency === undefined ? {} : { concurrency: workload.concurrency }),
        ...(workload.policy === undefined ? {} : { policy: workload.policy.kind, keys: workload.policy.keys }),
        ...(workload.background === undefined ? {} : { durableSleepers: workload.background.durableSleepers }),
        ...(trigger.mode === 'event' ? { eventFanout: trigger.eventFanout } : {}),
      };
    }
    case 'backlog':
      return {
        tasks: workload.tasks,
        workers: workload.workers.processes,
        slots: workload.workers.slots,
        ...(workload.policy === undefined ? {} : { policy: workload.policy.kind, keys: workload.policy.keys }),
      };
    case 'recovery':
      return { events: workload.events, activeEvery: workload.activeEvery };
  }
}
