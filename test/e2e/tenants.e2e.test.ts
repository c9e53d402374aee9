/**
 * Tenant isolation over real sockets (DESIGN invariant 7): an engine on a real LMDB log with two
 * tenants, each with its own token. Nothing of tenant A is visible to, or changeable by, tenant B
 * — through the SDK or through raw frames — and the same workflow names live side by side.
 */
import { randomBytes } from 'node:crypto';
import { Packr } from 'msgpackr';
import t from 'tap';
import WebSocket from 'ws';
import { HatchetClient } from '../../src/sdk/index.js';
import { type InProcessEngine, inProcessEngine } from '../support/in-process-engine.js';

const packr = new Packr({ useRecords: false });
let running: InProcessEngine;
let tokenA: string;
let tokenB: string;
/** The same key across the restart below, as `kindling start` keeps it in the data directory. */
const signingKey = randomBytes(32);

t.before(async () => {
  running = await inProcessEngine({ tenants: ['tenant-a', 'tenant-b'], engine: { signingKey } });
  tokenA = running.tokens['tenant-a'] as string;
  tokenB = running.tokens['tenant-b'] as string;
});
t.teardown(() => running.close());

const client = (token: string) => HatchetClient.init({ token, host_port: running.hostPort, log_level: 'OFF' });

