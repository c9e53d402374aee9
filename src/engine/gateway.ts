/**
 * The gateway: one port for the worker/client WebSocket protocol (`/ws`) and HTTP, on
 * uWebSockets.js. Each connection is a small state machine — awaiting `hello`, then open — that
 * decodes and validates every frame (`protocol/codec.ts`) before the engine sees it.
 *
 * Invariants:
 *  1. A bad frame, a frame before the handshake, or a bad token closes that connection with an
 *     `error` frame naming the code; the engine and every other connection carry on.
 *  2. A request's failure (unknown workflow, payload too large, arguments of the wrong type, …) is
 *     a `reply` with `ok: false`; the connection stays open.
 *  3. Nothing is dropped silently: a send that uWS would drop (the connection's buffer is over
 *     `connectionBufferBytesMax`) closes that connection instead; its tasks are then reassigned.
 */
import { randomUUID } from 'node:crypto';
import uWS from 'uWebSockets.js';
import { decodeClientFrame, encodeFrame } from '../../protocol/codec.js';
import { ProtocolError, ProtocolErrorCode } from '../../protocol/errors.js';
import { type ClientFrame, PROTOCOL_VERSIONS, type ServerFrame } from '../../protocol/frames.js';
import { KindlingError } from '../lib/errors.js';
import { engineLimits } from '../lib/limits.js';
import type { Engine, Session } from './engine.js';

if (typeof (uWS as unknown as { getParts?: unknown }).getParts !== 'function') {
  throw new Error('uWebSockets.js loaded its JavaScript fallback, not the native server: Kindling needs Node 20 on Linux x64 or arm64');
}

const CLOSE_CODES: Record<string, number> = {
  [ProtocolErrorCode.Unauthenticated]: 4401,
  AUTH_TOKEN_EXPIRED: 4401,
  AUTH_TOKEN_REVOKED: 4401,
  AUTH_FORBIDDEN: 4403,
  [ProtocolErrorCode.VersionUnsupported]: 4426,
  BACKPRESSURE: 4408,
  WORKER_EXPIRED: 4410,
  WORKER_REPLACED: 4409,
};

interface SocketData {
  connection?: Connection;
}

export interface Gateway {
  readonly port: number;
  close(): void;
}

class Connection implements Session {
  readonly id = randomUUID();
  #open = true;
  #tenantId: string | undefined;
  #tokenId: string | undefined;
  #expiry: NodeJS.Timeout | undefined;

  get tokenId(): string | undefined {
    return this.#tokenId;
  }

  /** The authenticated tenant; only read once the handshake is done. */
  get tenantId(): string {
    return this.#tenantId ?? '';
  }
  #workerId: string | undefined;

  constructor(
    private readonly ws: uWS.WebSocket<SocketData>,
    private readonly engine: Engine,
  ) {}

  get open(): boolean {
    return this.#open;
  }

  get bufferedBytes(): number {
    return this.#open ? this.ws.getBufferedAmount() : 0;
  }

