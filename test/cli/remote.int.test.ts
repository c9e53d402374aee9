/**
 * The `kindling` commands against a live engine process: tenants and tokens with the admin token,
 * triggering and waiting for a run, listing and inspecting runs (their audit trail included),
 * cancelling and replaying, workers — each for people and with `--json` — and the exit codes that
 * say what went wrong: 2 usage, 3 not found, 4 not authenticated, 5 unreachable.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { HatchetClient } from '../../src/sdk/index.js';
import { startEngine } from '../support/engine-process.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const exec = promisify(execFile);

t.test('kindling commands against a running engine', async (t) => {
  const engine = await startEngine();
  t.teardown(() => engine.dispose());
  const kindling = async (...args: string[]) => {
    try {
      const { stdout, stderr } = await exec(process.execPath, [cli, ...args, ...(args.includes('--help') ? [] : ['--data-dir', engine.dataDir])], { env: { ...process.env, NO_COLOR: '1' } });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };
  const json = async (...args: string[]) => {
    const result = await kindling(...args, '--json');
    t.equal(result.code, 0, `kindling ${args.join(' ')}: ${result.stderr}`);
    return JSON.parse(result.stdout);
  };

  t.match(await json('tenant', 'create', 'acme', '--name', 'Acme'), { metadata: { id: 'acme' }, name: 'Acme' });
  t.match(await kindling('tenant', 'create', 'acme'), { code: 1, stderr: /TENANT_EXISTS: tenant 'acme' already exists/ });
  t.match((await json('tenant', 'list')).rows.map((row: { metadata: { id: string } }) => row.metadata.id).sort(), ['acme', 'default']);
  const created = await json('token', 'create', '--tenant', 'acme', '--name', 'ci', '--expires-in', '7d');
  const token = created.token as string;
  t.match((await kindling('token', 'list', '--tenant', 'acme')).stdout, /^id\s+name\s+created\s+expires\s+revoked\n\S+\s+ci\s+/);

  const hatchet = HatchetClient.init({ token, log_level: 'OFF' });
  t.teardown(() => hatchet.close());
  const hello = hatchet.task({ name: 'hello', fn: (input: { name: string }) => ({ greeting: `hello ${input.name}` }) });
  const worker = await hatchet.worker('cli-worker', { workflows: [hello], handleKill: false });
  void worker.start();
  t.teardown(() => worker.stop());
  await worker.waitUntilReady();

  const ran = await json('run', 'hello', '--input', '{"name":"ada"}', '--metadata', 'origin=cli', '--wait', '--token', token);
  t.match(ran, { runId: /^[0-9a-f-]{36}$/, status: 'COMPLETED', output: { hello: { greeting: 'hello ada' } } }, 'a run by name answers its output by task');
  const runId = ran.runId as string;
  t.match(await kindling('run', 'hello', '--input', '{"name":"bo"}', '--wait', '--token', token), { code: 0, stdout: /"greeting": "hello bo"/ });
  t.match(await kindling('run', 'hello', '--token', token), { code: 0, stdout: /^[0-9a-f-]{36}\n$/ });

  const listed = await json('runs', 'list', '--token', token, '--metadata', 'origin=cli');
  t.same(listed.rows.map((row: { metadata: { id: string } }) => row.metadata.id), [runId]);
  t.match((await kindling('runs', 'list', '--token', token, '--status', 'completed')).stdout, /^id\s+workflow\s+status\s+created\s+finished\n(\S+\s+hello\s+COMPLETED\s+\S+\s+\S+\n){2,3}page 1 of 1\n$/);
  t.match(await json('runs', 'get', runId, '--token', token), { run: { status: 'COMPLETED', additionalMetadata: { origin: 'cli' } } });
  t.match((await kindling('runs', 'get', runId, '--token', token)).stdout, new RegExp(`${runId}  hello  COMPLETED[\\s\\S]*hello\\s+COMPLETED\\s+0`));
  const history = await json('runs', 'history', runId, '--token', token);
  t.same(history.events.map((e: { type: string }) => e.type), ['RunCreated', 'TaskQueued', 'TaskAssigned', 'TaskStarted', 'TaskCompleted', 'RunFinished']);
  t.match((await kindling('runs', 'history', runId, '--token', token)).stdout, /position\s+seq\s+time\s+type\s+detail[\s\S]*TaskAssigned\s+task=hello attempt=0 workerId=/);
  const atQueued = await kindling('runs', 'history', runId, '--at', String(history.events[1].position), '--token', token);
  t.match(JSON.parse(atQueued.stdout), { run: { status: 'QUEUED' } }, 'the run as of its second event');
  t.match(await json('runs', 'replay', runId, '--token', token), { ids: [runId] });
  t.match(await kindling('runs', 'cancel', runId, '--token', token), { code: 0, stdout: /cancelled 1 run/ });
  t.match((await json('workers', 'list', '--token', token)).rows, [{ name: 'cli-worker', status: 'ACTIVE' }]);

  // Exit codes.
  t.match(await kindling('runs', 'get', 'no-such-run', '--token', token), { code: 3, stderr: /RUN_NOT_FOUND/ });
  t.match(await kindling('run', 'hello', '--input', '{bad', '--token', token), { code: 2, stderr: /--input is not JSON/ });
  t.match(await kindling('runs', 'list', '--since', 'last tuesday', '--token', token), { code: 2, stderr: /--since 'last tuesday'/ });
  t.match(await kindling('runs', 'list', '--bogus'), { code: 2, stderr: /unknown option '--bogus'/ });
  t.match(await kindling('runs', 'list', '--url', 'http://127.0.0.1:1', '--token', token), { code: 5, stderr: /ENGINE_UNAVAILABLE/ });
  t.match(await kindling('events', 'push', 'user:created', '--token', token), { code: 3, stderr: /does not serve events yet/ });
  t.match(await kindling('token', 'create', '--admin-token', token), { code: 4, stderr: /AUTH_FORBIDDEN/ });
  t.match(await json('token', 'revoke', created.metadata.id), { revoked: true, name: 'ci' });
  t.match(await kindling('runs', 'list', '--token', token), { code: 4, stderr: /AUTH_TOKEN_REVOKED/ });
  t.match(await kindling('--help'), { code: 0, stdout: /token[\s\S]*tenant[\s\S]*runs[\s\S]*workers/ });
  t.match(await kindling('runs', '--help'), { code: 0, stdout: /list[\s\S]*get[\s\S]*history[\s\S]*cancel[\s\S]*replay/ });
  t.match(await kindling('runs', 'list', '--help'), { code: 0, stdout: /--json[\s\S]*--since <when>/ });
});
