/** The workflow run decider, given/when/then: given past events, when a command, then new events. */
import { isDeepStrictEqual } from 'node:util';
import t from 'tap';
import { backoffMs, type DecideContext, decide, decideEvolved, evolve, initialState, nextDeadline, type RunCommand, type RunEvent, type RunState, runStatus } from '../../actors/workflow-run.js';
import { TaskSpec, WorkflowSpec } from '../../protocol/frames.js';
import { decodePayload, encodePayload, type Payload } from '../../protocol/payload.js';

const json = (value: unknown) => encodePayload(value, 'a test value');
const outputsOf = (state: RunState) => Object.fromEntries(Object.entries((state.kind === 'finished' ? state.finished?.output : undefined) ?? {}).map(([task, payload]) => [task, decodePayload(payload as Payload)]));

const task = (name: string, extra: Partial<TaskSpec> = {}) => TaskSpec.parse({ name, ...extra });
const workflow = (tasks: TaskSpec[], onFailure?: TaskSpec) => WorkflowSpec.parse({ name: 'wf', tasks, ...(onFailure === undefined ? {} : { onFailure }) });

function create(spec: WorkflowSpec): RunCommand {
  const taskIds: Record<string, string> = {};
  for (const t of spec.tasks) taskIds[t.name] = `id-${t.name}`;
  if (spec.onFailure !== undefined) taskIds['on-failure-task'] = 'id-on-failure-task';
  return { type: 'CreateRun', runId: 'run-1', tenantId: 't1', taskIds, workflow: spec, input: json({ n: 1 }), additionalMetadata: {}, priority: 1 };
}

/** Every decision of the scenarios below, checked by the last test: `decideEvolved` agrees with `decide` and `evolve`. */
const evolvedChecks: Array<{ command: string; same: boolean }> = [];

function checkEvolved(state: RunState, command: RunCommand, ctx: DecideContext, events: RunEvent[], after: RunState): void {
  const decided = decideEvolved(state, command, ctx);
  evolvedChecks.push({ command: command.type, same: isDeepStrictEqual(decided.events, events) && isDeepStrictEqual(decided.after, after) });
}

/** Folds `given` commands into a state, then decides `when`; returns the new events and state. */
function scenario(given: Array<[RunCommand, number]>, when: RunCommand, nowMs: number) {
  let state: RunState = initialState();
  for (const [command, at] of given) {
    const before = state;
    const events = decide(state, command, { nowMs: at });
    for (const event of events) state = evolve(state, event);
    checkEvolved(before, command, { nowMs: at }, events, state);
  }
  const ctx: DecideContext = { nowMs };
  const events = decide(state, when, ctx);
  let after = state;
  for (const event of events) after = evolve(after, event);
  checkEvolved(state, when, ctx, events, after);
  return { events, types: events.map((e) => e.type), before: state, after };
}

const dag = workflow([task('a'), task('b', { parents: ['a'] }), task('c', { parents: ['a'] }), task('d', { parents: ['b', 'c'] })]);

t.test('run: created: root tasks are queued with their schedule deadline, the rest wait', async (t) => {
  const { events, after } = scenario([], create(dag), 1000);
  t.same(events.map((e) => e.type), ['RunCreated', 'TaskQueued']);
  t.match(events[1], { task: 'a', attempt: 0, scheduleDeadlineMs: 1000 + 300_000 });
  t.equal(after.kind === 'active' && after.tasks.b?.status, 'pending');
  t.equal(runStatus(after as Extract<RunState, { kind: 'active' }>), 'QUEUED');
  t.same(scenario([[create(dag), 0]], create(dag), 5).events, [], 'creating it again decides nothing (idempotent trigger)');
});

