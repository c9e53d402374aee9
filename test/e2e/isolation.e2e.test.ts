/**
 * The isolation matrix over REST: every route of the route table (so routes added later are in it
 * too), called with tenant A's token against tenant B — B's tenant path, run, task, workflow, worker
 * and token ids. Each answer is a 403 or a 404 that names nothing of B, or A's own data without
 * B's; and afterwards B's run, workflow, logs and worker are exactly as they were. The WebSocket
 * frames' matrix is in tenants.e2e.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { apiRoutes, startServer } from '../../src/api/server.js';
import { Engine } from '../../src/engine/engine.js';
import type { Gateway } from '../../src/engine/gateway.js';
import { HatchetClient } from '../../src/sdk/index.js';
import { LmdbLog } from '../../store/lmdb.js';

const dir = mkdtempSync(join(tmpdir(), 'kindling-isolation-'));
let log: LmdbLog;
let engine: Engine;
let server: Gateway;

t.teardown(async () => {
  server?.close();
  await engine?.close();
  await log?.close();
  rmSync(dir, { recursive: true, force: true });
});

t.test('isolation: no route gives tenant A anything of tenant B, or changes it', async (t) => {
  log = await LmdbLog.open({ path: join(dir, 'log') });
  engine = await Engine.start({ log, readModelPath: join(dir, 'read') });
  server = await startServer(engine, { port: 0, host: '127.0.0.1' });
  // Made after the server listens, so they carry its address.
  const tokenA = await engine.createToken('tenant-a');
  const tokenB = await engine.createToken('tenant-b');
  const base = `http://127.0.0.1:${server.port}`;

  // B: a workflow, a worker, a running run that logged a secret, a finished run.
  const b = HatchetClient.init({ token: tokenB, log_level: 'OFF' });
  t.teardown(() => b.close());
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  t.teardown(() => release());
  const secretTask = b.task({
    name: 'b-secret-workflow',
    fn: async (input: { secret: string }, ctx) => {
      ctx.log(`b-secret-log ${input.secret}`);
      await held;
      return {};
    },
  });
  const done = b.task({ name: 'b-done', fn: () => ({ result: 'b-secret-output' }) });
  const worker = await b.worker('b-secret-worker', { workflows: [secretTask, done], handleKill: false });
  void worker.start();
  t.teardown(() => worker.stop());
  await worker.waitUntilReady();
  const running = await secretTask.runNoWait({ secret: 'b-secret-input' });
  const finished = await done.runNoWait({});
  await finished.result();
  for (let i = 0; i < 200 && (await b.runs.get(running)).run.status !== 'RUNNING'; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  const taskId = (await b.runs.get(running)).tasks[0]?.taskExternalId as string;
  await b.webhooks.create({ sourceName: 'GENERIC', name: 'b-secret-hook', eventKeyExpression: "'b-secret-key'", auth: { headerName: 'x-key', apiKey: 'b-secret-api-key' } });
  const later = new Date(Date.now() + 3600_000).toISOString();
  const bSchedule = await b.scheduled.create(secretTask, { triggerAt: new Date(later), input: { secret: 'b-secret-scheduled' } });
  const bCron = await b.crons.create(secretTask, { name: 'b-secret-cron', expression: '0 0 1 1 *', input: { secret: 'b-secret-cron' } });
  const bFilter = await b.filters.create({ workflowId: 'b-secret-workflow', expression: 'true', scope: 'b-secret-scope' });
  const workerId = (await b.workers.list()).rows?.[0]?.metadata.id as string;
  const tokenId = engine.tenants.tokens('tenant-b')[0]?.tokenId as string;
  const secrets = ['b-secret', running.workflowRunId, finished.workflowRunId, workerId];

  const values: Record<string, string> = { run: running.workflowRunId, task: taskId, workflow: 'b-secret-workflow', worker: workerId, token: tokenId, webhook: 'b-secret-hook', scheduled: bSchedule.metadata.id, cron: bCron.metadata.id, filter: bFilter.metadata.id };
  const since = new Date(Date.now() - 3600_000).toISOString();
  const requiredQuery: Record<string, string> = { since, position: '999999999999' };
  let checked = 0;
  for (const route of apiRoutes(engine)) {
    if (route.auth === 'none') continue;
    const queryShape = (route.query as { shape?: Record<string, { safeParse(value: unknown): { success: boolean } }> } | undefined)?.shape ?? {};
    const query = new URLSearchParams(Object.entries(requiredQuery).filter(([name]) => name in queryShape && !queryShape[name]?.safeParse(undefined).success));
    // A body the route accepts, naming B's things where it can (an unknown route's body is {}).
    const bodies: Array<[RegExp, unknown]> = [
      [/\/(cancel|replay)$/, { externalIds: [running.workflowRunId, finished.workflowRunId, taskId] }],
      [/\/workers\/\{worker\}$/, { isPaused: true }],
      [/\/webhooks\/\{webhook\}$/, { staticPayload: { changed: true } }],
      [/\/\{workflow\}\/scheduled$/, { triggerAt: later, input: {} }],
      [/\/scheduled\/\{scheduled\}$/, { triggerAt: later }],
      [/\/\{workflow\}\/crons$/, { cronName: 'a-cron', cronExpression: '0 0 1 1 *' }],
      [/\/filters\/\{filter\}$/, { expression: 'false' }],
    ];
    const body = route.body === undefined ? undefined : JSON.stringify(bodies.find(([pattern]) => pattern.test(route.path))?.[1] ?? {});
    const names = [...route.path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1] as string);
    for (const name of names) t.ok(name === 'tenant' || values[name] !== undefined, `${route.method} ${route.path}: the matrix knows what B's {${name}} is`);
    const call = async (tenant: string) => {
      const path = route.path.replace(/\{([^}]+)\}/g, (_, name: string) => encodeURIComponent(name === 'tenant' ? tenant : (values[name] ?? 'x')));
      const response = await fetch(`${base}${path}${query.size > 0 ? `?${query}` : ''}`, { method: route.method, headers: { authorization: `Bearer ${tokenA}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body }) });
      return { status: response.status, text: await response.text(), asked: `${path} ${body ?? ''}` };
    };
    const label = `${route.method} ${route.path}`;
    if (names.includes('tenant')) {
      const asB = await call('tenant-b');
      t.ok(asB.status === 403 || (route.auth === 'admin' && asB.status === 403), `${label} at B's path: ${asB.status}`);
    }
    const asA = await call('tenant-a');
    // An answer may repeat what was asked ("run X does not exist"); anything else of B is a leak.
    const leaked = secrets.filter((secret) => asA.text.includes(secret) && !asA.asked.includes(secret));
    t.same(leaked, [], `${label} as A names nothing of B (${asA.status})`);
    // B's ids read as ids that do not exist: a 403, a 404, or (for a list under an id) no rows.
    const empty = asA.status === 200 && /^[[{]/.test(asA.text) && JSON.stringify(JSON.parse(asA.text).rows) === '[]';
    if (names.some((name) => name !== 'tenant')) t.ok([403, 404].includes(asA.status) || empty, `${label} on B's ids: ${asA.status}`);
    checked += 1;
  }
  t.ok(checked >= 15, `${checked} routes checked`);

  // Nothing of B changed.
  const runningNow = await b.runs.get(running);
  t.equal(runningNow.run.status, 'RUNNING', "B's run still runs (A's cancel did nothing)");
  t.equal((await b.runs.get(finished)).run.status, 'COMPLETED', "B's finished run was not replayed");
  t.match(await b.workflows.get('b-secret-workflow'), { name: 'b-secret-workflow' }, "B's workflow was not deleted");
  t.match((await b.logs.list(taskId)).rows, [{ message: 'b-secret-log b-secret-input' }]);
  t.match((await b.workers.list()).rows, [{ metadata: { id: workerId }, status: 'ACTIVE' }]);
  t.equal(engine.tenants.tokens('tenant-b').filter((token) => token.revokedAtMs !== undefined).length, 0, "B's token was not revoked");
  t.match(await b.webhooks.get('b-secret-hook'), { eventKeyExpression: "'b-secret-key'" }, "B's webhook was neither changed nor deleted");
  t.match(await b.scheduled.get(bSchedule.metadata.id), { triggerAt: bSchedule.triggerAt }, "B's schedule was neither moved nor deleted");
  t.match(await b.crons.get(bCron.metadata.id), { cron: '0 0 1 1 *' }, "B's cron was not deleted");
  t.match(await b.filters.get(bFilter.metadata.id), { expression: 'true' }, "B's filter was neither changed nor deleted");
  release();
});
