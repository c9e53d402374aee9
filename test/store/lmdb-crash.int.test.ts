/**
 * Nothing acknowledged is lost to `kill -9` (DESIGN invariant 1), tested: a writer process appends
 * and reports each acknowledged append; it is killed at seeded random moments; after each kill the
 * log is reopened and every acknowledged event must be there, in order, with its data, and the
 * whole log must read cleanly. Set KINDLING_CRASH_SEED to replay a failing run.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { LmdbLog } from '../../store/lmdb.js';
import { expectedData } from '../support/lmdb-crash-writer-data.js';
import { seededRandom } from '../support/seeded-random.js';

const seed = Number(process.env.KINDLING_CRASH_SEED ?? Date.now() % 1_000_000);
const iterations = Number(process.env.KINDLING_CRASH_ITERATIONS ?? 15);
const random = seededRandom(seed);
const writer = fileURLToPath(new URL('../support/lmdb-crash-writer.js', import.meta.url));
const path = mkdtempSync(join(tmpdir(), 'kindling-crash-'));
t.teardown(() => rmSync(path, { recursive: true, force: true }));
t.comment(`crash seed ${seed} (rerun with KINDLING_CRASH_SEED=${seed})`);

/** Highest acknowledged seq per stream, over every run so far. */
const acked = new Map<string, number>();

function runAndKill(killAfterMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [writer, path, '8'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buffer = '';
    let acks = 0;
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        if (line === 'ready') {
          setTimeout(() => child.kill('SIGKILL'), killAfterMs);
          continue;
        }
        const [stream, seq] = line.split(' ');
        if (stream === undefined || seq === undefined) continue;
        acks += 1;
        acked.set(stream, Math.max(acked.get(stream) ?? 0, Number(seq)));
      }
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`writer exited on its own (code ${code}, signal ${signal})`));
      else resolve(acks);
    });
  });
}

t.test(`every acknowledged append survives kill -9 (${iterations} kills, seed ${seed})`, async (t) => {
  let totalAcks = 0;
  for (let i = 0; i < iterations; i++) {
    const killAfterMs = 30 + Math.floor(random() * 400);
    const acks = await runAndKill(killAfterMs);
    totalAcks += acks;

    const log = await LmdbLog.open({ path });
    let lost = 0;
    for (const [stream, seq] of acked) {
      const records = await log.readStream(stream);
      if (records.length < seq) lost += 1;
      const wrong = records.findIndex((r, index) => r.seq !== index + 1 || JSON.stringify(r.data) !== JSON.stringify(expectedData(stream, r.seq)));
      if (wrong !== -1) t.fail(`kill ${i}: ${stream} record ${wrong} is out of order or holds the wrong data`);
    }
    t.equal(lost, 0, `kill ${i} after ${killAfterMs} ms (${acks} acks): no acknowledged append is missing`);
    let position = 0;
    let count = 0;
    for (let page = await log.readAll(); page.length > 0; page = await log.readAll({ after: position })) {
      for (const record of page) {
        if (record.position <= position) t.fail(`kill ${i}: position ${record.position} after ${position}`);
        position = record.position;
        count += 1;
      }
    }
    t.ok(count >= [...acked.values()].reduce((a, b) => a + b, 0), `kill ${i}: the whole log (${count} records) reads cleanly`);
    await log.close();
  }
  t.ok(totalAcks > iterations, `the writers were acknowledged ${totalAcks} times in all`);
});
