/**
 * Coalesces calls: `schedule()` asks for `work` to run once, at the next turn of the event loop,
 * however often it is called before then. Frames are batched this way — everything for a
 * connection made in one turn goes out together.
 */
export function coalesce(work: () => void): () => void {
  let scheduled = false;
  return () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      work();
    });
  };
}
