/**
 * The event log benchmark: durable appends per second and commit latency for ~300-byte events on
 * the LMDB and JetStream logs, each side by side, in the same run, with its raw floor — plain
 * lmdb-js puts with the same durability, and plain pipelined JetStream publishes — and the ratio.
 *
 * Measured: wall time from the first call to the last acknowledgement, per-call latency from call
 * to acknowledgement, this process's CPU seconds and peak RSS, and nats-server's CPU seconds.
 * Not measured: reads, tails, or the engine above the log.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { open } from 'lmdb';
import { Packr } from 'msgpackr';
import { encodeValue } from '../store/codec.js';
import { JetStreamLog } from '../store/jetstream.js';
import { LmdbLog } from '../store/lmdb.js';
import type { EventLog } from '../store/log.js';
import { type NatsServer, startNatsServer } from '../test/support/nats-server.js';
import { processCpuSeconds } from './processes.js';
import { ResourceMeter, type Row } from './report.js';
import { percentiles } from './stats.js';

export interface LogBenchOptions {
  readonly smoke: boolean;
  /** Use this NATS server instead of starting one. */
  readonly natsUrl?: string;
  readonly only?: 'lmdb' | 'jetstream';
}

/** A task-shaped event whose msgpack encoding is about 300 bytes. */
export function sampleEvent(n: number) {
  return {
    runId: `run-${randomUUID()}`,
    taskId: `task-${randomUUID()}`,
    workflow: 'bench-checkout',
    task: 'charge-card',
    attempt: 1,
    input: {
      orderId: n,
      customer: `customer-${n % 10_000}`,
      items: [
        { sku: 'sku-0001', qty: 1, priceCents: 1299 },
        { sku: 'sku-0420', qty: 3, priceCents: 450 },
      ],
      note: 'deliver to the side door after six, ring twice',
    },
  };
}

const sizes = (smoke: boolean) => ({
  lmdbGroup: smoke ? 2_000 : 200_000,
  lmdbSingle: smoke ? 200 : 5_000,
  jsPipelined: smoke ? 1_000 : 50_000,
  jsSingle: smoke ? 100 : 3_000,
});

/** Runs `total` operations from `workers` concurrent loops; returns wall seconds and latencies. */
async function closedLoop(workers: number, total: number, op: (worker: number, n: number) => Promise<unknown>) {
  const latencies = new Float64Array(total);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      for (let n = next++; n < total; n = next++) {
        const t0 = performance.now();
        await op(worker, n);
        latencies[n] = performance.now() - t0;
      }
    }),
  );
  return { seconds: (performance.now() - started) / 1000, latencies };
}

async function measure(
  scenario: string,
  subject: string,
  params: Record<string, string | number>,
  workers: number,
  total: number,
  op: (worker: number, n: number) => Promise<unknown>,
  serverPid?: number,
): Promise<Row> {
  const serverCpu = serverPid === undefined ? undefined : processCpuSeconds(serverPid);
  const meter = new ResourceMeter();
  const { seconds, latencies } = await closedLoop(workers, total, op);
  const { cpuSeconds, rssMb } = meter.stop();
  return {
    scenario,
    subject,
    params: { ...params, inFlight: workers },
    events: total,
    seconds,
    perSecond: total / seconds,
    latencyMs: percentiles(latencies),
    cpuSeconds,
    rssMb,
    ...(serverPid === undefined || serverCpu === undefined ? {} : { serverCpuSeconds: processCpuSeconds(serverPid) - serverCpu }),
  };
}

/** Events are made before timing starts, so both sides pay only for storing them. */
function events(count: number) {
  return Array.from({ length: count }, (_, n) => sampleEvent(n));
}

