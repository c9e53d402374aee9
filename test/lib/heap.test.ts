import t from 'tap';
import { MinHeap } from '../../src/lib/heap.js';

t.test('min-heap: entries come out in key order, each with its own value, however they went in', async (t) => {
  // A fixed linear congruential sequence: the same mix of pushes, pops and duplicate keys each run.
  let seed = 12345;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed;
  };
  const heap = new MinHeap<string>();
  const model: Array<{ key: number; value: string }> = [];
  const wrong: string[] = [];
  for (let step = 0; step < 2000; step++) {
    if (next() % 3 !== 0 || model.length === 0) {
      const key = next() % 500;
      heap.push(key, `v${step}`);
      model.push({ key, value: `v${step}` });
    } else {
      const top = heap.pop();
      const least = Math.min(...model.map((entry) => entry.key));
      if (top?.key !== least) wrong.push(`step ${step}: popped key ${top?.key}, the least is ${least}`);
      const at = model.findIndex((entry) => entry.key === top?.key && entry.value === top?.value);
      if (at === -1) wrong.push(`step ${step}: ${top?.value} was not pushed with key ${top?.key}`);
      else model.splice(at, 1);
    }
  }
  t.same(wrong, [], 'every pop took the least key, with a value pushed under it');
  t.equal(heap.size, model.length, 'its size is what went in less what came out');
  const drained: number[] = [];
  for (let top = heap.pop(); top !== undefined; top = heap.pop()) drained.push(top.key);
  t.same(drained, model.map((entry) => entry.key).sort((a, b) => a - b), 'what is left drains in order');
  t.equal(heap.peek(), undefined);
  t.equal(heap.peekKey(), undefined);
  t.equal(heap.pop(), undefined, 'an empty heap pops nothing');
});

t.test('min-heap: peek shows the least entry without taking it', async (t) => {
  const heap = new MinHeap<string>();
  heap.push(3, 'c');
  heap.push(1, 'a');
  heap.push(2, 'b');
  t.same(heap.peek(), { key: 1, value: 'a' });
  t.equal(heap.peekKey(), 1);
  t.equal(heap.size, 3);
  t.same(heap.pop(), { key: 1, value: 'a' });
  t.same(heap.peek(), { key: 2, value: 'b' });
});