t.test('run: queued task + assigned + completed: its children are queued; the last one finishes the run', async (t) => {
  const given: Array<[RunCommand, number]> = [
    [create(dag), 0],
    [{ type: 'AssignTask', task: 'a', attempt: 0, workerId: 'w1' }, 10],
  ];
  const assigned = scenario(given.slice(0, 1), given[1]?.[0] as RunCommand, 10);
  t.match(assigned.events, [{ type: 'TaskAssigned', workerId: 'w1', timeoutAtMs: 10 + 60_000 }]);
  const done = scenario(given, { type: 'CompleteTask', task: 'a', attempt: 0, output: json({ a: 1 }) }, 20);
  t.same(done.types, ['TaskStarted', 'TaskCompleted', 'TaskQueued', 'TaskQueued'], 'a result with no start reported implies the start');
  t.same(done.events.slice(2).map((e) => (e as { task: string }).task), ['b', 'c']);
  const rest: Array<[RunCommand, number]> = [
    ...given,
    [{ type: 'CompleteTask', task: 'a', attempt: 0, output: json(1) }, 20],
    [{ type: 'AssignTask', task: 'b', attempt: 0, workerId: 'w1' }, 21],
    [{ type: 'AssignTask', task: 'c', attempt: 0, workerId: 'w1' }, 21],
    [{ type: 'CompleteTask', task: 'b', attempt: 0, output: json(2) }, 22],
  ];
  t.same(scenario(rest, { type: 'CompleteTask', task: 'c', attempt: 0, output: json(3) }, 23).types, ['TaskStarted', 'TaskCompleted', 'TaskQueued'], 'd waits for both parents');
  const last: Array<[RunCommand, number]> = [
    ...rest,
    [{ type: 'CompleteTask', task: 'c', attempt: 0, output: json(3) }, 23],
    [{ type: 'AssignTask', task: 'd', attempt: 0, workerId: 'w1' }, 24],
  ];
  const finished = scenario(last, { type: 'CompleteTask', task: 'd', attempt: 0, output: json(4) }, 25);
  t.same(finished.types, ['TaskStarted', 'TaskCompleted', 'RunFinished']);
  const started: Array<[RunCommand, number]> = [...last, [{ type: 'StartTask', task: 'd', attempt: 0 }, 24]];
  t.same(scenario(started, { type: 'CompleteTask', task: 'd', attempt: 0, output: json(4) }, 25).types, ['TaskCompleted', 'RunFinished'], 'a reported start is not repeated');
  t.match(finished.after, { kind: 'finished', finished: { status: 'COMPLETED' } });
  t.same(outputsOf(finished.after), { a: 1, b: 2, c: 3, d: 4 });
});

t.test('run: running + attempt failed: retry scheduled after backoff, then queued at that time', async (t) => {
  const spec = workflow([task('a', { retries: 2, backoff: { factor: 2, maxSeconds: 3 } })]);
  const given: Array<[RunCommand, number]> = [
    [create(spec), 0],
    [{ type: 'AssignTask', task: 'a', attempt: 0, workerId: 'w1' }, 0],
    [{ type: 'StartTask', task: 'a', attempt: 0 }, 1],
  ];
  const failed = scenario(given, { type: 'FailTask', task: 'a', attempt: 0, error: 'boom', nonRetryable: false }, 100);
  t.same(failed.types, ['TaskFailed', 'TaskRetrying']);
  t.match(failed.events[1], { attempt: 1, retryAtMs: 2100 });
  t.equal(nextDeadline(failed.after, 100), 2100);
  const early = scenario([...given, [{ type: 'FailTask', task: 'a', attempt: 0, error: 'boom', nonRetryable: false }, 100]], { type: 'Tick' }, 2000);
  t.same(early.events, [], 'nothing before the backoff ends');
  const due = scenario([...given, [{ type: 'FailTask', task: 'a', attempt: 0, error: 'boom', nonRetryable: false }, 100]], { type: 'Tick' }, 2100);
  t.match(due.events, [{ type: 'TaskQueued', attempt: 1 }]);
  t.equal(backoffMs(spec.tasks[0] as TaskSpec, 2), 3000, 'factor^2 = 4 s, capped at maxSeconds 3');
  t.equal(backoffMs(task('x'), 3), 0, 'no backoff: retry at once');
});

t.test('run: non-retryable failure or exhausted retries: the run fails with the error', async (t) => {
  const spec = workflow([task('a', { retries: 3 }), task('b', { parents: ['a'] })]);
  const given: Array<[RunCommand, number]> = [
    [create(spec), 0],
    [{ type: 'AssignTask', task: 'a', attempt: 0, workerId: 'w1' }, 0],
  ];
  const fatal = scenario(given, { type: 'FailTask', task: 'a', attempt: 0, error: 'fatal', nonRetryable: true }, 5);
  t.same(fatal.types, ['TaskStarted', 'TaskFailed', 'TaskCancelled', 'RunFinished']);
  t.match(fatal.after, { finished: { status: 'FAILED', errors: ['fatal'] } });
});

t.test('run: stale attempts are fenced: a late result of a reassigned attempt decides nothing', async (t) => {
  const spec = workflow([task('a')]);
  const given: Array<[RunCommand, number]> = [
    [create(spec), 0],
    [{ type: 'AssignTask', task: 'a', attempt: 0, workerId: 'w1' }, 0],
    [{ type: 'WorkerLost', workerId: 'w1' }, 50],
  ];
  const lost = scenario(given.slice(0, 2), given[2]?.[0] as RunCommand, 50);
  t.same(lost.types, ['TaskReassigned', 'TaskQueued']);
  t.match(lost.events[1], { attempt: 1 });
  t.same(scenario(given, { type: 'CompleteTask', task: 'a', attempt: 0, output: json('late') }, 60).events, []);
  t.same(scenario(given, { type: 'AssignTask', task: 'a', attempt: 0, workerId: 'w2' }, 60).events, []);
  t.match(scenario(given, { type: 'AssignTask', task: 'a', attempt: 1, workerId: 'w2' }, 60).events, [{ type: 'TaskAssigned', attempt: 1 }]);
});

