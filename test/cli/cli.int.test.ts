import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { open } from 'lmdb';
import t from 'tap';
import { batchOfPosition } from '../../store/codec.js';
import { LmdbLog } from '../../store/lmdb.js';
import { freePort } from '../support/nats-server.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const run = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'kindling-cli-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));

t.test('kindling start runs the engine on the embedded log, creates a dev token, and stops on SIGTERM', async (t) => {
  const data = join(root, 'start');
  const port = await freePort();
  const child = spawn(process.execPath, [cli, 'start', '--data-dir', data, '--port', String(port), '--host', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const listening = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line: ${output}`)), 20_000);
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('engine listening')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  await listening;
  const token = readFileSync(join(data, 'dev-token'), 'utf8').trim();
  t.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'a JSON Web Token');
  t.match(JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()), { sub: 'default', server_url: `http://127.0.0.1:${port}`, grpc_broadcast_address: `127.0.0.1:${port}` });
  t.ok(readFileSync(join(data, 'admin-token'), 'utf8').trim().length > 0, 'an admin token is written too');
  t.match(output, new RegExp(`HATCHET_CLIENT_TOKEN=${token}`));
  t.match(output, new RegExp(`engine listening on port ${port}`));
  const health = await fetch(`http://127.0.0.1:${port}/health`);
  t.equal(health.status, 200);
  t.match(await health.json(), { status: 'ok', activeRuns: 0 });
  t.equal((await fetch(`http://127.0.0.1:${port}/nope`)).status, 404);
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  t.equal(await exited, 0);
  t.match(output, /SIGTERM: stopped/);
  const log = await LmdbLog.open({ path: join(data, 'log') });
  t.ok((await log.readAll()).some((r) => r.stream === 'tenants' && r.type === 'ApiTokenCreated'), 'the token is in the log (as a hash)');
  t.notOk(JSON.stringify(await log.readAll()).includes(token), 'the plaintext token is not');
  await log.close();

  // Restarted on the same data directory, the engine still accepts the token it wrote.
  const again = spawn(process.execPath, [cli, 'start', '--data-dir', data, '--port', String(port), '--host', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let second = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line: ${second}`)), 20_000);
    again.stdout.on('data', (chunk: Buffer) => {
      second += chunk.toString();
      if (second.includes('engine listening')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  t.match(second, /development token in /);
  t.notMatch(second, /HATCHET_CLIENT_TOKEN=/, 'no new token was made');
  t.equal((await fetch(`http://127.0.0.1:${port}/api/v1/tenants/default`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
  const stopped = new Promise<number | null>((resolve) => again.once('exit', resolve));
  again.kill('SIGTERM');
  t.equal(await stopped, 0);
});

t.test('kindling log verify reports the records, and names a damaged one with exit 1', async (t) => {
  const data = join(root, 'verify');
  const log = await LmdbLog.open({ path: join(data, 'log') });
  await log.append('run:a', [{ type: 'A', data: { n: 1 } }, { type: 'B', data: { n: 2 } }], { expectedVersion: 'no-stream' });
  const second = await log.append('run:b', [{ type: 'C', data: { n: 3 } }], { expectedVersion: 'no-stream' });
  await log.close();
  const { stdout } = await run(process.execPath, [cli, 'log', 'verify', '--data-dir', data]);
  t.match(stdout, new RegExp(`ok: 3 records verified, head position ${second.lastPosition}`));

  const env = open({ path: join(data, 'log', 'log.mdb'), maxDbs: 8 });
  const records = env.openDB<Buffer, number>({ name: 'records', encoding: 'binary' });
  const batchNo = batchOfPosition(second.lastPosition);
  const bytes = Buffer.from(records.get(batchNo) as Buffer);
  bytes[bytes.length - 2] = (bytes[bytes.length - 2] as number) ^ 1;
  await records.put(batchNo, bytes);
  await env.close();
  const failed = await run(process.execPath, [cli, 'log', 'verify', '--data-dir', data]).catch((error: { code: number; stderr: string }) => error);
  t.match(failed, { code: 1, stderr: new RegExp(`LOG_CORRUPT_RECORD: corrupt record at positions ${second.lastPosition}-\\d+: checksum mismatch`) });
});
