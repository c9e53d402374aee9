/**
 * Durable tasks end to end, on the real engine process with real workers: checkpoints (now, sleep,
 * an event wait, a child) replayed from the run's log; a worker process killed while its task
 * waits, and a new worker finishing it without redoing what was done; the engine killed with
 * `kill -9` mid-sleep; eviction freeing the durable slot; non-determinism detected; and a task
 * branched from a checkpoint.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { HatchetClient, NonDeterminismError } from '../../src/sdk/index.js';
import type { Worker } from '../../src/sdk/worker.js';
import { type EngineProcess, startEngine } from '../support/engine-process.js';
import { declareJourney } from '../support/journey.js';
import { until } from '../support/until.js';

const workerScript = fileURLToPath(new URL('../support/durable-worker.js', import.meta.url));

/** Pushes the event the journey waits for until the run ends (an event before the wait is not kept). */
async function pushUntilDone(hatchet: HatchetClient, done: () => boolean): Promise<void> {
  while (!done()) {
    await hatchet.events.push('journey:go', { ok: true, n: 1 });
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function clientFor(engine: EngineProcess) {
  return HatchetClient.init({ token: engine.token, host_port: engine.hostPort, api_url: `http://${engine.hostPort}`, log_level: 'ERROR' });
}

async function startWorker(hatchet: HatchetClient, name: string, workflows: unknown[], opts: { slots?: number; durableSlots?: number } = {}): Promise<Worker> {
  const worker = await hatchet.worker(name, { workflows: workflows as never, slots: opts.slots ?? 10, durableSlots: opts.durableSlots ?? 10, handleKill: false });
  void worker.start();
  await worker.waitUntilReady();
  return worker;
}

t.test('a durable task: now, sleep, event wait and child are checkpoints; each replay redoes only the code between them', async (t) => {
  const engine = await startEngine();
  t.teardown(() => engine.dispose());
  const hatchet = clientFor(engine);
  t.teardown(() => hatchet.close());
  const steps: string[] = [];
  const { journey, child } = declareJourney(hatchet, 800, (step, _runId, value) => steps.push(`${step}:${value}`));
  const worker = await startWorker(hatchet, 'durable-worker', [journey, child]);
  t.teardown(() => worker.stop());
  const startedAt = Date.now();
  const ref = await journey.runNoWait({});
  let finished = false;
  const result = ref.output.finally(() => {
    finished = true;
  });
  await pushUntilDone(hatchet, () => finished);
  const output = (await result) as { started: number; slept: number; event: Record<string, unknown>; child: { hello: string }; invocation: number };
  t.ok(Date.now() - startedAt >= 800, 'it slept');
  t.match(output, { slept: 800, event: { ok: true, n: 1 }, child: { hello: ref.workflowRunId } });
  // Started once, then resumed after each wait that was not over when it began: the sleep, and
  // the event and the child unless they came first (a child can finish before its checkpoint lands).
  t.ok(output.invocation >= 2 && output.invocation <= 4, `${output.invocation} invocations`);
  const nows = steps.filter((s) => s.startsWith('now:'));
  t.equal(new Set(nows).size, 1, 'now() is the same on every replay');
  t.equal(nows.length, output.invocation, 'the code before the first checkpoint ran in each invocation');
  t.equal(steps.filter((s) => s.startsWith('child:')).length, 1, 'the child ran once');
  t.equal(steps.filter((s) => s.startsWith('done:')).length, 1);
  const details = await hatchet.runs.get(ref.workflowRunId);
  t.equal(details.taskEvents.filter((e) => e.eventType === 'DURABLE_EVICTED').length, output.invocation - 1, 'evicted once per resumption');
});

t.test('eviction frees the durable slot: a one-slot worker runs a second durable task while the first sleeps', async (t) => {
  const engine = await startEngine();
  t.teardown(() => engine.dispose());
  const hatchet = clientFor(engine);
  t.teardown(() => hatchet.close());
  const order: string[] = [];
  const sleeper = hatchet.durableTask({ name: 'sleeper', fn: async (input: { tag: string }, ctx) => {
    order.push(`start ${input.tag}`);
    await ctx.sleepFor(input.tag === 'long' ? '3s' : '10ms');
    order.push(`end ${input.tag}`);
    return { tag: input.tag };
  } });
  const worker = await startWorker(hatchet, 'one-durable-slot', [sleeper], { durableSlots: 1 });
  t.teardown(() => worker.stop());
  const long = await sleeper.runNoWait({ tag: 'long' });
  await until('the long one to start', () => order.includes('start long'));
  t.same(await sleeper.run({ tag: 'short' }), { tag: 'short' }, 'the short one ran in the slot the sleeper gave back');
  t.same(await long.output, { tag: 'long' });
  t.same(order.filter((o) => o.startsWith('end')), ['end short', 'end long']);
});

t.test('the worker process is killed while its durable task waits; a new worker completes it without redoing completed steps', async (t) => {
  const engine = await startEngine({ workerLivenessMs: 3000 });
  t.teardown(() => engine.dispose());
  const doomed = spawn(process.execPath, [workerScript, engine.hostPort, engine.token, '2500'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let doomedOutput = '';
  doomed.stdout.on('data', (chunk: Buffer) => {
    doomedOutput += chunk.toString();
  });
  const hatchet = clientFor(engine);
  t.teardown(() => hatchet.close());
  const steps: string[] = [];
  const { journey, child } = declareJourney(hatchet, 2500, (step, _runId, value) => steps.push(`${step}:${value}`));
  await until('the doomed worker to register', async () => (await hatchet.getWorkflow('journey').catch(() => undefined)) !== undefined);
  const ref = await journey.runNoWait({});
  await until('the doomed worker to start the journey', () => doomedOutput.includes(`step now ${ref.workflowRunId}`));
  // It is asleep now (evicted: it holds nothing); kill it mid-sleep.
  await until('the sleep checkpoint', async () => (await hatchet.runs.get(ref.workflowRunId)).taskEvents.some((e) => e.eventType === 'DURABLE_EVICTED'));
  const killed = new Promise((resolve) => doomed.once('exit', resolve));
  doomed.kill('SIGKILL');
  await killed;
  const recordedNow = /step now \S+ (\d+)/.exec(doomedOutput)?.[1];
  const survivor = await startWorker(hatchet, 'durable-survivor', [journey, child]);
  t.teardown(() => survivor.stop());
  let finished = false;
  const result = ref.output.finally(() => {
    finished = true;
  });
  await pushUntilDone(hatchet, () => finished);
  const output = (await result) as { started: number; child: { hello: string } };
  t.equal(String(output.started), recordedNow, "the survivor replayed the killed worker's now() instead of reading the clock");
  t.notOk(doomedOutput.includes('step slept'), 'the killed worker never got past the sleep');
  t.ok(steps.every((s) => !s.startsWith('now:') || s === `now:${recordedNow}`), 'every replay saw the recorded time');
  t.equal(steps.filter((s) => s.startsWith('child:')).length, 1, 'the child ran once');
  t.same(output.child, { hello: ref.workflowRunId });
});

t.test('the engine is killed with kill -9 mid-sleep: after a restart the task sleeps only what was left', async (t) => {
  const engine = await startEngine();
  t.teardown(() => engine.dispose());
  const hatchet = clientFor(engine);
  t.teardown(() => hatchet.close());
  const woke: number[] = [];
  const napper = hatchet.durableTask({ name: 'napper', executionTimeout: '1m', fn: async (_input: Record<string, never>, ctx) => {
    await ctx.sleepFor('7s');
    woke.push(Date.now());
    return { invocation: ctx.invocationCount };
  } });
  const worker = await startWorker(hatchet, 'napper-worker', [napper]);
  t.teardown(() => worker.stop());
  const startedAt = Date.now();
  const ref = await napper.runNoWait({});
  await until('the sleep checkpoint', async () => (await hatchet.runs.get(ref.workflowRunId)).taskEvents.some((e) => e.eventType === 'DURABLE_EVICTED'));
  await engine.kill('SIGKILL');
  await engine.restart();
  const restartedAt = Date.now();
  const output = await ref.output;
  t.same(output, { invocation: 2 });
  const wokeAt = woke[0] ?? 0;
  t.ok(wokeAt - startedAt >= 6900, `it slept the whole 7 s from its start (${wokeAt - startedAt} ms)`);
  t.ok(wokeAt - restartedAt < 6900, `but not 7 s again after the restart (${wokeAt - restartedAt} ms)`);
});

t.test('non-determinism: a replay that reaches a checkpoint with another operation gets a NonDeterminismError naming it', async (t) => {
  const engine = await startEngine();
  t.teardown(() => engine.dispose());
  const hatchet = clientFor(engine);
  t.teardown(() => hatchet.close());
  const shifty = hatchet.durableTask({ name: 'shifty', fn: async (_input: Record<string, never>, ctx) => {
    try {
      await ctx.sleepFor(`${ctx.invocationCount * 100}ms`);
    } catch (error) {
      if (error instanceof NonDeterminismError) return { detected: true, nodeId: error.nodeId, invocation: ctx.invocationCount };
      throw error;
    }
    return { detected: false, nodeId: 0, invocation: ctx.invocationCount };
  } });
  const worker = await startWorker(hatchet, 'shifty-worker', [shifty]);
  t.teardown(() => worker.stop());
  t.same(await shifty.run({}), { detected: true, nodeId: 1, invocation: 2 });
});

t.test('branch from a checkpoint: earlier checkpoints replay, later ones are done again; restore resumes the rest', async (t) => {
  const engine = await startEngine();
  t.teardown(() => engine.dispose());
  const hatchet = clientFor(engine);
  t.teardown(() => hatchet.close());
  const counts = { before: 0, between: 0, after: 0 };
  const branchy = hatchet.durableTask({ name: 'branchy-durable', fn: async (_input: Record<string, never>, ctx) => {
    counts.before += 1;
    const first = await ctx.now();
    counts.between += 1;
    const second = await ctx.now();
    counts.after += 1;
    return { first: first.getTime(), second: second.getTime() };
  } });
  const worker = await startWorker(hatchet, 'branch-worker', [branchy]);
  t.teardown(() => worker.stop());
  const ref = await branchy.runNoWait({});
  const original = (await ref.output) as { first: number; second: number };
  t.same(counts, { before: 1, between: 1, after: 1 });
  await new Promise((resolve) => setTimeout(resolve, 20));
  await hatchet.runs.branchDurableTask(ref.workflowRunId, 2);
  const branched = await until('the branched run to finish', async () => {
    const details = await hatchet.runs.get(ref.workflowRunId);
    return details.run.status === 'COMPLETED' && (details.tasks[0]?.retryCount ?? 0) >= 1 ? details : undefined;
  });
  const output = branched.tasks[0]?.output as { first: number; second: number };
  t.equal(output.first, original.first, 'checkpoint 1 was replayed');
  t.ok(output.second > original.second, 'checkpoint 2 was done again');
  t.same(counts, { before: 2, between: 2, after: 2 });
  await hatchet.runs.restoreTask(ref.workflowRunId);
  const restored = await until('the restored run to finish', async () => {
    const details = await hatchet.runs.get(ref.workflowRunId);
    return details.run.status === 'COMPLETED' && (details.tasks[0]?.retryCount ?? 0) >= 2 ? details : undefined;
  });
  t.same(restored.tasks[0]?.output, output, 'every checkpoint replayed: the same output');
  await t.rejects(hatchet.runs.branchDurableTask(ref.workflowRunId, 9), { code: 'INVALID_INPUT', message: /checkpoints 1 to 2/ });
});

t.test('waitForEvent with a look back: an event pushed before the wait counts; one outside the window or scope does not', async (t) => {
  const engine = await startEngine();
  t.teardown(() => engine.dispose());
  const hatchet = clientFor(engine);
  t.teardown(() => hatchet.close());
  const looker = hatchet.durableTask({ name: 'looker', fn: async (input: { scope: string }, ctx) => {
    const event = await ctx.waitForEvent('lookback:key', undefined, undefined, input.scope, '1m');
    return { event: event as Record<string, string> };
  } });
  const worker = await startWorker(hatchet, 'looker-worker', [looker]);
  t.teardown(() => worker.stop());
  await hatchet.events.push('lookback:key', { which: 'other scope' }, { scope: 'elsewhere' });
  await hatchet.events.push('lookback:key', { which: 'early' }, { scope: 'mine' });
  t.same(await looker.run({ scope: 'mine' }), { event: { which: 'early' } }, 'the event pushed before the wait was found');
});
