/** The workflow run decider's conditions and durable checkpoints, given/when/then. */
import t from 'tap';
import { decide, evolve, initialState, nextDeadline, type RunCommand, type RunEvent, type RunState } from '../../actors/workflow-run.js';
import { opSignature } from '../../protocol/durable.js';
import { type Condition, type TaskSpec, WorkflowSpec } from '../../protocol/frames.js';
import { decodePayload, encodePayload } from '../../protocol/payload.js';

const json = (value: unknown) => encodePayload(value, 'a test value');
const spec = (tasks: Array<Partial<TaskSpec> & { name: string }>) => WorkflowSpec.parse({ name: 'wf', tasks });

function create(workflow: WorkflowSpec): RunCommand {
  const taskIds: Record<string, string> = {};
  for (const task of workflow.tasks) taskIds[task.name] = `id-${task.name}`;
  return { type: 'CreateRun', runId: 'run-1', tenantId: 't1', taskIds, workflow, input: json({ n: 1 }), additionalMetadata: {}, priority: 1 };
}

/** Applies commands in order; returns the last command's events and every state. */
function run(commands: Array<[RunCommand, number]>) {
  let state: RunState = initialState();
  let events: RunEvent[] = [];
  for (const [command, at] of commands) {
    events = decide(state, command, { nowMs: at });
    for (const event of events) state = evolve(state, event);
  }
  return { state, events, types: events.map((e) => e.type) };
}

const sleep = (ms: number, group = 'g1'): Condition => ({ kind: 'sleep', orGroupId: group, readableDataKey: `sleep-${ms}`, sleepForMs: ms });
const event = (key: string, group = 'g2', expression = ''): Condition => ({ kind: 'event', orGroupId: group, readableDataKey: key, eventKey: key, expression });
const occurred = (key: string, payload: unknown, id = 'e1'): RunCommand => ({ type: 'EventOccurred', event: { eventId: id, key, payload: json(payload), additionalMetadata: {}, atMs: 0 } });

t.test('conditions: a task waits, then a sleep queues it; nextDeadline is its end, or now once it has passed', async (t) => {
  const workflow = spec([{ name: 'a', conditions: [{ ...sleep(1000), action: 'queue' }] }]);
  const created = run([[create(workflow), 0]]);
  t.same(created.types, ['RunCreated', 'TaskAwaitingConditions']);
  t.equal(nextDeadline(created.state, 0), 1000);
  t.equal(nextDeadline(created.state, 1500), 1500, 'a sleep that ended before its timer fires at once');
  t.same(run([[create(workflow), 0], [{ type: 'Tick' }, 999]]).types, []);
  t.same(run([[create(workflow), 0], [{ type: 'Tick' }, 1000]]).types, ['TaskQueued']);
});

t.test('conditions: an event matching its expression satisfies its group; skip wins over queue; cancel over both', async (t) => {
  const workflow = spec([
    { name: 'a', conditions: [{ ...event('go', 'q', 'input.ok == true'), action: 'queue' }, { ...event('skip', 's'), action: 'skip' }, { ...event('stop', 'c'), action: 'cancel' }] },
  ]);
  t.same(run([[create(workflow), 0], [occurred('go', { ok: false }), 1]]).types, [], 'the expression rejects it');
  t.same(run([[create(workflow), 0], [occurred('go', { ok: true }), 1]]).types, ['ConditionMatched', 'TaskQueued']);
  t.same(run([[create(workflow), 0], [occurred('skip', {}), 1]]).types, ['ConditionMatched', 'TaskSkipped', 'RunFinished']);
  const cancelled = run([[create(workflow), 0], [occurred('stop', {}), 1]]);
  t.same(cancelled.types, ['ConditionMatched', 'TaskCancelled', 'RunFinished']);
  t.same(run([[create(workflow), 0], [occurred('other', {}), 1]]).types, []);
});

t.test('conditions: a parent condition sees the parent output; the skipped task completes with { skipped: true }', async (t) => {
  const workflow = spec([
    { name: 'a' },
    { name: 'b', parents: ['a'], conditions: [{ kind: 'parent', orGroupId: 'p', readableDataKey: 'parent-a', parent: 'a', expression: 'output.n > 50', action: 'skip' }] },
  ]);
  const given: Array<[RunCommand, number]> = [[create(workflow), 0], [{ type: 'AssignTask', task: 'a', attempt: 0, workerId: 'w' }, 1]];
  const high = run([...given, [{ type: 'CompleteTask', task: 'a', attempt: 0, output: json({ n: 70 }) }, 2]]);
  t.same(high.types, ['TaskStarted', 'TaskCompleted', 'TaskAwaitingConditions', 'TaskSkipped', 'RunFinished']);
  t.same(high.state.kind === 'finished' && decodePayload(high.state.finished?.output?.b as Uint8Array), { skipped: true });
  const low = run([...given, [{ type: 'CompleteTask', task: 'a', attempt: 0, output: json({ n: 10 }) }, 2]]);
  t.same(low.types, ['TaskStarted', 'TaskCompleted', 'TaskAwaitingConditions', 'TaskQueued']);
});

