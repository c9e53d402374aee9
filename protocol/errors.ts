/** Error codes of the protocol and of requests made over it (see PROTOCOL.md). */
import { KindlingError } from '../src/lib/errors.js';

export const ProtocolErrorCode = {
  /** The frame is not msgpack, or not a map with a known `t`. Fatal: the connection closes. */
  MalformedFrame: 'PROTOCOL_MALFORMED_FRAME',
  /** The frame's fields have the wrong types or sizes. Fatal. */
  InvalidFrame: 'PROTOCOL_INVALID_FRAME',
  /** The frame is larger than `frameBytesMax`. Fatal. */
  FrameTooLarge: 'PROTOCOL_FRAME_TOO_LARGE',
  /** Anything but `hello` before the handshake. Fatal. */
  HandshakeRequired: 'PROTOCOL_HANDSHAKE_REQUIRED',
  /** No protocol version in common. Fatal. */
  VersionUnsupported: 'PROTOCOL_VERSION_UNSUPPORTED',
  /** The token is missing or not valid. Fatal. */
  Unauthenticated: 'AUTH_UNAUTHENTICATED',
  /** A worker frame came on a connection that has not registered a worker. */
  NotAWorker: 'PROTOCOL_NOT_A_WORKER',
  /** Request errors: the connection stays open. */
  WorkflowNotFound: 'WORKFLOW_NOT_FOUND',
  RunNotFound: 'RUN_NOT_FOUND',
  WorkerNotFound: 'WORKER_NOT_FOUND',
  InvalidInput: 'INVALID_INPUT',
  PayloadTooLarge: 'PAYLOAD_TOO_LARGE',
  EngineBusy: 'ENGINE_BUSY',
  EngineUnavailable: 'ENGINE_UNAVAILABLE',
} as const;
export type ProtocolErrorCode = (typeof ProtocolErrorCode)[keyof typeof ProtocolErrorCode];

const retryable: ReadonlySet<string> = new Set([ProtocolErrorCode.EngineBusy, ProtocolErrorCode.EngineUnavailable]);

export class ProtocolError extends KindlingError {
  override readonly name = 'ProtocolError';
  constructor(
    code: ProtocolErrorCode | string,
    message: string,
    /** The `req` of the frame this error is about, when it was a request. */
    readonly req?: number,
  ) {
    super(code, message, retryable.has(code));
  }
}
