import t from 'tap';
import { type ConcurrencyGate, labelMatches, type QueuedTask, TenantQueue } from '../../actors/tenant-queue.js';
import type { DesiredLabel } from '../../protocol/frames.js';

const task = (id: string, extra: Partial<QueuedTask> = {}): QueuedTask => ({ runId: `run-${id}`, task: 't', taskId: id, attempt: 0, action: 'wf:t', priority: 1, slotCost: 1, ...extra });

t.test('queue: FIFO within a priority, higher priority first, only to workers with the action and free slots', async (t) => {
  const queue = new TenantQueue();
  queue.enqueue(task('1'));
  queue.enqueue(task('2'));
  queue.enqueue(task('3', { priority: 3 }));
  queue.enqueue(task('4', { action: 'other:t' }));
  t.same(queue.assign(), [], 'no worker, no assignment');
  queue.upsertWorker('w1', ['wf:t'], 2);
  t.same(queue.assign().map((a) => [a.task.taskId, a.workerId]), [['3', 'w1'], ['1', 'w1']]);
  t.same(queue.assign(), [], 'w1 is full');
  t.equal(queue.release('1'), 'w1');
  t.same(queue.assign().map((a) => a.task.taskId), ['2']);
  t.equal(queue.queuedCount, 1, 'the other action still waits');
});

t.test('queue: slot cost, rotation across workers, dequeue and held slots survive a reconnect', async (t) => {
  const queue = new TenantQueue();
  queue.upsertWorker('w1', ['wf:t'], 3);
  queue.upsertWorker('w2', ['wf:t'], 3);
  for (const id of ['a', 'b', 'c', 'd']) queue.enqueue(task(id));
  queue.dequeue('c');
  t.same(queue.assign().map((a) => a.workerId), ['w1', 'w2', 'w1'], 'rotates; a dequeued task is skipped');
  queue.enqueue(task('big', { slotCost: 3 }));
  t.same(queue.assign(), [], 'no worker has 3 free slots');
  queue.removeWorker('w1', { keepHeld: true });
  queue.upsertWorker('w1', ['wf:t'], 3);
  t.same(queue.tasksHeldBy('w1').sort(), ['a', 'd']);
  queue.release('a');
  queue.release('d');
  t.same(queue.assign().map((a) => [a.task.taskId, a.workerId]), [['big', 'w1']]);
  queue.enqueue(task('again'));
  queue.enqueue(task('again'));
  t.equal(queue.queuedCount, 1, 'a task is queued at most once');
});

t.test('queue: a task no worker can ever fit is parked, not blocking the rest; it returns when a big worker comes', async (t) => {
  const queue = new TenantQueue();
  queue.upsertWorker('small', ['wf:t'], 2);
  queue.enqueue(task('huge', { slotCost: 5 }));
  queue.enqueue(task('x'));
  queue.enqueue(task('y'));
  t.same(queue.assign().map((a) => a.task.taskId), ['x', 'y'], 'the tasks behind it are not blocked');
  t.equal(queue.queuedCount, 1, 'the big one still counts as queued');
  queue.upsertWorker('big', ['wf:t'], 8);
  t.same(queue.assign().map((a) => [a.task.taskId, a.workerId]), [['huge', 'big']]);
});

t.test('queue: memory for an action nobody serves is freed once its tasks are dequeued', async (t) => {
  const queue = new TenantQueue();
  for (let i = 0; i < 5000; i++) {
    queue.enqueue(task(`n${i}`, { action: 'nobody:serves' }));
    queue.dequeue(`n${i}`);
  }
  t.equal(queue.queuedCount, 0);
  t.equal(queue.actionCount, 0, 'no FIFO of stale entries is kept');
  queue.enqueue(task('parked', { action: 'p:t', slotCost: 9 }));
  queue.upsertWorker('w', ['p:t'], 1);
  t.same(queue.assign(), []);
  queue.dequeue('parked');
  t.equal(queue.queuedCount, 0, 'a parked task can be dequeued');
});

