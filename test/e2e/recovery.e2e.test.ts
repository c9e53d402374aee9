/**
 * Recovery, with real processes: a worker killed mid-task loses its task to another worker (unless
 * the task released its slot: then it stays RUNNING, as Hatchet's manual slot release says); the
 * engine killed with `kill -9` in the middle of 1,000 runs comes back and finishes every one.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { join } from 'node:path';
import { HatchetClient, type WorkflowRunRef } from '../../src/sdk/index.js';
import { LmdbLog } from '../../store/lmdb.js';
import { startEngine } from '../support/engine-process.js';

const workerScript = fileURLToPath(new URL('../support/worker-process.js', import.meta.url));

t.test('a worker killed after it released its task slot: the task is not reassigned and stays RUNNING', async (t) => {
  const engine = await startEngine({ workerLivenessMs: 1500 });
  t.teardown(() => engine.dispose());
  const doomed = spawn(process.execPath, [workerScript, engine.hostPort, engine.token], { stdio: ['ignore', 'pipe', 'inherit'] });
  let doomedOutput = '';
  const started = new Promise<void>((resolve) => {
    doomed.stdout.on('data', (chunk: Buffer) => {
      doomedOutput += chunk.toString();
      if (doomedOutput.includes('started')) resolve();
    });
  });
  const hatchet = HatchetClient.init({ token: engine.token, host_port: engine.hostPort, log_level: 'ERROR' });
  t.teardown(() => hatchet.close());
  const step = hatchet.task({ name: 'released-step', fn: async () => ({ by: 'the survivor' }) });
  let ref: WorkflowRunRef<{ by: string }> | undefined;
  for (let i = 0; i < 100 && ref === undefined; i++) {
    ref = await step.runNoWait({}).catch(() => undefined);
    if (ref === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (ref === undefined) throw new Error('the workflow was never registered');
  await started;
  const killed = new Promise((resolve) => doomed.once('exit', resolve));
  doomed.kill('SIGKILL');
  await killed;
  const survivor = await hatchet.worker('survivor', { workflows: [step], slots: 5, handleKill: false });
  void survivor.start();
  t.teardown(() => survivor.stop());
  await survivor.waitUntilReady();
  // Well past the liveness window: a task that held its slot would have been reassigned by now.
  await new Promise((resolve) => setTimeout(resolve, 4000));
  const details = await hatchet.runs.get(ref.workflowRunId);
  t.match(details, { run: { status: 'RUNNING' }, tasks: [{ retryCount: 0, status: 'RUNNING' }] }, 'it stays RUNNING until someone ends it');
  const events = details.taskEvents.map((e) => e.eventType);
  t.ok(events.includes('SLOT_RELEASED'), `SLOT_RELEASED is in its history (${events.join(', ')})`);
  t.notOk(events.includes('REASSIGNED'), 'it was not reassigned');
  await hatchet.runs.cancel({ ids: [ref.workflowRunId] });
  t.equal((await hatchet.runs.get(ref.workflowRunId)).run.status, 'CANCELLED', 'cancelling ends it');
});

for (const name of ['slow-step']) {
  t.test(`a worker killed mid-task (${name}): its task is reassigned to another worker as a new attempt`, async (t) => {
    const engine = await startEngine({ workerLivenessMs: 1500 });
    t.teardown(() => engine.dispose());
    const doomed = spawn(process.execPath, [workerScript, engine.hostPort, engine.token], { stdio: ['ignore', 'pipe', 'inherit'] });
    let doomedOutput = '';
    const started = new Promise<void>((resolve) => {
      doomed.stdout.on('data', (chunk: Buffer) => {
        doomedOutput += chunk.toString();
        if (doomedOutput.includes('started')) resolve();
      });
    });
    const hatchet = HatchetClient.init({ token: engine.token, host_port: engine.hostPort, log_level: 'ERROR' });
    t.teardown(() => hatchet.close());
    const step = hatchet.task({ name, fn: async (_input: Record<string, never>, ctx) => ({ by: 'the survivor', attempt: ctx.retryCount() }) });
    // Wait until the doomed worker has registered the workflow, then trigger.
    let ref: WorkflowRunRef<{ by: string; attempt: number }> | undefined;
    for (let i = 0; i < 100 && ref === undefined; i++) {
      ref = await step.runNoWait({}).catch(() => undefined);
      if (ref === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (ref === undefined) throw new Error('the workflow was never registered');
    await started;
    t.match(doomedOutput, new RegExp(`started ${ref.workflowRunId} 0`));
    const killed = new Promise((resolve) => doomed.once('exit', resolve));
    doomed.kill('SIGKILL');
    await killed;
    const survivor = await hatchet.worker('survivor', { workflows: [step], slots: 5, handleKill: false });
    void survivor.start();
    t.teardown(() => survivor.stop());
    const startedAt = Date.now();
    t.same(await ref.result(), { by: 'the survivor', attempt: 1 }, 'the survivor ran it as attempt 1');
    t.ok(Date.now() - startedAt < 15_000, 'within the liveness timeout and a little');
    const details = await hatchet.runs.get(ref.workflowRunId);
    t.match(details, { run: { status: 'COMPLETED' }, tasks: [{ retryCount: 1, status: 'COMPLETED' }] });
    t.same(
      details.taskEvents.map((e) => `${e.eventType}@${e.retryCount}`),
      ['QUEUED@0', 'ASSIGNED@0', 'STARTED@0', 'REASSIGNED@1', 'QUEUED@1', 'ASSIGNED@1', 'STARTED@1', 'FINISHED@1'],
      'the task events tell the story as Hatchet names it',
    );
    // The workers' lives are in the log: both registered, the killed one expired.
    await survivor.stop();
    await engine.kill('SIGTERM');
    const log = await LmdbLog.open({ path: join(engine.dataDir, 'log') });
    const workerEvents = (await log.readAll()).filter((r) => r.stream.startsWith('worker:')).map((r) => [r.type, (r.data as { name?: string }).name ?? '']);
    await log.close();
    t.match(workerEvents, [['WorkerRegistered', 'doomed-worker'], ['WorkerRegistered', 'survivor'], ['WorkerExpired', ''], ['WorkerRegistered', 'survivor']]);
  });
}

t.test('an engine restarted after a replay starts and keeps the replayed run', async (t) => {
  const engine = await startEngine();
  t.teardown(() => engine.dispose());
  const hatchet = HatchetClient.init({ token: engine.token, host_port: engine.hostPort, log_level: 'OFF' });
  t.teardown(() => hatchet.close());
  let fail = true;
  const once = hatchet.task({ name: 'fails-first', fn: () => {
    if (fail) {
      fail = false;
      throw new Error('first');
    }
    return { attempt: 'second' };
  } });
  const worker = await hatchet.worker('replay-restart-worker', { workflows: [once], handleKill: false });
  void worker.start();
  t.teardown(() => worker.stop());
  await worker.waitUntilReady();
  const ref = await once.runNoWait({});
  await ref.result().catch(() => {});
  await ref.replay();
  t.same(await ref.result(), { attempt: 'second' });
  await engine.kill('SIGKILL');
  await engine.restart();
  const details = await hatchet.runs.get(ref.workflowRunId);
  t.match(details, { run: { status: 'COMPLETED' }, tasks: [{ retryCount: 1, status: 'COMPLETED', output: { attempt: 'second' } }] });
});

t.test('the engine killed with kill -9 during 1,000 runs restarts from its last checkpoint and every run finishes', async (t) => {
  const engine = await startEngine({ workerLivenessMs: 3000, checkpointEveryAppends: 300 });
  t.teardown(() => engine.dispose());
  const hatchet = HatchetClient.init({ token: engine.token, host_port: engine.hostPort, log_level: 'OFF' });
  t.teardown(() => hatchet.close());
  let executions = 0;
  const step = hatchet.task({
    name: 'crash-step',
    retries: 2,
    fn: async (input: { i: number }) => {
      executions += 1;
      await new Promise((resolve) => setTimeout(resolve, 5));
      return { i: input.i };
    },
  });
  const worker = await hatchet.worker('crash-worker', { workflows: [step], slots: 50, handleKill: false });
  void worker.start();
  t.teardown(() => worker.stop());
  await worker.waitUntilReady();

  const refs = await step.runNoWait(Array.from({ length: 1000 }, (_, i) => ({ i })));
  t.equal(refs.length, 1000, 'all 1,000 triggers acknowledged');
  const results = Promise.all(refs.map((ref) => ref.result()));
  const checkpointed = async () => ((await (await fetch(`http://${engine.hostPort}/health`)).json()) as { checkpointPosition: number }).checkpointPosition > 0;
  while (executions < 200 || !(await checkpointed())) await new Promise((resolve) => setTimeout(resolve, 5));
  await engine.kill('SIGKILL');
  const executedBeforeKill = executions;
  await engine.restart();
  const recovered = engine.output().match(/recovered (\d+) active runs in \d+ ms, reading (\d+) records from position (\d+)/);
  t.ok(recovered !== null && Number(recovered[3]) > 0, `recovery began at a checkpoint, not at the start of the log (${recovered?.[0]})`);
  const outputs = (await results) as Array<{ i: number }>;
  t.same(outputs.map((o) => o.i), [...Array(1000).keys()], 'every acknowledged run completed with its own output');
  t.ok(executedBeforeKill < 1000, `the kill came mid-way (${executedBeforeKill} executions before it)`);
  t.ok(executions >= 1000, `at-least-once: ${executions} executions for 1,000 runs`);
  const sample = await hatchet.runs.get(refs[999]?.workflowRunId as string);
  t.equal(sample.run.status, 'COMPLETED');
});
