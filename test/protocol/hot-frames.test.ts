import { Packr } from 'msgpackr';
import t from 'tap';
import { decodeClientFrame, encodeFrame } from '../../protocol/codec.js';
import { ClientFrame } from '../../protocol/frames.js';
import { hotClientFrame } from '../../protocol/hot-frames.js';
import { engineLimits } from '../../src/lib/limits.js';

const packr = new Packr({ useRecords: false, int64AsType: 'number', mapsAsObjects: true, copyBuffers: true });
const bin = (text: string) => Buffer.from(text, 'utf8');
/** A frame as the engine sees it: packed and unpacked, so only what msgpack carries. */
const wire = (frame: unknown): unknown => {
  const bytes = encodeFrame(frame as ClientFrame);
  try {
    return decodeClientFrame(bytes);
  } catch (error) {
    return error;
  }
};
/** The value msgpack gives back for a frame, decoded as the engine decodes frames; both checks see it. */
const roundTrip = (frame: unknown): unknown => packr.unpack(encodeFrame(frame as ClientFrame));

const valid: unknown[] = [
  { t: 'results', items: [] },
  { t: 'results', items: [{ taskId: 'a', attempt: 0, ok: true }] },
  { t: 'results', items: [{ ok: true, output: bin('{"x":1}'), attempt: 3, taskId: 'task-1' }] },
  { t: 'results', items: [{ taskId: 'a', attempt: 1, ok: false, error: { stack: 'at x', message: 'boom' }, nonRetryable: true }] },
  { t: 'results', items: [{ taskId: 'a', attempt: 1, ok: false, error: { message: '' }, nonRetryable: false }, { taskId: 'b'.repeat(200), attempt: 2 ** 40, ok: true, output: bin('null') }] },
  { t: 'started', tasks: [] },
  { tasks: [{ attempt: 0, taskId: 'a' }, { taskId: 'b', attempt: 7 }], t: 'started' },
  { t: 'trigger', req: 0, runs: [{ workflow: 'w', input: bin('{}') }] },
  { t: 'trigger', req: 5, each: true, runs: [{ input: bin('1'), workflow: 'w', priority: 3, additionalMetadata: { b: 'x', a: 'y', 1: 'z' } }] },
  {
    t: 'trigger',
    req: 9,
    runs: [{ workflow: 'child', input: bin('{}'), parentTaskId: 'p', childIndex: 0, childKey: '', desiredWorkerId: 'worker-1:a@b', additionalMetadata: {} }],
    each: false,
  },
];

t.test('hot frames: every valid one is taken by the hot check and comes out as zod gives it, key order and all', async (t) => {
  for (const frame of valid) {
    const raw = roundTrip(frame);
    const hot = hotClientFrame(raw);
    const parsed = ClientFrame.safeParse(raw);
    t.ok(hot !== undefined, `taken: ${JSON.stringify(frame).slice(0, 80)}`);
    t.ok(parsed.success);
    t.same(encodeFrame(hot as ClientFrame), encodeFrame(parsed.data as ClientFrame), 'the same bytes as zod’s copy');
    t.same(wire(frame), parsed.data, 'decodeClientFrame returns it');
  }
});

