/**
 * Every bound Kindling enforces, in one place (DESIGN invariant 8).
 *
 * A limit that is reached yields backpressure or a clear rejection with a stable code, never
 * unbounded memory. Relations between bounds are asserted when this module loads, so a change that
 * breaks one (say, an event larger than a JetStream message can carry) fails at startup, not in
 * production.
 */

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export const limits = {
  /** Longest stream name, in UTF-8 bytes. Stream names become LMDB keys and NATS subject tokens. */
  streamNameBytesMax: 200,
  /** Longest event type, in UTF-8 bytes. */
  eventTypeBytesMax: 100,
  /** Longest idempotency key of an append, in UTF-8 bytes. */
  idempotencyKeyBytesMax: 200,
  /** Largest msgpack-encoded `data` of one event. */
  eventDataBytesMax: 512 * KiB,
  /** Events in one append. An append is atomic: all of its events are stored, or none. */
  appendEventsMax: 1000,
  /** Encoded size of one whole append (all events and their envelopes). */
  appendBytesMax: 960 * KiB,
  /** Largest msgpack-encoded snapshot state. */
  snapshotBytesMax: 960 * KiB,
  /** Records returned by one read of a stream or of the whole log. */
  readRecordsMax: 10_000,
  /** Records one tail reads ahead of its consumer; a slow consumer pauses the tail, not the log. */
  tailBufferRecordsMax: 1000,
  /** Streams whose head version a log keeps in memory (entries with appends in flight are kept)… */
  streamHeadCacheMax: 100_000,
  /**
   * …on LMDB, where a head not kept is one local read, fewer: a backlog of queued runs must not
   * hold a head for every run's stream.
   */
  lmdbStreamHeadCacheMax: 10_000,
  /** JetStream publishes awaiting their acknowledgement at once; more wait for a free slot. */
  jetstreamPublishesInFlightMax: 2048,
  /** Headroom a NATS message needs beyond its payload for headers (message id, expectations). */
  natsHeaderBytesMax: 1 * KiB,
  /** JetStream's default `max_payload`; a server configured lower is refused at connect. */
  natsPayloadBytesDefault: 1 * MiB,
  /**
   * The address space an LMDB environment maps at open (the log's and the read models'). Not a
   * bound on the data: a file that outgrows it is mapped again, larger. But lmdb-js leaves every
   * earlier map in place when it grows one, for readers still on it, so a map that starts small
   * and doubles holds the file's pages once per map it went through: starting large keeps one.
   * Reserving address space costs nothing until pages are read.
   */
  lmdbMapBytesInitial: 16 * GiB,
} as const;

export type Limits = typeof limits;

function check(condition: boolean, relation: string): void {
  if (!condition) throw new Error(`limits.ts: broken relation between bounds: ${relation}`);
}

check(limits.eventDataBytesMax < limits.appendBytesMax, 'eventDataBytesMax < appendBytesMax');
check(
  limits.appendBytesMax + limits.natsHeaderBytesMax <= limits.natsPayloadBytesDefault,
  'an append fits in one JetStream message: appendBytesMax + natsHeaderBytesMax <= natsPayloadBytesDefault',
);
check(
  limits.snapshotBytesMax + limits.natsHeaderBytesMax <= limits.natsPayloadBytesDefault,
  'a snapshot fits in one JetStream KV value',
);
check(limits.appendEventsMax <= limits.readRecordsMax, 'appendEventsMax <= readRecordsMax');
check(limits.tailBufferRecordsMax <= limits.readRecordsMax, 'tailBufferRecordsMax <= readRecordsMax');

