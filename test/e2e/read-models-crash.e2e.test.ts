/**
 * The read models survive `kill -9`: the real engine process is killed right after it acknowledged
 * runs, and after the restart every acknowledged run is listed; with the read models' directory
 * deleted, the next start rebuilds them from the log and lists the same.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { HatchetClient } from '../../src/sdk/index.js';
import { startEngine } from '../support/engine-process.js';

t.test('read models: every run acknowledged before kill -9 is listed after the restart, and after a rebuild', async (t) => {
  const engine = await startEngine();
  t.teardown(() => engine.dispose());
  const since = new Date(Date.now() - 60_000);
  const client = () => HatchetClient.init({ token: engine.token, host_port: engine.hostPort, log_level: 'OFF' });
  let hatchet = client();
  const idle = hatchet.task({ name: 'idle', fn: (_input: { n: number }) => ({}) });
  await hatchet.putWorkflow(idle);
  const acknowledged: string[] = [];
  for (let i = 0; i < 5; i++) acknowledged.push(...(await idle.runNoWait(Array.from({ length: 100 }, (_, n) => ({ n })))).map((ref) => ref.workflowRunId));
  await engine.kill('SIGKILL');
  hatchet.close();

  const listAll = async () => {
    const ids: string[] = [];
    for (let offset = 0; ; offset += 1000) {
      const page = await hatchet.runs.list({ since, limit: 1000, offset, includePayloads: false });
      ids.push(...page.rows.map((row) => row.metadata.id));
      if (page.pagination.next_page === undefined) return ids;
    }
  };
  await engine.restart();
  hatchet = client();
  t.teardown(() => hatchet.close());
  t.same(new Set(await listAll()), new Set(acknowledged), 'all 500 acknowledged runs, after kill -9');

  await engine.kill('SIGTERM');
  rmSync(join(engine.dataDir, 'read'), { recursive: true, force: true });
  await engine.restart();
  const rebuilt = await listAll();
  t.equal(rebuilt.length, 500);
  t.same(new Set(rebuilt), new Set(acknowledged), 'rebuilt from the log alone');
});
