/**
 * Kindling as a benchmark subject, through its public faces only: the SDK (`src/sdk/index.ts`,
 * Hatchet-compatible), `kindling start` and nothing else. Driver side: declares the workflows,
 * triggers runs with `runNoWait` (one input per call, or many), awaits `ref.result()`. Worker side:
 * an SDK worker serving every shape.
 *
 * Feature detection: event triggers, workflow concurrency and durable tasks are asked of the SDK
 * (does the client have `events.push`, does a declaration carry `concurrency` into its spec, is
 * there `durableTask`), not assumed, so the bench picks them up as the SDK grows. Where the SDK
 * has a feature that this adapter does not drive yet, it says so instead of guessing.
 *
 * Events (`--trigger event`): workflows `bench-event-0` … listen for `bench:event:<fan-out>`, so an
 * event of key `bench:event:N` starts N of them; a run of the workload is one event, finished when
 * all the runs it started (the push names them) have. Durable sleepers (W5's durable row) are
 * durable tasks that sleep an hour, evicted at once, cancelled when the subject closes.
 */
import { type BaseWorkflowDeclaration, ConcurrencyLimitStrategy, HatchetClient, type JsonObject, NotSupportedError, RateLimitDuration, type WorkflowRunRef } from '../../src/sdk/index.js';
import { type KindlingServer, startKindling } from '../servers.js';
import { type LoadWorkload, type LogLevel, noopTask, type Shape, type TriggerMode, type WorkerConfig } from '../workload.js';
import type { FinishedListener, OpenSubject, RemoteEngine, RunHandle, StartWorker, Subject, Target, Unsupported } from './subject.js';
import { chainStep, taskBody } from './task-body.js';

const sdkLogLevel = (level: LogLevel) => level.toUpperCase() as 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

/** `host:port` and whether to use TLS, from `ws://h:p/ws`, `wss://…`, `http(s)://h:p` or `h:p`. */
export function parseEngineUrl(url: string): { hostPort: string; tls: boolean } {
  const match = url.match(/^(?:(wss?|https?):\/\/)?([^/\s:]+:\d+)(?:\/.*)?$/);
  if (match === null) throw new Error(`'${url}' is not an engine address: use host:port, ws://host:port or http://host:port`);
  const scheme = match[1];
  return { hostPort: match[2] as string, tls: scheme === 'wss' || scheme === 'https' };
}

function client(target: Target, logLevel: LogLevel): HatchetClient {
  return HatchetClient.init({
    host_port: target.hostPort,
    log_level: sdkLogLevel(logLevel),
    ...(target.token === undefined ? {} : { token: target.token }),
    ...(target.tls === true ? { tls_config: { tls_strategy: 'tls' } } : {}),
  });
}

/** A client that never connects, to ask the SDK what it offers. */
const probeClient = () => HatchetClient.init({ token: 'probe', host_port: '127.0.0.1:9', log_level: 'OFF' });

/**
 * Whether the SDK would register a declaration, or refuses it because the engine does not carry
 * out one of its options yet (the SDK exports every Hatchet name, so a name existing says nothing).
 */
function registers(declare: () => { spec(): unknown }): boolean {
  try {
    declare().spec();
    return true;
  } catch (error) {
    if (error instanceof NotSupportedError) return false;
    throw error;
  }
}

/** What this SDK offers beyond plain runs; each answer is a question put to the SDK itself. */
export function kindlingFeatures() {
  const probe = probeClient();
  const events = registers(() => probe.task({ name: 'probe', onEvents: ['probe'], fn: () => ({}) }));
  const concurrency = registers(() => probe.task({ name: 'probe', concurrency: { expression: "'bench'", maxRuns: 1 }, fn: () => ({}) }));
  const durable = registers(() => probe.durableTask({ name: 'probe', fn: async () => ({}) }));
  return { events, concurrency, durable };
}

/** Workflows listening for the bench's events: an event of fan-out N starts the first N. */
export const EVENT_FANOUT_MAX = 16;