// ---------------------------------------------------------------------------------------------
// Flow control

const gate = (key: string, strategy: ConcurrencyGate['strategy'] = 'GROUP_ROUND_ROBIN', maxRuns = 1, scope: ConcurrencyGate['scope'] = 'task'): ConcurrencyGate => ({ key, maxRuns, strategy, scope, label: key });
const ids = (assignments: Array<{ task: QueuedTask }>) => assignments.map((a) => a.task.taskId);

t.test('queue: GROUP_ROUND_ROBIN with maxRuns 1 takes keys in turn; a key admits its next task only when its holder leaves', async (t) => {
  const queue = new TenantQueue();
  queue.upsertWorker('w', ['wf:t'], 10);
  for (let i = 0; i < 3; i++) queue.enqueue(task(`a${i}`, { policy: { concurrency: [gate('A')] } }));
  queue.enqueue(task('b0', { policy: { concurrency: [gate('B')] } }));
  queue.enqueue(task('c0', { policy: { concurrency: [gate('C')] } }));
  t.same(ids(queue.assign()), ['a0', 'b0', 'c0'], 'one per key although the worker has room for all');
  t.same(queue.takeNotices().map((n) => n.kind === 'waiting' && [n.task.taskId, n.eventType]), [['a1', 'CONCURRENCY_LIMITED'], ['a2', 'CONCURRENCY_LIMITED']]);
  t.same(queue.assign(), [], 'A is full');
  queue.release('b0');
  t.same(queue.assign(), [], "B's leaving lets nothing of A through");
  queue.release('a0');
  t.same(ids(queue.assign()), ['a1']);
  t.equal(queue.queuedCount, 1);
  queue.release('a1');
  queue.release('c0');
  t.same(ids(queue.assign()), ['a2']);
  queue.release('a2');
  t.equal(queue.keyCount, 0, 'keys with no holders and no waiters are forgotten');
});

t.test('queue: several keys at once must all hold; a run-scoped key is held by the whole run until it finishes', async (t) => {
  const queue = new TenantQueue();
  queue.upsertWorker('w', ['wf:t'], 10);
  queue.enqueue(task('1', { policy: { concurrency: [gate('tier:pro', 'GROUP_ROUND_ROBIN', 2), gate('acct:x')] } }));
  queue.enqueue(task('2', { policy: { concurrency: [gate('tier:pro', 'GROUP_ROUND_ROBIN', 2), gate('acct:x')] } }));
  queue.enqueue(task('3', { policy: { concurrency: [gate('tier:pro', 'GROUP_ROUND_ROBIN', 2), gate('acct:y')] } }));
  queue.enqueue(task('4', { policy: { concurrency: [gate('tier:pro', 'GROUP_ROUND_ROBIN', 2), gate('acct:z')] } }));
  t.same(ids(queue.assign()), ['1', '3'], 'acct:x admits one, tier:pro two');
  queue.release('1');
  t.same(ids(queue.assign()), ['4'], "tier:pro's waiter takes the room; acct:x's waiter then finds tier:pro full and waits there");
  t.equal(queue.queuedCount, 1);
  queue.release('3');
  t.same(ids(queue.assign()), ['2']);

  const runs = new TenantQueue();
  runs.upsertWorker('w', ['wf:t', 'wf:u'], 10);
  runs.enqueue(task('r1-a', { runId: 'r1', policy: { concurrency: [gate('wf', 'GROUP_ROUND_ROBIN', 1, 'run')] } }));
  runs.enqueue(task('r2-a', { runId: 'r2', policy: { concurrency: [gate('wf', 'GROUP_ROUND_ROBIN', 1, 'run')] } }));
  t.same(ids(runs.assign()), ['r1-a']);
  runs.release('r1-a');
  runs.enqueue(task('r1-b', { runId: 'r1', action: 'wf:u', policy: { concurrency: [gate('wf', 'GROUP_ROUND_ROBIN', 1, 'run')] } }));
  t.same(ids(runs.assign()), ['r1-b'], "the run's next task passes: the run holds the key, not its first task");
  runs.release('r1-b');
  runs.finishRun('r1');
  t.same(ids(runs.assign()), ['r2-a']);
});

