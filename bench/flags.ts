/**
 * The flags of `kindling bench` (and `npm run bench`), and their translation into a plan: which
 * workloads, on which subjects, against which engine. The load-test flags follow Hatchet's
 * load-test container (-e events per second, -d duration, -s slots, -D task delay, -f failure
 * rate, -P payload size, -F event fan-out, -c concurrency, -w wait, -p worker delay, -l level).
 *
 * Invariants:
 *  1. Every flag is checked before anything starts; a bad one is a `UsageError`, which the
 *     entry point prints with a hint and turns into exit code 2.
 *  2. The fixed workloads (w1–w7) take no load-test flags, so that their results compare; giving
 *     one is an error, not silently ignored.
 */
import { Command, Option } from 'commander';
import { durationToMs } from '../src/sdk/index.js';
import { fixedWorkloads, WorkloadIds, type WorkloadId } from './workloads.js';
import { type LoadWorkload, type LogLevel, LogLevels, TriggerModes, type TriggerMode, type Workload } from './workload.js';
import type { RemoteEngine, SubjectName } from './subjects/subject.js';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const Scenarios = ['load', ...WorkloadIds, 'w5-durable', 'w5-backlog', 'all', 'log'] as const;
export type Scenario = (typeof Scenarios)[number];

export interface BenchPlan {
  readonly workloads: Workload[];
  /** The log benchmark (bench/log.ts) is part of the plan. */
  readonly log: { readonly only: 'lmdb' | 'jetstream' | undefined; readonly natsUrl: string | undefined } | undefined;
  readonly subjects: SubjectName[];
  readonly remote: RemoteEngine | undefined;
  readonly logLevel: LogLevel;
  readonly json: boolean;
  readonly progress: boolean;
  readonly smoke: boolean;
  /** Each row runs this many times, subjects alternating; the row reported is the median run. */
  readonly repeat: number;
}

/** The load-test flags: they shape the `load` scenario only (invariant 2). */
const LOAD_FLAGS = ['events', 'duration', 'total', 'slots', 'delay', 'failureRate', 'payloadSize', 'eventFanout', 'concurrency', 'wait', 'workerDelay', 'trigger', 'bulkSize', 'workers'] as const;

export function benchCommand(name: string, defaultScenarios: readonly Scenario[]): Command {
  return new Command(name)
    .description(
      'Load-test a Kindling deployment (or one started here) and, with --vs bullmq, BullMQ on Redis side by side.\n' +
        `Scenarios: load (the flags below shape it), ${WorkloadIds.join(', ')} (fixed workloads; --smoke for their small sizes), w5-durable (W1 with durable tasks asleep, alone), w5-backlog (the backlogs of 10k and 100k, alone), all (w1–w7), log (the event log against its floors; in a checkout only).\n` +
        `Default: ${defaultScenarios.join(' ')}.`,
    )
    .argument('[scenario...]', `what to run: ${Scenarios.join(', ')}`)
    .option('-e, --events <n>', "triggers per second, or 'max' for as fast as they are acknowledged", '10')
    .option('-d, --duration <duration>', 'how long to trigger, e.g. 10s, 1m', '10s')
    .option('-n, --total <n>', 'stop after this many runs (with no --duration: only this limit)')
    .option('-s, --slots <n>', 'slots per worker process', '100')
    .option('-D, --delay <duration>', 'each task waits this long before returning', '0')
    .option('-f, --failure-rate <rate>', 'the fraction of tasks that fail, 0 to 1', '0')
    .option('-P, --payload-size <size>', 'each run input, e.g. 0kb, 1kb, 64kb', '0kb')
    .option('-F, --event-fanout <n>', 'workflows each pushed event starts (with --trigger event)', '1')
    .option('-c, --concurrency <n>', 'at most this many runs at once (a workflow concurrency limit)')
    .option('-w, --wait <duration>', 'after the last trigger, wait this long for runs to finish', '10s')
    .option('-p, --worker-delay <duration>', 'start the workers this long after the first trigger', '0')
    .option('-l, --level <level>', `the SDK's log level: ${LogLevels.join(', ')}`, 'warn')
    .addOption(new Option('-t, --trigger <mode>', 'direct: one run per call; bulk: many per call; event: push events').choices(Object.values(TriggerModes)).default('direct'))
    .option('--bulk-size <n>', 'runs per bulk call (at most 1000)', '500')
    .option('--workers <n>', 'worker processes', '1')
    .option('--url <url>', 'the engine to load: host:port, ws://host:port or http://host:port (default: start one here on a fresh data directory)')
    .option('--token <token>', 'its API token (default: $HATCHET_CLIENT_TOKEN)')
    .option('--engine-pid <pid>', "the remote engine's process id, when it runs on this machine, for its CPU and memory")
    .addOption(new Option('--vs <peer>', 'run every workload on a peer too, and print the ratios').choices(['bullmq']))
    .option('--smoke', 'the fixed workloads at their smoke sizes', false)
    .option('--json', 'one JSON row per line on stdout (tables and notes go to stderr)', false)
    .option('--progress', 'a live progress line on stderr even when it is not a terminal', false)
    .option('--repeat <n>', 'run each row this many times (subjects alternating) and report the median run by done/s', '1')
    .addOption(new Option('--only <backend>', 'log scenario: one backend').choices(['lmdb', 'jetstream']))
    .option('--nats <url>', 'log scenario: JetStream rows against this NATS server');
}

