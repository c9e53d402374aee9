/**
 * What every benchmark reports, and how: rows that compare across runs (commit, date, Node
 * version, scenario, parameters, figures), a table for people, and JSON lines for machines.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

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

export interface Percentiles {
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
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

/** Nearest-rank percentiles of a sample, in the sample's unit. */
export function percentiles(samples: Float64Array | number[]): Percentiles {
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted[sorted.length - 1] ?? Number.NaN };
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

/** CPU seconds another process (by pid) has used so far, from /proc. */
export function processCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / 100;
}

/** Peak resident memory of a process so far (VmHWM), in MB. */
export function processPeakRssMb(pid: number): number {
  const match = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmHWM:\s+(\d+) kB/);
  return match === null ? Number.NaN : Number(match[1]) / 1024;
}

const fixed = (n: number | undefined, digits: number) => (n === undefined || Number.isNaN(n) ? '—' : n.toFixed(digits));

export function printTable(rows: readonly Row[]): void {
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
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] as string).length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of body) console.log(line(row));
}
