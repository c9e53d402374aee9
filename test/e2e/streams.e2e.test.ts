/**
 * Live streams (`ctx.putStream` → `hatchet.runs.subscribeToStream`) on a real engine, real
 * WebSockets and a real worker: order, several subscribers, the end with the run, late
 * subscribers, tenant isolation, the chunk limit, stale attempts and a subscriber too slow to read.
 */
import { Packr } from 'msgpackr';
import t from 'tap';
import WebSocket from 'ws';
import { type Context, HatchetClient } from '../../src/sdk/index.js';
import { engineLimits } from '../../src/lib/limits.js';
import { type InProcessEngine, inProcessEngine } from '../support/in-process-engine.js';

const packr = new Packr({ useRecords: false });
let running: InProcessEngine;

t.before(async () => {
  running = await inProcessEngine({ tenants: ['tenant-a', 'tenant-b'] });
});
t.teardown(() => running.close());

const client = (tenant: string) => HatchetClient.init({ token: running.tokens[tenant] as string, host_port: running.hostPort, log_level: 'OFF' });

async function collect(stream: AsyncIterable<string>, seen?: (chunk: string) => void): Promise<string[]> {
  const chunks: string[] = [];
  for await (const chunk of stream) {
    chunks.push(chunk);
    seen?.(chunk);
  }
  return chunks;
}