/** Bad or doubtful inputs of the hot frames: the hot check declines each; zod's answer stands. */
const payloadMax = engineLimits.frameItemsMax;
const item = { taskId: 'a', attempt: 0, ok: true };
const run = { workflow: 'w', input: bin('{}') };
const bad: Array<[string, unknown, RegExp]> = [
  ['results without items', { t: 'results' }, /items/],
  ['results items not an array', { t: 'results', items: {} }, /items/],
  ['results over the item limit', { t: 'results', items: Array.from({ length: payloadMax + 1 }, () => item) }, /items/],
  ['a result that is not a map', { t: 'results', items: [1] }, /items\.0/],
  ['a result without taskId', { t: 'results', items: [{ attempt: 0, ok: true }] }, /items\.0\.taskId/],
  ['a result with an empty taskId', { t: 'results', items: [{ ...item, taskId: '' }] }, /items\.0\.taskId/],
  ['a result with a 201-char taskId', { t: 'results', items: [{ ...item, taskId: 'x'.repeat(201) }] }, /items\.0\.taskId/],
  ['a result with a numeric taskId', { t: 'results', items: [{ ...item, taskId: 7 }] }, /items\.0\.taskId/],
  ['a result with a negative attempt', { t: 'results', items: [{ ...item, attempt: -1 }] }, /items\.0\.attempt/],
  ['a result with a fractional attempt', { t: 'results', items: [{ ...item, attempt: 1.5 }] }, /items\.0\.attempt/],
  ['a result with a string attempt', { t: 'results', items: [{ ...item, attempt: '1' }] }, /items\.0\.attempt/],
  ['a result with ok null', { t: 'results', items: [{ ...item, ok: null }] }, /items\.0\.ok/],
  ['a result with ok as 1', { t: 'results', items: [{ ...item, ok: 1 }] }, /items\.0\.ok/],
  ['a result whose output is a string', { t: 'results', items: [{ ...item, output: '{}' }] }, /items\.0\.output: a payload is JSON text as msgpack bin/],
  ['a result whose output is null', { t: 'results', items: [{ ...item, output: null }] }, /items\.0\.output/],
  ['a result whose error is a string', { t: 'results', items: [{ ...item, ok: false, error: 'boom' }] }, /items\.0\.error/],
  ['a result whose error has no message', { t: 'results', items: [{ ...item, ok: false, error: { stack: 's' } }] }, /items\.0\.error\.message/],
  ['a result whose error stack is a number', { t: 'results', items: [{ ...item, ok: false, error: { message: 'm', stack: 1 } }] }, /items\.0\.error\.stack/],
  ['a result whose nonRetryable is a string', { t: 'results', items: [{ ...item, nonRetryable: 'yes' }] }, /items\.0\.nonRetryable/],
  ['started without tasks', { t: 'started' }, /tasks/],
  ['started tasks not an array', { t: 'started', tasks: 'a' }, /tasks/],
  ['started over the item limit', { t: 'started', tasks: Array.from({ length: payloadMax + 1 }, () => ({ taskId: 'a', attempt: 0 })) }, /tasks/],
  ['a started task without attempt', { t: 'started', tasks: [{ taskId: 'a' }] }, /tasks\.0\.attempt/],
  ['a started task with an empty taskId', { t: 'started', tasks: [{ taskId: '', attempt: 0 }] }, /tasks\.0\.taskId/],
  ['a started task that is an array', { t: 'started', tasks: [['a', 0]] }, /tasks\.0/],
  ['trigger without req', { t: 'trigger', runs: [run] }, /req/],
  ['trigger with a negative req', { t: 'trigger', req: -1, runs: [run] }, /req/],
  ['trigger with no runs', { t: 'trigger', req: 1, runs: [] }, /runs/],
  ['trigger over the run limit', { t: 'trigger', req: 1, runs: Array.from({ length: engineLimits.triggerRunsMax + 1 }, () => run) }, /runs/],
  ['trigger with each as a string', { t: 'trigger', req: 1, runs: [run], each: 'yes' }, /each/],
  ['a run without workflow', { t: 'trigger', req: 1, runs: [{ input: bin('{}') }] }, /runs\.0\.workflow/],
  ['a run with an empty workflow', { t: 'trigger', req: 1, runs: [{ ...run, workflow: '' }] }, /runs\.0\.workflow/],
  ['a run without input', { t: 'trigger', req: 1, runs: [{ workflow: 'w' }] }, /runs\.0\.input/],
  ['a run whose input is a map', { t: 'trigger', req: 1, runs: [{ ...run, input: { a: 1 } }] }, /runs\.0\.input/],
  ['a run with a numeric metadata value', { t: 'trigger', req: 1, runs: [{ ...run, additionalMetadata: { a: 1 } }] }, /runs\.0\.additionalMetadata\.a/],
  ['a run with metadata as an array', { t: 'trigger', req: 1, runs: [{ ...run, additionalMetadata: ['a'] }] }, /runs\.0\.additionalMetadata/],
  ['a run with priority 4', { t: 'trigger', req: 1, runs: [{ ...run, priority: 4 }] }, /runs\.0\.priority/],
  ['a run with priority 0', { t: 'trigger', req: 1, runs: [{ ...run, priority: 0 }] }, /runs\.0\.priority/],
  ['a run with priority 1.5', { t: 'trigger', req: 1, runs: [{ ...run, priority: 1.5 }] }, /runs\.0\.priority/],
  ['a run with an empty parentTaskId', { t: 'trigger', req: 1, runs: [{ ...run, parentTaskId: '' }] }, /runs\.0\.parentTaskId/],
  ['a run with a negative childIndex', { t: 'trigger', req: 1, runs: [{ ...run, childIndex: -2 }] }, /runs\.0\.childIndex/],
  ['a run with a 201-char childKey', { t: 'trigger', req: 1, runs: [{ ...run, childKey: 'k'.repeat(201) }] }, /runs\.0\.childKey/],
  ['a run with a bad desiredWorkerId', { t: 'trigger', req: 1, runs: [{ ...run, desiredWorkerId: '-bad id' }] }, /runs\.0\.desiredWorkerId: a worker id is/],
  ['a run with bad desiredWorkerLabels', { t: 'trigger', req: 1, runs: [{ ...run, desiredWorkerLabels: { gpu: { value: 'x', comparator: 'GREATER_THAN' } } }] }, /runs\.0\.desiredWorkerLabels/],
];