function positiveInt(flag: string, value: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1 || n > max) throw new UsageError(`--${flag} must be a whole number from 1 to ${max}, not '${value}'`);
  return n;
}

function duration(flag: string, value: string): number {
  if (value === '0') return 0;
  try {
    return durationToMs(value);
  } catch {
    throw new UsageError(`--${flag} must be a duration such as 500ms, 10s or 1m, not '${value}'`);
  }
}

/** Bytes from `0kb`, `1kb`, `64KB`, `512b`, `1mb` (1 KB = 1,024 bytes). */
export function payloadBytes(value: string): number {
  const match = value.trim().match(/^(\d+(?:\.\d+)?)\s*(b|kb|mb)?$/i);
  if (match === null) throw new UsageError(`--payload-size must be a size such as 0kb, 1kb or 64kb, not '${value}'`);
  const unit = (match[2] ?? 'b').toLowerCase();
  return Math.round(Number(match[1]) * (unit === 'mb' ? 1024 * 1024 : unit === 'kb' ? 1024 : 1));
}

type Options = Record<string, string | boolean | undefined>;

function loadWorkload(options: Options, given: (flag: string) => boolean): LoadWorkload {
  const str = (key: string) => options[key] as string;
  const events = str('events') === 'max' ? 'max' : Number(str('events'));
  if (events !== 'max' && !(Number.isFinite(events) && events > 0)) throw new UsageError(`--events must be a number of triggers per second above 0, or 'max', not '${str('events')}'`);
  const total = options.total === undefined ? undefined : positiveInt('total', str('total'));
  const failureRate = Number(str('failureRate'));
  if (!(failureRate >= 0 && failureRate <= 1)) throw new UsageError(`--failure-rate must be a fraction from 0 to 1, not '${str('failureRate')}'`);
  const mode = str('trigger') as TriggerMode;
  const eventFanout = positiveInt('event-fanout', str('eventFanout'));
  if (eventFanout > 1 && mode !== 'event') throw new UsageError('--event-fanout needs --trigger event: only a pushed event can start several workflows');
  // With --total alone, the total is the only limit; otherwise the duration bounds the run.
  const durationMs = total !== undefined && !given('duration') ? undefined : duration('duration', str('duration'));
  if (durationMs === 0) throw new UsageError('--duration must be above 0');
  return {
    kind: 'load',
    scenario: 'load',
    shape: 'task',
    children: 0,
    task: { delayMs: duration('delay', str('delay')), failureRate, payloadBytes: payloadBytes(str('payloadSize')) },
    trigger: { mode, bulkSize: positiveInt('bulk-size', str('bulkSize'), 1000), ratePerSecond: events, total, durationMs, maxUnfinished: undefined, eventFanout },
    workers: { processes: positiveInt('workers', str('workers'), 64), slots: positiveInt('slots', str('slots'), 10_000), startDelayMs: duration('worker-delay', str('workerDelay')) },
    concurrency: options.concurrency === undefined ? undefined : positiveInt('concurrency', str('concurrency')),
    waitMs: duration('wait', str('wait')),
  };
}

