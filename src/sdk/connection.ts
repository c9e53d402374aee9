/**
 * The SDK's connection to an engine: one WebSocket (`ws`), the handshake, request/reply by `req`,
 * and reconnection with backoff. Frames other than replies go to `onFrame`; after every (re)connect
 * `onOpen` runs so the owner can register again and re-subscribe.
 */
import WebSocket from 'ws';
import { decodeServerFrame, encodeFrame } from '../../protocol/codec.js';
import { type ClientFrame, PROTOCOL_VERSIONS, type ServerFrame } from '../../protocol/frames.js';
import { deferred } from '../lib/deferred.js';
import { HatchetError } from './errors.js';

/** The frames that are requests (they carry `req`), without it: the connection adds it. */
type Request = ClientFrame extends infer F ? (F extends unknown ? ('req' extends keyof F ? Omit<F, 'req'> : never) : never) : never;

/** Refusals that another attempt with the same token cannot change: the client stops trying. */
const FATAL_CODES: ReadonlySet<string> = new Set(['AUTH_UNAUTHENTICATED', 'AUTH_TOKEN_EXPIRED', 'AUTH_TOKEN_REVOKED', 'AUTH_FORBIDDEN', 'PROTOCOL_VERSION_UNSUPPORTED']);

export class EngineError extends HatchetError {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

export interface ConnectionOptions {
  readonly url: string;
  readonly token: string;
  readonly onFrame: (frame: ServerFrame) => void;
  /** Runs after each successful handshake, before queued frames are sent. */
  readonly onOpen?: () => Promise<void> | void;
  readonly logger?: { debug(message: string): void; warn(message: string): void };
}

export class Connection {
  #ws: WebSocket | undefined;
  #ready = deferred();
  #isReady = false;
  /** True while `onOpen` runs: frames may go out, though the connection is not yet ready. */
  #opening = false;
  #nextReq = 1;
  readonly #pending = new Map<number, { resolve(body: unknown): void; reject(error: unknown): void; frame: ClientFrame; sent: boolean }>();
  #closed = false;
  #attempt = 0;
  heartbeatMs = 4000;
  /** The tenant the engine says the token belongs to (from `welcome`). */
  tenantId: string | undefined;
  /** Set when the engine refuses the connection for good (bad token, no common version). */
  #fatal: EngineError | undefined;

  constructor(private readonly options: ConnectionOptions) {
    this.#ready.promise.catch(() => {});
    this.#connect();
  }

  get ready(): Promise<void> {
    return this.#ready.promise;
  }

  /** Whether the connection is open and through its handshake now. */
  get connected(): boolean {
    return this.#isReady;
  }

  #connect(): void {
    if (this.#closed) return;
    const ws = new WebSocket(this.options.url, { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
    this.#ws = ws;
    let welcomed = false;
    ws.binaryType = 'nodebuffer';
    ws.on('open', () => {
      ws.send(encodeFrame({ t: 'hello', versions: [...PROTOCOL_VERSIONS], token: this.options.token, client: { sdk: 'kindling-typescript', version: '0.1.0' } }));
    });
    ws.on('message', (data: Buffer) => {
      const frame = decodeServerFrame(data);
      if (!welcomed) {
        if (frame.t === 'welcome') {
          welcomed = true;
          this.#attempt = 0;
          this.heartbeatMs = frame.heartbeatMs;
          this.tenantId = frame.tenantId;
          void this.#opened(ws);
          return;
        }
      }
      if (frame.t === 'reply') {
        const pending = this.#pending.get(frame.req);
        if (pending === undefined) return;
        this.#pending.delete(frame.req);
        if (frame.ok) pending.resolve(frame.body);
        else pending.reject(new EngineError(frame.error.code, frame.error.message));
        return;
      }
      if (frame.t === 'error') {
        if (FATAL_CODES.has(frame.code)) {
          this.#fatal = new EngineError(frame.code, frame.message);
        }
        this.options.logger?.warn(`engine closed the connection: ${frame.code}: ${frame.message}`);
        return;
      }
      this.options.onFrame(frame);
    });
    ws.on('close', () => {
      this.#opening = false;
      this.#lost();
    });
    ws.on('error', (error) => this.options.logger?.debug(`connection error: ${error.message}`));
  }

  async #opened(ws: WebSocket): Promise<void> {
    this.#opening = true;
    try {
      await this.options.onOpen?.();
    } catch (error) {
      this.options.logger?.warn(`re-registering after connect failed: ${(error as Error).message}`);
    }
    this.#opening = false;
    // The socket may have closed while `onOpen` ran; its close handler reconnects.
    if (this.#ws !== ws || ws.readyState !== WebSocket.OPEN) return;
    this.#isReady = true;
    this.#ready.resolve();
    // Requests made while disconnected are sent now.
    for (const [, pending] of this.#pending) {
      if (pending.sent) continue;
      pending.sent = true;
      this.#ws?.send(encodeFrame(pending.frame));
    }
  }

  #lost(): void {
    const wasReady = this.#isReady;
    this.#isReady = false;
    if (this.#closed) return;
    if (this.#fatal !== undefined) {
      this.#ready.reject(this.#fatal);
      this.#rejectAll(this.#fatal);
      this.#closed = true;
      return;
    }
    // A request already sent may or may not have been carried out: its caller decides whether to
    // retry. Requests not yet sent wait for the next connection.
    for (const [req, pending] of this.#pending) {
      if (!pending.sent) continue;
      this.#pending.delete(req);
      pending.reject(new EngineError('ENGINE_UNAVAILABLE', 'the connection to the engine was lost before it replied'));
    }
    if (wasReady) {
      this.#ready = deferred();
      this.#ready.promise.catch(() => {});
    }
    const delay = Math.min(5000, 100 * 2 ** this.#attempt++);
    setTimeout(() => this.#connect(), delay).unref();
  }

  #rejectAll(error: Error): void {
    for (const [, pending] of this.#pending) pending.reject(error);
    this.#pending.clear();
  }

  /** Sends a request and resolves with the engine's reply body (rejects with an EngineError). */
  request<T = unknown>(frame: Request): Promise<T> {
    if (this.#closed) return Promise.reject(this.#fatal ?? new HatchetError('the client is closed'));
    const req = this.#nextReq++;
    const full = { ...frame, req } as ClientFrame;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(req, { resolve: resolve as (body: unknown) => void, reject, frame: full, sent: this.#isReady });
      if (this.#isReady) this.#ws?.send(encodeFrame(full));
    });
  }

  /**
   * Sends a frame that has no reply (or the bytes of one already encoded); returns false, sending
   * nothing, while disconnected (callers send again from `onOpen`).
   */
  send(frame: ClientFrame | Uint8Array): boolean {
    if (!(this.#isReady || this.#opening) || this.#ws?.readyState !== WebSocket.OPEN) return false;
    this.#ws.send(frame instanceof Uint8Array ? frame : encodeFrame(frame));
    return true;
  }

  /** Sends during `onOpen`, before the connection counts as ready. */
  sendNow<T = unknown>(frame: Request): Promise<T> {
    const req = this.#nextReq++;
    const full = { ...frame, req } as ClientFrame;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(req, { resolve: resolve as (body: unknown) => void, reject, frame: full, sent: true });
      this.#ws?.send(encodeFrame(full));
    });
  }

  close(): void {
    this.#closed = true;
    this.#ws?.close();
    this.#rejectAll(new HatchetError('the client is closed'));
  }
}
