/**
 * What every benchmark reports, and how: rows that compare across runs (commit, date, Node
 * version, CPU, scenario, parameters, figures), tables for people, Kindling/peer ratios, and JSON
 * lines for machines. A figure that was not measured prints as "—" and is null in JSON.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Figures } from './driver.js';
import type { RecoveryFigures } from './recovery.js';
import type { Percentiles } from './stats.js';

export interface Row {
  readonly scenario: string;
  readonly subject: string;
  readonly params: Record<string, string | number>;
  readonly events: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly latencyMs?: Percentiles;
  readonly cpuSeconds: number;
  readonly rssMb: number;
  /** The server's (nats-server, the engine) CPU seconds over the run. */
  readonly serverCpuSeconds?: number;
  /** The server's peak resident memory, in MB. */
  readonly serverRssMb?: number;
}

export interface RunInfo {
  readonly commit: string;
  readonly date: string;
  readonly node: string;
  readonly cpus: string;
}

export function runInfo(): RunInfo {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {}
  const cpuModel = readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1] ?? 'unknown cpu';
  const cores = readFileSync('/proc/cpuinfo', 'utf8').match(/^processor/gm)?.length ?? 0;
  return { commit, date: new Date().toISOString(), node: process.version, cpus: `${cores} × ${cpuModel}` };
}

/** CPU seconds and peak RSS of this process over a measured section. */
export class ResourceMeter {
  readonly #cpu = process.cpuUsage();
  #peakRss = process.memoryUsage.rss();
  readonly #timer = setInterval(() => this.sample(), 50);

  sample(): void {
    this.#peakRss = Math.max(this.#peakRss, process.memoryUsage.rss());
  }

  stop(): { cpuSeconds: number; rssMb: number } {
    clearInterval(this.#timer);
    this.sample();
    const cpu = process.cpuUsage(this.#cpu);
    return { cpuSeconds: (cpu.user + cpu.system) / 1e6, rssMb: this.#peakRss / 2 ** 20 };
  }
}

const fixed = (n: number | undefined, digits: number) => (n === undefined || !Number.isFinite(n) ? '—' : n.toFixed(digits));

/** Lines of a table: the first `left` columns left-aligned, the rest right-aligned. */
export function formatTable(header: readonly string[], body: ReadonlyArray<readonly string[]>, left = 2): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i < left ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)];
}

/** The log benchmark's table (bench/log.ts rows). */
export function logTable(rows: readonly Row[]): string[] {
  const header = ['scenario', 'subject', 'events', 'events/s', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'cpu s', 'rss MB', 'server cpu s', 'server rss MB'];
  const body = rows.map((r) => [
    r.scenario,
    r.subject,
    String(r.events),
    fixed(r.perSecond, 0),
    fixed(r.latencyMs?.p50, 3),
    fixed(r.latencyMs?.p95, 3),
    fixed(r.latencyMs?.p99, 3),
    fixed(r.latencyMs?.max, 2),
    fixed(r.cpuSeconds, 2),
    fixed(r.rssMb, 0),
    fixed(r.serverCpuSeconds, 2),
    fixed(r.serverRssMb, 0),
  ]);
  return formatTable(header, body);
}

// ---------------------------------------------------------------------------------------------
// Load rows (kindling bench): one per workload and subject.

export interface LoadRow {
  readonly kind: 'load';
  /** For a backlog's two rows: the queue filled with no worker, then drained. */
  readonly phase?: 'queued' | 'drain';
  readonly scenario: string;
  readonly subject: string;
  readonly params: Record<string, string | number>;
  readonly figures: Figures;
  /** With --repeat: done/s (triggers/s for a queued phase) of every run, the figures being the median one's. */
  readonly runs?: readonly number[];
}

export interface RecoveryRow {
  readonly kind: 'recovery';
  readonly scenario: string;
  readonly subject: string;
  readonly params: Record<string, string | number>;
  readonly figures: RecoveryFigures;
}

export type BenchRow = LoadRow | RecoveryRow;

const ms = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? '—' : n >= 100 ? n.toFixed(0) : n.toFixed(1));
const rate = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');

export function loadTable(rows: readonly LoadRow[]): string[] {
  const header = ['scenario', 'subject', 'runs', 'trig/s', 'done/s', 'fail', 'unfin', 'start p50', 'p95', 'p99', 'max', 'result p50', 'p95', 'p99', 'max', 'server cpu s', 'server MB', 'workers cpu s', 'workers MB max/sum'];
  const body = rows.map(({ scenario, subject, figures: f }) => [
    scenario,
    subject,
    f.runs.toLocaleString('en-US'),
    rate(f.triggersPerSecond),
    rate(f.completionsPerSecond),
    String(f.failed + f.triggerErrors),
    String(f.unfinished),
    ms(f.startMs?.p50),
    ms(f.startMs?.p95),
    ms(f.startMs?.p99),
    ms(f.startMs?.max),
    ms(f.resultMs?.p50),
    ms(f.resultMs?.p95),
    ms(f.resultMs?.p99),
    ms(f.resultMs?.max),
    fixed(f.serverCpuSeconds, 2),
    fixed(f.serverPeakRssMb, 0),
    fixed(f.workerCpuSeconds, 2),
    f.workerPeakRssMbMax === undefined ? '—' : `${fixed(f.workerPeakRssMbMax, 0)}/${fixed(f.workerPeakRssMbSum, 0)}`,
  ]);
  return formatTable(header, body);
}

