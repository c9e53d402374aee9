import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import t from 'tap';
import { batchOfPosition, POSITION_STRIDE } from '../../store/codec.js';
import { LogErrorCode } from '../../store/errors.js';
import { LmdbLog } from '../../store/lmdb.js';

const root = mkdtempSync(join(tmpdir(), 'kindling-lmdb-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const dir = () => join(root, `log-${n++}`);

t.test('lmdb log: everything survives a close and reopen', async (t) => {
  const path = dir();
  const first = await LmdbLog.open({ path });
  await first.append('run:a', [{ type: 'A', data: { n: 1 } }, { type: 'B', data: { n: 2 } }], { expectedVersion: 'no-stream', idempotencyKey: 'k1' });
  await first.append('run:b', [{ type: 'C', data: { n: 3 } }], { expectedVersion: 'no-stream' });
  await first.append('run:gone', [{ type: 'D', data: {} }], { expectedVersion: 'no-stream' });
  await first.saveSnapshot({ stream: 'run:a', seq: 2, state: { folded: true } });
  await first.deleteStream('run:gone');
  const before = await first.readAll();
  await first.close();

  const second = await LmdbLog.open({ path });
  t.teardown(() => second.close());
  t.same(await second.readAll(), before);
  t.equal(await second.streamVersion('run:a'), 2);
  t.match(await second.loadSnapshot('run:a'), { seq: 2, state: { folded: true } });
  t.match(await second.append('run:a', [{ type: 'A', data: { n: 1 } }], { expectedVersion: 'no-stream', idempotencyKey: 'k1' }), {
    duplicate: true,
    lastSeq: 2,
  });
  await t.rejects(second.append('run:gone', [{ type: 'E', data: {} }], { expectedVersion: 'any' }), { code: LogErrorCode.StreamDeleted });
  const next = await second.append('run:b', [{ type: 'F', data: {} }], { expectedVersion: 1 });
  t.ok(next.lastPosition > (before.at(-1)?.position ?? 0), 'positions continue after the reopen');
});

t.test('lmdb log: one writer per directory', async (t) => {
  const path = dir();
  const log = await LmdbLog.open({ path });
  await t.rejects(LmdbLog.open({ path }), { code: LogErrorCode.Locked, message: /already open in this process/ });
  await log.close();
  const again = await LmdbLog.open({ path });
  await again.close();
  // A lock left behind by a process that no longer runs (say, after kill -9) is taken over.
  writeFileSync(join(path, 'kindling.lock'), '2147483646');
  const afterCrash = await LmdbLog.open({ path });
  await afterCrash.close();
  // A lock held by a live process is respected.
  writeFileSync(join(path, 'kindling.lock'), String(process.ppid));
  await t.rejects(LmdbLog.open({ path }), { code: LogErrorCode.Locked, message: new RegExp(`process ${process.ppid}`) });
  rmSync(join(path, 'kindling.lock'));
});

t.test('lmdb log: a corrupted record stops reads loudly and leaves the rest readable', async (t) => {
  const path = dir();
  const log = await LmdbLog.open({ path });
  await log.append('run:ok', [{ type: 'Fine', data: { n: 1 } }], { expectedVersion: 'no-stream' });
  const damaged = await log.append('run:bad', [{ type: 'Damaged', data: { secret: 'x'.repeat(40) } }], { expectedVersion: 'no-stream' });
  await log.append('run:ok', [{ type: 'Fine', data: { n: 2 } }], { expectedVersion: 1 });
  await log.close();

  // Flip one byte inside the stored record, as bit rot would.
  const env = open({ path: join(path, 'log.mdb'), maxDbs: 8 });
  const records = env.openDB<Buffer, number>({ name: 'records', encoding: 'binary' });
  const batchNo = batchOfPosition(damaged.lastPosition);
  const bytes = Buffer.from(records.get(batchNo) as Buffer);
  bytes[bytes.length - 5] = (bytes[bytes.length - 5] as number) ^ 0x40;
  await records.put(batchNo, bytes);
  await env.close();

  const reopened = await LmdbLog.open({ path });
  t.teardown(() => reopened.close());
  await t.rejects(reopened.readStream('run:bad'), {
    code: LogErrorCode.CorruptRecord,
    message: new RegExp(`positions ${damaged.lastPosition}-${damaged.lastPosition + POSITION_STRIDE - 1}: checksum mismatch`),
  });
  await t.rejects(reopened.readAll(), { code: LogErrorCode.CorruptRecord });
  t.same((await reopened.readStream('run:ok')).map((r) => r.data), [{ n: 1 }, { n: 2 }], 'other streams read fine');
  t.equal((await reopened.readAll({ after: damaged.lastPosition + POSITION_STRIDE - 1 })).length, 1, 'the log past the damaged positions reads fine');
  const tail = reopened.tail({ after: 0 });
  const seen: string[] = [];
  await t.rejects(
    (async () => {
      for await (const record of tail) seen.push(record.type);
    })(),
    { code: LogErrorCode.CorruptRecord },
    'a tail stops at the damaged record instead of skipping it',
  );
  t.same(seen, []);
});

t.test('lmdb log: relaxed durability reads and writes like the default', async (t) => {
  const path = dir();
  const log = await LmdbLog.open({ path, durability: 'relaxed' });
  const results = await Promise.all(
    Array.from({ length: 50 }, (_, i) => log.append(`run:${i % 5}`, [{ type: 'Relaxed', data: { i } }], { expectedVersion: 'any' })),
  );
  t.equal(new Set(results.map((r) => r.lastPosition)).size, 50);
  await log.close();
  const reopened = await LmdbLog.open({ path });
  t.equal((await reopened.readAll()).length, 50);
  await reopened.close();
});

t.test('lmdb log: appends made in one turn share a transaction and all commit', async (t) => {
  const path = dir();
  const log = await LmdbLog.open({ path });
  t.teardown(() => log.close());
  const streams = 200;
  const results = await Promise.all(
    Array.from({ length: streams }, (_, i) =>
      log.append(`run:${i}`, [{ type: 'First', data: { i } }, { type: 'Second', data: { i } }], { expectedVersion: 'no-stream' }),
    ),
  );
  t.same(results.map((r) => r.lastPosition), Array.from({ length: streams }, (_, i) => (i + 1) * POSITION_STRIDE + 1), 'one batch per append, numbered in call order');
  for (let i = 0; i < streams; i += 37) t.equal(await log.streamVersion(`run:${i}`), 2);
});

t.test('lmdb log: a directory written with another storage layout is refused, not misread', async (t) => {
  const path = dir();
  const log = await LmdbLog.open({ path });
  await log.append('run:a', [{ type: 'A', data: 1 }], { expectedVersion: 'no-stream' });
  await log.close();
  const env = open({ path: join(path, 'log.mdb'), maxDbs: 8 });
  await env.openDB({ name: 'meta' }).put(['layout'], 1);
  await env.close();
  await t.rejects(LmdbLog.open({ path }), { code: LogErrorCode.Misconfigured, message: /storage layout 1; this build reads layout 3/ });
  const fresh = await LmdbLog.open({ path: dir() });
  t.same(await fresh.readAll(), [], 'an empty directory is taken and marked');
  await fresh.close();
});

t.test('lmdb log: a first append is planned without reading, and its condition refuses it on a stream that exists or was deleted', async (t) => {
  const path = dir();
  const writer = await LmdbLog.open({ path });
  await writer.append('run:taken', [{ type: 'A', data: 1 }, { type: 'B', data: 2 }], { expectedVersion: 'no-stream' });
  await writer.append('run:gone', [{ type: 'A', data: 1 }], { expectedVersion: 'no-stream' });
  await writer.deleteStream('run:gone');
  await writer.close();
  // A fresh handle has no heads cached: the appends below are planned as if the streams were new.
  const log = await LmdbLog.open({ path });
  t.teardown(() => log.close());
  const first = log.append('run:taken', [{ type: 'Again', data: 1 }], { expectedVersion: 'no-stream' });
  const onTop = log.append('run:taken', [{ type: 'OnTop', data: 2 }], { expectedVersion: 1 });
  await t.rejects(first, { code: LogErrorCode.Conflict, message: /is at version 2/ });
  await t.rejects(onTop, { code: LogErrorCode.Conflict }, 'an append planned on the refused one is refused too');
  t.same((await log.readStream('run:taken')).map((r) => r.type), ['A', 'B'], 'nothing was written');
  t.ok(await log.append('run:taken', [{ type: 'C', data: 3 }], { expectedVersion: 2 }), 'the head is read from disk again afterwards');
  await t.rejects(log.append('run:gone', [{ type: 'Back', data: 1 }], { expectedVersion: 'no-stream' }), { code: LogErrorCode.StreamDeleted });
  t.same(await log.readStream('run:gone'), []);
  t.equal(await log.streamVersion('run:gone'), 0);
  t.same((await log.readStream('run:taken', { fromSeq: 2 })).map((r) => r.type), ['B', 'C']);
});

t.test('lmdb log: a log that grows to megabytes is mapped into memory once, not once per size it went through', async (t) => {
  const path = dir();
  const log = await LmdbLog.open({ path });
  t.teardown(() => log.close());
  // About 4 MB of events: lmdb-js would otherwise start with a map of 128 KB and double it five times.
  const data = { text: 'x'.repeat(4000) };
  for (let i = 0; i < 10; i++) await Promise.all(Array.from({ length: 100 }, (_, k) => log.append(`run:${i}-${k}`, [{ type: 'A', data }], { expectedVersion: 'no-stream' })));
  t.equal((await log.readAll({ limit: 1 })).length, 1);
  const file = join(path, 'log.mdb');
  const maps = readFileSync('/proc/self/maps', 'utf8').split('\n').filter((line) => line.endsWith(` ${file}`));
  t.equal(maps.length, 1, `mapped once: ${maps.join('; ')}`);
});
