import t from 'tap';
import { decodeClientFrame, decodeServerFrame, encodeBatches, encodeFrame } from '../../protocol/codec.js';
import type { ClientFrame, FinishedRun, ServerFrame } from '../../protocol/frames.js';
import { engineLimits } from '../../src/lib/limits.js';

const run = (i: number, bytes: number): FinishedRun => ({ runId: `r${i}`, status: 'COMPLETED', output: { t: Buffer.from('x'.repeat(bytes)) } });
const frame = (runs: FinishedRun[]): ServerFrame => ({ t: 'runFinished', runs });

t.test('encodeBatches: one frame when it fits; halves until each fits; order and count kept', async (t) => {
  const small = Array.from({ length: 10 }, (_, i) => run(i, 10));
  const one = encodeBatches(small, frame, 10_000, 1000);
  t.equal(one.length, 1, 'small items make one frame');
  t.equal(one[0]?.count, 10);

  const big = Array.from({ length: 10 }, (_, i) => run(i, 3000));
  const split = encodeBatches(big, frame, 10_000, 1000);
  t.ok(split.length > 1, `${split.length} frames`);
  t.ok(split.every((b) => b.bytes.length <= 10_000), 'every frame within the byte bound');
  const decoded = split.flatMap((b) => (decodeServerFrame(b.bytes) as { runs: FinishedRun[] }).runs.map((r) => r.runId));
  t.same(decoded, big.map((r) => r.runId), 'every item once, in order');
  t.same(split.map((b) => b.count).reduce((a, b) => a + b, 0), 10);

  t.same(encodeBatches(small, frame, 10_000, 4).map((b) => b.count), [4, 4, 2], 'the item bound holds too');
  const huge = encodeBatches([run(0, 50_000)], frame, 10_000, 1000);
  t.equal(huge.length, 1, 'an item over the bound alone goes in a frame of its own');
  t.same(encodeBatches([], frame, 10_000, 1000), []);
});

t.test('putWorkflow: an input JSON Schema is kept; one over its limit is refused with INVALID_FRAME', async (t) => {
  const spec = { name: 'wf', tasks: [{ name: 'a' }], inputJsonSchema: { type: 'object', properties: { id: { type: 'string' } } } };
  const decoded = decodeClientFrame(encodeFrame({ t: 'putWorkflow', req: 1, workflow: spec } as unknown as ClientFrame));
  t.same((decoded as { workflow: { inputJsonSchema: unknown } }).workflow.inputJsonSchema, spec.inputJsonSchema);
  const huge = { ...spec, inputJsonSchema: { description: 'x'.repeat(engineLimits.inputJsonSchemaBytesMax) } };
  t.throws(() => decodeClientFrame(encodeFrame({ t: 'putWorkflow', req: 2, workflow: huge } as unknown as ClientFrame)), {
    code: 'PROTOCOL_INVALID_FRAME',
    message: /workflow\.inputJsonSchema: the input JSON Schema is at most 65536 bytes of JSON/,
  });
  t.throws(() => decodeClientFrame(encodeFrame({ t: 'getWorkflow', req: 3 } as unknown as ClientFrame)), { code: 'PROTOCOL_INVALID_FRAME', message: /name/ });
});