/** Bounds of the worker protocol and the engine (DESIGN invariant 8). */
export const engineLimits = {
  /** Largest WebSocket frame either side may send. */
  frameBytesMax: 4 * MiB,
  /** Largest encoded task input or output. */
  payloadBytesMax: 256 * KiB,
  /** Runs one trigger frame may create. */
  triggerRunsMax: 1000,
  /** Items in one batched frame (assignments, results, started). */
  frameItemsMax: 1000,
  /** Commands waiting in one actor's mailbox; more are refused with ENGINE_BUSY. */
  mailboxCommandsMax: 10_000,
  /** Bytes a slow connection may have buffered before the engine stops sending to it. */
  connectionBufferBytesMax: 16 * MiB,
  /** Tasks in one workflow. */
  workflowTasksMax: 500,
  /** The JSON Schema of a workflow's input (`inputJsonSchema`), as JSON text. */
  inputJsonSchemaBytesMax: 64 * KiB,
  /** Retries of one task. */
  retriesMax: 1000,
  /** Worker slots. */
  workerSlotsMax: 100_000,
  /**
   * Memory idle active runs with a task on a worker may hold, their inputs included; the least
   * recently used beyond it leave memory and are read from the log when next needed…
   */
  idleRunsBytesMax: 64 * MiB,
  /**
   * …and the memory idle runs with no task on a worker (queued, retrying, waiting) may hold: the
   * first to wait stay up to it, and the rest of a backlog leaves memory as soon as it goes idle,
   * to be read from the log when its turn comes. 32 MiB keeps a backlog of ~25,000 runs of small
   * inputs (a reload costs a log read and a decode, ~40 µs of CPU each, and dominated the drain of
   * a 20,000-run bulk trigger at 8 MiB).
   */
  idleWaitingRunsBytesMax: 32 * MiB,
  /** Finished runs the engine remembers for subscriptions that arrive after the run ended… */
  recentlyFinishedRunsMax: 100_000,
  /** …and the bytes of their outputs it may hold for that; older ones are read from the log. */
  recentlyFinishedBytesMax: 64 * MiB,
  /** Largest HTTP request body the REST API reads; larger ones are refused with 413. */
  httpBodyBytesMax: 4 * MiB,
  /** Longest log line a task may send (`ctx.log`), in characters; the SDK truncates longer ones. */
  logMessageCharsMax: 10_000,
  /** Log lines one `listLogs` request returns. */
  logLinesPerRequestMax: 1000,
  /** Log lines one task keeps (Hatchet's limit); later lines are dropped. */
  logLinesPerTaskMax: 1000,
  /** A run's state is snapshotted each time its stream grows by this many events. */
  runSnapshotEveryEvents: 100,
  /**
   * Longest an event that acknowledges nothing (a task assigned, a task started) waits to be
   * written with its run's next append before it is written alone.
   */
  deferredEventsWriteMs: 25,
  /** A recovery checkpoint is taken each time this many appends have been made since the last. */
  checkpointEveryAppends: 50_000,
  /** Longest CEL expression (concurrency and rate-limit keys), in characters. */
  celExpressionCharsMax: 1000,
  /** Concurrency limits on one workflow or one task. */
  concurrencyLimitsMax: 10,
  /** Rate limits one task consumes. */
  rateLimitsPerTaskMax: 10,
  /** Longest rate limit key (static, or rendered from CEL), in characters. */
  rateLimitKeyCharsMax: 200,
  /** Longest concurrency key rendered from CEL, in characters. */
  concurrencyKeyCharsMax: 200,
  /** Labels on one worker, or desired of one task. */
  labelsMax: 50,
  labelKeyCharsMax: 100,
  labelValueCharsMax: 200,
  /** Events one push (`pushEvents`, `events.bulkPush`) may carry, as in Hatchet. */
  eventsPerPushMax: 1000,
  /** Longest event key, in characters. */
  eventKeyCharsMax: 400,
  /** Event triggers (keys) and cron triggers one workflow may declare. */
  workflowTriggersMax: 100,
  /** Event filters one tenant may hold. */
  filtersPerTenantMax: 10_000,
  /** One-off schedules one tenant may have waiting. */
  schedulesPerTenantMax: 100_000,
  /** Cron triggers one tenant may hold. */
  cronsPerTenantMax: 10_000,
  /** Conditions (waitFor, skipIf, cancelIf together) one task may declare, or one durable wait hold. */
  conditionsPerTaskMax: 100,
  /** Checkpoints one durable task may record. */
  durableCheckpointsMax: 10_000,
  /** Children one durable checkpoint may spawn. */
  durableChildrenPerCheckpointMax: 1000,
  /** Durable slots a worker may offer. */
  workerDurableSlotsMax: 100_000,
  /** The longest a waiting durable task may stay on its worker before it is evicted (`evictionPolicy.ttl`): 7 days. */
  durableResidentTtlMsMax: 7 * 24 * 3_600_000,
  /** Events `events.list` reads back at most (the newest first). */
  eventsListedMax: 1000,
  /**
   * Run events the read models hold before storing them; past this they are dropped and read back
   * from the log instead (read-models.ts, invariant 3).
   */
  readModelPendingEventsMax: 100_000,
  /** How long finished runs are kept by default (Hatchet's 720 h). */
  retentionMsDefault: 30 * 24 * 3600 * 1000,
  /** Runs one page of a list returns. */
  listPageMax: 1000,
  /** Runs a bulk cancel or replay by filter acts on in one request. */
  bulkRunsMax: 10_000,
  /** Largest chunk a task may stream (`ctx.putStream`), in bytes. */
  streamChunkBytesMax: 64 * KiB,
  /** Runs whose streams one connection may subscribe to at once. */
  streamSubscriptionsPerConnectionMax: 1000,
  /**
   * Bytes a connection may have unsent before the engine drops its stream subscriptions
   * (`STREAM_SUBSCRIBER_TOO_SLOW`) rather than buffer more chunks for it.
   */
  streamSubscriberBufferBytesMax: 1 * MiB,
  /** The newest chunks kept of each run's stream for subscriptions that come late: at most this many… */
  streamKeptChunksPerRunMax: 1000,
  /** …and this many bytes of them… */
  streamKeptBytesPerRunMax: 1 * MiB,
  /** …for at most this many runs, holding this many bytes in all (the runs streamed to least lately go first). */
  streamKeptRunsMax: 10_000,
  streamKeptBytesMax: 64 * MiB,
} as const;

check(engineLimits.logLinesPerTaskMax <= engineLimits.logLinesPerRequestMax, 'one request returns all of a task\'s log lines');
check(engineLimits.payloadBytesMax * 4 <= engineLimits.frameBytesMax, 'a frame holds a task input, its parents outputs and the envelope');
check(engineLimits.payloadBytesMax + 128 * KiB <= limits.eventDataBytesMax, 'a run event holds a task input or output with room for its envelope');
check(engineLimits.eventsPerPushMax <= limits.appendEventsMax, 'one push of events is one append');
check(
  engineLimits.inputJsonSchemaBytesMax * 2 <= limits.eventDataBytesMax,
  'a workflow registration event holds its input JSON Schema with room for its tasks',
);
check(engineLimits.streamSubscriberBufferBytesMax + engineLimits.streamChunkBytesMax * 2 <= engineLimits.connectionBufferBytesMax, 'a slow subscriber loses its streams before its connection is closed for backpressure');
check(engineLimits.streamChunkBytesMax <= engineLimits.streamKeptBytesPerRunMax && engineLimits.streamKeptBytesPerRunMax <= engineLimits.streamKeptBytesMax, 'a kept stream holds at least one chunk');
check(engineLimits.streamChunkBytesMax + 1 * KiB <= engineLimits.frameBytesMax, 'a frame holds a stream chunk and its envelope');
