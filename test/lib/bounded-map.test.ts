import t from 'tap';
import { BoundedMap } from '../../src/lib/bounded-map.js';

t.test('bounded map: keeps the newest `capacity` insertions, forgetting the oldest first', async (t) => {
  const map = new BoundedMap<string, number>(3);
  for (const [key, value] of [['a', 1], ['b', 2], ['c', 3], ['d', 4]] as const) map.set(key, value);
  t.same([map.get('a'), map.get('b'), map.get('c'), map.get('d')], [undefined, 2, 3, 4]);
  t.equal(map.size, 3);
});

t.test('bounded map: a key set again counts from its newest insertion; a deleted key frees its place', async (t) => {
  const map = new BoundedMap<string, number>(3);
  map.set('a', 1);
  map.set('b', 2);
  map.set('a', 10); // a's older ring slot is now stale
  map.set('c', 3); // evicts the stale slot of 'a': nothing live is lost
  t.same([map.get('a'), map.get('b'), map.get('c')], [10, 2, 3]);
  map.set('d', 4); // evicts b
  t.same([map.get('a'), map.get('b'), map.get('d')], [10, undefined, 4]);
  t.ok(map.delete('c'));
  t.notOk(map.has('c'));
  map.set('e', 5);
  map.set('f', 6);
  t.same([map.get('a'), map.get('d'), map.get('e'), map.get('f')], [undefined, 4, 5, 6], 'never more than capacity live entries');
  t.ok(map.size <= 3);
});

t.test('bounded map: with sizeOf, the oldest go until the bytes are under bytesMax', async (t) => {
  const map = new BoundedMap<string, string>(100, { bytesMax: 10, sizeOf: (value) => value.length });
  map.set('a', 'xxxx');
  map.set('b', 'xxxx');
  t.equal(map.bytes, 8);
  map.set('c', 'xxxx');
  t.same([map.has('a'), map.has('b'), map.has('c')], [false, true, true], '12 bytes > 10: the oldest went');
  t.equal(map.bytes, 8);
  map.set('b', 'x');
  t.equal(map.bytes, 5, 'a value set again counts once, at its new size');
  map.set('big', 'x'.repeat(50));
  t.same([map.has('b'), map.has('c'), map.has('big')], [false, false, true], 'one entry larger than the bound stays alone');
});