t.test('queue: CANCEL_NEWEST cancels the newcomer of a full key; CANCEL_IN_PROGRESS cancels the oldest member and lets the newcomer in once it leaves', async (t) => {
  const queue = new TenantQueue();
  queue.upsertWorker('w', ['wf:t'], 10);
  queue.enqueue(task('old', { policy: { concurrency: [gate('K', 'CANCEL_NEWEST')] } }));
  t.same(ids(queue.assign()), ['old']);
  queue.enqueue(task('new', { policy: { concurrency: [gate('K', 'CANCEL_NEWEST')] } }));
  t.match(queue.takeNotices(), [{ kind: 'cancel', scope: 'task', id: 'new', reason: /CANCEL_NEWEST/ }]);
  t.notOk(queue.isQueued('new'));

  const cip = new TenantQueue();
  cip.upsertWorker('w', ['wf:t'], 10);
  cip.enqueue(task('first', { policy: { concurrency: [gate('K', 'CANCEL_IN_PROGRESS')] } }));
  t.same(ids(cip.assign()), ['first']);
  cip.enqueue(task('second', { runId: 'run-second', policy: { concurrency: [gate('K', 'CANCEL_IN_PROGRESS', 1, 'run')] } }));
  cip.enqueue(task('third', { policy: { concurrency: [gate('K', 'CANCEL_IN_PROGRESS')] } }));
  t.match(
    cip.takeNotices().filter((n) => n.kind === 'cancel'),
    [{ scope: 'task', id: 'first', reason: /CANCEL_IN_PROGRESS/ }, { scope: 'run', id: 'run-second' }],
    'the running one first, then the waiting one: only the newest stays',
  );
  t.same(cip.assign(), [], 'the cancelled one holds its key until it has left');
  cip.release('first');
  t.same(ids(cip.assign()), ['third']);
});

t.test('queue: a rate limit lets `limit` units out per window, the rest wait for the refill; more units than the limit is a rejection', async (t) => {
  const queue = new TenantQueue();
  queue.upsertWorker('w', ['wf:t'], 100);
  queue.setRateLimit('api', 3, 1000);
  for (let i = 0; i < 7; i++) queue.enqueue(task(`${i}`, { policy: { rateLimits: [{ key: 'api', units: 1 }] } }));
  queue.enqueue(task('huge', { policy: { rateLimits: [{ key: 'api', units: 4 }] } }));
  t.same(ids(queue.assign(1000)), ['0', '1', '2']);
  const notices = queue.takeNotices();
  t.equal(notices.filter((n) => n.kind === 'waiting' && n.eventType === 'REQUEUED_RATE_LIMIT').length, 4);
  t.match(notices.filter((n) => n.kind === 'reject'), [{ task: { taskId: 'huge' }, error: /needs 4 units of rate limit 'api', more than its whole limit of 3/ }]);
  t.equal(queue.nextWakeMs(), 2000, 'wakes when the window refills');
  t.same(queue.assign(1500), [], 'not before');
  t.same(ids(queue.assign(2000)), ['3', '4', '5']);
  t.same(ids(queue.assign(3000)), ['6']);
  t.equal(queue.nextWakeMs(), undefined);
  t.same(queue.rateLimitUsage('api', 3500), { used: 1, windowStartMs: 3000 });
  const recovered = new TenantQueue();
  recovered.setRateLimit('api', 3, 1000);
  recovered.consumed('api', 3, 5000);
  recovered.upsertWorker('w', ['wf:t'], 100);
  recovered.enqueue(task('after', { policy: { rateLimits: [{ key: 'api', units: 1 }] } }));
  t.same(recovered.assign(5100), [], 'units consumed before a restart still count in their window');
  t.same(ids(recovered.assign(6000)), ['after']);
});