/** A raw connection: frames sent after `hello`, replies by req and every other frame in order. */
function raw(tenant: string) {
  const ws = new WebSocket(`ws://${running.hostPort}/ws`);
  const frames: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  let req = 0;
  ws.on('message', (data: Buffer) => {
    frames.push(packr.unpack(data) as Record<string, unknown>);
    for (const wake of waiters.splice(0)) wake();
  });
  const opened = new Promise<void>((resolve, reject) => {
    ws.on('open', () => {
      ws.send(packr.pack({ t: 'hello', versions: [1], token: running.tokens[tenant], client: { sdk: 'raw', version: '0' } }));
      resolve();
    });
    ws.on('error', reject);
  });
  const until = async (test: (frame: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> => {
    for (;;) {
      const found = frames.find(test);
      if (found !== undefined) return found;
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  return {
    ws,
    frames,
    until,
    async request(frame: Record<string, unknown>): Promise<Record<string, unknown>> {
      await opened;
      const mine = ++req;
      ws.send(packr.pack({ ...frame, req: mine }));
      return until((f) => f.t === 'reply' && f.req === mine);
    },
  };
}

t.test('streams: subscribers get every chunk in order and the iteration ends with the run', async (t) => {
  const a = client('tenant-a');
  const watcher = client('tenant-a');
  t.teardown(() => {
    a.close();
    watcher.close();
  });
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  t.teardown(() => release());
  const streaming = a.task({
    name: 'stream-ordered',
    fn: async (_input, ctx) => {
      await ctx.putStream('chunk-0');
      await gate;
      for (let i = 1; i < 50; i++) void ctx.putStream(`chunk-${i}`);
      await ctx.putStream(new TextEncoder().encode('chunk-50'));
      return { done: true };
    },
  });
  const quiet = a.task({ name: 'stream-none', fn: () => ({ quiet: true }) });
  const worker = await a.worker('stream-worker', { workflows: [streaming, quiet], handleKill: false });
  void worker.start();
  t.teardown(() => worker.stop());
  await worker.waitUntilReady();

  const ref = await streaming.runNoWait({});
  const runId = await ref.getWorkflowRunId();
  let firstSeen: () => void = () => {};
  const first = new Promise<void>((resolve) => {
    firstSeen = resolve;
  });
  // Two subscribers on two connections; both are live before the chunks after the first are sent.
  const one = collect(a.runs.subscribeToStream(runId), firstSeen);
  const two = collect(watcher.runs.subscribeToStream(runId));
  // (If the stream ended without its first chunk, the assertions below say so rather than wait.)
  await Promise.race([first, one]);
  release();
  const expected = Array.from({ length: 51 }, (_, i) => `chunk-${i}`);
  t.same(await one, expected, 'the first subscriber got every chunk, in order, and its iteration ended');
  t.same(await two, expected, 'so did the second');
  t.same(await ref.output, { done: true }, 'the run completed');

  t.same(await collect(a.runs.subscribeToStream(runId)), expected, 'a subscription to the finished run gets the chunks kept, then ends');
  const silent = await quiet.runNoWait({});
  const silentId = await silent.getWorkflowRunId();
  await silent.output;
  t.same(await collect(a.runs.subscribeToStream(silentId)), [], 'a finished run that streamed nothing ends at once');
  await t.rejects(collect(a.runs.subscribeToStream('no-such-run')), { code: 'RUN_NOT_FOUND' }, 'a run that does not exist is not found');

  // Another tenant: the run reads as not found, and its chunks cannot be put from there.
  const b = client('tenant-b');
  t.teardown(() => b.close());
  await t.rejects(collect(b.runs.subscribeToStream(runId)), { code: 'RUN_NOT_FOUND' }, "tenant B cannot subscribe to A's run");
});

t.test('streams: only the worker holding the current attempt puts chunks, each within the size limit', async (t) => {
  const a = client('tenant-a');
  t.teardown(() => a.close());
  let firstAttempt: Context<unknown> | undefined;
  let taskId = '';
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  t.teardown(() => release());
  const refusals: Record<string, string> = {};
  const code = (error: unknown) => (error as { code?: string }).code ?? String(error);
  const retried = a.task({
    name: 'stream-guarded',
    retries: 1,
    fn: async (_input, ctx) => {
      if (ctx.retryCount() === 0) {
        firstAttempt = ctx as Context<unknown>;
        throw new Error('fail the first attempt');
      }
      taskId = ctx.taskRunExternalId();
      refusals.stale = await (firstAttempt as Context<unknown>).putStream('from the stale attempt').then(() => 'taken', code);
      refusals.large = await ctx.putStream('x'.repeat(engineLimits.streamChunkBytesMax + 1)).then(() => 'taken', code);
      await ctx.putStream('fresh');
      await gate;
      return {};
    },
  });
  const worker = await a.worker('stream-guard-worker', { workflows: [retried], handleKill: false });
  void worker.start();
  t.teardown(() => worker.stop());
  await worker.waitUntilReady();
  const ref = await retried.runNoWait({});
  const runId = await ref.getWorkflowRunId();
  const chunks = collect(a.runs.subscribeToStream(runId));
  while (taskId === '' || refusals.large === undefined) await new Promise((resolve) => setTimeout(resolve, 20));

  // Tenant B's worker cannot put chunks into A's task, nor can a worker of A that does not hold it.
  for (const tenant of ['tenant-b', 'tenant-a']) {
    const other = raw(tenant);
    t.teardown(() => other.ws.close());
    t.equal((await other.request({ t: 'register', name: `intruder-${tenant}`, actions: ['stream-guarded:stream-guarded'], slots: 1 })).ok, true);
    const put = await other.request({ t: 'putStream', taskId, attempt: 1, index: 99, data: Buffer.from('intruder') });
    t.match(put, { ok: false, error: { code: 'TASK_NOT_HELD' } }, `a worker of ${tenant} that does not hold the attempt is refused`);
  }
  release();
  await ref.output;
  t.same(refusals, { stale: 'TASK_NOT_HELD', large: 'STREAM_CHUNK_TOO_LARGE' }, 'the stale attempt and the chunk over the limit were refused with their codes');
  t.same(await chunks, ['fresh'], 'subscribers got only the chunk that was taken');
});

t.test('streams: a subscriber that does not read loses its subscription, not its connection', async (t) => {
  const a = client('tenant-a');
  t.teardown(() => a.close());
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  t.teardown(() => release());
  const chunk = 'y'.repeat(60 * 1024);
  const count = 400; // 24 MiB: more than the socket buffers and the engine's bound together
  const flood = a.task({
    name: 'stream-flood',
    fn: async (_input, ctx) => {
      await gate;
      await Promise.all(Array.from({ length: count }, () => ctx.putStream(chunk)));
      return {};
    },
  });
  const worker = await a.worker('stream-flood-worker', { workflows: [flood], handleKill: false });
  void worker.start();
  t.teardown(() => worker.stop());
  await worker.waitUntilReady();
  const ref = await flood.runNoWait({});
  const runId = await ref.getWorkflowRunId();

  const slow = raw('tenant-a');
  t.teardown(() => slow.ws.close());
  t.match(await slow.request({ t: 'subscribeStream', runId }), { ok: true }, 'subscribed');
  (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
  release();
  await ref.output;
  (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
  const end = await slow.until((f) => f.t === 'streamEnd');
  t.match(end, { runId, error: { code: 'STREAM_SUBSCRIBER_TOO_SLOW' } }, 'the subscription ended saying why');
  const delivered = slow.frames.filter((f) => f.t === 'streamChunk').length;
  t.ok(delivered < count, `it got ${delivered} of ${count} chunks before it was dropped`);
  t.match(await slow.request({ t: 'getRun', runId }), { ok: true, body: { status: 'COMPLETED' } }, 'the connection still answers');
});
