import t from 'tap';
import { chunkBySize } from '../../src/lib/chunks.js';

t.test('chunks keep order and respect both bounds; an oversized item stands alone', async (t) => {
  const size = (n: number) => n;
  t.same(chunkBySize([1, 2, 3, 4, 5], size, 5, 10), [[1, 2], [3], [4], [5]]);
  t.same(chunkBySize([1, 1, 1, 1, 1], size, 100, 2), [[1, 1], [1, 1], [1]]);
  t.same(chunkBySize([2, 9, 2], size, 5, 10), [[2], [9], [2]]);
  t.same(chunkBySize([], size, 5, 10), []);
});
