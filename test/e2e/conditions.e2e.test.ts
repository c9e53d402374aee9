/**
 * DAG conditions end to end, on the real engine process: `waitFor` a sleep (holding no slot), an
 * `Or` of a sleep and an event, an AND of two groups, `skipIf` on an event and on a parent's output
 * (complementary branches), and `cancelIf` cascading to the tasks downstream.
 */
import t from 'tap';
import { HatchetClient, Or, SleepCondition, UserEventCondition } from '../../src/sdk/index.js';
import { ParentCondition } from '../../src/sdk/parent-condition.js';
import type { Worker } from '../../src/sdk/worker.js';
import { type EngineProcess, startEngine } from '../support/engine-process.js';

let engine: EngineProcess;
let hatchet: HatchetClient;
const workers: Worker[] = [];

t.before(async () => {
  engine = await startEngine();
  hatchet = HatchetClient.init({ token: engine.token, host_port: engine.hostPort, log_level: 'ERROR' });
});
t.teardown(async () => {
  for (const worker of workers) await worker.stop();
  hatchet.close();
  await engine.dispose();
});

// biome-ignore lint/suspicious/noExplicitAny: declarations of any input and output.
async function startWorker(name: string, workflows: any[], slots = 20) {
  const worker = await hatchet.worker(name, { workflows, slots, handleKill: false });
  void worker.start();
  await worker.waitUntilReady();
  workers.push(worker);
  return worker;
}

t.test('waitFor a sleep: the task starts after it, and holds no slot meanwhile', async (t) => {
  const order: string[] = [];
  const wf = hatchet.workflow({ name: 'sleepy-dag' });
  const first = wf.task({ name: 'first', fn: () => {
    order.push('first');
    return { at: Date.now() };
  } });
  wf.task({ name: 'after-sleep', parents: [first], waitFor: [new SleepCondition('1500ms')], fn: async (_input, ctx) => {
    order.push('after-sleep');
    return { waited: Date.now() - (await ctx.parentOutput(first)).at, triggers: ctx.triggers() };
  } });
  const quick = hatchet.task({ name: 'quick', fn: () => {
    order.push('quick');
    return {};
  } });
  await startWorker('one-slot-worker', [wf, quick], 1);
  const ref = await wf.runNoWait({});
  while (!order.includes('first')) await new Promise((resolve) => setTimeout(resolve, 10));
  await quick.run({});
  const output = (await ref.output) as { 'after-sleep': { waited: number; triggers: Record<string, unknown> } };
  t.ok(output['after-sleep'].waited >= 1400, `it waited ${output['after-sleep'].waited} ms after its parent`);
  t.same(order, ['first', 'quick', 'after-sleep'], 'the one slot ran another task while the sleep went on');
  t.same(output['after-sleep'].triggers, { 'sleep-1500ms': { durationMs: 1500 } }, 'ctx.triggers() says what satisfied the wait');
});

t.test('Or(sleep, event): the event ends the wait long before the sleep; AND across groups needs both', async (t) => {
  const wf = hatchet.workflow({ name: 'or-dag' });
  wf.task({
    name: 'either',
    waitFor: [Or(new SleepCondition('60s'), new UserEventCondition('or-dag:go', "input.ok == true"))],
    fn: () => ({ at: Date.now() }),
  });
  const both = hatchet.workflow({ name: 'and-dag' });
  both.task({ name: 'both', waitFor: [new SleepCondition('1500ms'), { eventKey: 'and-dag:go' }], fn: () => ({ at: Date.now() }) });
  await startWorker('or-worker', [wf, both]);

  const started = Date.now();
  const ref = await wf.runNoWait({});
  await hatchet.events.push('or-dag:go', { ok: false });
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.equal((await hatchet.runs.get(ref.workflowRunId)).run.status, 'QUEUED', 'an event the expression rejects does not count');
  await hatchet.events.push('or-dag:go', { ok: true });
  const output = (await ref.output) as { either: { at: number } };
  t.ok(output.either.at - started < 30_000, 'the event, not the 60 s sleep, let it run');

  const andStarted = Date.now();
  const andRef = await both.runNoWait({});
  await hatchet.events.push('and-dag:go', {});
  const andOutput = (await andRef.output) as { both: { at: number } };
  t.ok(andOutput.both.at - andStarted >= 1400, 'the event came at once, but the sleep group had to hold too');
});

t.test('skipIf: an event skips a waiting task; complementary parent conditions run exactly one branch', async (t) => {
  const wf = hatchet.workflow<{ n: number }>({ name: 'branchy' });
  const start = wf.task({ name: 'start', fn: (input) => ({ n: input.n }) });
  const skippable = wf.task({
    name: 'skippable',
    parents: [start],
    waitFor: [new SleepCondition('2s')],
    skipIf: [new UserEventCondition('branchy:skip', 'true')],
    fn: () => ({ ran: true }),
  });
  const left = wf.task({ name: 'left', parents: [start], skipIf: [new ParentCondition(start, 'output.n > 50')], fn: () => ({ side: 'left' }) });
  const right = wf.task({ name: 'right', parents: [start], skipIf: [new ParentCondition(start, 'output.n <= 50')], fn: () => ({ side: 'right' }) });
  wf.task({
    name: 'join',
    parents: [skippable, left, right],
    fn: async (_input, ctx) => ({
      skippable: await ctx.parentOutput(skippable),
      left: await ctx.parentOutput(left),
      right: await ctx.parentOutput(right),
    }),
  });
  await startWorker('branch-worker', [wf]);
  const ref = await wf.runNoWait({ n: 70 });
  await hatchet.events.push('branchy:skip', {});
  const output = (await ref.output) as Record<string, unknown>;
  t.same(output.join, { skippable: { skipped: true }, left: { skipped: true }, right: { side: 'right' } });
  const details = await hatchet.runs.get(ref.workflowRunId);
  t.ok(details.taskEvents.some((e) => e.eventType === 'SKIPPED' && e.taskDisplayName === 'left'), 'the task events say SKIPPED');
  const low = (await wf.run({ n: 10 })) as Record<string, { left: unknown; right: unknown }>;
  t.same([low.join?.left, low.join?.right], [{ side: 'left' }, { skipped: true }], 'the other branch for a low number');
});

t.test('cancelIf: the event cancels the task and everything downstream; the run is cancelled', async (t) => {
  const ran: string[] = [];
  const wf = hatchet.workflow({ name: 'cancellable' });
  const gated = wf.task({ name: 'gated', waitFor: [{ eventKey: 'cancellable:never' }], cancelIf: [{ eventKey: 'cancellable:cancel' }], fn: () => {
    ran.push('gated');
    return {};
  } });
  wf.task({ name: 'downstream', parents: [gated], fn: () => {
    ran.push('downstream');
    return {};
  } });
  await startWorker('cancel-worker', [wf]);
  const ref = await wf.runNoWait({});
  await hatchet.events.push('cancellable:cancel', {});
  const errors = await ref.output.then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(Array.isArray(errors), 'the run did not complete');
  const details = await hatchet.runs.get(ref.workflowRunId);
  t.equal(details.run.status, 'CANCELLED');
  t.same(details.tasks.map((task) => [task.displayName, task.status]), [['gated', 'CANCELLED'], ['downstream', 'CANCELLED']]);
  t.same(ran, [], 'neither task ran');
});
