/**
 * The worker's health-check server (HATCHET_CLIENT_WORKER_HEALTHCHECK_*), against a real engine
 * over a real WebSocket and real HTTP: `/health` follows the worker's connection, `/metrics` is
 * Prometheus text with the listener-health and event-loop-lag gauges, the server closes on stop,
 * and bad settings are refused with a clear error.
 */
import { createServer } from 'node:net';
import t from 'tap';
import { HatchetClient } from '../../src/sdk/index.js';
import { type InProcessEngine, inProcessEngine } from '../support/in-process-engine.js';

let running: InProcessEngine;

t.before(async () => {
  running = await inProcessEngine();
});
t.teardown(() => running.close());

const HEALTH_ENV = ['HATCHET_CLIENT_WORKER_HEALTHCHECK_ENABLED', 'HATCHET_CLIENT_WORKER_HEALTHCHECK_PORT', 'HATCHET_CLIENT_WORKER_HEALTHCHECK_EVENT_LOOP_BLOCK_THRESHOLD_SECONDS'] as const;

/** Runs `fn` with these health-check variables set (and the others unset), then restores them. */
function withEnv<T>(values: Partial<Record<(typeof HEALTH_ENV)[number], string>>, fn: () => T): T {
  const saved = HEALTH_ENV.map((key) => [key, process.env[key]] as const);
  for (const key of HEALTH_ENV) delete process.env[key];
  Object.assign(process.env, values);
  try {
    return fn();
  } finally {
    for (const [key, value] of saved) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

t.test('enabled from the environment: /health and /metrics follow the connection; the server closes on stop', async (t) => {
  const port = await freePort();
  // A token of its own, revoked below to cut the worker's connection.
  const token = await running.engine.createToken('default', { name: 'health-worker' });
  const tokenId = (running.engine.tenants.tokens('default').find((record) => record.name === 'health-worker') as { tokenId: string }).tokenId;
  const hatchet = withEnv({ HATCHET_CLIENT_WORKER_HEALTHCHECK_ENABLED: 'true', HATCHET_CLIENT_WORKER_HEALTHCHECK_PORT: String(port) }, () =>
    HatchetClient.init({ token, host_port: running.hostPort, log_level: 'OFF' }),
  );
  t.teardown(() => hatchet.close());
  t.same(hatchet.config.healthcheck, { enabled: true, port, eventLoopBlockThresholdSeconds: 5 });
  const echo = hatchet.task({ name: 'echo', fn: (input: { say: string }) => input });
  const worker = await hatchet.worker('health-worker', { workflows: [echo], slots: 4, handleKill: false });
  const stopped = worker.start();
  await worker.waitUntilReady();
  t.equal(worker.healthcheckPort, port);
  const base = `http://127.0.0.1:${port}`;

  const health = await fetch(`${base}/health`);
  t.equal(health.status, 200);
  t.match(await health.json(), { status: 'HEALTHY', name: 'health-worker', slots: 4, actions: ['echo:echo'], nodeVersion: process.version });
  const metrics = await fetch(`${base}/metrics`);
  t.equal(metrics.status, 200);
  t.match(metrics.headers.get('content-type'), /^text\/plain/);
  const text = await metrics.text();
  t.match(text, /^# TYPE hatchet_worker_listener_health_health_worker gauge$/m);
  t.match(text, /^hatchet_worker_listener_health_health_worker 1$/m, 'the listener is healthy');
  t.match(text, /^hatchet_worker_event_loop_lag_seconds_health_worker \d+(\.\d+)?(e-\d+)?$/m);
  t.equal((await fetch(`${base}/nothing`)).status, 404);
  t.same(await echo.run({ say: 'hi' }), { say: 'hi' }, 'the worker runs tasks meanwhile');

  // The engine closes the worker's connection for good: the health check says so.
  await running.engine.revokeToken(tokenId);
  await eventually('/health to report the lost connection', async () => (await fetch(`${base}/health`)).status === 503);
  t.match(await (await fetch(`${base}/health`)).json(), { status: 'UNHEALTHY' });
  t.match(await (await fetch(`${base}/metrics`)).text(), /^hatchet_worker_listener_health_health_worker 0$/m);

  await worker.stop();
  await stopped;
  t.equal(worker.healthcheckPort, undefined);
  await t.rejects(fetch(`${base}/health`), 'nothing listens once the worker stopped');
});

t.test('off by default; the client option enables it (port 0: any free port)', async (t) => {
  const plain = withEnv({}, () => HatchetClient.init({ token: running.tokens.default as string, host_port: running.hostPort, log_level: 'OFF' }));
  t.teardown(() => plain.close());
  t.same(plain.config.healthcheck, { enabled: false, port: 8001, eventLoopBlockThresholdSeconds: 5 });
  const quiet = await plain.worker('quiet-worker', { workflows: [plain.task({ name: 'quiet', fn: () => ({}) })], handleKill: false });
  void quiet.start();
  await quiet.waitUntilReady();
  t.equal(quiet.healthcheckPort, undefined, 'no server without the setting');
  await quiet.stop();

  const hatchet = withEnv({}, () => HatchetClient.init({ token: running.tokens.default as string, host_port: running.hostPort, log_level: 'OFF', healthcheck: { enabled: true, port: 0 } }));
  t.teardown(() => hatchet.close());
  const worker = await hatchet.worker('option-worker', { workflows: [hatchet.task({ name: 'noop', fn: () => ({}) })], handleKill: false });
  void worker.start();
  await worker.waitUntilReady();
  const port = worker.healthcheckPort as number;
  t.ok(port > 0, 'listening on a port of its own');
  t.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200);

  // A second worker on the same port cannot listen: its start says why.
  const again = withEnv({}, () => HatchetClient.init({ token: running.tokens.default as string, host_port: running.hostPort, log_level: 'OFF', healthcheck: { enabled: true, port } }));
  t.teardown(() => again.close());
  const clash = await again.worker('clash-worker', { workflows: [again.task({ name: 'clash', fn: () => ({}) })], handleKill: false });
  await t.rejects(clash.start(), { name: 'HatchetError', message: new RegExp(`could not listen on port ${port}: the port is in use`) });
  await worker.stop();
});

t.test('bad settings are refused with the variable named', async (t) => {
  const init = () => HatchetClient.init({ token: running.tokens.default as string, host_port: running.hostPort, log_level: 'OFF' });
  for (const value of ['abc', '70000', '-1', '80.5']) {
    t.throws(() => withEnv({ HATCHET_CLIENT_WORKER_HEALTHCHECK_ENABLED: 'true', HATCHET_CLIENT_WORKER_HEALTHCHECK_PORT: value }, init), {
      name: 'HatchetError',
      message: `HATCHET_CLIENT_WORKER_HEALTHCHECK_PORT is '${value}': a port is a whole number from 1 to 65535 (0 for any free port)`,
    });
  }
  t.throws(() => withEnv({ HATCHET_CLIENT_WORKER_HEALTHCHECK_ENABLED: 'yes' }, init), { message: "HATCHET_CLIENT_WORKER_HEALTHCHECK_ENABLED is 'yes': use true or false" });
  t.throws(() => withEnv({ HATCHET_CLIENT_WORKER_HEALTHCHECK_EVENT_LOOP_BLOCK_THRESHOLD_SECONDS: 'soon' }, init), { message: /event loop block threshold is 'soon'/ });
  t.throws(() => withEnv({}, () => HatchetClient.init({ token: running.tokens.default as string, healthcheck: { enabled: true, port: 1.5 } })), { message: /healthcheck\.port is 1\.5/ });
});