t.test('queue: required labels wait for a matching worker; weights choose among the rest; comparators compare the worker value to the desired one', async (t) => {
  const queue = new TenantQueue();
  queue.upsertWorker('cpu', ['wf:t'], 5, { labels: { model: 'small', memory: 256 } });
  const want = (labels: Record<string, Partial<DesiredLabel> & { value: string | number }>) =>
    Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, { required: true, weight: 100, comparator: 'EQUAL' as const, ...v }]));
  queue.enqueue(task('gpu-task', { policy: { placement: { labels: want({ model: { value: 'big' } }) } } }));
  queue.enqueue(task('plain'));
  t.same(ids(queue.assign()), ['plain'], 'a task that waits for a label blocks nothing else');
  t.match(queue.takeNotices(), [{ kind: 'waiting', eventType: 'REQUEUED_NO_WORKER', message: /model EQUAL "big"/ }]);
  queue.upsertWorker('gpu', ['wf:t'], 5, { labels: { model: 'big', memory: 1024 } });
  t.same(queue.assign().map((a) => [a.task.taskId, a.workerId]), [['gpu-task', 'gpu']]);
  queue.enqueue(task('heavy', { policy: { placement: { labels: want({ memory: { value: 512, comparator: 'GREATER_THAN', required: false, weight: 10 }, model: { value: 'small', required: false, weight: 50 } }) } } }));
  t.same(queue.assign().map((a) => [a.task.taskId, a.workerId, a.note]), [['heavy', 'cpu', 'its labels match with weight 50']], 'the heavier matching weight wins');
  t.ok(labelMatches(512, { value: 256, comparator: 'GREATER_THAN', required: true, weight: 100 }));
  t.notOk(labelMatches('512', { value: 256, comparator: 'GREATER_THAN', required: true, weight: 100 }), 'strings are not compared as numbers');
  t.notOk(labelMatches(undefined, { value: 'x', comparator: 'NOT_EQUAL', required: true, weight: 100 }), 'a missing label matches nothing');
});

t.test('queue: soft sticky prefers its worker and falls back; hard sticky waits for it; a paused worker gets nothing', async (t) => {
  const queue = new TenantQueue();
  queue.upsertWorker('w1', ['wf:t'], 1);
  queue.upsertWorker('w2', ['wf:t'], 1);
  queue.hold('busy', 'w1', 1);
  queue.enqueue(task('soft', { policy: { placement: { workerId: 'w1', sticky: 'soft' } } }));
  queue.enqueue(task('hard', { policy: { placement: { workerId: 'w1', sticky: 'hard' } } }));
  t.same(queue.assign().map((a) => [a.task.taskId, a.workerId]), [['soft', 'w2']], 'soft falls back; hard waits');
  queue.release('busy');
  t.same(queue.assign().map((a) => [a.task.taskId, a.workerId, a.note]), [['hard', 'w1', 'sticky (hard)']]);

  const paused = new TenantQueue();
  paused.upsertWorker('p', ['wf:t'], 5, { paused: true });
  paused.enqueue(task('x'));
  t.same(paused.assign(), [], 'a paused worker receives nothing');
  paused.upsertWorker('p', ['wf:t'], 5, { paused: false });
  t.same(ids(paused.assign()), ['x']);
});

t.test('queue: releasing a slot frees the worker but keeps the task-level key; releasing the attempt frees both', async (t) => {
  const queue = new TenantQueue();
  queue.upsertWorker('w', ['wf:t'], 1);
  queue.enqueue(task('a', { policy: { concurrency: [gate('K', 'GROUP_ROUND_ROBIN', 1)] } }));
  queue.enqueue(task('b', { policy: { concurrency: [gate('K', 'GROUP_ROUND_ROBIN', 1)] } }));
  queue.enqueue(task('c'));
  t.same(ids(queue.assign()), ['a']);
  queue.releaseSlot('a');
  t.same(ids(queue.assign()), ['c'], 'the slot went to a task the key does not hold back');
  queue.release('c');
  queue.release('a');
  t.same(ids(queue.assign()), ['b']);
});
