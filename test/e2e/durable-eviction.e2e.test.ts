/**
 * Durable tasks' eviction policy end to end, on the real engine process with real workers: a task
 * with a long ttl waits on its worker (its slot held) and goes on without a replay; a short ttl
 * evicts it and it resumes by replay; queued work evicts a resident task for its slot unless its
 * policy forbids it; a stopping worker lets its resident tasks go; the engine killed with `kill -9` while a task is resident; bad policies refused.
 */
import t from 'tap';
import { HatchetClient } from '../../src/sdk/index.js';
import type { Worker } from '../../src/sdk/worker.js';
import { type EngineProcess, startEngine } from '../support/engine-process.js';
import { until } from '../support/until.js';

function clientFor(engine: EngineProcess) {
  return HatchetClient.init({ token: engine.token, host_port: engine.hostPort, api_url: `http://${engine.hostPort}`, log_level: 'ERROR' });
}

async function startWorker(hatchet: HatchetClient, name: string, workflows: unknown[], durableSlots: number): Promise<Worker> {
  const worker = await hatchet.worker(name, { workflows: workflows as never, slots: 10, durableSlots, handleKill: false });
  void worker.start();
  await worker.waitUntilReady();
  return worker;
}

const evictions = async (hatchet: HatchetClient, runId: string) => (await hatchet.runs.get(runId)).taskEvents.filter((e) => e.eventType === 'DURABLE_EVICTED');

t.test('a long ttl: the task waits on its worker holding its slot (allowCapacityEviction false: queued work waits), and goes on without a replay', async (t) => {
  const engine = await startEngine();
  t.teardown(() => engine.dispose());
  const hatchet = clientFor(engine);
  t.teardown(() => hatchet.close());
  const order: string[] = [];
  const holder = hatchet.durableTask({
    name: 'holder',
    evictionPolicy: { ttl: '10m', allowCapacityEviction: false },
    fn: async (input: { tag: string; napMs: number }, ctx) => {
      order.push(`start ${input.tag}`);
      await ctx.sleepFor(input.napMs);
      order.push(`end ${input.tag}`);
      return { tag: input.tag, invocation: ctx.invocationCount };
    },
  });
  const worker = await startWorker(hatchet, 'one-slot-holder', [holder], 1);
  t.teardown(() => worker.stop());
  const first = await holder.runNoWait({ tag: 'first', napMs: 1500 });
  await until('the first to start', () => order.includes('start first'));
  await new Promise((resolve) => setTimeout(resolve, 300));
  const second = await holder.runNoWait({ tag: 'second', napMs: 10 });
  t.same(await first.output, { tag: 'first', invocation: 1 }, 'one invocation: no replay');
  t.same(await second.output, { tag: 'second', invocation: 1 });
  t.same(order, ['start first', 'end first', 'start second', 'end second'], 'the second waited for the slot the sleeping first held');
  t.same(await evictions(hatchet, first.workflowRunId), [], 'never evicted');
  const details = await hatchet.runs.get(first.workflowRunId);
  t.equal(details.run.status, 'COMPLETED');
});

t.test('a short ttl: a long sleep is evicted after the ttl and resumes by replay', async (t) => {
  const engine = await startEngine();
  t.teardown(() => engine.dispose());
  const hatchet = clientFor(engine);
  t.teardown(() => hatchet.close());
  let invocations = 0;
  const brief = hatchet.durableTask({
    name: 'brief',
    evictionPolicy: { ttl: '300ms' },
    fn: async (_input: Record<string, never>, ctx) => {
      invocations += 1;
      await ctx.sleepFor('2500ms');
      return { invocation: ctx.invocationCount };
    },
  });
  const worker = await startWorker(hatchet, 'brief-worker', [brief], 10);
  t.teardown(() => worker.stop());
  const startedAt = Date.now();
  const ref = await brief.runNoWait({});
  const evicted = await until('the eviction', async () => {
    const found = await evictions(hatchet, ref.workflowRunId);
    return found.length > 0 ? found : undefined;
  });
  t.match(evicted, [{ message: /ttl/ }], 'evicted for its ttl');
  t.same(await ref.output, { invocation: 2 }, 'resumed by a second invocation');
  t.equal(invocations, 2);
  t.ok(Date.now() - startedAt >= 2500, 'it slept the whole sleep');
  const details = await hatchet.runs.get(ref.workflowRunId);
  const finishedAt = Date.parse(String(details.taskEvents.find((e) => e.eventType === 'FINISHED')?.timestamp));
  t.ok(Date.parse(String(evicted[0]?.timestamp)) < finishedAt, 'the eviction came before the end');
});

