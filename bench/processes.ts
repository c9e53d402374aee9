/**
 * The processes a benchmark runs or watches: free loopback ports, stopping a child and waiting for
 * its exit, and what /proc says about another process's CPU and memory.
 *
 * Owns nothing long-lived: each helper either returns at once or resolves when its child has
 * exited. Figures about a process come from /proc, so they are Linux-only and only for processes
 * on this machine; callers report "—" for anything else.
 */
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Where a server binary from a Debian package is: `$envVar`, else the PATH, else `fallback`; or an
 * error saying how to install it.
 */
export function findBinary(name: string, envVar: string, fallback: string, install: string): string {
  const candidates = [process.env[envVar], ...(process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, name)), fallback];
  for (const candidate of candidates) {
    if (candidate === undefined || candidate === '') continue;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  throw new Error(`${name} is not installed: ${install} (or set ${envVar} to a ${name} binary)`);
}

/** Stops a child process with a signal and resolves once it has exited. */
export async function stopProcess(proc: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill(signal);
  });
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
export function processCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / 100;
}

/** Peak resident memory of a process so far (VmHWM), in MB. */
export function processPeakRssMb(pid: number): number {
  return statusKb(pid, 'VmHWM') / 1024;
}

/** Resident memory of a process now (VmRSS), in MB. */
export function processRssMb(pid: number): number {
  return statusKb(pid, 'VmRSS') / 1024;
}

function statusKb(pid: number, field: string): number {
  const match = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`${field}:\\s+(\\d+) kB`));
  return match === null ? Number.NaN : Number(match[1]);
}

/** Reads a process's CPU and memory over a measured section; every figure is undefined without a pid. */
export class ProcessMeter {
  readonly #pid: number | undefined;
  readonly #cpuAtStart: number | undefined;

  constructor(pid: number | undefined) {
    this.#pid = pid;
    this.#cpuAtStart = pid === undefined ? undefined : processCpuSeconds(pid);
  }

  /** CPU seconds since the meter was made, peak RSS since the process started, and RSS now. */
  read(): { cpuSeconds: number | undefined; peakRssMb: number | undefined; rssMb: number | undefined } {
    const pid = this.#pid;
    if (pid === undefined || this.#cpuAtStart === undefined) return { cpuSeconds: undefined, peakRssMb: undefined, rssMb: undefined };
    return { cpuSeconds: processCpuSeconds(pid) - this.#cpuAtStart, peakRssMb: processPeakRssMb(pid), rssMb: processRssMb(pid) };
  }
}
