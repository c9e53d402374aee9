/**
 * A binary min-heap ordered by `key`; the engine's timers and queues use it. Keys and values are
 * kept in two parallel arrays rather than as an object per entry: a heap of a hundred thousand
 * timers holds a number and a reference for each, nothing more.
 */
export class MinHeap<T> {
  readonly #keys: number[] = [];
  readonly #values: T[] = [];

  get size(): number {
    return this.#keys.length;
  }

  push(key: number, value: T): void {
    const keys = this.#keys;
    const values = this.#values;
    let i = keys.length;
    keys.push(key);
    values.push(value);
    // Sift up: move parents down until the new entry's place is found, then write it once.
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((keys[parent] as number) <= key) break;
      keys[i] = keys[parent] as number;
      values[i] = values[parent] as T;
      i = parent;
    }
    keys[i] = key;
    values[i] = value;
  }

  peekKey(): number | undefined {
    return this.#keys[0];
  }

  peek(): { key: number; value: T } | undefined {
    return this.#keys.length === 0 ? undefined : { key: this.#keys[0] as number, value: this.#values[0] as T };
  }

  pop(): { key: number; value: T } | undefined {
    const keys = this.#keys;
    const values = this.#values;
    if (keys.length === 0) return undefined;
    const top = { key: keys[0] as number, value: values[0] as T };
    const lastKey = keys.pop() as number;
    const lastValue = values.pop() as T;
    const n = keys.length;
    if (n === 0) return top;
    // Sift the last entry down from the root.
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && (keys[right] as number) < (keys[left] as number) ? right : left;
      if ((keys[child] as number) >= lastKey) break;
      keys[i] = keys[child] as number;
      values[i] = values[child] as T;
      i = child;
    }
    keys[i] = lastKey;
    values[i] = lastValue;
    return top;
  }
}
