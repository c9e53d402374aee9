/**
 * A backlog larger than the memory idle runs may hold: most queued runs leave memory, and every
 * one is still assigned, cancelled, read and finished as if it had stayed (actor-host invariant 5).
 */
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { HatchetClient } from '../../src/sdk/index.js';
import { inProcessEngine } from '../support/in-process-engine.js';

t.test('a backlog beyond the idle-run memory budget drains completely; evicted runs can be cancelled and read', async (t) => {
  // About 30 idle runs' worth: a backlog of 400 keeps most of them out of memory.
  const running = await inProcessEngine({ engine: { idleRunsBytesMax: 40_000, idleWaitingRunsBytesMax: 40_000 } });
  t.teardown(() => running.close());
  const { engine } = running;
  const hatchet = HatchetClient.init({ token: running.tokens.default as string, host_port: running.hostPort, log_level: 'OFF' });
  t.teardown(() => hatchet.close());
  const echo = hatchet.task({ name: 'echo-backlog', fn: (input: { i: number }) => ({ i: input.i }) });
  await hatchet.putWorkflow(echo);

  const refs = await echo.runNoWait(Array.from({ length: 400 }, (_, i) => ({ i })));
  await new Promise((resolve) => setTimeout(resolve, 100));
  const stats = engine.stats;
  t.equal(stats.activeRuns, 400, 'all 400 are active');
  t.equal(stats.queued, 400, 'and queued');
  t.ok(stats.runsInMemory < 100, `but only ${stats.runsInMemory} are in memory`);

  const cancelled = refs[0]?.workflowRunId as string;
  await hatchet.runs.cancel({ ids: [cancelled] });
  t.equal((await hatchet.runs.get(refs[1]?.workflowRunId as string)).run.status, 'QUEUED', 'a run out of memory reads from the log');

  const worker = await hatchet.worker('backlog-worker', { workflows: [echo], slots: 20, handleKill: false });
  void worker.start();
  t.teardown(() => worker.stop());
  const outcomes = await Promise.all(refs.map((ref) => ref.result().then((output) => (output as { i: number }).i, () => 'failed')));
  t.equal(outcomes[0], 'failed', 'the cancelled one was cancelled, though it was out of memory');
  t.same(outcomes.slice(1), Array.from({ length: 399 }, (_, i) => i + 1), 'every other run ran once, with its own input');
  t.equal(engine.stats.activeRuns, 0);
});

t.test('queued runs keep to the budget of waiting runs: past it they leave memory as they are created, and each is read back from the log when assigned', async (t) => {
  // Only the waiting budget is small (about 10 runs' worth); runs on a worker keep the default one.
  const running = await inProcessEngine({ engine: { idleWaitingRunsBytesMax: 13_000 } });
  t.teardown(() => running.close());
  const { engine } = running;
  const hatchet = HatchetClient.init({ token: running.tokens.default as string, host_port: running.hostPort, log_level: 'OFF' });
  t.teardown(() => hatchet.close());
  const double = hatchet.task({ name: 'double-backlog', fn: (input: { i: number }) => ({ twice: input.i * 2 }) });
  await hatchet.putWorkflow(double);

  const refs = await double.runNoWait(Array.from({ length: 300 }, (_, i) => ({ i })));
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.equal(engine.stats.queued, 300, 'all 300 are queued');
  t.ok(engine.stats.runsInMemory > 0 && engine.stats.runsInMemory <= 12, `and ${engine.stats.runsInMemory} of them are in memory, the budget's worth`);
  const last = refs[299]?.workflowRunId as string;
  t.equal((await hatchet.runs.get(last)).run.status, 'QUEUED', 'one out of memory reads as queued');

  const worker = await hatchet.worker('waiting-backlog-worker', { workflows: [double], slots: 7, handleKill: false });
  void worker.start();
  t.teardown(() => worker.stop());
  const outputs = await Promise.all(refs.map((ref) => ref.result()));
  t.same(outputs, Array.from({ length: 300 }, (_, i) => ({ twice: i * 2 })), 'every run ran with its own input, read back from the log');
  t.equal(engine.stats.activeRuns, 0);
  t.equal(engine.stats.runsInMemory, 0, 'finished runs leave memory');
});

t.test('a backlog mostly out of memory survives a restart: the checkpoint names every active run, not only those in memory', async (t) => {
  // The same signing key after the restart, so the tokens still hold.
  const running = await inProcessEngine({ engine: { idleWaitingRunsBytesMax: 13_000, signingKey: randomBytes(32) } });
  t.teardown(() => running.close());
  const connect = () => HatchetClient.init({ token: running.tokens.default as string, host_port: running.hostPort, log_level: 'OFF' });
  const before = connect();
  const echo = before.task({ name: 'echo-restart', fn: (input: { i: number }) => ({ i: input.i }) });
  await before.putWorkflow(echo);
  const refs = await echo.runNoWait(Array.from({ length: 200 }, (_, i) => ({ i })));
  const ids = refs.map((ref) => ref.workflowRunId);
  await before.close();
  t.ok(running.engine.stats.runsInMemory < 20, `${running.engine.stats.runsInMemory} of 200 in memory before the restart`);

  // A clean restart checkpoints at close, and the next start reads only the log after it.
  await running.restart();
  t.equal(running.engine.stats.activeRuns, 200, 'all 200 are active again');
  t.equal(running.engine.stats.queued, 200, 'and queued again');

  const after = connect();
  t.teardown(() => after.close());
  const again = after.task({ name: 'echo-restart', fn: (input: { i: number }) => ({ i: input.i }) });
  const worker = await after.worker('restart-backlog-worker', { workflows: [again], slots: 10, handleKill: false });
  void worker.start();
  t.teardown(() => worker.stop());
  const outputs = await Promise.all(ids.map((id) => after.runRef(id).result()));
  // A run read by its id answers with each task's output under the task's name.
  t.same(outputs, Array.from({ length: 200 }, (_, i) => ({ 'echo-restart': { i } })), 'every run ran after the restart, with its own input');
});
