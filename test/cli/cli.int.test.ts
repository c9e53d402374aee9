import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { open } from 'lmdb';
import t from 'tap';
import { LmdbLog } from '../../store/lmdb.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const run = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'kindling-cli-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));

t.test('kindling start opens and verifies the embedded log, and closes it on SIGTERM', async (t) => {
  const data = join(root, 'start');
  const child = spawn(process.execPath, [cli, 'start', '--data', data], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start line: ${output}`)), 15_000);
    child.stdout.on('data', () => {
      if (output.includes('Ctrl-C')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  t.match(output, /log at .*start\/log is open and verified: 0 records, head position 0/);
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  t.equal(await exited, 0);
  t.match(output, /SIGTERM: log closed/);
  const log = await LmdbLog.open({ path: join(data, 'log') });
  await log.close();
  t.pass('the lock was released');
});

t.test('kindling log verify reports the records, and names a damaged one with exit 1', async (t) => {
  const data = join(root, 'verify');
  const log = await LmdbLog.open({ path: join(data, 'log') });
  await log.append('run:a', [{ type: 'A', data: { n: 1 } }, { type: 'B', data: { n: 2 } }], { expectedVersion: 'no-stream' });
  await log.close();
  const { stdout } = await run(process.execPath, [cli, 'log', 'verify', '--data', data]);
  t.match(stdout, /ok: 2 records verified, head position 2/);

  const env = open({ path: join(data, 'log', 'log.mdb'), maxDbs: 8 });
  const records = env.openDB<Buffer, number>({ name: 'records', encoding: 'binary' });
  const bytes = Buffer.from(records.get(2) as Buffer);
  bytes[bytes.length - 2] = (bytes[bytes.length - 2] as number) ^ 1;
  await records.put(2, bytes);
  await env.close();
  const failed = await run(process.execPath, [cli, 'log', 'verify', '--data', data]).catch((error: { code: number; stderr: string }) => error);
  t.match(failed, { code: 1, stderr: /LOG_CORRUPT_RECORD: corrupt record at position 2: checksum mismatch/ });
});