t.test('hot frames: every bad input is declined by the hot check and refused with PROTOCOL_INVALID_FRAME, as zod words it', async (t) => {
  for (const [what, frame, where] of bad) {
    const raw = roundTrip(frame);
    t.equal(hotClientFrame(raw), undefined, `${what}: declined`);
    const parsed = ClientFrame.safeParse(raw);
    t.notOk(parsed.success, `${what}: zod refuses it too`);
    const req = (raw as { req?: unknown }).req;
    t.throws(() => decodeClientFrame(encodeFrame(frame as ClientFrame)), { code: 'PROTOCOL_INVALID_FRAME', message: where, req: typeof req === 'number' && req >= 0 ? req : undefined }, what);
  }
});

t.test('hot frames: what the hot check is unsure of goes to zod, which decides as before', async (t) => {
  // Unknown keys (zod drops them), desiredWorkerLabels (zod fills defaults), undefined fields.
  const doubtful: unknown[] = [
    { t: 'results', items: [{ ...item, extra: 1 }] },
    { t: 'results', items: [item], extra: 'x' },
    { t: 'results', items: [{ ...item, output: undefined }] },
    { t: 'results', items: [{ ...item, ok: false, error: { message: 'm', code: 'E' } }] },
    { t: 'started', tasks: [{ taskId: 'a', attempt: 0, runId: 'r' }] },
    { t: 'trigger', req: 1, runs: [{ ...run, desiredWorkerLabels: { gpu: { value: 1 } } }] },
    { t: 'trigger', req: 1, runs: [{ ...run, unknown: true }] },
  ];
  for (const frame of doubtful) {
    const raw = roundTrip(frame);
    t.equal(hotClientFrame(raw), undefined, `declined: ${JSON.stringify(frame).slice(0, 80)}`);
    const parsed = ClientFrame.safeParse(raw);
    t.ok(parsed.success, 'zod takes it');
    t.same(encodeFrame(decodeClientFrame(encodeFrame(frame as ClientFrame))), encodeFrame(parsed.data as ClientFrame), 'and decodeClientFrame gives zod’s copy');
  }
});

t.test('hot frames: over many mutations of valid frames, whatever the hot check takes zod takes, to the same bytes', async (t) => {
  const odd: unknown[] = [undefined, null, '', 'x'.repeat(201), 'ok', -1, 0, 1, 1.5, 4, 2 ** 53, Number.NaN, true, false, {}, [], bin('{}'), { message: 'm' }, [item]];
  let seed = 7;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const mutate = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.length === 0 || random(4) === 0 ? [...value, odd[random(odd.length)]] : value.map((v, i) => (i === random(value.length) ? mutate(v) : v));
    if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
      const keys = Object.keys(value);
      const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
      const key = random(5) === 0 ? `k${random(3)}` : (keys[random(keys.length)] as string);
      if (random(6) === 0) delete out[key];
      else out[key] = random(2) === 0 ? mutate(out[key]) : odd[random(odd.length)];
      return out;
    }
    return odd[random(odd.length)];
  };
  let taken = 0;
  let agreed = 0;
  for (let round = 0; round < 4000; round++) {
    const raw = roundTrip(mutate(valid[round % valid.length]));
    const hot = hotClientFrame(raw);
    if (hot === undefined) continue;
    taken++;
    const parsed = ClientFrame.safeParse(raw);
    if (parsed.success && Buffer.compare(encodeFrame(hot), encodeFrame(parsed.data as ClientFrame)) === 0) agreed++;
    else t.fail(`hot took what zod gives otherwise: ${JSON.stringify(raw)}`);
  }
  t.ok(taken > 100, `${taken} mutated frames taken`);
  t.equal(agreed, taken, 'zod agreed on every one');
});
