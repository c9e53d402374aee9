/** The workflow run decider's eviction policy for durable tasks: resident waits, ttl, capacity and lost workers, given/when/then. */
import t from 'tap';
import { decide, evolve, initialState, nextDeadline, type RunCommand, type RunEvent, type RunState, taskEventsOf } from '../../actors/workflow-run.js';
import { opSignature } from '../../protocol/durable.js';
import { type Condition, type DurableOp, TaskSpec, WorkflowSpec } from '../../protocol/frames.js';
import { decodePayload, encodePayload } from '../../protocol/payload.js';

const json = (value: unknown) => encodePayload(value, 'a test value');

function create(eviction: Record<string, unknown> | undefined): RunCommand {
  const workflow = WorkflowSpec.parse({ name: 'wf', tasks: [{ name: 'd', durable: true, executionTimeoutMs: 10_000, ...(eviction === undefined ? {} : { eviction }) }] });
  return { type: 'CreateRun', runId: 'run-1', tenantId: 't1', taskIds: { d: 'id-d' }, workflow, input: json({}), additionalMetadata: {}, priority: 1 };
}

function run(commands: Array<[RunCommand, number]>) {
  let state: RunState = initialState();
  let events: RunEvent[] = [];
  for (const [command, at] of commands) {
    events = decide(state, command, { nowMs: at });
    for (const event of events) state = evolve(state, event);
  }
  const task = state.kind === 'none' ? undefined : state.tasks.d;
  return { state, events, types: events.map((e) => e.type), task };
}

const sleep = (ms: number): Condition => ({ kind: 'sleep', orGroupId: 'g', readableDataKey: 'nap', sleepForMs: ms });
const waitOp = (conditions: Condition[]): DurableOp => ({ kind: 'wait', conditions });
const checkpoint = (op: DurableOp, invocation = 1, nodeId = 1): RunCommand => {
  const resolved = op.kind === 'wait' ? { kind: 'wait' as const, conditions: op.conditions } : { kind: 'now' as const };
  return { type: 'Checkpoint', task: 'd', attempt: 0, invocation, nodeId, signature: opSignature(op), op: resolved };
};
const assigned = (eviction: Record<string, unknown> | undefined): Array<[RunCommand, number]> => [
  [create(eviction), 0],
  [{ type: 'AssignTask', task: 'd', attempt: 0, workerId: 'w1' }, 1],
];

t.test('eviction: without a policy (or with ttl 0) a waiting durable task is evicted at once', async (t) => {
  t.same(run([...assigned(undefined), [checkpoint(waitOp([sleep(500)])), 2]]).types, ['TaskStarted', 'DurableCheckpointed', 'TaskEvicted']);
  t.same(run([...assigned({ ttlMs: 0 }), [checkpoint(waitOp([sleep(500)])), 2]]).types, ['TaskStarted', 'DurableCheckpointed', 'TaskEvicted']);
});

t.test('eviction: with a ttl the task waits resident; a wait over within it resumes in place, its execution timeout running again from then', async (t) => {
  const given = [...assigned({ ttlMs: 60_000 }), [checkpoint(waitOp([sleep(500)])), 2]] as Array<[RunCommand, number]>;
  const waiting = run(given);
  t.same(waiting.types, ['TaskStarted', 'DurableCheckpointed', 'TaskResident']);
  t.equal(waiting.task?.status, 'running', 'it keeps its worker');
  t.same(waiting.task?.resident, { invocation: 1, sinceMs: 2, evictAtMs: 60_002 });
  t.equal(waiting.task?.timeoutAtMs, undefined, 'no execution timeout while it waits');
  t.equal(nextDeadline(waiting.state, 2), 502, 'the sleep ends before the ttl');
  t.same(run([...given, [{ type: 'Tick' }, 400]]).types, [], 'nothing before the sleep ends');
  const resumed = run([...given, [{ type: 'Tick' }, 502]]);
  t.same(resumed.types, ['DurableCompleted'], 'resumed in place: not queued again');
  t.equal(resumed.task?.status, 'running');
  t.equal(resumed.task?.resident, undefined);
  t.equal(resumed.task?.timeoutAtMs, 502 + 10_000);
  t.equal(resumed.task?.durable?.invocation, 1, 'the same invocation');
  t.same(decodePayload(resumed.task?.durable?.checkpoints[0]?.result as Uint8Array), { nap: { durationMs: 500 } });
  t.same(run([...given, [checkpoint(waitOp([sleep(500)])), 3]]).types, [], 'the same invocation asking again decides nothing');
  t.same(run([...given, [checkpoint(waitOp([sleep(500)]), 2), 3]]).types, [], 'another invocation is fenced');
});

t.test('eviction: at its ttl a resident task is evicted, and queued again when its wait is over', async (t) => {
  const given = [...assigned({ ttlMs: 1000 }), [checkpoint(waitOp([sleep(5000)])), 2]] as Array<[RunCommand, number]>;
  t.equal(nextDeadline(run(given).state, 2), 1002, 'the ttl comes first');
  const evicted = run([...given, [{ type: 'Tick' }, 1002]]);
  t.same(evicted.types, ['TaskEvicted']);
  t.match(evicted.events[0], { reason: 'ttl', workerId: 'w1', invocation: 1 });
  t.equal(evicted.task?.status, 'evicted');
  t.match(taskEventsOf(evicted.events[0] as RunEvent), [{ eventType: 'DURABLE_EVICTED', message: /ttl/ }]);
  t.equal(nextDeadline(evicted.state, 1002), 5002);
  t.same(run([...given, [{ type: 'Tick' }, 1002], [{ type: 'Tick' }, 5002]]).types, ['DurableCompleted', 'TaskQueued']);
  // Both due at once: the wait being over wins.
  t.same(run([...assigned({ ttlMs: 1000 }), [checkpoint(waitOp([sleep(1000)])), 2], [{ type: 'Tick' }, 1002]]).types, ['DurableCompleted']);
});