  send(frame: ServerFrame | Uint8Array): void {
    if (!this.#open) return;
    const bytes = frame instanceof Uint8Array ? frame : encodeFrame(frame);
    // Sends from outside a uWS callback (the engine's flushes) are corked, as uWS asks: the frame
    // goes out in one write instead of being pushed through the socket piecemeal.
    let result = 0;
    this.ws.cork(() => {
      result = this.ws.send(bytes, true);
    });
    if (result === 2) this.close('BACKPRESSURE', `the connection has more than ${engineLimits.connectionBufferBytesMax} bytes unread; closing it`);
  }

  close(code: string, message: string): void {
    if (!this.#open) return;
    this.ws.send(encodeFrame({ t: 'error', code, message }), true);
    this.#open = false;
    this.ws.end(CLOSE_CODES[code] ?? 4400, message.slice(0, 120));
  }

  onClosed(): void {
    this.#open = false;
    clearTimeout(this.#expiry);
    if (this.#workerId !== undefined) this.engine.workerDisconnected(this.#workerId, this);
    this.engine.unsubscribeAll(this);
  }

  onMessage(bytes: Uint8Array): void {
    let frame: ClientFrame;
    try {
      frame = decodeClientFrame(bytes);
    } catch (error) {
      const e = error as ProtocolError;
      if (this.#tenantId !== undefined && e.code === ProtocolErrorCode.InvalidFrame && e.req !== undefined) {
        // A well-formed request with bad arguments is answered, not punished: the connection stays.
        this.send({ t: 'reply', req: e.req, ok: false, error: { code: ProtocolErrorCode.InvalidInput, message: e.message } });
        return;
      }
      this.close(e.code, e.message);
      return;
    }
    if (this.#tenantId === undefined) {
      if (frame.t !== 'hello') {
        this.close(ProtocolErrorCode.HandshakeRequired, `the first frame must be 'hello', not '${frame.t}'`);
        return;
      }
      this.#handshake(frame);
      return;
    }
    this.#handle(frame);
  }

  #handshake(frame: Extract<ClientFrame, { t: 'hello' }>): void {
    const version = Math.max(...frame.versions.filter((v) => (PROTOCOL_VERSIONS as readonly number[]).includes(v)));
    if (!Number.isFinite(version)) {
      this.close(ProtocolErrorCode.VersionUnsupported, `no protocol version in common: the client speaks ${frame.versions.join(', ')}, the engine ${PROTOCOL_VERSIONS.join(', ')}`);
      return;
    }
    const auth = this.engine.authenticate(frame.token);
    if (!auth.ok) {
      this.close(auth.code, auth.message);
      return;
    }
    if (auth.role !== 'tenant') {
      this.close('AUTH_FORBIDDEN', 'an admin token manages tenants and tokens over the REST API; connect with a tenant token');
      return;
    }
    const { tenantId } = auth;
    this.#tenantId = tenantId;
    this.#tokenId = auth.tokenId;
    this.engine.sessionOpened(this);
    // A connection lasts no longer than its token (timers reach about 24 days; revocation closes sooner).
    const remainingMs = auth.expiresAtMs - Date.now();
    if (remainingMs < 2 ** 31 - 1) {
      this.#expiry = setTimeout(() => this.close('AUTH_TOKEN_EXPIRED', 'the token this connection authenticated with expired'), Math.max(0, remainingMs));
      this.#expiry.unref();
    }
    this.send({
      t: 'welcome',
      version,
      tenantId,
      sessionId: this.id,
      heartbeatMs: this.engine.heartbeatMs,
      limits: { frameBytesMax: engineLimits.frameBytesMax, payloadBytesMax: engineLimits.payloadBytesMax },
    });
  }

  #reply(req: number, work: () => unknown): void {
    Promise.resolve()
      .then(work)
      .then(
        (body) => this.send({ t: 'reply', req, ok: true, body: body ?? null }),
        (error: unknown) => {
          const code = error instanceof KindlingError ? error.code : ProtocolErrorCode.EngineUnavailable;
          this.send({ t: 'reply', req, ok: false, error: { code, message: (error as Error).message } });
        },
      );
  }

  #handle(frame: ClientFrame): void {
    switch (frame.t) {
      case 'hello':
        this.close(ProtocolErrorCode.InvalidFrame, "'hello' was already received");
        return;
      case 'register':
        // The worker id is known before the registration is stored, so worker frames sent meanwhile
        // (a reconnecting worker's results) are accepted and a close meanwhile is seen.
        this.#workerId = frame.workerId ?? randomUUID();
        this.#reply(frame.req, async () => ({
          workerId: await this.engine.registerWorker(this, {
            workerId: this.#workerId as string,
            name: frame.name,
            actions: frame.actions,
            slots: frame.slots,
            labels: frame.labels,
            running: frame.running,
            durableActions: frame.durableActions,
            durableSlots: frame.durableSlots,
          }),
        }));
        return;
      case 'putWorkflow':
        this.#reply(frame.req, () => this.engine.putWorkflow(this.tenantId, frame.workflow));
        return;
      case 'trigger':
        if (frame.each === true) this.#reply(frame.req, async () => ({ results: await this.engine.triggerEach(this.tenantId, frame.runs) }));
        else this.#reply(frame.req, async () => ({ runIds: await this.engine.trigger(this.tenantId, frame.runs) }));
        return;
      case 'cancel':
        this.#reply(frame.req, () => this.engine.cancel(this.tenantId, frame.runIds, frame.taskIds));
        return;
      case 'getRun':
        this.#reply(frame.req, () => this.engine.getRun(this.tenantId, frame.runId));
        return;
      case 'getWorkflow':
        this.#reply(frame.req, () => this.engine.getWorkflow(this.tenantId, frame.name));
        return;
      case 'listLogs':
        this.#reply(frame.req, () => this.engine.listLogs(this.tenantId, frame.taskId, frame.limit));
        return;
      case 'replay':
        this.#reply(frame.req, () => this.engine.replay(this.tenantId, frame.runIds));
        return;
      case 'pushEvents':
        this.#reply(frame.req, async () => ({
          events: (await this.engine.pushEvents(this.tenantId, frame.events)).map((event) => ({
            eventId: event.eventId,
            key: event.key,
            payload: event.payload,
            additionalMetadata: event.additionalMetadata,
            ...(event.scope === undefined ? {} : { scope: event.scope }),
            eventTimestampMs: event.atMs,
            runIds: event.runs.map((run) => run.runId),
          })),
        }));
        return;
      case 'subscribeStream':
        this.#reply(frame.req, () => this.engine.subscribeStream(this, frame.runId));
        return;
      case 'unsubscribeStream':
        this.engine.unsubscribeStream(this, frame.runId);
        if (frame.req !== undefined) this.send({ t: 'reply', req: frame.req, ok: true, body: null });
        return;
      case 'subscribe':
        if (frame.req === undefined) this.engine.subscribe(this, frame.runIds).catch(() => {});
        else this.#reply(frame.req, async () => ({ missing: await this.engine.subscribe(this, frame.runIds) }));
        return;
      default:
        break;
    }
    if (this.#workerId === undefined) {
      this.close(ProtocolErrorCode.NotAWorker, `'${frame.t}' is a worker frame; send 'register' first`);
      return;
    }
    switch (frame.t) {
      case 'heartbeat':
        this.engine.heartbeat(this.#workerId);
        return;
      case 'started':
        for (const task of frame.tasks) this.engine.taskStarted(this.#workerId, task.taskId, task.attempt);
        return;
      case 'results':
        for (const item of frame.items) this.engine.taskResult(this.#workerId, item);
        return;
      case 'refresh':
        this.engine.refreshTimeout(this.#workerId, frame.taskId, frame.attempt, frame.incrementMs);
        return;
      case 'release':
        this.engine.releaseSlot(this.#workerId, frame.taskId, frame.attempt);
        return;
      case 'upsertLabels': {
        const workerId = this.#workerId;
        this.#reply(frame.req, async () => ({ labels: await this.engine.upsertWorkerLabels(this.tenantId, workerId, frame.labels) }));
        return;
      }
      case 'log':
        this.engine.taskLog(this.#workerId, frame.taskId, frame.attempt, frame.level, frame.message);
        return;
      case 'putStream': {
        // Passed on at once, in the order chunks arrive (before any later result of the attempt).
        let refused: KindlingError | undefined;
        try {
          this.engine.putStream(this.#workerId, { taskId: frame.taskId, attempt: frame.attempt, index: frame.index, data: frame.data });
        } catch (error) {
          if (!(error instanceof KindlingError)) throw error;
          refused = error;
        }
        if (frame.req === undefined) return;
        this.send(refused === undefined ? { t: 'reply', req: frame.req, ok: true, body: null } : { t: 'reply', req: frame.req, ok: false, error: { code: refused.code, message: refused.message } });
        return;
      }
      case 'checkpoint': {
        const workerId = this.#workerId;
        this.#reply(frame.req, () => this.engine.durableCheckpoint(workerId, frame));
        return;
      }
      default:
        throw new ProtocolError(ProtocolErrorCode.InvalidFrame, `unhandled frame ${(frame as { t: string }).t}`);
    }
  }
}

/** Mounts the worker/client WebSocket (`/ws`) and `GET /health` on an app. */
export function mountGateway(app: uWS.TemplatedApp, engine: Engine): void {
  app.ws<SocketData>('/ws', {
    compression: uWS.DISABLED,
    maxPayloadLength: engineLimits.frameBytesMax,
    maxBackpressure: engineLimits.connectionBufferBytesMax,
    idleTimeout: 120,
    sendPingsAutomatically: true,
    open: (ws) => {
      ws.getUserData().connection = new Connection(ws, engine);
    },
    message: (ws, message) => {
      // The ArrayBuffer is only valid during this callback; decoding copies what it keeps.
      ws.getUserData().connection?.onMessage(new Uint8Array(message));
    },
    close: (ws) => {
      ws.getUserData().connection?.onClosed();
    },
  });
  app.get('/health', (res) => {
    res.writeHeader('content-type', 'application/json').end(JSON.stringify({ status: 'ok', ...engine.stats }));
  });
}

/** Listens on `port` (0 for any free one). */
export function listen(app: uWS.TemplatedApp, options: { port: number; host?: string }): Promise<Gateway> {
  return new Promise((resolve, reject) => {
    app.listen(options.host ?? '0.0.0.0', options.port, (socket) => {
      if (socket === false) {
        reject(new Error(`cannot listen on port ${options.port}: is it in use?`));
        return;
      }
      resolve({
        port: uWS.us_socket_local_port(socket),
        close: () => uWS.us_listen_socket_close(socket),
      });
    });
  });
}
