/**
 * Run summaries (the read models' rows) fold the run's events to the same statuses the run actor
 * reports, through retries, a timeout, cancellation and a replay.
 */
import t from 'tap';
import { decide, evolve, initialState, type RunCommand, type RunEvent, type RunState, runStatus, taskRunStatus } from '../../actors/workflow-run.js';
import { encodePayload } from '../../protocol/payload.js';
import { type RunSummary, summarize, summarizeFrom, summaryEvent } from '../../src/engine/run-summary.js';

const spec = (name: string, parents: string[] = [], retries = 0) => ({ name, parents, executionTimeoutMs: 1000, scheduleTimeoutMs: 60_000, retries, slotCost: 1 });

t.test('run summary: every step of a run reads as the run actor reports it', async (t) => {
  let state: RunState = initialState();
  let summary: RunSummary | undefined;
  let now = 1_000;
  const step = (command: RunCommand) => {
    const events: RunEvent[] = decide(state, command, { nowMs: now });
    for (const event of events) {
      state = evolve(state, event);
      summary = summarize(summary, summaryEvent(event));
      if (state.kind === 'none' || summary === undefined) continue;
      t.equal(summary.status, runStatus(state), `${event.type}: run status`);
      for (const task of Object.values(state.tasks)) t.equal(summary.tasks.find((s) => s.name === task.name)?.status, taskRunStatus(task), `${event.type}: ${task.name}`);
    }
    now += 10;
    return events;
  };
  step({ type: 'CreateRun', runId: 'r1', tenantId: 'acme', taskIds: { a: 'ta', b: 'tb' }, workflow: { name: 'wf', tasks: [spec('a', [], 1), spec('b', ['a'])] }, input: encodePayload({}, 'input'), additionalMetadata: { hatchet__event_id: 'ev-1', k: 'v' }, priority: 1 });
  t.match(summary, { runId: 'r1', tenantId: 'acme', workflow: 'wf', triggeringEventId: 'ev-1', additionalMetadata: { k: 'v' }, seq: 2 });
  step({ type: 'AssignTask', task: 'a', attempt: 0, workerId: 'w1' });
  step({ type: 'StartTask', task: 'a', attempt: 0 });
  t.match(summary, { status: 'RUNNING', startedAtMs: Number, tasks: [{ name: 'a', workerId: 'w1' }, { name: 'b' }] });
  step({ type: 'FailTask', task: 'a', attempt: 0, error: 'boom', nonRetryable: false });
  t.match(summary?.tasks[0], { status: 'QUEUED', attempt: 1 });
  step({ type: 'AssignTask', task: 'a', attempt: 1, workerId: 'w2' });
  now += 5_000;
  step({ type: 'Tick' });
  t.match(summary, { status: 'FAILED', finishedAtMs: Number, tasks: [{ status: 'FAILED', error: /execution timeout/ }, { status: 'CANCELLED' }] });
  step({ type: 'ReplayRun' });
  t.equal(summary?.finishedAtMs, undefined, 'a replayed run is not finished');
  step({ type: 'CancelRun', reason: 'enough' });
  t.match(summary, { status: 'CANCELLED', tasks: [{ status: 'CANCELLED', error: 'enough' }, { status: 'CANCELLED' }] });
  t.throws(() => summarize(undefined, { type: 'TaskStarted', task: 'a', atMs: 1 }), /starts with RunCreated/);
});

t.test('run summary: folding a run\'s events in one call is folding them one at a time, each once', async (t) => {
  let state: RunState = initialState();
  const events: RunEvent[] = [];
  const step = (command: RunCommand) => {
    for (const event of decide(state, command, { nowMs: 1_000 + events.length })) {
      state = evolve(state, event);
      events.push(event);
    }
  };
  step({ type: 'CreateRun', runId: 'r1', tenantId: 'acme', taskIds: { a: 'ta', b: 'tb' }, workflow: { name: 'wf', tasks: [spec('a', [], 1), spec('b', ['a'])] }, input: encodePayload({}, 'input'), additionalMetadata: { k: 'v' }, priority: 1 });
  step({ type: 'AssignTask', task: 'a', attempt: 0, workerId: 'w1' });
  step({ type: 'StartTask', task: 'a', attempt: 0 });
  step({ type: 'FailTask', task: 'a', attempt: 0, error: 'boom', nonRetryable: true });
  step({ type: 'ReplayRun' });
  step({ type: 'AssignTask', task: 'a', attempt: 1, workerId: 'w2' });
  const lean = events.map(summaryEvent);
  let oneByOne: RunSummary | undefined;
  for (const event of lean) oneByOne = summarize(oneByOne, event);
  t.same(summarizeFrom(undefined, lean, 1), oneByOne, 'all at once');
  const head = summarizeFrom(undefined, lean.slice(0, 3), 1);
  t.same(summarizeFrom(head, lean.slice(1), 2), oneByOne, 'events already folded are skipped');
  t.equal(summarizeFrom(head, lean.slice(5), 6), head, 'events after a gap are not folded');
  t.notOk('workerId' in (oneByOne?.tasks[1] ?? {}), 'an absent field is left out, not undefined');
});
