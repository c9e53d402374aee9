/**
 * Payloads — a run's input, a task's output — travel and are stored as UTF-8 JSON text in msgpack
 * `bin` fields. The engine never parses them: it carries the bytes from trigger to log to worker
 * and back, and holds them to `payloadBytesMax` by their length. JSON because Hatchet's payloads
 * are JSON (what `JSON.stringify` keeps, a program gets back), and because every runtime reads it.
 */

export type Payload = Uint8Array;

export class PayloadError extends Error {
  override readonly name = 'PayloadError';
}

/** A value as a payload; throws a `PayloadError` saying why when JSON cannot carry it. */
export function encodePayload(value: unknown, what: string): Payload {
  let json: string | undefined;
  try {
    json = JSON.stringify(value === undefined ? null : value);
  } catch (error) {
    throw new PayloadError(`${what} is not JSON-serialisable: ${(error as Error).message}`);
  }
  if (json === undefined) throw new PayloadError(`${what} is not JSON-serialisable: a ${typeof value} has no JSON form`);
  return Buffer.from(json, 'utf8');
}

/** The value a payload holds. */
export function decodePayload(payload: Payload): unknown {
  const bytes = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  return JSON.parse(bytes.toString('utf8'));
}

/** The payload of `null`: an input not given, an output not returned. */
export const NULL_PAYLOAD: Payload = Buffer.from('null', 'utf8');
