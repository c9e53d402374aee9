import t from 'tap';
import { type QueuedTask, TenantQueue } from '../../actors/tenant-queue.js';

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
