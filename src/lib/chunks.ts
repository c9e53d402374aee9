/**
 * Splits items into chunks of at most `maxItems` whose sizes add up to at most `maxBytes`, keeping
 * order. An item larger than `maxBytes` on its own gets a chunk of its own (the receiver's own limit
 * then decides). Frames are batched with this so a batch never outgrows a frame.
 */
export function chunkBySize<T>(items: readonly T[], sizeOf: (item: T) => number, maxBytes: number, maxItems: number): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (current.length > 0 && (bytes + size > maxBytes || current.length >= maxItems)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
