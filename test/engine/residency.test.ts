/** The index of resident durable tasks: kept in step with the runs' states, and the order of capacity eviction. */
import t from 'tap';
import { decide, evolve, initialState, type RunCommand, type RunState } from '../../actors/workflow-run.js';
import { opSignature } from '../../protocol/durable.js';
import { type DurableOp, WorkflowSpec } from '../../protocol/frames.js';
import { encodePayload } from '../../protocol/payload.js';
import { durablePool } from '../../src/engine/durable.js';
import { Residents } from '../../src/engine/residency.js';

const op: DurableOp = { kind: 'wait', conditions: [{ kind: 'sleep', orGroupId: 'g', readableDataKey: 'nap', sleepForMs: 60_000 }] };

/** A run whose one durable task waits resident on `workerId` since `atMs`. */
function resident(runId: string, workerId: string, atMs: number, eviction: Record<string, unknown>): RunState {
  const workflow = WorkflowSpec.parse({ name: 'wf', tasks: [{ name: 'd', durable: true, eviction: { ttlMs: 600_000, ...eviction } }] });
  const commands: RunCommand[] = [
    { type: 'CreateRun', runId, tenantId: 't1', taskIds: { d: `${runId}-d` }, workflow, input: encodePayload({}, 'input'), additionalMetadata: {}, priority: 1 },
    { type: 'AssignTask', task: 'd', attempt: 0, workerId },
    { type: 'Checkpoint', task: 'd', attempt: 0, invocation: 1, nodeId: 1, signature: opSignature(op), op: { kind: 'wait', conditions: op.kind === 'wait' ? op.conditions : [] } },
  ];
  let state: RunState = initialState();
  for (const command of commands) for (const event of decide(state, command, { nowMs: atMs })) state = evolve(state, event);
  return state;
}

t.test('residency: lowest priority first, then the longest wait; one eviction in flight per pool', async (t) => {
  const residents = new Residents();
  residents.sync('a', resident('a', 'w1', 100, { priority: 5 }));
  residents.sync('b', resident('b', 'w1', 200, { priority: 1 }));
  residents.sync('c', resident('c', 'w1', 50, { priority: 1 }));
  residents.sync('d', resident('d', 'w1', 10, { priority: -3, allowCapacityEviction: false }));
  t.equal(residents.size, 4);
  t.ok(residents.anyEvictable);
  const pool = durablePool('w1');
  t.equal(residents.choose([pool])?.runId, 'c', 'priority 1, waiting since 50');
  t.equal(residents.choose([pool]), undefined, 'the pool has an eviction in flight');
  residents.settled(pool);
  // c was evicted: its run says so.
  const c = resident('c', 'w1', 50, { priority: 1 });
  residents.sync('c', evolve(c, { type: 'TaskEvicted', task: 'd', attempt: 0, invocation: 1, workerId: 'w1', reason: 'capacity', atMs: 60 }));
  t.equal(residents.choose([pool])?.runId, 'b');
  residents.settled(pool);
  t.equal(residents.choose([durablePool('w2')]), undefined, 'another pool has none');
});

t.test('residency: a task no longer resident leaves the index; a run with none is not tracked', async (t) => {
  const residents = new Residents();
  const state = resident('a', 'w1', 100, {});
  residents.sync('a', state);
  t.ok(residents.hasRun('a'));
  const evicted = evolve(state, { type: 'TaskEvicted', task: 'd', attempt: 0, invocation: 1, workerId: 'w1', reason: 'capacity', atMs: 101 });
  residents.sync('a', evicted);
  t.notOk(residents.hasRun('a'));
  t.equal(residents.size, 0);
  t.notOk(residents.anyEvictable);
  t.equal(residents.choose([durablePool('w1')]), undefined);
});
