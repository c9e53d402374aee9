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
  /** A frame about a task attempt this worker does not hold (another worker's, a stale attempt, another tenant's). */
  TaskNotHeld: 'TASK_NOT_HELD',
  /** A stream chunk over `streamChunkBytesMax`. */
  StreamChunkTooLarge: 'STREAM_CHUNK_TOO_LARGE',
  /** A connection already subscribes to `streamSubscriptionsPerConnectionMax` streams. */
  TooManySubscriptions: 'STREAM_TOO_MANY_SUBSCRIPTIONS',
  /** In a `streamEnd`: the subscriber read too slowly and its subscription was dropped. */
  StreamSubscriberTooSlow: 'STREAM_SUBSCRIBER_TOO_SLOW',
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