/** The benchmark's workflows, declared the same way by the driver (to trigger) and the workers (to run). */
function declare(hatchet: HatchetClient, config: Pick<WorkerConfig, 'task' | 'concurrency' | 'policy'>, onStart: (runId: string) => void) {
  // Passed only when the SDK carries it (kindlingFeatures), as Hatchet's `concurrency` option: a
  // constant key makes it one limit across all runs, and GROUP_ROUND_ROBIN makes the runs over it
  // wait (the server default, CANCEL_IN_PROGRESS, would cancel them).
  const limit =
    config.concurrency === undefined ? {} : { concurrency: { expression: "'bench'", maxRuns: config.concurrency, limitStrategy: ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN } };
  // A flow-control workload's task (workload.ts, FlowPolicy): its own workflow, so its keys and
  // limits never meet the plain task's.
  const policy =
    config.policy === undefined
      ? {}
      : config.policy.kind === 'round-robin'
        ? { concurrency: { expression: 'input.key', maxRuns: 1, limitStrategy: ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN } }
        : { rateLimits: [{ dynamicKey: 'input.key', units: 1, limit: 1000, duration: RateLimitDuration.SECOND }] };
  const task = hatchet.task({
    name: config.policy === undefined ? 'bench-task' : `bench-task-${config.policy.kind}`,
    ...limit,
    ...policy,
    fn: async (_input: Record<string, never>, ctx) => {
      onStart(ctx.workflowRunId());
      await taskBody(config.task);
    },
  });
  const chain = hatchet.workflow<{ n: number }, { c: { n: number } }>({ name: 'bench-chain' });
  const a = chain.task({
    name: 'a',
    fn: (input, ctx) => {
      onStart(ctx.workflowRunId());
      return chainStep(input);
    },
  });
  const b = chain.task({ name: 'b', parents: [a], fn: async (_input, ctx) => chainStep(await ctx.parentOutput(a)) });
  chain.task({ name: 'c', parents: [b], fn: async (_input, ctx) => chainStep(await ctx.parentOutput(b)) });
  const child = hatchet.task({
    name: 'bench-fanout-child',
    fn: async (_input: Record<string, never>) => {
      await taskBody(config.task);
      return {};
    },
  });
  const parent = hatchet.task({
    name: 'bench-fanout-parent',
    executionTimeout: '10m',
    fn: async (input: { children: number }, ctx) => {
      onStart(ctx.workflowRunId());
      const outputs = await ctx.bulkRunChildren(Array.from({ length: input.children }, () => ({ workflow: child, input: {} })));
      return { children: outputs.length };
    },
  });
  const listeners = Array.from({ length: EVENT_FANOUT_MAX }, (_, i) =>
    hatchet.task({
      name: `bench-event-${i}`,
      onEvents: Array.from({ length: EVENT_FANOUT_MAX - i }, (_, k) => `bench:event:${i + k + 1}`),
      fn: async (_input: Record<string, never>, ctx) => {
        onStart(ctx.triggeringEventId() ?? ctx.workflowRunId());
        await taskBody(config.task);
      },
    }),
  );
  const sleeper = hatchet.durableTask({
    name: 'bench-durable-sleeper',
    executionTimeout: '2h',
    fn: async (_input: Record<string, never>, ctx) => {
      await ctx.sleepFor('1h');
      return {};
    },
  });
  return { task, chain, child, parent, sleeper, all: [task, chain, child, parent, sleeper, ...listeners] };
}

type Declarations = ReturnType<typeof declare>;

/** The output a run of each shape reports, as the shape promises it (see workload.outputIsRight). */
function normalise(shape: Shape, output: unknown): unknown {
  return shape === 'chain' ? (output as { c?: unknown } | null)?.c : output;
}

class KindlingSubject implements Subject {
  readonly name = 'kindling';
  readonly #hatchet: HatchetClient;
  #declarations: Declarations | undefined;
  readonly #refs = new Map<string, { ref: WorkflowRunRef<unknown>; shape: Shape }>();
  /** The runs each pushed event started, by event id. */
  readonly #eventRuns = new Map<string, string[]>();
  #eventFanout = 1;
  readonly #sleepers: string[] = [];

  constructor(
    readonly target: Target,
    readonly serverPid: number | undefined,
    readonly logLevel: LogLevel,
    private readonly server: KindlingServer | undefined,
    private readonly onFinished: FinishedListener,
  ) {
    this.#hatchet = client(target, logLevel);
  }

  async prepare(workload: Pick<LoadWorkload, 'shape' | 'concurrency' | 'policy'> & { trigger?: { eventFanout: number } }): Promise<void> {
    this.#eventFanout = workload.trigger?.eventFanout ?? 1;
    // The driver never runs tasks: its declarations only name what to trigger (and register it).
    this.#declarations = declare(this.#hatchet, { task: noopTask, concurrency: workload.concurrency, policy: workload.policy }, () => {});
    // Creating a worker registers its workflows; this one is never started.
    await this.#hatchet.worker('bench-registrar', { workflows: this.#declarations.all, handleKill: false });
  }