/** Sends requests on a raw connection authenticated with `token`; resolves with the replies by req. */
function raw(token: string, frames: Array<Record<string, unknown>>): Promise<Map<number, Record<string, unknown>>> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${running.hostPort}/ws`);
    const replies = new Map<number, Record<string, unknown>>();
    ws.on('open', () => {
      ws.send(packr.pack({ t: 'hello', versions: [1], token, client: { sdk: 'raw', version: '0' } }));
      for (const frame of frames) ws.send(packr.pack(frame));
    });
    ws.on('message', (data: Buffer) => {
      const frame = packr.unpack(data) as Record<string, unknown>;
      if (frame.t === 'reply') replies.set(frame.req as number, frame);
      if (replies.size === frames.filter((f) => f.req !== undefined).length) {
        ws.close();
        resolve(replies);
      }
    });
    ws.on('error', reject);
  });
}

t.test('tenants: the same workflow name in two tenants runs on each tenant’s own workers', async (t) => {
  const a = client(tokenA);
  const b = client(tokenB);
  t.teardown(() => {
    a.close();
    b.close();
  });
  const inA = a.task({ name: 'shared-name', fn: () => ({ from: 'A' }) });
  const inB = b.task({ name: 'shared-name', fn: () => ({ from: 'B' }) });
  const workerA = await a.worker('worker-a', { workflows: [inA], handleKill: false });
  const workerB = await b.worker('worker-b', { workflows: [inB], handleKill: false });
  void workerA.start();
  void workerB.start();
  t.teardown(async () => {
    await workerA.stop();
    await workerB.stop();
  });
  await workerA.waitUntilReady();
  await workerB.waitUntilReady();
  const results = await Promise.all([...Array.from({ length: 20 }, () => inA.run({})), ...Array.from({ length: 20 }, () => inB.run({}))]);
  t.same(new Set(results.slice(0, 20).map((r) => r.from)), new Set(['A']), "A's runs ran only on A's worker");
  t.same(new Set(results.slice(20).map((r) => r.from)), new Set(['B']), "B's runs ran only on B's worker");
});

t.test('tenants: B cannot read, await, cancel, replay, log-read or trigger anything of A', async (t) => {
  const a = client(tokenA);
  t.teardown(() => a.close());
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const slow = a.task({
    name: 'a-private',
    fn: async (_input: { secret: string }, ctx) => {
      ctx.log('a private line');
      await gate;
      return { done: true };
    },
  });
  const failing = a.task({ name: 'a-failing', fn: () => {
    throw new Error('no');
  } });
  const worker = await a.worker('a-private-worker', { workflows: [slow, failing], handleKill: false });
  void worker.start();
  t.teardown(() => worker.stop());
  await worker.waitUntilReady();
  const running = await slow.runNoWait({ secret: 'only for A' });
  const failed = await failing.runNoWait({});
  await failed.result().catch(() => {});
  const details = await a.runs.get(running.workflowRunId);
  const taskId = details.tasks[0]?.taskExternalId as string;
  await new Promise((resolve) => setTimeout(resolve, 100));

  const replies = await raw(tokenB, [
    { t: 'getRun', req: 1, runId: running.workflowRunId },
    { t: 'subscribe', req: 2, runIds: [running.workflowRunId, failed.workflowRunId] },
    { t: 'cancel', req: 3, runIds: [running.workflowRunId], taskIds: [taskId] },
    { t: 'replay', req: 4, runIds: [failed.workflowRunId] },
    { t: 'listLogs', req: 5, taskId },
    { t: 'trigger', req: 6, runs: [{ workflow: 'a-private', input: Buffer.from('{}') }] },
    { t: 'trigger', req: 7, runs: [{ workflow: 'shared-name', input: Buffer.from('{}'), parentTaskId: taskId, childIndex: 0 }] },
  ]);
  t.match(replies.get(1), { ok: false, error: { code: 'RUN_NOT_FOUND' } }, 'getRun: as if it did not exist');
  t.match(replies.get(2), { ok: true, body: { missing: [running.workflowRunId, failed.workflowRunId] } }, 'subscribe: both unknown');
  t.match(replies.get(3), { ok: true }, 'cancel: answered, and changes nothing (below)');
  t.match(replies.get(4), { ok: false, error: { code: 'RUN_NOT_FOUND' } }, 'replay: refused');
  t.same(replies.get(5)?.body, [], "listLogs: B's view of that task has no lines");
  t.match(replies.get(6), { ok: false, error: { code: 'WORKFLOW_NOT_FOUND' } }, "trigger: A's workflow is not B's");
  t.match(replies.get(7), { ok: false, error: { code: 'INVALID_INPUT', message: /is not running/ } }, "a child of A's task cannot be spawned by B");

  t.equal((await a.runs.get(running.workflowRunId)).run.status, 'RUNNING', 'still running after B tried to cancel it');
  t.equal((await a.runs.get(failed.workflowRunId)).run.status, 'FAILED', 'not replayed');
  t.match(((await a.logs.list(taskId)).rows ?? []).map((line) => line.message), ['a private line'], 'A still reads its own log');
  release();
  t.same(await running.result(), { done: true });
});

t.test("tenants: B's worker cannot take A's worker id, nor report A's tasks", async (t) => {
  const a = client(tokenA);
  t.teardown(() => a.close());
  let started!: (taskId: string) => void;
  const taskStarted = new Promise<string>((resolve) => {
    started = resolve;
  });
  const held = a.task({
    name: 'a-held',
    fn: async (_input, ctx) => {
      started(ctx.taskRunExternalId());
      await new Promise((resolve) => setTimeout(resolve, 400));
      return { by: 'A finished it' };
    },
  });
  const worker = await a.worker('a-held-worker', { workflows: [held], handleKill: false });
  void worker.start();
  t.teardown(() => worker.stop());
  await worker.waitUntilReady();
  const ref = await held.runNoWait({});
  const taskId = await taskStarted;
  const replies = await raw(tokenB, [
    { t: 'register', req: 1, name: 'impostor', actions: ['a-held:a-held'], slots: 1, workerId: worker.workerId },
    { t: 'register', req: 2, name: 'b-worker', actions: ['a-held:a-held'], slots: 1 },
  ]);
  t.match(replies.get(1), { ok: false, error: { code: 'INVALID_INPUT', message: /is taken/ } });
  t.match(replies.get(2), { ok: true });
  // A worker of B sends a result for A's task: it is not B's to report.
  await new Promise<void>((resolve, reject) => {
    const ws = new WebSocket(`ws://${running.hostPort}/ws`);
    ws.on('open', () => {
      ws.send(packr.pack({ t: 'hello', versions: [1], token: tokenB, client: { sdk: 'raw', version: '0' } }));
      ws.send(packr.pack({ t: 'register', req: 1, name: 'b-forger', actions: [], slots: 1 }));
      ws.send(packr.pack({ t: 'results', items: [{ taskId, attempt: 0, ok: true, output: Buffer.from('"forged"') }] }));
      setTimeout(() => {
        ws.close();
        resolve();
      }, 100);
    });
    ws.on('error', reject);
  });
  t.same(await ref.result(), { by: 'A finished it' }, 'the forged result was ignored');
});

t.test('tenants: after a restart each tenant has its own workflows and tokens again', async (t) => {
  await running.restart();
  const [forA, forB] = await Promise.all([
    raw(tokenA, [
      { t: 'trigger', req: 1, runs: [{ workflow: 'a-private', input: Buffer.from('{"secret":"x"}') }] },
      { t: 'trigger', req: 2, runs: [{ workflow: 'shared-name', input: Buffer.from('{}') }] },
    ]),
    raw(tokenB, [
      { t: 'trigger', req: 1, runs: [{ workflow: 'a-private', input: Buffer.from('{}') }] },
      { t: 'trigger', req: 2, runs: [{ workflow: 'shared-name', input: Buffer.from('{}') }] },
    ]),
  ]);
  t.match([forA.get(1), forA.get(2)], [{ ok: true }, { ok: true }], "A's workflows are A's");
  t.match([forB.get(1), forB.get(2)], [{ ok: false, error: { code: 'WORKFLOW_NOT_FOUND' } }, { ok: true }], "B has only its own");
});
