/**
 * The log conformance suite: one set of specifications every backend must pass unchanged
 * (memory, LMDB, JetStream). Each backend's `*.test.ts` file calls `logConformance` with a way to
 * open a fresh, empty log.
 */
import type { Test } from 'tap';
import { limits } from '../../src/lib/limits.js';
import { LogErrorCode } from '../../store/errors.js';
import { type AppendResult, type EventLog, LOG_FORMAT_VERSION, type LogRecord } from '../../store/log.js';

export interface LogHarness {
  /** Opens a new, empty log. The suite closes it. */
  fresh(): Promise<EventLog>;
}

const event = (type: string, data: unknown = {}) => ({ type, data });

async function collect(log: EventLog, after: number, count: number): Promise<LogRecord[]> {
  const tail = log.tail({ after });
  const seen: LogRecord[] = [];
  for await (const record of tail) {
    seen.push(record);
    if (seen.length === count) break;
  }
  await tail.close();
  return seen;
}

export function logConformance(t: Test, harness: LogHarness): void {
  const withLog = (name: string, body: (t: Test, log: EventLog) => Promise<void>) =>
    t.test(name, async (t) => {
      const log = await harness.fresh();
      t.teardown(() => log.close());
      await body(t, log);
    });

  withLog('a stream reads back in append order with seq 1..n and the data it was given', async (t, log) => {
    await log.append('run:a', [event('TaskQueued', { n: 1 }), event('TaskStarted', { n: 2 })], { expectedVersion: 'no-stream' });
    await log.append('run:a', [event('TaskCompleted', { n: 3, output: { ok: true } })], { expectedVersion: 2 });
    const records = await log.readStream('run:a');
    t.same(
      records.map((r) => [r.stream, r.seq, r.type, r.data]),
      [
        ['run:a', 1, 'TaskQueued', { n: 1 }],
        ['run:a', 2, 'TaskStarted', { n: 2 }],
        ['run:a', 3, 'TaskCompleted', { n: 3, output: { ok: true } }],
      ],
    );
    t.ok(records.every((r) => r.formatVersion === LOG_FORMAT_VERSION && Number.isFinite(r.timestampMs) && r.timestampMs > 0));
    t.same((await log.readStream('run:a', { fromSeq: 2, limit: 1 })).map((r) => r.seq), [2]);
    t.same((await log.readStream('run:a', { fromSeq: 4 })).map((r) => r.seq), []);
    t.same(await log.readStream('run:unknown'), []);
    t.equal(await log.streamVersion('run:a'), 3);
    t.equal(await log.streamVersion('run:unknown'), 0);
  });

  withLog('values survive the round trip exactly, as copies', async (t, log) => {
    const data = {
      text: 'grüße, 火, 🔥',
      big: 2 ** 40 + 7,
      negative: -12.5,
      nothing: null,
      flags: [true, false],
      nested: { deep: { deeper: [1, 'two', { three: 3 }] } },
      bytes: new Uint8Array([0, 1, 254, 255]),
      when: new Date(1_700_000_000_123),
    };
    await log.append('run:values', [event('Valued', data)], { expectedVersion: 'any' });
    data.nested.deep.deeper.push('mutated after append');
    const [record] = await log.readStream('run:values');
    t.same(record?.data, {
      text: 'grüße, 火, 🔥',
      big: 2 ** 40 + 7,
      negative: -12.5,
      nothing: null,
      flags: [true, false],
      nested: { deep: { deeper: [1, 'two', { three: 3 }] } },
      bytes: new Uint8Array([0, 1, 254, 255]),
      when: new Date(1_700_000_000_123),
    });
  });

  withLog('the whole log reads in global order across streams, after any position', async (t, log) => {
    const results: AppendResult[] = [];
    for (let i = 0; i < 30; i++) {
      results.push(await log.append(`run:${i % 3}`, [event('Step', { i })], { expectedVersion: 'any' }));
    }
    const all = await log.readAll();
    t.same(all.map((r) => (r.data as { i: number }).i), [...Array(30).keys()], 'global order is append order');
    t.same(all.map((r) => r.position), results.map((r) => r.lastPosition), 'positions are the ones appends returned');
    t.ok(all.every((r, i) => i === 0 || r.position > (all[i - 1] as LogRecord).position), 'positions strictly increase');
    const middle = results[14] as AppendResult;
    const rest = await log.readAll({ after: middle.lastPosition });
    t.same(rest.map((r) => (r.data as { i: number }).i), [...Array(15).keys()].map((i) => i + 15));
    t.equal((await log.readAll({ after: middle.lastPosition, limit: 4 })).length, 4);
    t.equal(await log.headPosition(), (results[29] as AppendResult).lastPosition);
    t.same(await log.readAll({ after: await log.headPosition() }), []);
  });

  withLog('reads start anywhere inside a multi-event append: by seq, by position, with limits', async (t, log) => {
    await log.append('run:m', [event('One'), event('Two'), event('Three')], { expectedVersion: 'no-stream' });
    await log.append('run:other', [event('Elsewhere')], { expectedVersion: 'no-stream' });
    await log.append('run:m', [event('Four'), event('Five')], { expectedVersion: 3 });
    const types = (records: LogRecord[]) => records.map((r) => r.type);
    t.same(types(await log.readStream('run:m', { fromSeq: 2 })), ['Two', 'Three', 'Four', 'Five']);
    t.same(types(await log.readStream('run:m', { fromSeq: 3, limit: 2 })), ['Three', 'Four']);
    t.same(types(await log.readStream('run:m', { fromSeq: 5 })), ['Five']);
    const all = await log.readAll();
    t.same(types(all), ['One', 'Two', 'Three', 'Elsewhere', 'Four', 'Five']);
    for (let i = 0; i < all.length; i++) {
      t.same(types(await log.readAll({ after: (all[i] as LogRecord).position })), types(all.slice(i + 1)), `after the position of ${all[i]?.type}`);
    }
    t.same(types(await log.readAll({ after: (all[0] as LogRecord).position, limit: 3 })), ['Two', 'Three', 'Elsewhere']);
    t.equal(await log.headPosition(), (all[5] as LogRecord).position);
  });

  withLog('an empty log reads as empty and its head is 0', async (t, log) => {
    t.equal(await log.headPosition(), 0);
    t.same(await log.readAll(), []);
  });

  withLog('expected versions: exact, no-stream and any', async (t, log) => {
    await log.append('queue:t1', [event('A')], { expectedVersion: 'no-stream' });
    await t.rejects(log.append('queue:t1', [event('B')], { expectedVersion: 'no-stream' }), { code: LogErrorCode.Conflict });
    await t.rejects(log.append('queue:t1', [event('B')], { expectedVersion: 0 }), { code: LogErrorCode.Conflict });
    await t.rejects(log.append('queue:t1', [event('B')], { expectedVersion: 2 }), { code: LogErrorCode.Conflict });
    const exact = await log.append('queue:t1', [event('B')], { expectedVersion: 1 });
    t.match(exact, { stream: 'queue:t1', firstSeq: 2, lastSeq: 2, duplicate: false });
    const any = await log.append('queue:t1', [event('C'), event('D')], { expectedVersion: 'any' });
    t.match(any, { firstSeq: 3, lastSeq: 4 });
    t.same((await log.readStream('queue:t1')).map((r) => r.type), ['A', 'B', 'C', 'D'], 'rejected appends left nothing behind');
    const error = await log.append('queue:t1', [event('E')], { expectedVersion: 1 }).catch((e: unknown) => e);
    t.match(error, { code: 'LOG_CONFLICT', retryable: false, message: /queue:t1.*version 4.*expected 1/ });
  });

  withLog('concurrent appends with the same expected version: exactly one wins', async (t, log) => {
    await log.append('run:race', [event('Started')], { expectedVersion: 'no-stream' });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) => log.append('run:race', [event('Claimed', { i })], { expectedVersion: 1 })),
    );
    const won = outcomes.filter((o) => o.status === 'fulfilled');
    const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    t.equal(won.length, 1);
    t.ok(lost.every((o) => o.reason?.code === LogErrorCode.Conflict), 'the others are conflicts');
    t.equal(await log.streamVersion('run:race'), 2);
  });

  withLog('an append is atomic: a multi-event append is stored whole and contiguous', async (t, log) => {
    const appends = await Promise.all(
      Array.from({ length: 8 }, (_, s) =>
        log.append(`run:batch-${s}`, Array.from({ length: 25 }, (_, i) => event('Step', { s, i })), { expectedVersion: 'no-stream' }),
      ),
    );
    for (const [s, result] of appends.entries()) {
      t.match(result, { firstSeq: 1, lastSeq: 25 });
      const records = await log.readStream(`run:batch-${s}`);
      t.same(records.map((r) => (r.data as { i: number }).i), [...Array(25).keys()]);
    }
    const all = await log.readAll();
    t.equal(all.length, 200);
    // Each append's events sit together in the global order.
    for (let s = 0; s < 8; s++) {
      const at = all.map((r, i) => (r.stream === `run:batch-${s}` ? i : -1)).filter((i) => i >= 0);
      t.equal((at[24] as number) - (at[0] as number), 24, `append ${s} is contiguous in the log`);
    }
  });

  withLog('an idempotency key makes a retried append a no-op that returns the original result', async (t, log) => {
    const first = await log.append('run:idem', [event('Triggered', { n: 1 })], { expectedVersion: 'no-stream', idempotencyKey: 'cmd-1' });
    const retry = await log.append('run:idem', [event('Triggered', { n: 1 })], { expectedVersion: 'no-stream', idempotencyKey: 'cmd-1' });
    t.same(retry, { ...first, duplicate: true });
    const retryAny = await log.append('run:idem', [event('Triggered', { n: 1 })], { expectedVersion: 'any', idempotencyKey: 'cmd-1' });
    t.same(retryAny, { ...first, duplicate: true });
    const concurrent = await Promise.all([
      log.append('run:idem', [event('Next')], { expectedVersion: 1, idempotencyKey: 'cmd-2' }),
      log.append('run:idem', [event('Next')], { expectedVersion: 1, idempotencyKey: 'cmd-2' }),
    ]);
    t.same(concurrent.map((r) => r.duplicate).sort(), [false, true]);
    t.equal(concurrent[0].lastSeq, concurrent[1].lastSeq);
    for (const key of ['cmd-3', 'cmd-3 ', 'cmd-3\t', 'cmd-3\nx', '🔑']) {
      t.equal((await log.append('run:keys', [event('K', key)], { expectedVersion: 'any', idempotencyKey: key })).duplicate, false, `key ${JSON.stringify(key)} is its own`);
    }
    t.equal(await log.streamVersion('run:keys'), 5);
    const elsewhere = await log.append('run:other', [event('Triggered')], { expectedVersion: 'no-stream', idempotencyKey: 'cmd-1' });
    t.equal(elsewhere.duplicate, false, 'keys are scoped to their stream');
    t.same((await log.readStream('run:idem')).map((r) => r.type), ['Triggered', 'Next']);
    t.equal((await log.readAll()).length, 8);
  });

  withLog('read-your-writes: a resolved append is visible to every read', async (t, log) => {
    for (let i = 1; i <= 20; i++) {
      const result = await log.append('run:ryw', [event('Tick', { i })], { expectedVersion: i - 1 });
      t.equal(await log.streamVersion('run:ryw'), i);
      t.equal((await log.readStream('run:ryw', { fromSeq: i }))[0]?.seq, i);
      t.equal(await log.headPosition(), result.lastPosition);
    }
  });

  withLog('a tail sees every record once, in order, from any position, including appends made while it catches up', async (t, log) => {
    for (let i = 0; i < 60; i++) await log.append(`run:${i % 4}`, [event('Before', { i })], { expectedVersion: 'any' });
    const fromStart = collect(log, 0, 120);
    const writer = (async () => {
      for (let i = 60; i < 120; i++) {
        await log.append(`run:${i % 5}`, [event('During', { i })], { expectedVersion: 'any' });
        if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
      }
    })();
    const [seen] = await Promise.all([fromStart, writer]);
    t.same(seen.map((r) => (r.data as { i: number }).i), [...Array(120).keys()], 'every record once, in order');
    const all = await log.readAll();
    t.same(seen.map((r) => r.position), all.map((r) => r.position));
    const middle = all[89] as LogRecord;
    const fromMiddle = await collect(log, middle.position, 30);
    t.same(fromMiddle.map((r) => (r.data as { i: number }).i), [...Array(30).keys()].map((i) => i + 90));
    const twoTails = await Promise.all([collect(log, 0, 120), collect(log, 0, 120)]);
    t.same(twoTails[0].map((r) => r.position), twoTails[1].map((r) => r.position), 'independent tails agree');
  });

  withLog('a live tail wakes up for a new append and ends when closed', async (t, log) => {
    const tail = log.tail({ after: await log.headPosition() });
    const iterator = tail[Symbol.asyncIterator]();
    const next = iterator.next();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await log.append('run:live', [event('Arrived', { n: 1 })], { expectedVersion: 'any' });
    const first = await next;
    t.equal(first.done, false);
    t.match(first.value, { stream: 'run:live', type: 'Arrived', data: { n: 1 } });
    const pending = iterator.next();
    await tail.close();
    const after = await Promise.race([pending, new Promise((resolve) => setTimeout(() => resolve('still waiting'), 5000))]);
    t.same(after, { done: true, value: undefined }, 'a closed tail ends its iteration');
  });

  withLog('snapshots: the newest per stream, never ahead of the stream', async (t, log) => {
    t.equal(await log.loadSnapshot('run:snap'), undefined);
    await log.append('run:snap', [event('A'), event('B'), event('C')], { expectedVersion: 'no-stream' });
    await log.saveSnapshot({ stream: 'run:snap', seq: 2, state: { count: 2, tasks: ['a', 'b'] } });
    t.match(await log.loadSnapshot('run:snap'), { stream: 'run:snap', seq: 2, state: { count: 2, tasks: ['a', 'b'] } });
    await log.saveSnapshot({ stream: 'run:snap', seq: 3, state: { count: 3 } });
    const latest = await log.loadSnapshot('run:snap');
    t.match(latest, { seq: 3, state: { count: 3 } });
    t.ok((latest?.timestampMs ?? 0) > 0);
    await t.rejects(log.saveSnapshot({ stream: 'run:snap', seq: 4, state: {} }), { code: LogErrorCode.InvalidSnapshot });
    await t.rejects(log.saveSnapshot({ stream: 'run:nowhere', seq: 1, state: {} }), { code: LogErrorCode.InvalidSnapshot });
    await t.rejects(log.saveSnapshot({ stream: 'run:snap', seq: 0, state: {} }), { code: LogErrorCode.InvalidSnapshot });
    await t.rejects(
      log.saveSnapshot({ stream: 'run:snap', seq: 3, state: { blob: 'x'.repeat(limits.snapshotBytesMax) } }),
      { code: LogErrorCode.InvalidSnapshot },
    );
    t.match(await log.loadSnapshot('run:snap'), { seq: 3 }, 'a rejected snapshot left the old one');
  });

  withLog('deleting a stream removes its events and snapshot and nothing else', async (t, log) => {
    await log.append('run:keep', [event('K1')], { expectedVersion: 'no-stream' });
    const gone = await log.append('run:gone', [event('G1'), event('G2')], { expectedVersion: 'no-stream', idempotencyKey: 'create' });
    await log.append('run:gone', [event('G3')], { expectedVersion: 2, idempotencyKey: '🔑-emoji' });
    await log.append('run:keep', [event('K2')], { expectedVersion: 1 });
    await log.saveSnapshot({ stream: 'run:gone', seq: 2, state: { s: 1 } });
    await log.deleteStream('run:gone');
    await t.rejects(log.saveSnapshot({ stream: 'run:gone', seq: 2, state: {} }), { code: LogErrorCode.InvalidSnapshot }, 'no snapshot of a deleted stream');
    await t.rejects(log.append('run:gone', [event('G3')], { expectedVersion: 2, idempotencyKey: '🔑-emoji' }), { code: LogErrorCode.StreamDeleted });
    t.same(await log.readStream('run:gone'), []);
    t.equal(await log.streamVersion('run:gone'), 0);
    t.equal(await log.loadSnapshot('run:gone'), undefined);
    t.same((await log.readAll()).map((r) => r.type), ['K1', 'K2'], 'the whole log no longer holds it');
    t.same((await collect(log, 0, 2)).map((r) => r.type), ['K1', 'K2'], 'a tail skips it');
    t.same((await log.readStream('run:keep')).map((r) => r.type), ['K1', 'K2']);
    await t.rejects(log.append('run:gone', [event('G3')], { expectedVersion: 'any' }), { code: LogErrorCode.StreamDeleted });
    await t.rejects(log.append('run:gone', [event('G1')], { expectedVersion: 'no-stream', idempotencyKey: 'create' }), {
      code: LogErrorCode.StreamDeleted,
    });
    await log.deleteStream('run:never-written');
    await t.rejects(log.append('run:never-written', [event('X')], { expectedVersion: 'no-stream' }), { code: LogErrorCode.StreamDeleted });
    const after = await log.append('run:keep', [event('K3')], { expectedVersion: 2 });
    t.equal(await log.streamVersion('run:keep'), 3);
    t.ok(after.lastPosition > gone.lastPosition, 'positions of deleted records are never given out again');
  });

  withLog('bad input is refused with a stable code and changes nothing', async (t, log) => {
    await log.append('run:good', [event('Good')], { expectedVersion: 'no-stream' });
    const before = await log.readAll();
    const badNames: unknown[] = ['', 'a.b', 'a b', 'run:*', 'run:>', '-leading', 'x'.repeat(limits.streamNameBytesMax + 1), 42, null];
    for (const name of badNames) {
      await t.rejects(log.append(name as string, [event('X')], { expectedVersion: 'any' }), { code: LogErrorCode.InvalidStreamName }, `name ${JSON.stringify(name)}`);
    }
    await t.rejects(log.readStream('bad name'), { code: LogErrorCode.InvalidStreamName });
    for (const after of [-1, 2.5, Number.NaN]) t.throws(() => log.tail({ after }), { code: LogErrorCode.InvalidRead }, `tail after ${after}`);
    for (const options of [{ fromSeq: 0 }, { limit: 0 }, { limit: 1.5 }, { fromSeq: Number.NaN }]) {
      await t.rejects(log.readStream('run:good', options), { code: LogErrorCode.InvalidRead }, `readStream ${JSON.stringify(options)}`);
    }
    for (const options of [{ after: -1 }, { after: 0.5 }, { limit: -3 }]) {
      await t.rejects(log.readAll(options), { code: LogErrorCode.InvalidRead }, `readAll ${JSON.stringify(options)}`);
    }
    t.ok(await log.append('x'.repeat(limits.streamNameBytesMax), [event('X')], { expectedVersion: 'any' }), 'a name at the limit is fine');
    await log.deleteStream('x'.repeat(limits.streamNameBytesMax));
    const badAppends: Array<[unknown, unknown, string]> = [
      [[], { expectedVersion: 'any' }, LogErrorCode.InvalidAppend],
      [[event('')], { expectedVersion: 'any' }, LogErrorCode.InvalidAppend],
      [[event('has space')], { expectedVersion: 'any' }, LogErrorCode.InvalidAppend],
      [[{ data: 1 }], { expectedVersion: 'any' }, LogErrorCode.InvalidAppend],
      [[null], { expectedVersion: 'any' }, LogErrorCode.InvalidAppend],
      // biome-ignore lint/suspicious/noSparseArray: a hole in the events must be refused, not skipped.
      [[event('A'), , event('B')], { expectedVersion: 'any' }, LogErrorCode.InvalidAppend],
      [Array.from({ length: limits.appendEventsMax }, () => event('X', 'd'.repeat(990))), { expectedVersion: 'any' }, LogErrorCode.AppendTooLarge],
      [[event('X')], { expectedVersion: -1 }, LogErrorCode.InvalidAppend],
      [[event('X')], { expectedVersion: 1.5 }, LogErrorCode.InvalidAppend],
      [[event('X')], { expectedVersion: 'latest' }, LogErrorCode.InvalidAppend],
      [[event('X')], undefined, LogErrorCode.InvalidAppend],
      [[event('X')], { expectedVersion: 'any', idempotencyKey: '' }, LogErrorCode.InvalidAppend],
      [[event('X')], { expectedVersion: 'any', idempotencyKey: 'k'.repeat(limits.idempotencyKeyBytesMax + 1) }, LogErrorCode.InvalidAppend],
      [Array.from({ length: limits.appendEventsMax + 1 }, () => event('X')), { expectedVersion: 'any' }, LogErrorCode.AppendTooLarge],
      [[event('X', { blob: 'x'.repeat(limits.eventDataBytesMax) })], { expectedVersion: 'any' }, LogErrorCode.EventTooLarge],
      [
        Array.from({ length: 3 }, () => event('X', { blob: 'x'.repeat(Math.ceil(limits.appendBytesMax / 3) + 1000) })),
        { expectedVersion: 'any' },
        LogErrorCode.AppendTooLarge,
      ],
    ];
    for (const [events, options, code] of badAppends) {
      const error = await log.append('run:good', events as never, options as never).catch((e: unknown) => e);
      t.match(error, { code, retryable: false, message: /\S/ }, `${code}: ${(error as Error).message?.slice(0, 120)}`);
    }
    const full = 'x'.repeat(limits.eventDataBytesMax - 16);
    t.ok(await log.append('run:big', [event('Big', full)], { expectedVersion: 'any' }), 'data just under the limit is fine');
    await log.deleteStream('run:big');
    t.same(await log.readAll(), before, 'the log is exactly as before');
    t.equal(await log.streamVersion('run:good'), 1);
  });

  t.test('a closed log refuses work with LOG_CLOSED', async (t) => {
    const log = await harness.fresh();
    await log.append('run:c', [event('A')], { expectedVersion: 'any' });
    await log.close();
    await t.rejects(log.append('run:c', [event('B')], { expectedVersion: 'any' }), { code: LogErrorCode.Closed });
    await t.rejects(log.readStream('run:c'), { code: LogErrorCode.Closed });
  });
}
