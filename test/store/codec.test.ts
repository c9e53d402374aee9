import t from 'tap';
import { KindlingError } from '../../src/lib/errors.js';
import { decodeBatch, decodeSnapshot, encodeBatch, encodeSnapshot, encodeTombstone, encodeValue, frame, planBatch, POSITION_STRIDE, prepareAppend, recordsOfBatch, unframe } from '../../store/codec.js';
import { LogError, LogErrorCode, logErrors } from '../../store/errors.js';
import { LOG_FORMAT_VERSION } from '../../store/log.js';

t.test('every log error factory yields a LogError with its stable code and retry meaning', async (t) => {
  const made: Array<[LogError, string, boolean]> = [
    [logErrors.conflict('s', 2, 3), LogErrorCode.Conflict, false],
    [logErrors.invalidStreamName('a b', 'why'), LogErrorCode.InvalidStreamName, false],
    [logErrors.invalidAppend('why'), LogErrorCode.InvalidAppend, false],
    [logErrors.invalidRead('why'), LogErrorCode.InvalidRead, false],
    [logErrors.eventTooLarge('s', 0, 10, 5), LogErrorCode.EventTooLarge, false],
    [logErrors.appendTooLarge('s', 'why'), LogErrorCode.AppendTooLarge, false],
    [logErrors.invalidSnapshot('s', 'why'), LogErrorCode.InvalidSnapshot, false],
    [logErrors.corruptRecord('position 1', 'why'), LogErrorCode.CorruptRecord, false],
    [logErrors.streamDeleted('s'), LogErrorCode.StreamDeleted, false],
    [logErrors.unavailable('why'), LogErrorCode.Unavailable, true],
    [logErrors.storageFull('why'), LogErrorCode.StorageFull, true],
    [logErrors.closed(), LogErrorCode.Closed, false],
    [logErrors.locked('/p', 'process 1'), LogErrorCode.Locked, false],
    [logErrors.misconfigured('why'), LogErrorCode.Misconfigured, false],
  ];
  t.equal(made.length, Object.keys(LogErrorCode).length, 'one factory per code');
  for (const [error, code, retryable] of made) {
    t.ok(error instanceof LogError && error instanceof KindlingError && error instanceof Error, code);
    t.match(error, { code, retryable, name: 'LogError' });
    t.ok(error.message.length > 10, `${code} says something a person can act on`);
  }
});

t.test('a frame detects any flipped bit and any truncation', async (t) => {
  const framed = frame(encodeValue({ hello: 'world', n: [1, 2, 3] }));
  t.same(unframe(framed, 'here'), { hello: 'world', n: [1, 2, 3] });
  for (let i = 0; i < framed.length; i++) {
    const damaged = Buffer.from(framed);
    damaged[i] = (damaged[i] as number) ^ (1 << (i % 8));
    t.throws(() => unframe(damaged, `byte ${i}`), { code: LogErrorCode.CorruptRecord }, `bit flipped in byte ${i}`);
  }
  t.throws(() => unframe(framed.subarray(0, framed.length - 1), 'short'), { code: LogErrorCode.CorruptRecord });
  t.throws(() => unframe(framed.subarray(0, 3), 'tiny'), { code: LogErrorCode.CorruptRecord, message: /only 3 bytes/ });
});

t.test('records, batches and snapshots round-trip and refuse other shapes', async (t) => {
  const append = prepareAppend('run:x', [{ type: 'A', data: { a: 1 } }, { type: 'B', data: null }], { expectedVersion: 'any', idempotencyKey: 'k' });
  const planned = planBatch(append, { version: 3, deleted: false }, 9, 1234);
  t.same(planned.result, { stream: 'run:x', firstSeq: 4, lastSeq: 5, lastPosition: 9 * POSITION_STRIDE + 1, duplicate: false });
  t.same(recordsOfBatch(planned.frame, 9), [
    { position: 9 * POSITION_STRIDE, stream: 'run:x', seq: 4, type: 'A', timestampMs: 1234, data: { a: 1 }, formatVersion: LOG_FORMAT_VERSION },
    { position: 9 * POSITION_STRIDE + 1, stream: 'run:x', seq: 5, type: 'B', timestampMs: 1234, data: null, formatVersion: LOG_FORMAT_VERSION },
  ]);
  t.throws(() => planBatch(append, { version: 3, deleted: true }, 10, 1), { code: LogErrorCode.StreamDeleted });
  t.same(decodeBatch(encodeBatch(append, 7, 99), 'm'), {
    kind: 'events',
    stream: 'run:x',
    firstSeq: 7,
    timestampMs: 99,
    idempotencyKey: 'k',
    events: [
      { type: 'A', data: { a: 1 } },
      { type: 'B', data: null },
    ],
  });
  t.same(decodeBatch(encodeTombstone('run:x', 5), 'm'), { kind: 'tombstone', stream: 'run:x', timestampMs: 5 });
  t.match(decodeSnapshot(encodeSnapshot('run:x', 3, 8, encodeValue({ s: 1 })), 'run:x'), { stream: 'run:x', seq: 3, timestampMs: 8, state: { s: 1 } });
  t.throws(() => decodeSnapshot(encodeSnapshot('run:x', 3, 8, encodeValue({})), 'run:y'), { code: LogErrorCode.CorruptRecord }, 'a snapshot names its stream');
  t.throws(() => recordsOfBatch(frame(encodeValue({ not: 'a batch' })), 1), { code: LogErrorCode.CorruptRecord, message: /positions 1024-2047: not a batch/ });
  t.throws(() => recordsOfBatch(frame(encodeValue([1, 0, 'run:x', 1, 1, null, [['A', 1]]])), 1), {
    code: LogErrorCode.CorruptRecord,
    message: new RegExp(`log format 1; this build reads format ${LOG_FORMAT_VERSION}`),
  });
  const v = LOG_FORMAT_VERSION;
  t.throws(() => decodeBatch(frame(encodeValue([v, 0, 'run:x', 'one', 1, null, []])), 'm'), { code: LogErrorCode.CorruptRecord });
  t.throws(() => decodeBatch(frame(encodeValue([v, 0, 'run:x', 1, 1, null, 'not events'])), 'm'), { code: LogErrorCode.CorruptRecord });
  t.throws(() => decodeBatch(frame(encodeValue([v, 0, 'run:x', 1, 1, null, [[42, 1]]])), 'm'), { code: LogErrorCode.CorruptRecord });
  t.same(decodeBatch(frame(encodeValue([v, 0, 'run:x', 1, 1, null, [['A', { a: 1 }]]])), 'm'), { kind: 'events', stream: 'run:x', firstSeq: 1, timestampMs: 1, idempotencyKey: undefined, events: [{ type: 'A', data: { a: 1 } }] }, 'the header and events are one msgpack array');
});
