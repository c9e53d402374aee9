/**
 * The JetStream log: Kindling's clustered backend, on a NATS JetStream stream.
 *
 * Owns: one JetStream stream (`KL_<name>`) and one KV bucket (`kl-<name>-snapshots`). Talks to:
 * a NATS server (2.9 or newer) through the v3 client.
 *
 * Layout: each Kindling stream is one subject, `kl.<name>.s.<stream>`. One append is one
 * JetStream message holding all of its events (codec.ts `encodeBatch`), which is what makes a
 * multi-event append atomic on servers older than 2.12's atomic batches. A record's global
 * position is `messageSeq * POSITION_STRIDE + indexInMessage` (codec.ts): strictly increasing, with gaps.
 *
 * Invariants (beyond those of log.ts):
 *  1. Optimistic concurrency is the server's: every publish carries
 *     `Nats-Expected-Last-Subject-Sequence`, the JetStream sequence of the stream's last message as
 *     this client knows it (0 for none). Any writer anywhere that got there first makes the
 *     publish fail with 10071, and the head is reloaded from the server — never guessed.
 *  2. Appends to one stream are serialized in this process (each needs the sequence the previous
 *     one got); appends to different streams are pipelined, up to
 *     `limits.jetstreamPublishesInFlightMax` awaiting their acknowledgement at once.
 *  3. Every publish carries a message id: a hash of the stream and the idempotency key when the
 *     caller gave a key (header-safe, and no two keys collide), so the server's duplicate window (default 2 minutes) answers a retry with the original
 *     sequence; otherwise a fresh random id, so a publish the client resent after a reconnect is not
 *     stored twice.
 *  4. An append the server did not acknowledge (timeout, connection lost) fails with the retryable
 *     LOG_UNAVAILABLE and forgets the cached head: it may or may not have been stored, and the
 *     next append finds out from the server.
 *
 * Durability: the server acknowledges once the message is in its file store on a quorum of
 * replicas. nats-server 2.9 cannot be told to fsync before acknowledging (`sync_interval: always`
 * arrived later), so with one replica an acknowledged append survives a server process crash but
 * not an OS crash or power cut of that machine; run three replicas for that.
 */