t.test('run: deadlines: execution timeout retries or fails; schedule timeout fails; refresh moves the deadline', async (t) => {
  const spec = workflow([task('a', { executionTimeoutMs: 1000, scheduleTimeoutMs: 500, retries: 1 })]);
  const assigned: Array<[RunCommand, number]> = [
    [create(spec), 0],
    [{ type: 'AssignTask', task: 'a', attempt: 0, workerId: 'w1' }, 100],
  ];
  t.same(scenario(assigned, { type: 'Tick' }, 1099).events, []);
  t.same(scenario(assigned, { type: 'Tick' }, 1100).types, ['TaskTimedOut', 'TaskFailed', 'TaskRetrying', 'TaskQueued']);
  const refreshed = scenario(assigned, { type: 'RefreshTimeout', task: 'a', attempt: 0, incrementMs: 2000 }, 500);
  t.match(refreshed.events, [{ type: 'TimeoutRefreshed', timeoutAtMs: 3100 }]);
  t.same(scenario([...assigned, [{ type: 'RefreshTimeout', task: 'a', attempt: 0, incrementMs: 2000 }, 500]], { type: 'Tick' }, 1100).events, []);
  const queued = scenario([[create(spec), 0]], { type: 'Tick' }, 500);
  t.same(queued.types, ['TaskSchedulingTimedOut', 'TaskFailed', 'RunFinished']);
});

t.test('run: cancel: every open task is cancelled (running ones name their worker) and the run ends', async (t) => {
  const given: Array<[RunCommand, number]> = [
    [create(dag), 0],
    [{ type: 'AssignTask', task: 'a', attempt: 0, workerId: 'w9' }, 0],
  ];
  const cancelled = scenario(given, { type: 'CancelRun', reason: 'user' }, 10);
  t.same(cancelled.types, ['TaskCancelled', 'TaskCancelled', 'TaskCancelled', 'TaskCancelled', 'RunFinished']);
  t.match(cancelled.events[0], { task: 'a', workerId: 'w9' });
  t.match(cancelled.after, { finished: { status: 'CANCELLED' } });
  t.same(scenario([...given, [{ type: 'CancelRun', reason: 'user' }, 10]], { type: 'CancelRun', reason: 'again' }, 11).events, [], 'a finished run decides nothing');
});

t.test('run: on-failure runs after a failure with the errors; it is cancelled when the run succeeds', async (t) => {
  const spec = workflow([task('a')], task('on-failure-task'));
  const given: Array<[RunCommand, number]> = [
    [create(spec), 0],
    [{ type: 'AssignTask', task: 'a', attempt: 0, workerId: 'w1' }, 0],
  ];
  const failed = scenario(given, { type: 'FailTask', task: 'a', attempt: 0, error: 'x', nonRetryable: false }, 5);
  t.same(failed.types, ['TaskStarted', 'TaskFailed', 'TaskQueued']);
  t.match(failed.events[2], { task: 'on-failure-task' });
  const succeeded = scenario(given, { type: 'CompleteTask', task: 'a', attempt: 0, output: json(1) }, 5);
  t.same(succeeded.types, ['TaskStarted', 'TaskCompleted', 'TaskCancelled', 'RunFinished']);
  t.match(succeeded.after, { finished: { status: 'COMPLETED' } });
  t.same(outputsOf(succeeded.after), { a: 1 });
});

t.test('run: events replay to the same state (a fold of the log)', async (t) => {
  const commands: Array<[RunCommand, number]> = [
    [create(dag), 0],
    [{ type: 'AssignTask', task: 'a', attempt: 0, workerId: 'w1' }, 1],
    [{ type: 'CompleteTask', task: 'a', attempt: 0, output: json(1) }, 2],
  ];
  const log: RunEvent[] = [];
  let live: RunState = initialState();
  for (const [command, at] of commands) {
    for (const event of decide(live, command, { nowMs: at })) {
      log.push(event);
      live = evolve(live, event);
    }
  }
  const replayed = log.reduce(evolve, initialState());
  t.same(replayed, live);
});

