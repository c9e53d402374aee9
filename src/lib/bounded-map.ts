/**
 * A map that holds at most `capacity` entries and forgets the oldest insertion first: a cache of
 * recent things (finished runs, say) with O(1) set, get and eviction.
 *
 * Eviction does not ask the `Map` for its first key: a `Map` that sees many deletions keeps their
 * holes until it is rehashed, and finding its first live key walks them. A ring of keys in
 * insertion order, each with the generation it was set at, says what to evict instead.
 */
export class BoundedMap<K, V> {
  readonly #entries = new Map<K, { value: V; generation: number }>();
  readonly #ring: Array<{ key: K; generation: number } | undefined>;
  #head = 0;
  #length = 0;
  #generation = 0;

  constructor(readonly capacity: number) {
    this.#ring = new Array(capacity);
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: K): V | undefined {
    return this.#entries.get(key)?.value;
  }

  has(key: K): boolean {
    return this.#entries.has(key);
  }

  set(key: K, value: V): void {
    const generation = ++this.#generation;
    this.#entries.set(key, { value, generation });
    if (this.#length === this.capacity) this.#evictOldest();
    this.#ring[(this.#head + this.#length) % this.capacity] = { key, generation };
    this.#length += 1;
  }

  delete(key: K): boolean {
    // Its ring slot goes stale and is skipped when its turn comes.
    return this.#entries.delete(key);
  }

  #evictOldest(): void {
    const oldest = this.#ring[this.#head];
    this.#ring[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.capacity;
    this.#length -= 1;
    if (oldest !== undefined && this.#entries.get(oldest.key)?.generation === oldest.generation) this.#entries.delete(oldest.key);
  }
}
