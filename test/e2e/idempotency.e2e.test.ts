/**
 * Idempotent triggers end to end: a key (CEL over the input) held by a run refuses a second
 * trigger with an `IdempotencyCollisionError` naming it; a bulk trigger creates the runs that do
 * not collide (`BulkTriggerIdempotencyCollisionError`); a `status` key is free again once its run
 * finished; a held key survives kill -9; a bad expression is refused at registration.
 */
import t from 'tap';
import { BulkTriggerIdempotencyCollisionError, HatchetClient, IdempotencyCollisionError } from '../../src/sdk/index.js';
import { startEngine } from '../support/engine-process.js';

t.test('idempotency: ttl and status keys, bulk partial success, a restart, a bad expression', async (t) => {
  const engine = await startEngine();
  t.teardown(() => engine.dispose());
  const hatchet = HatchetClient.init({ token: engine.token, host_port: engine.hostPort, log_level: 'ERROR' });
  t.teardown(() => hatchet.close());
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const order = hatchet.task({ name: 'order', idempotency: { strategy: 'ttl', expression: 'input.orderId', ttlMs: 600_000 }, fn: (input: { orderId: string }) => ({ orderId: input.orderId }) });
  const job = hatchet.task({ name: 'job', idempotency: { strategy: 'status', expression: "input.kind + '-' + additional_metadata.tenant" }, fn: async (input: { kind: string; wait: boolean }) => {
    if (input.wait) await gate;
    return { kind: input.kind };
  } });
  const worker = await hatchet.worker('idempotency-worker', { workflows: [order, job], handleKill: false });
  void worker.start();
  await worker.waitUntilReady();
  t.teardown(() => worker.stop());

  const first = await order.runNoWait({ orderId: 'a' });
  t.same(await first.output, { orderId: 'a' });
  const again = await order.runNoWait({ orderId: 'a' }).then(() => undefined, (e: unknown) => e);
  t.ok(again instanceof IdempotencyCollisionError, 'the same key is refused');
  t.equal((again as IdempotencyCollisionError).existingRunExternalId, first.workflowRunId, 'naming the run that holds it');
  const bulk = await order.runNoWait([{ orderId: 'b' }, { orderId: 'a' }, { orderId: 'c' }]).then(() => undefined, (e: unknown) => e);
  t.ok(bulk instanceof BulkTriggerIdempotencyCollisionError, 'a bulk trigger with one collision');
  t.equal((bulk as BulkTriggerIdempotencyCollisionError).successfulWorkflowRunExternalIds.length, 2, 'the other runs were created');
  t.same((bulk as BulkTriggerIdempotencyCollisionError).collisions.map((c) => c.existingRunExternalId), [first.workflowRunId]);

  const waiting = await job.runNoWait({ kind: 'x', wait: true }, { additionalMetadata: { tenant: 't1' } });
  await t.rejects(job.runNoWait({ kind: 'x', wait: false }, { additionalMetadata: { tenant: 't1' } }), { name: 'IdempotencyCollisionError' }, 'held while its run is running');
  t.same(await job.run({ kind: 'x', wait: false }, { additionalMetadata: { tenant: 't2' } }), { kind: 'x' }, 'another key is free');
  release();
  await waiting.output;
  let freed: unknown;
  for (let i = 0; i < 50 && freed === undefined; i++) {
    freed = await job.run({ kind: 'x', wait: false }, { additionalMetadata: { tenant: 't1' } }).catch(() => undefined);
    if (freed === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.same(freed, { kind: 'x' }, 'free again once the run finished');

  await engine.kill('SIGKILL');
  await engine.restart();
  await t.rejects(order.runNoWait({ orderId: 'a' }), { name: 'IdempotencyCollisionError' }, 'a held key survives kill -9');

  const bad = hatchet.task({ name: 'bad-key', idempotency: { strategy: 'ttl', expression: 'input.', ttlMs: 1000 }, fn: () => ({}) });
  await t.rejects(hatchet.worker('bad-key-worker', { workflows: [bad], handleKill: false }), { code: 'INVALID_INPUT', message: /idempotency expression/ });
});
