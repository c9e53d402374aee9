import t from 'tap';
import { deferred } from '../../src/lib/deferred.js';
import { LogErrorCode, isLogError } from '../../store/errors.js';
import { JetStreamLog } from '../../store/jetstream.js';
import { startNatsServer } from '../support/nats-server.js';

const server = await startNatsServer();
t.teardown(() => server.dispose());

t.test('jetstream log: two writers on one stream are fenced by the server', async (t) => {
  const a = await JetStreamLog.open({ servers: server.url, name: 'race' });
  const b = await JetStreamLog.open({ servers: server.url, name: 'race' });
  t.teardown(async () => {
    await a.close();
    await b.close();
  });
  await a.append('run:shared', [{ type: 'Created', data: {} }], { expectedVersion: 'no-stream' });
  t.equal(await b.streamVersion('run:shared'), 1, 'b has now cached the head at version 1');
  await a.append('run:shared', [{ type: 'ByA', data: {} }], { expectedVersion: 1 });
  // b's cached head is stale; the server's expected-last-subject-sequence check catches it.
  await t.rejects(b.append('run:shared', [{ type: 'ByB', data: {} }], { expectedVersion: 1 }), {
    code: LogErrorCode.Conflict,
    message: /version 2, but the append expected 1/,
  });
  t.match(await b.append('run:shared', [{ type: 'ByB', data: {} }], { expectedVersion: 'any' }), { firstSeq: 3 });
  await t.rejects(a.append('run:shared', [{ type: 'Stale', data: {} }], { expectedVersion: 2 }), { code: LogErrorCode.Conflict });
  t.same((await a.readStream('run:shared')).map((r) => r.type), ['Created', 'ByA', 'ByB']);
  // A retry through another client is recognised by its idempotency key.
  const first = await a.append('run:keyed', [{ type: 'Once', data: {} }], { expectedVersion: 'no-stream', idempotencyKey: 'cmd-9' });
  const retried = await b.append('run:keyed', [{ type: 'Once', data: {} }], { expectedVersion: 'no-stream', idempotencyKey: 'cmd-9' });
  t.same(retried, { ...first, duplicate: true });
  t.equal(await a.streamVersion('run:keyed'), 1);
});

t.test('jetstream log: everything survives reopening on the same server', async (t) => {
  const first = await JetStreamLog.open({ servers: server.url, name: 'reopen' });
  await first.append('run:a', [{ type: 'A', data: { n: 1 } }, { type: 'B', data: { n: 2 } }], { expectedVersion: 'no-stream' });
  await first.saveSnapshot({ stream: 'run:a', seq: 2, state: { s: 2 } });
  await first.append('run:gone', [{ type: 'G', data: {} }], { expectedVersion: 'no-stream' });
  await first.deleteStream('run:gone');
  const before = await first.readAll();
  await first.close();
  const second = await JetStreamLog.open({ servers: server.url, name: 'reopen' });
  t.teardown(() => second.close());
  t.same(await second.readAll(), before);
  t.match(await second.loadSnapshot('run:a'), { seq: 2, state: { s: 2 } });
  await t.rejects(second.append('run:gone', [{ type: 'G', data: {} }], { expectedVersion: 'any' }), { code: LogErrorCode.StreamDeleted });
  t.match(await second.append('run:a', [{ type: 'C', data: {} }], { expectedVersion: 2 }), { firstSeq: 3 });
});

t.test('jetstream log: refuses to open with a clear error when no server answers', async (t) => {
  const error = await JetStreamLog.open({ servers: '127.0.0.1:1' }).catch((e: unknown) => e);
  t.match(error, { code: LogErrorCode.Unavailable, retryable: true, message: /cannot connect to NATS/ });
});

t.test('jetstream log: appends fail retryably while nats-server is down (kill -9) and nothing is lost or doubled', async (t) => {
  const log = await JetStreamLog.open({ servers: server.url, name: 'restart', requestTimeoutMs: 1000 });
  t.teardown(() => log.close());
  const streams = 4;
  const appendsPerStream = 60;
  let unavailable = 0;
  let acked = 0;
  let stopped = false;
  const serverDown = deferred();
  const outage = (async () => {
    while (acked < 60) await new Promise((resolve) => setTimeout(resolve, 5));
    await server.kill();
    stopped = true;
    serverDown.resolve();
    while (unavailable < 4) await new Promise((resolve) => setTimeout(resolve, 20));
    await server.restart();
  })();
  const writers = Array.from({ length: streams }, async (_, s) => {
    const stream = `run:restart-${s}`;
    for (let n = 1; n <= appendsPerStream; n++) {
      if (n === appendsPerStream / 2) await serverDown.promise; // the outage lands mid-stream
      for (;;) {
        try {
          // The same key on every try of one logical append: a retry of an append that did land
          // is answered with the original instead of a second copy.
          await log.append(stream, [{ type: 'Step', data: { n } }], { expectedVersion: n - 1, idempotencyKey: `${stream}:${n}` });
          acked += 1;
          break;
        } catch (error) {
          if (!isLogError(error, LogErrorCode.Unavailable) || !error.retryable) throw error;
          if (stopped) unavailable += 1;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    }
  });
  await Promise.all([...writers, outage]);
  t.ok(unavailable >= 4, `appends failed with the retryable LOG_UNAVAILABLE while the server was down (${unavailable} times)`);
  for (let s = 0; s < streams; s++) {
    const records = await log.readStream(`run:restart-${s}`);
    t.same(
      records.map((r) => (r.data as { n: number }).n),
      Array.from({ length: appendsPerStream }, (_, i) => i + 1),
      `stream ${s}: every append once, in order`,
    );
  }
  t.equal((await log.readAll()).length, streams * appendsPerStream, 'the whole log holds no duplicate');
});