t.test('capacity: a one-slot worker evicts its resident waiter (allowCapacityEviction) to run a second durable task', async (t) => {
  const engine = await startEngine();
  t.teardown(() => engine.dispose());
  const hatchet = clientFor(engine);
  t.teardown(() => hatchet.close());
  const order: string[] = [];
  const sleeper = hatchet.durableTask({
    name: 'yielding-sleeper',
    evictionPolicy: { ttl: '10m', allowCapacityEviction: true, priority: 1 },
    fn: async (input: { tag: string }, ctx) => {
      order.push(`start ${input.tag}`);
      await ctx.sleepFor(input.tag === 'long' ? '2500ms' : '10ms');
      order.push(`end ${input.tag}`);
      return { tag: input.tag, invocation: ctx.invocationCount };
    },
  });
  const worker = await startWorker(hatchet, 'one-slot-yielding', [sleeper], 1);
  t.teardown(() => worker.stop());
  const long = await sleeper.runNoWait({ tag: 'long' });
  await until('the long one to start', () => order.includes('start long'));
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.same(await sleeper.run({ tag: 'short' }), { tag: 'short', invocation: 1 }, 'the short one ran in the slot taken back from the sleeper');
  t.same(await long.output, { tag: 'long', invocation: 2 }, 'the evicted sleeper resumed by replay');
  t.same(order.filter((o) => o.startsWith('end')), ['end short', 'end long']);
  t.match(await evictions(hatchet, long.workflowRunId), [{ message: /needed its durable slot/ }]);
});

t.test('a worker that stops lets its resident waiters go: they are evicted, and another worker resumes them by replay', async (t) => {
  const engine = await startEngine();
  t.teardown(() => engine.dispose());
  const hatchet = clientFor(engine);
  t.teardown(() => hatchet.close());
  const started: string[] = [];
  const patient = hatchet.durableTask({
    name: 'patient',
    evictionPolicy: { ttl: '10m' },
    fn: async (_input: Record<string, never>, ctx) => {
      started.push(ctx.worker.id() ?? '');
      await ctx.sleepFor('1500ms');
      return { invocation: ctx.invocationCount };
    },
  });
  const leaving = await startWorker(hatchet, 'leaving-worker', [patient], 10);
  const ref = await patient.runNoWait({});
  await until('the task to start', () => started.length === 1);
  await new Promise((resolve) => setTimeout(resolve, 300));
  await leaving.stop();
  const staying = await startWorker(hatchet, 'staying-worker', [patient], 10);
  t.teardown(() => staying.stop());
  t.same(await ref.output, { invocation: 2 }, 'the leaving worker did not finish it');
  t.same(started, [leaving.workerId, staying.workerId]);
  t.match(await evictions(hatchet, ref.workflowRunId), [{ message: /stopped or was lost/ }]);
});

t.test('the engine is killed with kill -9 while a task is resident: after the restart it still completes', async (t) => {
  const engine = await startEngine();
  t.teardown(() => engine.dispose());
  const hatchet = clientFor(engine);
  t.teardown(() => hatchet.close());
  const woke: number[] = [];
  const steady = hatchet.durableTask({
    name: 'steady',
    executionTimeout: '1m',
    evictionPolicy: { ttl: '10m' },
    fn: async (_input: Record<string, never>, ctx) => {
      await ctx.sleepFor('4s');
      woke.push(Date.now());
      return { invocation: ctx.invocationCount };
    },
  });
  const worker = await startWorker(hatchet, 'steady-worker', [steady], 10);
  t.teardown(() => worker.stop());
  const startedAt = Date.now();
  const ref = await steady.runNoWait({});
  await until('the task to start', async () => (await hatchet.runs.get(ref.workflowRunId)).taskEvents.some((e) => e.eventType === 'STARTED'));
  await new Promise((resolve) => setTimeout(resolve, 500));
  await engine.kill('SIGKILL');
  await engine.restart();
  t.same(await ref.output, { invocation: 1 }, 'the resident invocation went on: the worker kept it through the restart');
  t.ok((woke[0] ?? 0) - startedAt >= 3900, 'it slept its whole sleep');
  t.same(await evictions(hatchet, ref.workflowRunId), []);
});

t.test('a bad eviction policy is refused when the worker registers the workflow', async (t) => {
  const engine = await startEngine();
  t.teardown(() => engine.dispose());
  const hatchet = clientFor(engine);
  t.teardown(() => hatchet.close());
  const fn = async () => ({});
  const fractional = hatchet.durableTask({ name: 'fractional', evictionPolicy: { priority: 1.5 }, fn });
  await t.rejects(hatchet.worker('bad-priority', { workflows: [fractional], handleKill: false }), { code: 'INVALID_INPUT', message: /priority/ });
  const endless = hatchet.durableTask({ name: 'endless', evictionPolicy: { ttl: '30d' }, fn });
  await t.rejects(hatchet.worker('bad-ttl', { workflows: [endless], handleKill: false }), { code: 'INVALID_INPUT', message: /ttlMs/ });
  const garbled = hatchet.durableTask({ name: 'garbled', evictionPolicy: { ttl: 'soon' }, fn });
  await t.rejects(hatchet.worker('garbled-ttl', { workflows: [garbled], handleKill: false }), { message: /durable task 'garbled': evictionPolicy\.ttl/ });
  t.equal(await hatchet.getWorkflow('fractional').catch(() => undefined), undefined, 'nothing was registered');
});
