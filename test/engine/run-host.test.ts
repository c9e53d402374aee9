/**
 * The run host on the memory log: snapshots only shorten activation — a run activated from its
 * snapshot and the events after it equals the fold of every event (reliability I5).
 */
import t from 'tap';
import { evolve, initialState, type RunEvent, type RunState } from '../../actors/workflow-run.js';
import { TaskSpec, WorkflowSpec } from '../../protocol/frames.js';
import { encodePayload } from '../../protocol/payload.js';
import { createRunHost, runStream } from '../../src/engine/run-host.js';
import { engineLimits } from '../../src/lib/limits.js';
import { MemoryLog } from '../../store/memory.js';

const effects = { applied: () => {}, reconciled: () => {}, decided: () => {} };

t.test('run host: a long run is snapshotted, and activation from the snapshot equals the full fold', async (t) => {
  const log = new MemoryLog();
  let now = 1000;
  const host = createRunHost(log, () => now, effects);
  const workflow = WorkflowSpec.parse({ name: 'wf', tasks: [TaskSpec.parse({ name: 'flaky', retries: 200 })] });
  await host.send('r1', { type: 'CreateRun', runId: 'r1', tenantId: 't1', taskIds: { flaky: 't1' }, workflow, input: encodePayload({ x: 1 }, 'input'), additionalMetadata: {}, priority: 1 });
  for (let attempt = 0; attempt < 80; attempt++) {
    now += 1;
    await host.send('r1', { type: 'AssignTask', task: 'flaky', attempt, workerId: 'w' });
    await host.send('r1', { type: 'FailTask', task: 'flaky', attempt, error: `e${attempt}`, nonRetryable: false });
  }
  const records = await log.readStream(runStream('r1'));
  t.ok(records.length > 2 * engineLimits.runSnapshotEveryEvents, `${records.length} events`);
  await new Promise((resolve) => setImmediate(resolve));
  const snapshot = await log.loadSnapshot(runStream('r1'));
  t.ok(snapshot !== undefined && snapshot.seq >= 2 * engineLimits.runSnapshotEveryEvents, `snapshot at seq ${snapshot?.seq}`);
  const full = records.reduce((state: RunState, record) => evolve(state, record.data as RunEvent), initialState());

  // A fresh host activates r1 from the snapshot plus the events after it.
  const fresh = createRunHost(log, () => now, effects);
  await fresh.send('r1', { type: 'Tick' });
  t.same(fresh.peek('r1'), full);
  t.same(host.peek('r1'), full, 'and the live state agrees');
});
