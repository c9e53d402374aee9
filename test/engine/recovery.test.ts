/**
 * Recovery from a checkpoint equals recovery from the whole log (reliability I4): on the memory log,
 * runs that finished before the checkpoint, were active at it, finished after it, were created after
 * it, and a finished run replayed after it.
 */
import t, { type Test } from 'tap';
import { decide, evolve, initialState, type RunCommand, type RunEvent, type RunState } from '../../actors/workflow-run.js';
import { decideWorker, evolveWorker, initialWorkerState } from '../../actors/worker.js';
import { WorkflowSpec } from '../../protocol/frames.js';
import { encodePayload } from '../../protocol/payload.js';
import { readCheckpoint, writeCheckpoint } from '../../src/engine/checkpoint.js';
import { recover } from '../../src/engine/recovery.js';
import { runStream } from '../../src/engine/run-host.js';
import type { EventLog } from '../../store/log.js';
import { MemoryLog } from '../../store/memory.js';

const workflow = WorkflowSpec.parse({ name: 'wf', tasks: [{ name: 'a' }, { name: 'b', parents: ['a'] }] });

/** Drives runs through the real decider and appends what it decides. */
class Runs {
  readonly states = new Map<string, { state: RunState; version: number }>();
  now = 1000;
  constructor(private readonly log: EventLog) {}

  async send(runId: string, command: RunCommand): Promise<void> {
    const entry = this.states.get(runId) ?? { state: initialState(), version: 0 };
    this.now += 1;
    const events = decide(entry.state, command, { nowMs: this.now });
    if (events.length === 0) return;
    await this.log.append(runStream(runId), events.map((event) => ({ type: event.type, data: event })), { expectedVersion: entry.version });
    for (const event of events) entry.state = evolve(entry.state, event as RunEvent);
    entry.version += events.length;
    this.states.set(runId, entry);
  }

  create = (runId: string) => this.send(runId, { type: 'CreateRun', runId, tenantId: 't1', taskIds: { a: `${runId}-a`, b: `${runId}-b` }, workflow, input: encodePayload({ runId }, 'input'), additionalMetadata: {}, priority: 1 });

  async finish(runId: string): Promise<void> {
    for (const task of ['a', 'b']) {
      await this.send(runId, { type: 'AssignTask', task, attempt: 0, workerId: 'w1' });
      await this.send(runId, { type: 'CompleteTask', task, attempt: 0, output: encodePayload(task, 'output') });
    }
  }

  active(): string[] {
    return [...this.states].filter(([, entry]) => entry.state.kind === 'active').map(([runId]) => runId).sort();
  }
}

async function scenario(t: Test, withCheckpoint: boolean) {
  const log = new MemoryLog();
  const runs = new Runs(log);
  for (const id of ['done-before', 'active-at', 'finishes-after', 'replayed-after']) await runs.create(id);
  await runs.finish('done-before');
  await runs.send('replayed-after', { type: 'AssignTask', task: 'a', attempt: 0, workerId: 'w1' });
  await runs.send('replayed-after', { type: 'FailTask', task: 'a', attempt: 0, error: 'broke', nonRetryable: true });
  t.equal(runs.states.get('replayed-after')?.state.kind, 'finished', 'failed before the checkpoint');
  await runs.send('active-at', { type: 'AssignTask', task: 'a', attempt: 0, workerId: 'w1' });
  const worker = decideWorker(initialWorkerState(), { type: 'RegisterWorker', workerId: 'w1', tenantId: 't1', name: 'w', actions: ['wf:a'], slots: 5, labels: {} }, { nowMs: 1 });
  await log.append('worker:w1', worker.map((event) => ({ type: event.type, data: event })), { expectedVersion: 0 });
  if (withCheckpoint) await writeCheckpoint(log, { position: await log.headPosition(), runs: runs.active(), workers: ['w1'] });
  await runs.finish('finishes-after');
  await runs.create('created-after');
  await runs.send('replayed-after', { type: 'ReplayRun' });
  await runs.send('active-at', { type: 'CompleteTask', task: 'a', attempt: 0, output: encodePayload('late', 'output') });
  return { log, runs };
}

t.test('recovery: from a checkpoint and the log after it, the same active runs and states as from the whole log', async (t) => {
  const { log, runs } = await scenario(t, true);
  t.ok(await readCheckpoint(log), 'a checkpoint was written');
  const recovered = await recover(log);
  t.same([...recovered.runs.keys()].sort(), ['active-at', 'created-after', 'replayed-after'], 'exactly the runs active now');
  t.same([...recovered.runs.keys()].sort(), runs.active());
  for (const [runId, entry] of recovered.runs) t.same(entry, runs.states.get(runId), `${runId}: state and version as decided`);
  t.ok(recovered.stats.fromPosition > 0, 'it began at the checkpoint');
  t.equal(recovered.stats.runsLoaded, 3, 'loaded whole: the two named by the checkpoint, and the replayed one seen mid-stream');
  t.same(recovered.workers.get('w1')?.state, evolveWorker(initialWorkerState(), decideWorker(initialWorkerState(), { type: 'RegisterWorker', workerId: 'w1', tenantId: 't1', name: 'w', actions: ['wf:a'], slots: 5, labels: {} }, { nowMs: 1 })[0] as never));

  const { log: plain } = await scenario(t, false);
  const full = await recover(plain);
  t.equal(full.stats.fromPosition, 0, 'without a checkpoint it reads the whole log');
  t.same([...full.runs.keys()].sort(), [...recovered.runs.keys()].sort());
  for (const [runId, entry] of full.runs) t.same(entry.state, recovered.runs.get(runId)?.state, `${runId}: the same either way`);
});

t.test('recovery: a checkpoint replaces the previous one, and an incomplete one is ignored', async (t) => {
  const log = new MemoryLog();
  const runs = new Runs(log);
  await runs.create('r1');
  await writeCheckpoint(log, { position: await log.headPosition(), runs: ['r1'], workers: [] });
  await runs.create('r2');
  const ids = Array.from({ length: 12_000 }, (_, i) => `bulk-${i}`);
  await writeCheckpoint(log, { position: await log.headPosition(), runs: ['r1', 'r2', ...ids], workers: [] });
  t.same((await readCheckpoint(log))?.runs.length, 12_002, 'ids spread over several events and appends');
  t.same(await log.readStream('checkpoint:1'), [], 'the previous checkpoint is deleted');
  // A pointer promising more than its stream holds (a crash between the two) is not used.
  await log.append('checkpoints', [{ type: 'CheckpointTaken', data: { stream: 'checkpoint:9', position: 5, events: 3 } }], { expectedVersion: 2 });
  t.equal(await readCheckpoint(log), undefined);
  const recovered = await recover(log);
  t.equal(recovered.stats.fromPosition, 0);
  t.same([...recovered.runs.keys()].sort(), ['r1', 'r2']);
});
