/**
 * A map that holds at most `capacity` entries — and, given `sizeOf`, at most `bytesMax` bytes of
 * them — and forgets the oldest insertion first: a cache of recent things (finished runs, say)
 * with O(1) set and get and amortized O(1) eviction.
 *
 * Eviction does not ask the `Map` for its first key: a `Map` that sees many deletions keeps their
 * holes until it is rehashed, and finding its first live key walks them. A ring of keys in
 * insertion order, each with the generation it was set at, says what to evict instead.
 */
export class BoundedMap<K, V> {
  readonly #entries = new Map<K, { value: V; generation: number; bytes: number }>();
  readonly #ring: Array<{ key: K; generation: number } | undefined>;
  readonly #bytesMax: number;
  readonly #sizeOf: ((value: V) => number) | undefined;
  #head = 0;
  #length = 0;
  #generation = 0;
  #bytes = 0;

  constructor(
    readonly capacity: number,
    options: { bytesMax?: number; sizeOf?: (value: V) => number } = {},
  ) {
    this.#ring = new Array(capacity);
    this.#bytesMax = options.bytesMax ?? Number.POSITIVE_INFINITY;
    this.#sizeOf = options.sizeOf;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Bytes held, as `sizeOf` counts them (0 without it). */
  get bytes(): number {
    return this.#bytes;
  }

  get(key: K): V | undefined {
    return this.#entries.get(key)?.value;
  }

  has(key: K): boolean {
    return this.#entries.has(key);
  }

  set(key: K, value: V): void {
    const generation = ++this.#generation;
    const bytes = this.#sizeOf?.(value) ?? 0;
    this.delete(key);
    this.#entries.set(key, { value, generation, bytes });
    this.#bytes += bytes;
    if (this.#length === this.capacity) this.#evictOldest();
    this.#ring[(this.#head + this.#length) % this.capacity] = { key, generation };
    this.#length += 1;
    while (this.#bytes > this.#bytesMax && this.#length > 1) this.#evictOldest();
  }

  delete(key: K): boolean {
    // Its ring slot goes stale and is skipped when its turn comes.
    const entry = this.#entries.get(key);
    if (entry === undefined) return false;
    this.#bytes -= entry.bytes;
    return this.#entries.delete(key);
  }

  #evictOldest(): void {
    const oldest = this.#ring[this.#head];
    this.#ring[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.capacity;
    this.#length -= 1;
    if (oldest !== undefined && this.#entries.get(oldest.key)?.generation === oldest.generation) this.delete(oldest.key);
  }
}
