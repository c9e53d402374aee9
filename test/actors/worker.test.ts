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