export async function lmdbRows(smoke: boolean): Promise<Row[]> {
  const size = sizes(smoke);
  const root = mkdtempSync(join(tmpdir(), 'kindling-bench-log-'));
  const rows: Row[] = [];
  try {
    const streams = 1000;
    const inFlight = 500;
    const data = events(size.lmdbGroup);

    const raw = open({ path: join(root, 'raw.mdb'), overlappingSync: false });
    const seqs = new Uint32Array(streams);
    rows.push(
      await measure('log: group commit', 'raw lmdb puts', { streams }, inFlight, size.lmdbGroup, (_, n) => {
        const stream = n % streams;
        return raw.put([`run:${stream}`, ++(seqs[stream] as number)], data[n]);
      }),
    );
    rows.push(
      await measure('log: single append', 'raw lmdb puts', {}, 1, size.lmdbSingle, (_, n) => raw.put(['single', n], data[n])),
    );
    await raw.close();

    const log = await LmdbLog.open({ path: join(root, 'log') });
    rows.push(
      await measure('log: group commit', 'lmdb log', { streams }, inFlight, size.lmdbGroup, (_, n) =>
        log.append(`run:${n % streams}`, [{ type: 'TaskQueued', data: data[n] }], { expectedVersion: 'any' }),
      ),
    );
    rows.push(
      await measure('log: single append', 'lmdb log', {}, 1, size.lmdbSingle, (_, n) =>
        log.append('run:single', [{ type: 'TaskQueued', data: data[n] }], { expectedVersion: n }),
      ),
    );
    await log.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return rows;
}

export async function jetstreamRows(smoke: boolean, natsUrl?: string): Promise<Row[]> {
  const size = sizes(smoke);
  const server: NatsServer | undefined = natsUrl === undefined ? await startNatsServer() : undefined;
  const url = natsUrl ?? (server as NatsServer).url;
  const serverPid = server?.pid;
  const rows: Row[] = [];
  try {
    const inFlight = 1000;
    const data = events(size.jsPipelined);
    const packr = new Packr({ useRecords: false });

    const nc = await connect({ servers: url });
    const jsm = await jetstreamManager(nc);
    const rawStream = `BENCH_RAW_${Date.now()}`;
    await jsm.streams.add({ name: rawStream, subjects: [`${rawStream}.*`], storage: StorageType.File });
    const js = jetstream(nc);
    rows.push(
      await measure('log: pipelined', 'raw jetstream publish', {}, inFlight, size.jsPipelined, (worker, n) =>
        js.publish(`${rawStream}.${worker}`, packr.pack(data[n])),
        serverPid,
      ),
    );
    rows.push(
      await measure('log: single append', 'raw jetstream publish', {}, 1, size.jsSingle, (_, n) =>
        js.publish(`${rawStream}.single`, packr.pack(data[n])),
        serverPid,
      ),
    );
    await jsm.streams.delete(rawStream);
    await nc.close();

    const log: EventLog = await JetStreamLog.open({ servers: url, name: `bench${Date.now()}` });
    rows.push(
      await measure('log: pipelined', 'jetstream log', {}, inFlight, size.jsPipelined, (worker, n) =>
        log.append(`run:${worker}`, [{ type: 'TaskQueued', data: data[n] }], { expectedVersion: 'any' }),
        serverPid,
      ),
    );
    rows.push(
      await measure('log: single append', 'jetstream log', {}, 1, size.jsSingle, (_, n) =>
        log.append('run:single', [{ type: 'TaskQueued', data: data[n] }], { expectedVersion: n }),
        serverPid,
      ),
    );
    await log.close();
  } finally {
    await server?.dispose();
  }
  return rows;
}

export async function logBench(options: LogBenchOptions): Promise<Row[]> {
  const rows: Row[] = [];
  if (options.only !== 'jetstream') rows.push(...(await lmdbRows(options.smoke)));
  if (options.only !== 'lmdb') rows.push(...(await jetstreamRows(options.smoke, options.natsUrl)));
  return rows;
}

/** Kindling's row over the raw floor's, for each scenario that has both. */
export function ratios(rows: readonly Row[]): Array<{ scenario: string; ours: string; floor: string; throughput: number; p50: number }> {
  const pairs: Array<[string, string]> = [
    ['lmdb log', 'raw lmdb puts'],
    ['jetstream log', 'raw jetstream publish'],
  ];
  const out = [];
  for (const [ours, floor] of pairs) {
    for (const row of rows.filter((r) => r.subject === ours)) {
      const base = rows.find((r) => r.subject === floor && r.scenario === row.scenario);
      if (base === undefined) continue;
      out.push({
        scenario: row.scenario,
        ours,
        floor,
        throughput: row.perSecond / base.perSecond,
        p50: (row.latencyMs?.p50 ?? Number.NaN) / (base.latencyMs?.p50 ?? Number.NaN),
      });
    }
  }
  return out;
}

export const sampleEventBytes = () => encodeValue(sampleEvent(1)).length;