t.test('run: failed + replay: the failed task and everything after it run again as new attempts', async (t) => {
  const given: Array<[RunCommand, number]> = [
    [create(dag), 0],
    [{ type: 'AssignTask', task: 'a', attempt: 0, workerId: 'w1' }, 1],
    [{ type: 'CompleteTask', task: 'a', attempt: 0, output: json(1) }, 2],
    [{ type: 'AssignTask', task: 'b', attempt: 0, workerId: 'w1' }, 3],
    [{ type: 'AssignTask', task: 'c', attempt: 0, workerId: 'w1' }, 3],
    [{ type: 'CompleteTask', task: 'c', attempt: 0, output: json(3) }, 4],
    [{ type: 'FailTask', task: 'b', attempt: 0, error: 'b broke', nonRetryable: false }, 5],
  ];
  const replayed = scenario(given, { type: 'ReplayRun' }, 10);
  t.same(replayed.types, ['RunReplayed', 'TaskQueued']);
  t.match(replayed.events[0], { tasks: [{ task: 'b', attempt: 1 }, { task: 'd', attempt: 1 }] });
  t.match(replayed.events[1], { task: 'b', attempt: 1 });
  t.match(replayed.after, { kind: 'active', tasks: { a: { status: 'completed' }, c: { status: 'completed' }, d: { status: 'pending' } } });
  t.same(scenario([[create(dag), 0]], { type: 'ReplayRun' }, 1).events, [], 'an active run is not replayed');
});

t.test('run: why a queued task waits is noted once per reason; a released slot keeps the task with its worker when the worker is lost', async (t) => {
  const single = workflow([task('a')]);
  const queued: Array<[RunCommand, number]> = [[create(single), 0]];
  const note: RunCommand = { type: 'NoteWaiting', task: 'a', attempt: 0, eventType: 'CONCURRENCY_LIMITED', message: 'waiting for k' };
  t.match(scenario(queued, note, 5).events, [{ type: 'TaskWaiting', eventType: 'CONCURRENCY_LIMITED', message: 'waiting for k' }]);
  t.same(scenario([...queued, [note, 5]], note, 6).events, [], 'the same reason again decides nothing');
  const assigned: Array<[RunCommand, number]> = [...queued, [{ type: 'AssignTask', task: 'a', attempt: 0, workerId: 'w1', rateLimits: [{ key: 't/api', units: 2 }], note: 'sticky (soft)' }, 10]];
  t.match(scenario(queued, assigned[1]?.[0] as RunCommand, 10).events, [{ type: 'TaskAssigned', rateLimits: [{ key: 't/api', units: 2 }], note: 'sticky (soft)' }]);
  t.same(scenario(assigned, { type: 'WorkerLost', workerId: 'w1' }, 20).types, ['TaskReassigned', 'TaskQueued'], 'without a release, a lost worker loses the task');
  const released: Array<[RunCommand, number]> = [...assigned, [{ type: 'ReleaseSlot', task: 'a', attempt: 0 }, 15]];
  t.same(scenario(assigned, { type: 'ReleaseSlot', task: 'a', attempt: 0 }, 15).types, ['TaskSlotReleased']);
  t.same(scenario(released, { type: 'WorkerLost', workerId: 'w1' }, 20).types, [], 'after a release it stays with its worker');
  t.same(scenario(released, { type: 'ReleaseSlot', task: 'a', attempt: 0 }, 16).types, [], 'releasing twice decides nothing');
});

t.test('run: a queued task whose units exceed its rate limit fails with RATE_LIMIT_ERROR; a sticky run keeps its first worker', async (t) => {
  const single = workflow([task('a')]);
  const { types, after } = scenario([[create(single), 0]], { type: 'RejectQueuedTask', task: 'a', attempt: 0, error: 'needs 5 units' }, 3);
  t.same(types, ['TaskRateLimitError', 'TaskFailed', 'RunFinished']);
  t.equal(after.kind === 'finished' && after.finished?.status, 'FAILED');
  const sticky = WorkflowSpec.parse({ name: 'wf', sticky: 'soft', tasks: [task('a'), task('b', { parents: ['a'] })] });
  const stuck = scenario([[create(sticky), 0]], { type: 'AssignTask', task: 'a', attempt: 0, workerId: 'w7' }, 1).after;
  t.equal(stuck.kind === 'active' && stuck.stickyWorkerId, 'w7');
  const plain = scenario([[create(single), 0]], { type: 'AssignTask', task: 'a', attempt: 0, workerId: 'w7' }, 1).after;
  t.equal(plain.kind === 'active' && plain.stickyWorkerId, undefined, 'a run that is not sticky keeps no worker');
});

t.test('run: decideEvolved gives the events decide gives and the state evolving them gives, for every decision above', async (t) => {
  const kinds = new Set(evolvedChecks.map((check) => check.command));
  t.ok(kinds.has('CreateRun') && kinds.has('CompleteTask') && kinds.has('FailTask') && kinds.has('CancelRun') && kinds.has('Tick'), `covers the commands that settle progress (${[...kinds].join(', ')})`);
  t.same(
    evolvedChecks.filter((check) => !check.same),
    [],
    `all ${evolvedChecks.length} decisions agree`,
  );
});