import { createHash, randomUUID } from 'node:crypto';
import { DeliverPolicy, type JetStreamClient, JetStreamApiError, type JetStreamManager, StorageType, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { type NatsConnection, connect, headers, nanos } from '@nats-io/transport-node';
import { assert } from '../src/lib/errors.js';
import { limits } from '../src/lib/limits.js';
import {
  batchOfPosition,
  checkSnapshot,
  checkStreamName,
  checkVersion,
  decodeBatch,
  decodeSnapshot,
  encodeBatch,
  encodeSnapshot,
  encodeTombstone,
  logWindow,
  POSITION_STRIDE,
  type PreparedAppend,
  prepareAppend,
  recordsOf,
  resultOfBatch,
  streamWindow,
} from './codec.js';
import { LogError, LogErrorCode, logErrors } from './errors.js';
import type { AppendOptions, AppendResult, Clock, EventLog, LogRecord, NewEvent, ReadAllOptions, ReadStreamOptions, Snapshot, Tail } from './log.js';

const API_WRONG_LAST_SEQUENCE = 10071;
const API_NO_MESSAGE_FOUND = 10037;
const API_STREAM_NOT_FOUND = 10059;
const API_INSUFFICIENT_RESOURCES = 10023;
const API_MAX_BYTES_EXCEEDED = 10047;
const API_MESSAGE_TOO_LARGE = 10054;
const HEADER_EXPECTED_LAST_SUBJECT_SEQUENCE = 'Nats-Expected-Last-Subject-Sequence';
const HEADER_MSG_ID = 'Nats-Msg-Id';
/** How often an append with `expectedVersion: 'any'` re-reads the head after losing a race. */
const ANY_VERSION_ATTEMPTS_MAX = 5;

export interface JetStreamLogOptions {
  /** NATS server URL(s), e.g. `127.0.0.1:4222`. Ignored when `connection` is given. */
  readonly servers?: string | string[];
  /** An existing connection to share; the log then leaves it open on `close()`. */
  readonly connection?: NatsConnection;
  /** Names the stream, subjects and bucket, so several logs can share a server. Default `kindling`. */
  readonly name?: string;
  /** JetStream replicas of the stream and bucket. Default 1; use 3 in production clusters. */
  readonly replicas?: number;
  /** How long the server remembers message ids for de-duplication. Default 2 minutes. */
  readonly duplicateWindowMs?: number;
  /** How long an append or a read waits for the server before failing with LOG_UNAVAILABLE. Default 5 s. */
  readonly requestTimeoutMs?: number;
  readonly clock?: Clock;
}

interface Head {
  version: number;
  /** JetStream sequence of the stream's last message; 0 when it has none. */
  lastMessageSeq: number;
  deleted: boolean;
}

const LOG_NAME = /^[A-Za-z0-9_-]{1,32}$/;

export class JetStreamLog implements EventLog {
  readonly backend = 'jetstream';
  readonly #nc: NatsConnection;
  readonly #ownsConnection: boolean;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #kv: KV;
  readonly #streamName: string;
  readonly #subjectPrefix: string;
  readonly #clock: Clock;
  readonly #requestTimeoutMs: number;
  readonly #heads = new Map<string, Head>();
  /** The tail of each stream's chain of appends (invariant 2). */
  readonly #chains = new Map<string, Promise<unknown>>();
  readonly #tails = new Set<{ close(): Promise<void> }>();
  #publishing = 0;
  readonly #publishSlotWaiters: Array<() => void> = [];
  #closed = false;

  private constructor(nc: NatsConnection, ownsConnection: boolean, kv: KV, jsm: JetStreamManager, streamName: string, subjectPrefix: string, options: JetStreamLogOptions) {
    this.#nc = nc;
    this.#ownsConnection = ownsConnection;
    this.#js = jetstream(nc, { timeout: options.requestTimeoutMs ?? 5000 });
    this.#jsm = jsm;
    this.#kv = kv;
    this.#streamName = streamName;
    this.#subjectPrefix = subjectPrefix;
    this.#clock = options.clock ?? Date.now;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 5000;
  }

  static async open(options: JetStreamLogOptions): Promise<JetStreamLog> {
    const name = options.name ?? 'kindling';
    if (!LOG_NAME.test(name)) throw logErrors.misconfigured(`log name ${JSON.stringify(name)} must be 1-32 letters, digits, _ or -`);
    const replicas = options.replicas ?? 1;
    let nc = options.connection;
    if (nc === undefined) {
      try {
        nc = await connect({ servers: options.servers ?? '127.0.0.1:4222', maxReconnectAttempts: -1, reconnectTimeWait: 250, name: `kindling-log-${name}` });
      } catch (error) {
        throw logErrors.unavailable(`cannot connect to NATS at ${String(options.servers)} (${(error as Error).message})`, error);
      }
    }
    const ownsConnection = options.connection === undefined;
    try {
      const maxPayload = nc.info?.max_payload ?? limits.natsPayloadBytesDefault;
      if (maxPayload < limits.appendBytesMax + limits.natsHeaderBytesMax) {
        throw logErrors.misconfigured(
          `the NATS server's max_payload is ${maxPayload} bytes; an append needs ${limits.appendBytesMax + limits.natsHeaderBytesMax} — raise max_payload to at least 1MB`,
        );
      }
      const jsm = await jetstreamManager(nc, { timeout: options.requestTimeoutMs ?? 5000 });
      const streamName = `KL_${name}`;
      const subjectPrefix = `kl.${name}.s`;
      await ensureStream(jsm, streamName, `${subjectPrefix}.*`, replicas, options.duplicateWindowMs ?? 120_000);
      const kv = await new Kvm(nc).create(`kl-${name}-snapshots`, { history: 1, replicas, storage: StorageType.File });
      return new JetStreamLog(nc, ownsConnection, kv, jsm, streamName, subjectPrefix, options);
    } catch (error) {
      if (ownsConnection) await nc.close().catch(() => {});
      throw error instanceof LogError ? error : mapNatsError(error, 'opening the log');
    }
  }

  #subject(stream: string): string {
    return `${this.#subjectPrefix}.${stream}`;
  }

  append(stream: string, events: readonly NewEvent[], options: AppendOptions): Promise<AppendResult> {
    try {
      this.#assertOpen();
      const prepared = prepareAppend(stream, events, options);
      const msgId = prepared.idempotencyKey === undefined ? randomUUID() : messageIdOf(stream, prepared.idempotencyKey);
      return this.#serialized(stream, () => this.#appendNow(prepared, msgId));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async #appendNow(append: PreparedAppend, msgId: string): Promise<AppendResult> {
    const { stream } = append;
    for (let attempt = 1; ; attempt++) {
      this.#assertOpen();
      const wasCached = this.#heads.has(stream);
      let head = await this.#head(stream);
      if (head.deleted) throw logErrors.streamDeleted(stream);
      try {
        checkVersion(stream, append.expectedVersion, head.version);
      } catch {
        if (wasCached) {
          // Another writer may have moved the stream since we cached its head: ask the server.
          this.#heads.delete(stream);
          head = await this.#head(stream);
          if (head.deleted) throw logErrors.streamDeleted(stream);
        }
        const original = await this.#findRetriedAppend(append, head);
        if (original !== undefined) return original;
        checkVersion(stream, append.expectedVersion, head.version);
      }
      const h = headers();
      h.set(HEADER_MSG_ID, msgId);
      h.set(HEADER_EXPECTED_LAST_SUBJECT_SEQUENCE, String(head.lastMessageSeq));
      const firstSeq = head.version + 1;
      const payload = encodeBatch(append, firstSeq, this.#clock());
      let ack: { seq: number; duplicate: boolean };
      await this.#publishSlot();
      try {
        ack = await this.#js.publish(this.#subject(stream), payload, { headers: h, timeout: this.#requestTimeoutMs });
      } catch (error) {
        this.#heads.delete(stream);
        if (error instanceof JetStreamApiError && error.code === API_WRONG_LAST_SEQUENCE) {
          // Invariant 1: another writer got there first, or our cached head was stale.
          if (append.expectedVersion === 'any' && attempt < ANY_VERSION_ATTEMPTS_MAX) continue;
          if (attempt === 1) continue; // decide once more against the server's head
          throw logErrors.conflict(stream, append.expectedVersion, (await this.#head(stream)).version);
        }
        throw mapNatsError(error, `appending to '${stream}'`);
      } finally {
        this.#releasePublishSlot();
      }
      if (ack.duplicate) {
        // With a key: a retry of an append that landed. Without: the client resent our own publish.
        this.#heads.delete(stream);
        return this.#resultOfMessage(stream, ack.seq, append.idempotencyKey !== undefined);
      }
      const lastSeq = firstSeq + append.eventCount - 1;
      head.version = lastSeq;
      head.lastMessageSeq = ack.seq;
      return { stream, firstSeq, lastSeq, lastPosition: ack.seq * POSITION_STRIDE + append.eventCount - 1, duplicate: false };
    }
  }

  /**
   * Beyond the duplicate window, a retried append with an idempotency key and an exact expected
   * version is still recognised: the message right after that version carries the same key.
   */
  async #findRetriedAppend(append: PreparedAppend, head: Head): Promise<AppendResult | undefined> {
    if (append.idempotencyKey === undefined || append.expectedVersion === 'any') return undefined;
    const wantedFirst = (append.expectedVersion === 'no-stream' ? 0 : append.expectedVersion) + 1;
    if (wantedFirst > head.version) return undefined;
    for await (const message of this.#messages(this.#subject(append.stream), 1)) {
      const batch = decodeBatch(message.data, `message ${message.seq}`);
      if (batch.kind === 'events' && batch.firstSeq === wantedFirst) {
        if (batch.idempotencyKey !== append.idempotencyKey) return undefined;
        return resultOfBatch(batch, message.seq, true);
      }
      if (batch.kind === 'events' && batch.firstSeq > wantedFirst) return undefined;
    }
    return undefined;
  }

  async #resultOfMessage(stream: string, seq: number, duplicate: boolean): Promise<AppendResult> {
    const message = await this.#jsm.streams.getMessage(this.#streamName, { seq }).catch((error: unknown) => {
      throw mapNatsError(error, `reading message ${seq}`);
    });
    if (message === null) throw logErrors.unavailable(`the original of a duplicate append to '${stream}' is gone`);
    const batch = decodeBatch(message.data, `message ${seq}`);
    assert(batch.kind === 'events' && batch.stream === stream, 'a duplicate message id names an append to the same stream');
    return resultOfBatch(batch, seq, duplicate);
  }

  /**
   * The head of a stream, cached until an append fails or a race is lost. Only appends and
   * deletions, inside the stream's chain (invariant 2), may use and change the cache.
   */
  async #head(stream: string): Promise<Head> {
    const cached = this.#heads.get(stream);
    if (cached !== undefined) return cached;
    const head = await this.#loadHead(stream);
    if (this.#heads.size >= limits.streamHeadCacheMax) {
      const oldest = this.#heads.keys().next().value;
      if (oldest !== undefined) this.#heads.delete(oldest);
    }
    this.#heads.set(stream, head);
    return head;
  }

  /** The head of a stream as the server knows it now; not cached. */
  async #loadHead(stream: string): Promise<Head> {
    let head: Head = { version: 0, lastMessageSeq: 0, deleted: false };
    const last = await this.#jsm.streams.getMessage(this.#streamName, { last_by_subj: this.#subject(stream) }).catch((error: unknown) => {
      if (error instanceof JetStreamApiError && error.code === API_NO_MESSAGE_FOUND) return null;
      throw mapNatsError(error, `reading the head of '${stream}'`);
    });
    if (last !== null) {
      const batch = decodeBatch(last.data, `message ${last.seq}`);
      head =
        batch.kind === 'tombstone'
          ? { version: 0, lastMessageSeq: last.seq, deleted: true }
          : { version: batch.firstSeq + batch.events.length - 1, lastMessageSeq: last.seq, deleted: false };
    }
    return head;
  }

  /** Runs `work` after every earlier call for the same stream has settled (invariant 2). */
  #serialized<T>(stream: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#chains.get(stream) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => {});
    this.#chains.set(stream, settled);
    void settled.then(() => {
      if (this.#chains.get(stream) === settled) this.#chains.delete(stream);
    });
    return next;
  }

  async #publishSlot(): Promise<void> {
    while (this.#publishing >= limits.jetstreamPublishesInFlightMax) {
      await new Promise<void>((resolve) => this.#publishSlotWaiters.push(resolve));
    }
    this.#publishing += 1;
  }

  #releasePublishSlot(): void {
    this.#publishing -= 1;
    this.#publishSlotWaiters.shift()?.();
  }

  /**
   * Messages on `subject` from JetStream sequence `fromSeq` on, in order, through an ordered
   * consumer, up to the end of what is stored now. Stop iterating to stop reading.
   */
  async *#messages(subject: string, fromSeq: number): AsyncGenerator<{ seq: number; data: Uint8Array }> {
    const first = await this.#jsm.direct.getMessage(this.#streamName, { seq: fromSeq, next_by_subj: subject }).catch((error: unknown) => {
      if (error instanceof JetStreamApiError && error.code === API_NO_MESSAGE_FOUND) return null;
      throw mapNatsError(error, 'reading the log');
    });
    if (first === null) return;
    let messages: Awaited<ReturnType<Awaited<ReturnType<JetStreamClient['consumers']['get']>>['consume']>>;
    try {
      const consumer = await this.#js.consumers.get(this.#streamName, {
        filter_subjects: subject,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: first.seq,
      });
      messages = await consumer.consume({ max_messages: limits.tailBufferRecordsMax });
    } catch (error) {
      throw mapNatsError(error, 'reading the log');
    }
    try {
      for await (const message of messages) {
        yield { seq: message.seq, data: message.data };
        if (message.info.pending === 0) return;
      }
    } finally {
      messages.stop();
    }
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<LogRecord[]> {
    this.#assertOpen();
    const { from, limit } = streamWindow(stream, options);
    const out: LogRecord[] = [];
    for await (const message of this.#messages(this.#subject(stream), 1)) {
      const batch = decodeBatch(message.data, `message ${message.seq}`);
      if (batch.kind === 'tombstone') return [];
      for (const record of recordsOf(batch, message.seq)) {
        if (record.seq >= from) out.push(record);
        if (out.length >= limit) return out;
      }
    }
    return out;
  }

  async streamVersion(stream: string): Promise<number> {
    this.#assertOpen();
    checkStreamName(stream);
    const head = await this.#loadHead(stream);
    return head.deleted ? 0 : head.version;
  }

  async readAll(options: ReadAllOptions = {}): Promise<LogRecord[]> {
    this.#assertOpen();
    const { after, limit } = logWindow(options);
    const out: LogRecord[] = [];
    const fromSeq = Math.max(1, batchOfPosition(after + 1));
    for await (const message of this.#messages(`${this.#subjectPrefix}.*`, fromSeq)) {
      const batch = decodeBatch(message.data, `message ${message.seq}`);
      for (const record of recordsOf(batch, message.seq)) {
        if (record.position <= after) continue;
        out.push(record);
        if (out.length >= limit) return out;
      }
    }
    return out;
  }

  async headPosition(): Promise<number> {
    this.#assertOpen();
    const info = await this.#jsm.streams.info(this.#streamName).catch((error: unknown) => {
      throw mapNatsError(error, 'reading the log head');
    });
    const lastSeq = info.state.last_seq;
    if (lastSeq === 0 || info.state.messages === 0) return 0;
    const last = await this.#jsm.streams.getMessage(this.#streamName, { seq: lastSeq }).catch((error: unknown) => {
      throw mapNatsError(error, 'reading the log head');
    });
    if (last === null) return lastSeq * POSITION_STRIDE;
    const batch = decodeBatch(last.data, `message ${lastSeq}`);
    return lastSeq * POSITION_STRIDE + (batch.kind === 'events' ? batch.events.length - 1 : 0);
  }

  tail(options: { readonly after?: number } = {}): Tail {
    this.#assertOpen();
    const { after } = logWindow({ ...(options.after === undefined ? {} : { after: options.after }) });
    let stop: (() => void) | undefined;
    let closed = false;
    const log = this;
    const handle = {
      async close() {
        closed = true;
        stop?.();
        log.#tails.delete(handle);
      },
    };
    this.#tails.add(handle);
    const iterate = async function* (): AsyncGenerator<LogRecord> {
      try {
        const consumer = await log.#js.consumers.get(log.#streamName, {
          filter_subjects: `${log.#subjectPrefix}.*`,
          deliver_policy: DeliverPolicy.StartSequence,
          opt_start_seq: Math.max(1, batchOfPosition(after + 1)),
        });
        if (closed) return;
        const messages = await consumer.consume({ max_messages: limits.tailBufferRecordsMax });
        stop = () => messages.stop();
        if (closed) messages.stop();
        for await (const message of messages) {
          for (const record of recordsOf(decodeBatch(message.data, `message ${message.seq}`), message.seq)) {
            if (record.position > after) yield record;
          }
        }
      } catch (error) {
        if (closed) return;
        throw error instanceof LogError ? error : mapNatsError(error, 'tailing the log');
      } finally {
        log.#tails.delete(handle);
      }
    };
    return { [Symbol.asyncIterator]: iterate, close: handle.close };
  }

  async saveSnapshot(snapshot: Omit<Snapshot, 'timestampMs'>): Promise<void> {
    this.#assertOpen();
    checkStreamName(snapshot?.stream);
    const head = await this.#loadHead(snapshot.stream);
    const stateBytes = checkSnapshot(snapshot, head.deleted ? 0 : head.version);
    await this.#kv.put(kvKey(snapshot.stream), encodeSnapshot(snapshot.stream, snapshot.seq, this.#clock(), stateBytes)).catch((error: unknown) => {
      throw mapNatsError(error, `saving the snapshot of '${snapshot.stream}'`);
    });
  }

  async loadSnapshot(stream: string): Promise<Snapshot | undefined> {
    this.#assertOpen();
    checkStreamName(stream);
    const entry = await this.#kv.get(kvKey(stream)).catch((error: unknown) => {
      throw mapNatsError(error, `loading the snapshot of '${stream}'`);
    });
    if (entry === null || entry.operation !== 'PUT') return undefined;
    return decodeSnapshot(entry.value, stream);
  }

  deleteStream(stream: string): Promise<void> {
    try {
      this.#assertOpen();
      checkStreamName(stream);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#serialized(stream, async () => {
      const subject = this.#subject(stream);
      this.#heads.delete(stream);
      const head = await this.#head(stream);
      if (!head.deleted) {
        const h = headers();
        h.set(HEADER_EXPECTED_LAST_SUBJECT_SEQUENCE, String(head.lastMessageSeq));
        await this.#js.publish(subject, encodeTombstone(stream, this.#clock()), { headers: h, timeout: this.#requestTimeoutMs }).catch((error: unknown) => {
          this.#heads.delete(stream);
          throw mapNatsError(error, `deleting '${stream}'`);
        });
        head.deleted = true;
        head.version = 0;
      }
      // The tombstone is the subject's last message; keeping only it removes every event.
      await this.#jsm.streams.purge(this.#streamName, { filter: subject, keep: 1 }).catch((error: unknown) => {
        throw mapNatsError(error, `deleting '${stream}'`);
      });
      await this.#kv.purge(kvKey(stream)).catch((error: unknown) => {
        throw mapNatsError(error, `deleting the snapshot of '${stream}'`);
      });
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#tails].map((tail) => tail.close()));
    await Promise.allSettled([...this.#chains.values()]);
    if (this.#ownsConnection) await this.#nc.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw logErrors.closed();
  }
}

async function ensureStream(jsm: JetStreamManager, name: string, subjects: string, replicas: number, duplicateWindowMs: number): Promise<void> {
  try {
    const info = await jsm.streams.info(name);
    if (!info.config.subjects?.includes(subjects)) {
      throw logErrors.misconfigured(`JetStream stream ${name} exists with subjects ${JSON.stringify(info.config.subjects)}, not ${subjects}`);
    }
    return;
  } catch (error) {
    if (!(error instanceof JetStreamApiError && error.code === API_STREAM_NOT_FOUND)) throw error;
  }
  await jsm.streams.add({
    name,
    subjects: [subjects],
    storage: StorageType.File,
    num_replicas: replicas,
    duplicate_window: nanos(duplicateWindowMs),
    allow_direct: true,
    max_msg_size: limits.appendBytesMax + limits.natsHeaderBytesMax,
  });
}

function messageIdOf(stream: string, key: string): string {
  return `k:${createHash('sha256').update(stream).update('\u0000').update(key).digest('base64url')}`;
}

/** KV keys allow `[-/_=.a-zA-Z0-9]`; base64url of the stream name stays inside that. */
function kvKey(stream: string): string {
  return Buffer.from(stream).toString('base64url');
}

/** Maps the NATS client's failures onto the log's codes (STYLE practice 5). */
export function mapNatsError(error: unknown, doing: string): LogError {
  if (error instanceof LogError) return error;
  if (error instanceof JetStreamApiError) {
    if (error.code === API_MESSAGE_TOO_LARGE) return new LogError(LogErrorCode.AppendTooLarge, `${doing}: the server refused the message as too large (${error.message})`, { cause: error });
    if (error.code === API_INSUFFICIENT_RESOURCES || error.code === API_MAX_BYTES_EXCEEDED) {
      return logErrors.storageFull(`${doing}: ${error.message}`, error);
    }
    return logErrors.unavailable(`${doing}: JetStream refused (${error.code}: ${error.message})`, error);
  }
  const text = (error as Error)?.message ?? String(error);
  return new LogError(LogErrorCode.Unavailable, `the log is unavailable: ${doing}: ${text}; retry later`, { cause: error });
}

