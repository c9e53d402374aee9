/**
 * BullMQ on Redis as a benchmark subject (the peer `--vs bullmq` runs), used the way its manual
 * shows: `Queue.add` / `addBulk` for tasks, a `FlowProducer` for the chain (C has child B, which
 * has child A; each step reads its predecessor's output with `job.getChildrenValues()`) and for the
 * fan-out (a parent with all its children in one flow), and one `QueueEvents` stream for every
 * result. Workers are BullMQ `Worker`s with `concurrency` = the workload's slots.
 *
 * Redis is started here for each row (bench/servers.ts) with `appendfsync everysec`: it may lose
 * the last second of acknowledged jobs on a crash, where Kindling loses none. BullMQ keeps finished
 * jobs in Redis (its default), as Kindling keeps them in its log.
 *
 * bullmq and ioredis are development dependencies: an installed Kindling without them says how to
 * add them instead of failing on an import.
 */
import type { FlowJob, FlowProducer, Job, JobNode, Queue, QueueEvents } from 'bullmq';
import { type LocalServer, startRedis } from '../servers.js';
import type { LoadWorkload, Shape, TriggerMode } from '../workload.js';
import type { FinishedListener, OpenSubject, RunHandle, StartWorker, Subject, Target, Unsupported } from './subject.js';
import { chainStep, taskBody } from './task-body.js';

const QUEUE = 'bench';

async function loadBullmq(): Promise<typeof import('bullmq')> {
  try {
    return await import('bullmq');
  } catch {
    throw new Error('--vs bullmq needs the bullmq and ioredis packages: npm install --save-dev bullmq@6.7.0 ioredis');
  }
}

function connection(target: Target) {
  const [host, port] = target.hostPort.split(':');
  // BullMQ's workers block on Redis; ioredis must not give up on a command (BullMQ asks for null).
  return { host: host as string, port: Number(port), maxRetriesPerRequest: null };
}

function parse(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/** The flow of one run: BullMQ builds a DAG from the leaf up, so the last step is the root. */
function flowOf(shape: Exclude<Shape, 'task'>, input: unknown): FlowJob {
  if (shape === 'chain') {
    const a: FlowJob = { name: 'a', queueName: QUEUE, data: input };
    const b: FlowJob = { name: 'b', queueName: QUEUE, children: [a] };
    return { name: 'c', queueName: QUEUE, children: [b] };
  }
  const { children } = input as { children: number };
  return {
    name: 'fanout-parent',
    queueName: QUEUE,
    data: input,
    children: Array.from({ length: children }, () => ({ name: 'fanout-child', queueName: QUEUE, data: {} })),
  };
}

function handleOf(shape: Shape, node: JobNode): RunHandle {
  const leaf = shape === 'chain' ? node.children?.[0]?.children?.[0] : undefined;
  return { resultId: node.job.id as string, startId: shape === 'chain' ? (leaf?.job.id as string) : undefined };
}

class BullmqSubject implements Subject {
  readonly name = 'bullmq';
  readonly serverPid: number;
  readonly target: Target;

  constructor(
    private readonly redis: LocalServer,
    private readonly queue: Queue,
    private readonly flows: FlowProducer,
    private readonly events: QueueEvents,
  ) {
    this.serverPid = redis.pid;
    this.target = { hostPort: redis.hostPort };
  }

  async prepare(workload: Pick<LoadWorkload, 'concurrency' | 'policy'>): Promise<void> {
    if (workload.policy !== undefined) throw new Error('per-key concurrency and rate limits are BullMQ Pro features; the bench runs them on Kindling only');
    if (workload.concurrency !== undefined) await this.queue.setGlobalConcurrency(workload.concurrency);
  }

  async trigger(shape: Shape, inputs: unknown[], mode: TriggerMode): Promise<RunHandle[]> {
    if (shape === 'task') {
      const jobs: Job[] = mode === 'bulk' ? await this.queue.addBulk(inputs.map((data) => ({ name: 'task', data }))) : [await this.queue.add('task', inputs[0])];
      return jobs.map((job) => ({ resultId: job.id as string, startId: job.id as string }));
    }
    const nodes = mode === 'bulk' ? await this.flows.addBulk(inputs.map((input) => flowOf(shape, input))) : [await this.flows.add(flowOf(shape, inputs[0]))];
    return nodes.map((node) => handleOf(shape, node));
  }

  /** QueueEvents reports every job already (invariant 2 of subject.ts): nothing to subscribe to. */
  watch(): void {}

  async close(): Promise<void> {
    await Promise.all([this.events.close(), this.flows.close(), this.queue.close()]);
    await this.redis.dispose();
  }
}

export const unsupported: Unsupported = (workload) => (workload.trigger.mode === 'event' ? 'BullMQ has no event triggers to compare with' : undefined);

export const openSubject: OpenSubject = async ({ onFinished }) => {
  const { FlowProducer, Queue, QueueEvents } = await loadBullmq();
  const redis = await startRedis();
  const options = { connection: connection({ hostPort: redis.hostPort }) };
  // QueueEvents reads a Redis stream that BullMQ trims to 10,000 events by default; a reader that
  // falls that far behind (a few thousand jobs: each has several events) would miss completions.
  // The bench keeps every event of a row so each result is seen.
  const queue = new Queue(QUEUE, { ...options, streams: { events: { maxLen: 10_000_000 } } });
  const flows = new FlowProducer(options);
  const events = new QueueEvents(QUEUE, options);
  const listener: FinishedListener = onFinished;
  events.on('completed', ({ jobId, returnvalue }) => listener(jobId, true, parse(returnvalue)));
  events.on('failed', ({ jobId, failedReason }) => listener(jobId, false, failedReason));
  // QueueEvents reads the stream from its end: it must be listening before the first job is added.
  await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
  return new BullmqSubject(redis, queue, flows, events);
};

export const startWorker: StartWorker = async (target, config, onStart) => {
  const { Worker } = await loadBullmq();
  const previous = async (job: Job) => Object.values(await job.getChildrenValues<{ n: number }>())[0] as { n: number };
  const worker = new Worker(
    QUEUE,
    async (job: Job) => {
      switch (job.name) {
        case 'task':
          onStart(job.id as string);
          return taskBody(config.task);
        case 'a':
          onStart(job.id as string);
          return chainStep(job.data as { n: number });
        case 'b':
        case 'c':
          return chainStep(await previous(job));
        case 'fanout-child':
          return taskBody(config.task);
        case 'fanout-parent':
          return { children: Object.keys(await job.getChildrenValues()).length };
        default:
          throw new Error(`no handler for job '${job.name}'`);
      }
    },
    { connection: connection(target), concurrency: config.slots, autorun: false },
  );
  void worker.run();
  await worker.waitUntilReady();
  return { stop: () => worker.close() };
};
