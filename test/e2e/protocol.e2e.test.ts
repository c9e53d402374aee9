/**
 * Bad frames over a real WebSocket: each closes only its own connection with a clear error code;
 * the engine and other connections carry on (DESIGN invariant 6).
 */
import { Packr } from 'msgpackr';
import t from 'tap';
import WebSocket from 'ws';
import { engineLimits } from '../../src/lib/limits.js';
import { HatchetClient } from '../../src/sdk/index.js';
import { type EngineProcess, startEngine } from '../support/engine-process.js';

const packr = new Packr({ useRecords: false });
let engine: EngineProcess;

t.before(async () => {
  engine = await startEngine();
});
t.teardown(() => engine.dispose());

interface Outcome {
  frames: Array<Record<string, unknown>>;
  closeCode: number;
}

/** Opens a raw connection, sends `frames` in order, and collects what comes back until it closes. */
function exchange(frames: Array<Buffer | string>, waitMs = 1500): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${engine.hostPort}/ws`);
    const received: Array<Record<string, unknown>> = [];
    const timer = setTimeout(() => {
      ws.close();
      resolve({ frames: received, closeCode: -1 });
    }, waitMs);
    ws.on('open', () => {
      for (const frame of frames) ws.send(frame);
    });
    ws.on('message', (data: Buffer) => received.push(packr.unpack(data) as Record<string, unknown>));
    ws.on('close', (code) => {
      clearTimeout(timer);
      resolve({ frames: received, closeCode: code });
    });
    ws.on('error', reject);
  });
}

const hello = (token: string, versions = [1]) => packr.pack({ t: 'hello', versions, token, client: { sdk: 'raw', version: '0' } });

t.test('a good handshake is welcomed with the version and limits', async (t) => {
  const { frames } = await exchange([hello(engine.token)], 300);
  t.match(frames[0], { t: 'welcome', version: 1, tenantId: 'default', heartbeatMs: 4000, limits: { frameBytesMax: engineLimits.frameBytesMax } });
});

t.test('each bad frame closes its connection with a code and a message', async (t) => {
  const cases: Array<[string, Array<Buffer | string>, string, number]> = [
    ['not msgpack', [Buffer.from([0xc1, 0xc1, 0xc1])], 'PROTOCOL_MALFORMED_FRAME', 4400],
    ['a msgpack string, not a map', [packr.pack('hello')], 'PROTOCOL_MALFORMED_FRAME', 4400],
    ['text instead of binary', ['{"t":"hello"}'], 'PROTOCOL_MALFORMED_FRAME', 4400],
    ['a frame before hello', [packr.pack({ t: 'heartbeat' })], 'PROTOCOL_HANDSHAKE_REQUIRED', 4400],
    ['a bad token', [hello('kl_wrong')], 'AUTH_UNAUTHENTICATED', 4401],
    ['no common version', [hello(engine.token, [99])], 'PROTOCOL_VERSION_UNSUPPORTED', 4426],
    ['an unknown frame type', [hello(engine.token), packr.pack({ t: 'launchMissiles' })], 'PROTOCOL_MALFORMED_FRAME', 4400],
    ['wrong field types', [hello(engine.token), packr.pack({ t: 'subscribe', runIds: 'all of them' })], 'PROTOCOL_INVALID_FRAME', 4400],
    ['a worker frame before register', [hello(engine.token), packr.pack({ t: 'started', tasks: [] })], 'PROTOCOL_NOT_A_WORKER', 4400],
  ];
  for (const [name, frames, code, closeCode] of cases) {
    const outcome = await exchange(frames);
    const error = outcome.frames.find((f) => f.t === 'error');
    t.match(error, { t: 'error', code, message: /\w+ \w+.{10,}/ }, `${name}: ${String(error?.message)}`);
    t.equal(outcome.closeCode, closeCode, `${name}: closed with ${closeCode}`);
  }
  const oversized = await exchange([hello(engine.token), Buffer.alloc(engineLimits.frameBytesMax + 10)], 3000);
  t.not(oversized.closeCode, -1, 'an oversized frame closes the connection');
});

t.test('request errors keep the connection open; the engine and other clients carry on', async (t) => {
  const { frames, closeCode } = await exchange(
    [
      hello(engine.token),
      packr.pack({ t: 'trigger', req: 7, runs: [{ workflow: 'nope', input: Buffer.from('{}') }] }),
      packr.pack({ t: 'getRun', req: 8, runId: 'missing' }),
      packr.pack({ t: 'trigger', req: 9, runs: 'all of them' }),
      packr.pack({ t: 'trigger', req: 10, runs: [{ workflow: 'x', input: Buffer.from('{}'), priority: 4 }] }),
      packr.pack({ t: 'trigger', req: 12, runs: [{ workflow: 'x', input: { not: 'bytes' } }] }),
      packr.pack({ t: 'trigger', req: 13, each: true, runs: [{ workflow: 'nope', input: Buffer.from('{}') }, { workflow: 'x', input: Buffer.alloc(engineLimits.payloadBytesMax + 1) }] }),
      packr.pack({ t: 'register', req: 11, name: 'w', actions: [], slots: 1, workerId: 'my worker' }),
    ],
    500,
  );
  const replies = frames.slice(1).sort((a, b) => (a.req as number) - (b.req as number));
  t.match(replies, [
    { t: 'reply', req: 7, ok: false, error: { code: 'WORKFLOW_NOT_FOUND' } },
    { t: 'reply', req: 8, ok: false, error: { code: 'RUN_NOT_FOUND' } },
    { t: 'reply', req: 9, ok: false, error: { code: 'INVALID_INPUT', message: /runs: .*expected array/ } },
    { t: 'reply', req: 10, ok: false, error: { code: 'INVALID_INPUT', message: /priority/ } },
    { t: 'reply', req: 11, ok: false, error: { code: 'INVALID_INPUT', message: /a worker id is/ } },
    { t: 'reply', req: 12, ok: false, error: { code: 'INVALID_INPUT', message: /runs\.0\.input: a payload is JSON text as msgpack bin/ } },
    { t: 'reply', req: 13, ok: true, body: { results: [{ error: { code: 'WORKFLOW_NOT_FOUND' } }, { error: { code: 'WORKFLOW_NOT_FOUND' } }] } },
  ]);
  t.equal(closeCode, -1, 'still open when the test closed it');
  const hatchet = HatchetClient.init({ token: engine.token, host_port: engine.hostPort, log_level: 'ERROR' });
  const ping = hatchet.task({ name: 'ping', fn: () => ({ reply: 'pong' }) });
  const worker = await hatchet.worker('ping-worker', { workflows: [ping], handleKill: false });
  void worker.start();
  await worker.waitUntilReady();
  const [, result] = await Promise.all([exchange([Buffer.from('garbage')]), ping.run({})]);
  t.same(result, { reply: 'pong' }, 'a bad connection next to it changes nothing for a good one');
  await worker.stop();
  hatchet.close();
});