t.test('durable: a checkpoint is recorded, evicts while it waits, resumes when done; a replay is checked against it', async (t) => {
  const workflow = spec([{ name: 'd', durable: true }]);
  const op = { kind: 'wait' as const, conditions: [sleep(500)] };
  const checkpoint = (nodeId: number, invocation: number, signature = opSignature(op)): RunCommand => ({ type: 'Checkpoint', task: 'd', attempt: 0, invocation, nodeId, signature, op });
  const given: Array<[RunCommand, number]> = [[create(workflow), 0], [{ type: 'AssignTask', task: 'd', attempt: 0, workerId: 'w' }, 1]];
  const waiting = run([...given, [checkpoint(1, 1), 2]]);
  t.same(waiting.types, ['TaskStarted', 'DurableCheckpointed', 'TaskEvicted']);
  t.equal(nextDeadline(waiting.state, 2), 502);
  t.same(run([...given, [checkpoint(1, 2), 2]]).types, [], 'another invocation is fenced');
  t.throws(() => run([...given, [checkpoint(3, 1), 2]]), { code: 'INVALID_INPUT', message: /the next is 1, not 3/ });
  const resumed = run([...given, [checkpoint(1, 1), 2], [{ type: 'Tick' }, 502]]);
  t.same(resumed.types, ['DurableCompleted', 'TaskQueued']);
  const replaying: Array<[RunCommand, number]> = [...given, [checkpoint(1, 1), 2], [{ type: 'Tick' }, 502], [{ type: 'AssignTask', task: 'd', attempt: 0, workerId: 'w2' }, 503]];
  t.same(run([...replaying, [checkpoint(1, 2), 504]]).types, ['TaskStarted'], 'a replayed checkpoint that is done decides only the start');
  t.throws(() => run([...replaying, [checkpoint(1, 2, 'wait(sleep 900ms)'), 504]]), { code: 'NON_DETERMINISM', message: /checkpoint 1 .* did wait\(sleep 900ms\), the recorded run did wait\(sleep 500ms\)/ });
  const now = run([...replaying, [{ type: 'Checkpoint', task: 'd', attempt: 0, invocation: 2, nodeId: 2, signature: 'now', op: { kind: 'now' } }, 600]]);
  t.match(now.events.at(-1), { type: 'DurableCheckpointed', nodeId: 2 });
  t.equal(decodePayload((now.events.at(-1) as { result: Uint8Array }).result), 600, 'now() is the engine time, recorded');
});

t.test('durable: an event wakes an evicted waiter; a child finishing completes a children checkpoint; branching', async (t) => {
  const workflow = spec([{ name: 'd', durable: true }]);
  const given: Array<[RunCommand, number]> = [[create(workflow), 0], [{ type: 'AssignTask', task: 'd', attempt: 0, workerId: 'w' }, 1]];
  const waitOp = { kind: 'wait' as const, conditions: [event('go', 'g', 'input.ok')] };
  const waiting: Array<[RunCommand, number]> = [...given, [{ type: 'Checkpoint', task: 'd', attempt: 0, invocation: 1, nodeId: 1, signature: opSignature(waitOp), op: waitOp }, 2]];
  t.same(run([...waiting, [occurred('go', { ok: false }), 3]]).types, []);
  const woken = run([...waiting, [occurred('go', { ok: true }, 'ev-9'), 3]]);
  t.same(woken.types, ['DurableMatched', 'DurableCompleted', 'TaskQueued']);
  t.same(decodePayload((woken.events[1] as { result: Uint8Array }).result), { go: { 'ev-9': { ok: true } } });

  const childOp = { kind: 'children' as const, runIds: ['c1', 'c2'], finished: {} };
  const spawned: Array<[RunCommand, number]> = [...given, [{ type: 'Checkpoint', task: 'd', attempt: 0, invocation: 1, nodeId: 1, signature: 'spawn(kid, kid)', op: childOp }, 2]];
  t.same(run(spawned).types, ['TaskStarted', 'DurableCheckpointed', 'TaskEvicted']);
  const one = run([...spawned, [{ type: 'ChildFinished', runId: 'c1', result: json({ status: 'COMPLETED' }) }, 3]]);
  t.same(one.types, ['DurableChildFinished']);
  const both = run([...spawned, [{ type: 'ChildFinished', runId: 'c1', result: json(1) }, 3], [{ type: 'ChildFinished', runId: 'c2', result: json(2) }, 4]]);
  t.same(both.types, ['DurableChildFinished', 'DurableCompleted', 'TaskQueued']);
  t.same(decodePayload((both.events[1] as { result: Uint8Array }).result), [1, 2]);
  t.same(run([...spawned, [{ type: 'ChildFinished', runId: 'stranger', result: json(1) }, 3]]).types, []);

  const branched = run([...spawned, [{ type: 'BranchDurable', task: 'd', nodeId: 1 }, 5]]);
  t.same(branched.types, ['DurableBranched', 'TaskQueued'], 'an evicted task is queued again without the dropped checkpoints');
  t.throws(() => run([...given, [{ type: 'BranchDurable', task: 'd', nodeId: 1 }, 5]]), { message: /is assigned/ });
  t.throws(() => run([...spawned, [{ type: 'BranchDurable', task: 'd', nodeId: 3 }, 5]]), { message: /checkpoints 1 to 1/ });
  t.throws(() => run([[create(spec([{ name: 'plain' }])), 0], [{ type: 'BranchDurable', task: 'plain', nodeId: 1 }, 1]]), { message: /not a durable task/ });
});
