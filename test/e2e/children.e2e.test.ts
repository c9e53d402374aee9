/**
 * Child runs end to end: a fan-out of 100 children through `ctx.bulkRunChildren`, `decl.run()`
 * inside a task making its runs children of it (implicit parenting, metadata inherited), and a
 * child spawned twice with one key made once.
 */
import t from 'tap';
import { HatchetClient } from '../../src/sdk/index.js';
import { type EngineProcess, startEngine } from '../support/engine-process.js';

let engine: EngineProcess;
let hatchet: HatchetClient;

t.before(async () => {
  engine = await startEngine();
  hatchet = HatchetClient.init({ token: engine.token, host_port: engine.hostPort, log_level: 'ERROR' });
});
t.teardown(async () => {
  hatchet.close();
  await engine.dispose();
});

t.test('a fan-out of 100 children; implicit parenting; a repeated key spawns one child', async (t) => {
  const childRuns: Array<{ parent: string | undefined; index: number | undefined; key: string | undefined; metadata: Record<string, string> }> = [];
  const child = hatchet.task({ name: 'kid', fn: (input: { n: number }, ctx) => {
    childRuns.push({ parent: ctx.parentWorkflowRunId(), index: ctx.childIndex(), key: ctx.childKey(), metadata: ctx.additionalMetadata() });
    return { n: input.n * 2 };
  } });
  const parent = hatchet.task({ name: 'fan-parent', executionTimeout: '2m', fn: async (_input: Record<string, never>, ctx) => {
    const bulk = await ctx.bulkRunChildren(Array.from({ length: 100 }, (_, n) => ({ workflow: child, input: { n } })));
    const implicit = await child.run({ n: 1000 });
    const first = await ctx.runNoWaitChild(child, { n: 7 }, { key: 'same' });
    const second = await ctx.runNoWaitChild(child, { n: 8 }, { key: 'same' });
    return { sum: bulk.reduce((acc, out) => acc + out.n, 0), implicit: implicit.n, sameRun: first.workflowRunId === second.workflowRunId, keyed: (await second.output).n };
  } });
  const worker = await hatchet.worker('fan-worker', { workflows: [child, parent], slots: 50, handleKill: false });
  void worker.start();
  await worker.waitUntilReady();
  t.teardown(() => worker.stop());
  const ref = await parent.runNoWait({}, { additionalMetadata: { tenantTag: 'acme' } });
  const output = await ref.output;
  t.same(output, { sum: 2 * ((99 * 100) / 2), implicit: 2000, sameRun: true, keyed: 14 }, 'the second spawn with the key returned the first run');
  t.equal(childRuns.length, 102, '100 bulk children, one implicit child, one keyed child');
  t.ok(childRuns.every((c) => c.parent === ref.workflowRunId), 'every child knows its parent run');
  t.ok(childRuns.every((c) => c.metadata.tenantTag === 'acme'), "every child inherited the parent's metadata");
  t.equal(new Set(childRuns.map((c) => c.index)).size, 102, 'child indexes are shared by every way of spawning');
  t.equal(childRuns.filter((c) => c.key === 'same').length, 1);
});