/** Checks the parsed flags and scenarios and turns them into a plan (invariants 1 and 2). */
export function planOf(args: readonly string[], options: Options, given: (flag: string) => boolean, defaultScenarios: readonly Scenario[]): BenchPlan {
  for (const arg of args) {
    if (!(Scenarios as readonly string[]).includes(arg)) throw new UsageError(`unknown scenario '${arg}'; known: ${Scenarios.join(', ')}`);
  }
  const scenarios = new Set<Scenario>(args.length === 0 ? defaultScenarios : (args as Scenario[]));
  const fixed: WorkloadId[] = scenarios.has('all') ? [...WorkloadIds] : WorkloadIds.filter((id) => scenarios.has(id));
  if (!scenarios.has('load')) {
    const stray = LOAD_FLAGS.filter((flag) => given(flag));
    if (stray.length > 0) {
      const names = stray.map((flag) => `--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ');
      throw new UsageError(`${names} only ${stray.length === 1 ? 'shapes' : 'shape'} the load scenario; the fixed workloads take no load-test flags, so that their results compare (add 'load' to run it as well)`);
    }
  }
  const level = options.level as string;
  if (!(LogLevels as readonly string[]).includes(level)) throw new UsageError(`--level must be one of ${LogLevels.join(', ')}, not '${level}'`);
  const url = options.url as string | undefined;
  if (url === undefined && options.token !== undefined) throw new UsageError('--token goes with --url: an engine started here makes its own token');
  if (url === undefined && options.enginePid !== undefined) throw new UsageError('--engine-pid goes with --url: the bench measures an engine it started itself');
  if (url !== undefined && fixed.includes('w6')) throw new UsageError('w6 builds a log and starts an engine on it, so it cannot run against --url');
  if (url !== undefined && !/^(?:(?:wss?|https?):\/\/)?[^/\s:]+:\d+(?:\/.*)?$/.test(url)) throw new UsageError(`--url must be host:port, ws://host:port or http://host:port, not '${url}'`);
  if (!scenarios.has('log') && (options.only !== undefined || options.nats !== undefined)) throw new UsageError('--only and --nats belong to the log scenario');

  const smoke = options.smoke === true;
  const workloads: Workload[] = [...(scenarios.has('load') ? [loadWorkload(options, given)] : []), ...fixed.flatMap((id) => fixedWorkloads(id, smoke))];
  // W5's durable row and its backlog rows also come alone, by their own names.
  if (scenarios.has('w5-durable') && !fixed.includes('w5')) workloads.push(...fixedWorkloads('w5', smoke).filter((workload) => workload.kind === 'load' && workload.background !== undefined));
  if (scenarios.has('w5-backlog') && !fixed.includes('w5')) workloads.push(...fixedWorkloads('w5', smoke).filter((workload) => workload.kind === 'backlog'));
  const token = (options.token as string | undefined) ?? process.env.HATCHET_CLIENT_TOKEN;
  return {
    workloads,
    log: scenarios.has('log') ? { only: options.only as 'lmdb' | 'jetstream' | undefined, natsUrl: options.nats as string | undefined } : undefined,
    subjects: options.vs === 'bullmq' ? ['kindling', 'bullmq'] : ['kindling'],
    remote: url === undefined ? undefined : { url, token, pid: options.enginePid === undefined ? undefined : positiveInt('engine-pid', options.enginePid as string) },
    logLevel: level as LogLevel,
    json: options.json === true,
    progress: options.progress === true,
    smoke,
    repeat: repeatOf(options.repeat as string | undefined),
  };
}

function repeatOf(value: string | undefined): number {
  const repeat = positiveInt('repeat', value ?? '1');
  if (repeat > 9) throw new UsageError('--repeat takes 1 to 9 (each run of a full-size row takes a while)');
  return repeat;
}
