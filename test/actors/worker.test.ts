import t from 'tap';
import { decideWorker, evolveWorker, initialWorkerState, type WorkerCommand, type WorkerState } from '../../actors/worker.js';

const register = (extra: Partial<Extract<WorkerCommand, { type: 'RegisterWorker' }>> = {}): WorkerCommand => ({
  type: 'RegisterWorker',
  workerId: 'w1',
  tenantId: 't1',
  name: 'worker',
  actions: ['wf:a'],
  slots: 10,
  labels: { zone: 'a' },
  ...extra,
});

function given(commands: WorkerCommand[]): WorkerState {
  let state = initialWorkerState();
  for (const command of commands) for (const event of decideWorker(state, command, { nowMs: 1 })) state = evolveWorker(state, event);
  return state;
}

t.test('worker: registered, then the same registration again (a reconnect): nothing new is logged', async (t) => {
  t.match(decideWorker(initialWorkerState(), register(), { nowMs: 5 }), [{ type: 'WorkerRegistered', name: 'worker', slots: 10, atMs: 5 }]);
  t.same(decideWorker(given([register()]), register(), { nowMs: 6 }), []);
});

t.test('worker: registered with other slots, actions or labels: a new registration is logged', async (t) => {
  t.equal(decideWorker(given([register()]), register({ slots: 20 }), { nowMs: 6 }).length, 1);
  t.equal(decideWorker(given([register()]), register({ actions: [] }), { nowMs: 6 }).length, 1);
  t.equal(decideWorker(given([register()]), register({ labels: { zone: 'b' } }), { nowMs: 6 }).length, 1);
});

t.test('worker: expired once; registering again revives it as a new registration', async (t) => {
  const expired = given([register(), { type: 'ExpireWorker', reason: 'no heartbeat' }]);
  t.match(expired, { kind: 'expired', reason: 'no heartbeat' });
  t.same(decideWorker(expired, { type: 'ExpireWorker', reason: 'again' }, { nowMs: 9 }), []);
  t.match(decideWorker(expired, register(), { nowMs: 9 }), [{ type: 'WorkerRegistered' }]);
  t.same(decideWorker(initialWorkerState(), { type: 'ExpireWorker', reason: 'x' }, { nowMs: 1 }), [], 'an unknown worker does not expire');
});

t.test('worker: labels upserted merge into the registered ones; the same labels again log nothing', async (t) => {
  const registered = given([register()]);
  t.match(decideWorker(registered, { type: 'UpsertLabels', labels: { model: 'big' } }, { nowMs: 7 }), [{ type: 'WorkerLabelsUpserted', labels: { zone: 'a', model: 'big' } }]);
  t.same(decideWorker(registered, { type: 'UpsertLabels', labels: { zone: 'a' } }, { nowMs: 7 }), []);
  t.same(decideWorker(initialWorkerState(), { type: 'UpsertLabels', labels: { a: 1 } }, { nowMs: 7 }), [], 'an unknown worker has no labels to change');
});

t.test('worker: paused stays paused across a re-registration until unpaused; pausing twice logs once', async (t) => {
  const paused = given([register(), { type: 'PauseWorker' }]);
  t.match(paused, { kind: 'registered', paused: true });
  t.same(decideWorker(paused, { type: 'PauseWorker' }, { nowMs: 8 }), []);
  const reregistered = given([register(), { type: 'PauseWorker' }, register({ slots: 30 })]);
  t.match(reregistered, { kind: 'registered', slots: 30, paused: true });
  const unpaused = given([register(), { type: 'PauseWorker' }, { type: 'UnpauseWorker' }]);
  t.match(unpaused, { paused: false });
  t.same(decideWorker(unpaused, { type: 'UnpauseWorker' }, { nowMs: 8 }), []);
});
