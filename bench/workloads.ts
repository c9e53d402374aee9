/**
 * The fixed workloads W1–W7, each at a full size (`npm run bench`, `kindling bench all`) and a
 * smoke size (`--smoke`, what `npm test` runs so they cannot rot). They are fixed so that results
 * compare across commits and machines: change one only with a note in bench/README.md.
 *
 * Worker slots: every worker process has 100 slots, as each of Hatchet's load-test containers
 * does, so W5's 4 and 16 workers offer 400 and 1,600 slots in all; the question W5 asks is
 * whether dispatching to many workers costs throughput, not whether more slots help.
 */
import { type BacklogWorkload, type FlowPolicy, type LoadWorkload, noopTask, type RecoveryWorkload, type TaskBehaviour, type Workload } from './workload.js';

export const WorkloadIds = ['w1', 'w2', 'w3', 'w4', 'w5', 'w6', 'w7'] as const;
export type WorkloadId = (typeof WorkloadIds)[number];

const SLOTS = 100;

interface Size {
  readonly throughputTasks: number;
  readonly latencySeconds: number;
  readonly chainRuns: number;
  readonly fanoutChildren: number;
  readonly fanoutRuns: number;
  readonly scaleWorkers: readonly number[];
  readonly payloadTasks: readonly [number, number];
  readonly backlogs: readonly [number, number];
  readonly recoveryEvents: number;
  /** W7: tasks and keys of the flow-control rows, and the backlogs drained with a policy. */
  readonly flowTasks: number;
  readonly flowKeys: number;
  readonly flowBacklogs: readonly [number, number];
  readonly waitMs: number;
  readonly durableSleepers: number;
}

const full: Size = {
  throughputTasks: 20_000,
  latencySeconds: 20,
  chainRuns: 2_000,
  fanoutChildren: 1_000,
  fanoutRuns: 3,
  scaleWorkers: [1, 4, 16],
  payloadTasks: [20_000, 20_000],
  backlogs: [10_000, 100_000],
  recoveryEvents: 1_000_000,
  flowTasks: 10_000,
  flowKeys: 1_000,
  flowBacklogs: [10_000, 100_000],
  waitMs: 300_000,
  durableSleepers: 10_000,
};

/** Small enough that every workload, on both subjects, runs in well under a minute here. */
const smoke: Size = {
  throughputTasks: 600,
  latencySeconds: 1,
  chainRuns: 60,
  fanoutChildren: 40,
  fanoutRuns: 1,
  scaleWorkers: [1, 2, 4],
  payloadTasks: [300, 100],
  backlogs: [200, 1_000],
  recoveryEvents: 20_000,
  flowTasks: 600,
  flowKeys: 60,
  flowBacklogs: [200, 1_000],
  waitMs: 60_000,
  durableSleepers: 200,
};

function load(
  scenario: string,
  size: Size,
  overrides: { shape?: LoadWorkload['shape']; children?: number; task?: TaskBehaviour; processes?: number; trigger: Partial<LoadWorkload['trigger']>; policy?: FlowPolicy },
): LoadWorkload {
  return {
    kind: 'load',
    scenario,
    shape: overrides.shape ?? 'task',
    children: overrides.children ?? 0,
    task: overrides.task ?? noopTask,
    trigger: { mode: 'bulk', bulkSize: 500, ratePerSecond: 'max', total: undefined, durationMs: undefined, maxUnfinished: undefined, eventFanout: 1, ...overrides.trigger },
    workers: { processes: overrides.processes ?? 1, slots: SLOTS, startDelayMs: 0 },
    concurrency: undefined,
    waitMs: size.waitMs,
    ...(overrides.policy === undefined ? {} : { policy: overrides.policy }),
  };
}

const backlog = (scenario: string, tasks: number, size: Size, policy?: FlowPolicy): BacklogWorkload => ({
  kind: 'backlog',
  scenario,
  tasks,
  workers: { processes: 1, slots: SLOTS, startDelayMs: 0 },
  waitMs: size.waitMs,
  ...(policy === undefined ? {} : { policy }),
});

const thousands = (n: number) => (n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n));

export function fixedWorkloads(id: WorkloadId, smokeSize: boolean): Workload[] {
  const size = smokeSize ? smoke : full;
  const total = size.throughputTasks;
  switch (id) {
    case 'w1':
      return [
        load('w1 throughput · bulk', size, { trigger: { mode: 'bulk', total } }),
        load('w1 throughput · one by one', size, { trigger: { mode: 'direct', total } }),
      ];
    case 'w2':
      return [load('w2 latency · 200/s', size, { trigger: { mode: 'direct', ratePerSecond: 200, durationMs: size.latencySeconds * 1000 } })];
    case 'w3':
      return [load('w3 chain a→b→c', size, { shape: 'chain', trigger: { mode: 'bulk', total: size.chainRuns } })];
    case 'w4':
      return [
        load(`w4 fan-out · ${size.fanoutChildren} children`, size, {
          shape: 'fanout',
          children: size.fanoutChildren,
          trigger: { mode: 'direct', total: size.fanoutRuns, maxUnfinished: 1 },
        }),
      ];
    case 'w5': {
      const [kb1Tasks, kb64Tasks] = size.payloadTasks;
      const [small, large] = size.backlogs;
      return [
        ...size.scaleWorkers.map((processes) =>
          load(`w5 scale · ${processes} worker${processes === 1 ? '' : 's'}`, size, { processes, trigger: { mode: 'bulk', total } }),
        ),
        load('w5 payload · 1 KB', size, { task: { ...noopTask, payloadBytes: 1024 }, trigger: { mode: 'bulk', total: kb1Tasks } }),
        load('w5 payload · 64 KB', size, { task: { ...noopTask, payloadBytes: 65_536 }, trigger: { mode: 'bulk', total: kb64Tasks } }),
        backlog(`w5 backlog · ${thousands(small)}`, small, size),
        backlog(`w5 backlog · ${thousands(large)}`, large, size),
        // W1 again, with durable tasks asleep in the background (evicted: they hold no slot).
        { ...load(`w5 durable · W1 with ${thousands(size.durableSleepers)} durable tasks asleep`, size, { trigger: { mode: 'bulk', total } }), background: { durableSleepers: size.durableSleepers } },
      ];
    }
    case 'w6':
      return [{ kind: 'recovery', scenario: `w6 recovery · ${thousands(size.recoveryEvents)} events`, events: size.recoveryEvents, activeEvery: 50 } satisfies RecoveryWorkload];
    case 'w7': {
      // Flow control (Kindling only): W1 bulk with every task under a policy, then backlogs of
      // such tasks drained, so the cost of one assignment shows against the size of the queue.
      const roundRobin: FlowPolicy = { kind: 'round-robin', keys: size.flowKeys };
      const rateLimit: FlowPolicy = { kind: 'rate-limit', keys: size.flowKeys };
      const keys = thousands(size.flowKeys);
      const [small, large] = size.flowBacklogs;
      return [
        load(`w7 round-robin · ${keys} keys`, size, { policy: roundRobin, trigger: { mode: 'bulk', total: size.flowTasks } }),
        load(`w7 rate-limited · ${keys} keys`, size, { policy: rateLimit, trigger: { mode: 'bulk', total: size.flowTasks } }),
        backlog(`w7 backlog round-robin · ${thousands(small)}`, small, size, roundRobin),
        backlog(`w7 backlog round-robin · ${thousands(large)}`, large, size, roundRobin),
      ];
    }
  }
}
