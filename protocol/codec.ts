/**
 * Encoding and decoding of frames: plain msgpack (no msgpackr record extension), so a decoder in
 * any language reads them. `decodeClientFrame` validates shape and size and throws a
 * `ProtocolError` with a code; it never returns a frame it has not checked.
 */
import { Packr } from 'msgpackr';
import { engineLimits } from '../src/lib/limits.js';
import { ProtocolError, ProtocolErrorCode } from './errors.js';
import { ClientFrame, type ServerFrame } from './frames.js';
import { hotClientFrame } from './hot-frames.js';

// copyBuffers: a decoded frame must not point into the socket's buffer, which is reused.
const packr = new Packr({ useRecords: false, int64AsType: 'number', mapsAsObjects: true, copyBuffers: true });

export function encodeFrame(frame: ServerFrame | ClientFrame): Buffer {
  return packr.pack(frame);
}

export function decodeServerFrame(bytes: Uint8Array): ServerFrame {
  return packr.unpack(bytes) as ServerFrame;
}

export function decodeClientFrame(bytes: Uint8Array): ClientFrame {
  if (bytes.length > engineLimits.frameBytesMax) {
    throw new ProtocolError(ProtocolErrorCode.FrameTooLarge, `a frame of ${bytes.length} bytes is over the ${engineLimits.frameBytesMax}-byte limit`);
  }
  let value: unknown;
  try {
    value = packr.unpack(bytes);
  } catch (error) {
    throw new ProtocolError(ProtocolErrorCode.MalformedFrame, `the frame is not msgpack (${(error as Error).message})`);
  }
  if (value === null || typeof value !== 'object' || typeof (value as { t?: unknown }).t !== 'string') {
    throw new ProtocolError(ProtocolErrorCode.MalformedFrame, 'a frame is a msgpack map with a string field `t` naming its type');
  }
  // The common valid results/started/trigger frame, checked without zod's copying; zod decides the rest.
  const hot = hotClientFrame(value);
  if (hot !== undefined) return hot;
  const parsed = ClientFrame.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join('.') || 't';
    const code = issue?.code === 'invalid_union' && where === 't' ? ProtocolErrorCode.MalformedFrame : ProtocolErrorCode.InvalidFrame;
    const req = (value as { req?: unknown }).req;
    throw new ProtocolError(code, `frame '${String((value as { t: string }).t)}': ${where}: ${issue?.message ?? 'invalid'}`, Number.isSafeInteger(req) && (req as number) >= 0 ? (req as number) : undefined);
  }
  return parsed.data;
}

/**
 * Encodes `items` into frames built by `frame`, each with at most `itemsMax` items and `bytesMax`
 * bytes. The common case costs one encode per frame; a frame that comes out too large is split in
 * half and encoded again. An item too large on its own goes alone (the receiver's limit decides).
 */
export function encodeBatches<T>(
  items: readonly T[],
  frame: (batch: T[]) => ServerFrame | ClientFrame,
  bytesMax: number,
  itemsMax: number,
): Array<{ bytes: Buffer; count: number }> {
  const out: Array<{ bytes: Buffer; count: number }> = [];
  const encodeRange = (start: number, end: number): void => {
    const bytes = packr.pack(frame(items.slice(start, end)));
    if (bytes.length > bytesMax && end - start > 1) {
      const middle = (start + end) >>> 1;
      encodeRange(start, middle);
      encodeRange(middle, end);
      return;
    }
    out.push({ bytes, count: end - start });
  };
  for (let start = 0; start < items.length; start += itemsMax) encodeRange(start, Math.min(items.length, start + itemsMax));
  return out;
}