t.test('eviction: an event resumes a resident wait in place', async (t) => {
  const eventWait = waitOp([{ kind: 'event', orGroupId: 'e', readableDataKey: 'go', eventKey: 'go', expression: '' }]);
  const given = [...assigned({ ttlMs: 60_000 }), [checkpoint(eventWait), 2]] as Array<[RunCommand, number]>;
  t.equal(nextDeadline(run(given).state, 2), 60_002, 'only the ttl is a deadline');
  const occurred: RunCommand = { type: 'EventOccurred', event: { eventId: 'e1', key: 'go', payload: json({ ok: true }), additionalMetadata: {}, atMs: 3 } };
  t.same(run([...given, [occurred, 3]]).types, ['DurableMatched', 'DurableCompleted']);
});

t.test('eviction: capacity evicts a resident task whose policy allows it, the current invocation only', async (t) => {
  const given = [...assigned({ ttlMs: 60_000 }), [checkpoint(waitOp([sleep(5000)])), 2]] as Array<[RunCommand, number]>;
  const evict: RunCommand = { type: 'EvictResident', task: 'd', attempt: 0, invocation: 1 };
  const evicted = run([...given, [evict, 3]]);
  t.same(evicted.types, ['TaskEvicted']);
  t.match(evicted.events[0], { reason: 'capacity' });
  t.same(run([...given, [{ ...evict, invocation: 2 }, 3]]).types, [], 'a stale invocation is not evicted');
  t.same(run([...given, [{ type: 'Tick' }, 5002], [evict, 5003]]).types, [], 'nor one whose wait is over');
  const kept = [...assigned({ ttlMs: 60_000, allowCapacityEviction: false }), [checkpoint(waitOp([sleep(5000)])), 2]] as Array<[RunCommand, number]>;
  t.same(run([...kept, [evict, 3]]).types, [], 'allowCapacityEviction: false keeps it');
});

t.test('eviction: a resident task whose worker is lost, or lets it go, is evicted rather than run again at once', async (t) => {
  const given = [...assigned({ ttlMs: 60_000 }), [checkpoint(waitOp([sleep(5000)])), 2]] as Array<[RunCommand, number]>;
  const lost = run([...given, [{ type: 'WorkerLost', workerId: 'w1' }, 3]]);
  t.same(lost.types, ['TaskEvicted']);
  t.match(lost.events[0], { reason: 'worker lost', attempt: 0 });
  t.same(run([...given, [{ type: 'RequeueTask', task: 'd', attempt: 0 }, 3]]).types, ['TaskEvicted']);
  t.same(run([...given, [{ type: 'WorkerLost', workerId: 'w1' }, 3], [{ type: 'Tick' }, 5002]]).types, ['DurableCompleted', 'TaskQueued']);
});

t.test('eviction: a replay that reaches a pending checkpoint waits resident again, with a new ttl', async (t) => {
  const given = [...assigned({ ttlMs: 1000 }), [checkpoint(waitOp([sleep(5000)])), 2], [{ type: 'WorkerLost', workerId: 'w1' }, 3]] as Array<[RunCommand, number]>;
  const restored = run([...given, [{ type: 'BranchDurable', task: 'd', nodeId: 2 }, 4], [{ type: 'AssignTask', task: 'd', attempt: 1, workerId: 'w2' }, 5]]);
  t.equal(restored.task?.status, 'assigned');
  const again = decide(restored.state, { ...(checkpoint(waitOp([sleep(5000)]), 2) as Extract<RunCommand, { type: 'Checkpoint' }>), attempt: 1 }, { nowMs: 6 });
  t.same(
    again.map((e) => e.type),
    ['TaskStarted', 'TaskResident'],
  );
  t.match(again[1], { evictAtMs: 1006, invocation: 2 });
});

t.test('eviction: the policy is checked when the workflow is registered', async (t) => {
  const parse = (eviction: unknown) => TaskSpec.safeParse({ name: 'd', durable: true, eviction });
  t.ok(parse({ ttlMs: 900_000 }).success);
  t.match(parse({ ttlMs: 900_000 }).data?.eviction, { allowCapacityEviction: true, priority: 0 }, 'defaults');
  t.notOk(parse({ ttlMs: -1 }).success, 'a negative ttl');
  t.notOk(parse({ ttlMs: 8 * 24 * 3_600_000 }).success, 'a ttl over 7 days');
  t.notOk(parse({ ttlMs: 1000, priority: 1.5 }).success, 'a fractional priority');
  t.notOk(parse({ ttlMs: 1000, priority: 5000 }).success, 'a priority out of range');
  t.notOk(parse({ ttlMs: 1000, ttl: '15m' }).success, 'an unknown field');
});