  async trigger(shape: Shape, inputs: unknown[], mode: TriggerMode): Promise<RunHandle[]> {
    if (mode === 'event') {
      const pushed = await this.#hatchet.events.bulkPush(`bench:event:${this.#eventFanout}`, inputs.map((input) => ({ payload: input })));
      return pushed.events.map((event) => {
        this.#eventRuns.set(event.eventId, event.triggeredRunIds ?? []);
        return { resultId: event.eventId, startId: event.eventId };
      });
    }
    const declarations = this.#declarations;
    if (declarations === undefined) throw new Error('trigger before prepare');
    const declaration = (shape === 'task' ? declarations.task : shape === 'chain' ? declarations.chain : declarations.parent) as unknown as BaseWorkflowDeclaration<JsonObject, JsonObject>;
    const refs: Array<WorkflowRunRef<unknown>> = mode === 'bulk' ? await declaration.runNoWait(inputs as JsonObject[]) : [await declaration.runNoWait(inputs[0] as JsonObject)];
    return refs.map((ref) => {
      this.#refs.set(ref.workflowRunId, { ref, shape });
      return { resultId: ref.workflowRunId, startId: shape === 'fanout' ? undefined : ref.workflowRunId };
    });
  }

  watch(handles: readonly RunHandle[]): void {
    for (const { resultId } of handles) {
      const runs = this.#eventRuns.get(resultId);
      if (runs !== undefined) {
        this.#eventRuns.delete(resultId);
        Promise.all(runs.map((runId) => this.#hatchet.runRef(runId).result())).then(
          (outputs) => this.onFinished(resultId, true, outputs[0]),
          (errors: unknown) => this.onFinished(resultId, false, errors),
        );
        continue;
      }
      const entry = this.#refs.get(resultId);
      if (entry === undefined) continue;
      this.#refs.delete(resultId);
      entry.ref.result().then(
        (output) => this.onFinished(resultId, true, normalise(entry.shape, output)),
        (errors: unknown) => this.onFinished(resultId, false, errors),
      );
    }
  }

  /** Triggers `count` durable sleepers and waits until none of them is queued: all are asleep, evicted. */
  async sleepInBackground(count: number): Promise<void> {
    const sleeper = this.#declarations?.sleeper;
    if (sleeper === undefined) throw new Error('sleepers before prepare');
    for (let i = 0; i < count; i += 500) {
      const refs = await sleeper.runNoWait(Array.from({ length: Math.min(500, count - i) }, () => ({})));
      this.#sleepers.push(...refs.map((ref) => ref.workflowRunId));
    }
    const deadline = Date.now() + 120_000;
    for (;;) {
      const health = (await (await fetch(`http://${this.target.hostPort}/health`)).json()) as { queued: number };
      if (health.queued === 0) return;
      if (Date.now() > deadline) throw new Error(`${health.queued} durable sleepers still queued after 120 s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async close(): Promise<void> {
    // Sleepers on an engine the bench did not start would sleep on: cancel them.
    for (let i = 0; i < this.#sleepers.length; i += 1000) await this.#hatchet.runs.cancel({ ids: this.#sleepers.slice(i, i + 1000) }).catch(() => {});
    this.#hatchet.close();
    await this.server?.dispose();
  }
}

export const unsupported: Unsupported = (workload) => {
  const features = kindlingFeatures();
  if (workload.trigger.mode === 'event') {
    if (!features.events) return 'event triggers are not available in this engine yet';
    if (workload.shape !== 'task') return 'event triggers drive the task shape only (--trigger event with a chain or fan-out is not measured)';
    if (workload.trigger.eventFanout > EVENT_FANOUT_MAX) return `an event starts at most ${EVENT_FANOUT_MAX} of the bench's workflows (--event-fanout)`;
  }
  if (workload.background !== undefined && !features.durable) return 'durable tasks are not available in this engine yet';
  if (workload.concurrency !== undefined && !features.concurrency) return 'workflow concurrency limits (--concurrency) are not available in this engine yet';
  return undefined;
};

export const openSubject: OpenSubject = async ({ remote, logLevel, onFinished }) => {
  if (remote !== undefined) return new KindlingSubject(remoteTarget(remote), remote.pid, logLevel, undefined, onFinished);
  const server = await startKindling();
  return new KindlingSubject({ hostPort: server.hostPort, token: server.token }, server.pid, logLevel, server, onFinished);
};

function remoteTarget(remote: RemoteEngine): Target {
  const { hostPort, tls } = parseEngineUrl(remote.url);
  return { hostPort, tls, ...(remote.token === undefined ? {} : { token: remote.token }) };
}

export const startWorker: StartWorker = async (target, config, onStart) => {
  const hatchet = client(target, config.logLevel);
  const { all } = declare(hatchet, config, onStart);
  const worker = await hatchet.worker('bench-worker', { workflows: all, slots: config.slots, handleKill: false });
  void worker.start();
  await worker.waitUntilReady(30_000);
  return {
    stop: async () => {
      await worker.stop();
      hatchet.close();
    },
  };
};