export function recoveryTable(rows: readonly RecoveryRow[]): string[] {
  const header = ['scenario', 'subject', 'start', 'events', 'finished runs', 'active runs', 'records read', 'listening s', 'first result s', 'server cpu s', 'server MB'];
  const body = rows.map(({ scenario, subject, figures: f }) => [
    scenario,
    subject,
    f.start,
    f.events.toLocaleString('en-US'),
    f.finishedRuns.toLocaleString('en-US'),
    f.activeRuns.toLocaleString('en-US'),
    f.recordsRead === undefined ? '—' : f.recordsRead.toLocaleString('en-US'),
    fixed(f.listenSeconds, 2),
    fixed(f.firstResultSeconds, 2),
    fixed(f.serverCpuSeconds, 2),
    fixed(f.serverPeakRssMb, 0),
  ]);
  return formatTable(header, body);
}

const times = (ours: number | undefined, theirs: number | undefined) =>
  ours === undefined || theirs === undefined || !Number.isFinite(ours / theirs) ? '—' : `${(ours / theirs).toFixed(2)}×`;

/** Kindling over the peer, row by row: throughput (higher is better) and latencies and memory (lower is better). */
export function ratioLines(rows: readonly LoadRow[], peer: string): string[] {
  const lines: string[] = [];
  for (const ours of rows.filter((row) => row.subject === 'kindling')) {
    const theirs = rows.find((row) => row.subject === peer && row.scenario === ours.scenario);
    if (theirs === undefined) continue;
    const a = ours.figures;
    const b = theirs.figures;
    if (ours.phase === 'queued') {
      lines.push(`${ours.scenario}: kindling/${peer} server MB ${times(a.serverPeakRssMb, b.serverPeakRssMb)} with ${a.runs.toLocaleString('en-US')} queued, trig/s ${times(a.triggersPerSecond, b.triggersPerSecond)}`);
      continue;
    }
    lines.push(
      `${ours.scenario}: kindling/${peer} done/s ${times(a.completionsPerSecond, b.completionsPerSecond)}, trig/s ${times(a.triggersPerSecond, b.triggersPerSecond)}` +
        ` · result p50 ${times(a.resultMs?.p50, b.resultMs?.p50)}, p99 ${times(a.resultMs?.p99, b.resultMs?.p99)}` +
        ` · start p50 ${times(a.startMs?.p50, b.startMs?.p50)}, p99 ${times(a.startMs?.p99, b.startMs?.p99)}` +
        ` · server MB ${times(a.serverPeakRssMb, b.serverPeakRssMb)}`,
    );
  }
  return lines;
}

/**
 * The per-assignment cost of each subject's backlog drains (1 / drain rate), smallest backlog
 * first, and how the largest compares: flat is the goal, however long the queue.
 */
export function backlogLines(rows: readonly LoadRow[]): string[] {
  const lines: string[] = [];
  // One line per subject and family of backlogs (`w5 backlog`, `w7 backlog round-robin`, …).
  const family = (row: LoadRow) => row.scenario.replace(/ · [^·]*$/, '');
  for (const [subject, name] of [...new Set(rows.map((row) => `${row.subject}\u0000${family(row)}`))].map((k) => k.split('\u0000') as [string, string])) {
    const drains = rows.filter((row) => row.subject === subject && family(row) === name && row.phase === 'drain' && row.figures.completionsPerSecond > 0);
    if (drains.length < 2) continue;
    const costs = drains.map((row) => ({ queued: row.figures.runs, micros: 1e6 / row.figures.completionsPerSecond }));
    const first = costs[0] as (typeof costs)[number];
    const last = costs[costs.length - 1] as (typeof costs)[number];
    const each = costs.map((c) => `${c.micros.toFixed(0)} µs with ${c.queued.toLocaleString('en-US')} queued`).join(', ');
    lines.push(`${subject} ${name}: per assignment ${each} (${times(last.micros, first.micros)} from the smallest backlog to the largest)`);
  }
  return lines;
}

/** One row as a JSON line: the run's facts, then the row; unmeasured figures are null. */
export function jsonLine(info: RunInfo, row: BenchRow | Row): string {
  return JSON.stringify({ ...info, ...row }, (_key, value) => (value === undefined || (typeof value === 'number' && !Number.isFinite(value)) ? null : value));
}
