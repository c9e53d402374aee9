/**
 * The servers a benchmark starts on this machine when it is not pointed at one: the Kindling
 * engine (`kindling start` on a fresh LMDB data directory) and Redis for the BullMQ peer (Debian's
 * `redis-server` with an append-only file fsync'd every second — the closest Redis gets to
 * durable).
 *
 * Invariants:
 *  1. Every server gets its own free loopback port and its own temporary directory, removed by
 *     `dispose()`; nothing is shared with other benchmarks or tests running at the same time.
 *  2. A start resolves only once the server said it is ready, and rejects with everything it
 *     printed when it exits first or takes longer than 30 s.
 *  3. No server outlives the benchmark: when this process exits, however it exits short of
 *     SIGKILL, every server still running is killed and its directory removed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findBinary, freePort, stopProcess } from './processes.js';

export interface LocalServer {
  /** `host:port` to connect to. */
  readonly hostPort: string;
  readonly dataDir: string;
  /** The running server's process id. */
  readonly pid: number;
  /** Everything the server printed so far. */
  output(): string;
  /** Stops the server (SIGTERM) and waits for its exit; the data directory stays. */
  stop(): Promise<void>;
  /** Stops the server and removes its data directory. */
  dispose(): Promise<void>;
}

export interface KindlingServer extends LocalServer {
  readonly token: string;
}

const kindlingCli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

/** Servers still running, with their directories (invariant 3). */
const live = new Map<ChildProcess, string>();
process.once('exit', () => {
  for (const [child, dir] of live) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Spawns a server and resolves once a line of its output matches `ready`. */
async function spawnUntilReady(command: string, args: string[], ready: RegExp, dataDir: string, hostPort: string, name: string): Promise<LocalServer> {
  const child: ChildProcess = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.set(child, dataDir);
  child.once('exit', () => live.delete(child));
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not become ready in 30 s:\n${output}`));
    }, 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', (error) => {
      clearTimeout(timer);
      live.delete(child);
      reject(error);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before it was ready:\n${output}`));
    });
  });
  const pid = child.pid as number;
  const stop = () => stopProcess(child, 'SIGTERM');
  return {
    hostPort,
    dataDir,
    pid,
    output: () => output,
    stop,
    dispose: async () => {
      await stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** `kindling start` on `dataDir` (a fresh temporary one by default) and a free port. */
export async function startKindling(options: { dataDir?: string } = {}): Promise<KindlingServer> {
  const port = await freePort();
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'kindling-bench-engine-'));
  const hostPort = `127.0.0.1:${port}`;
  const args = [kindlingCli, 'start', '--port', String(port), '--host', '127.0.0.1', '--data-dir', dataDir];
  const server = await spawnUntilReady(process.execPath, args, /engine listening on port/, dataDir, hostPort, 'the Kindling engine');
  return { ...server, token: readFileSync(join(dataDir, 'dev-token'), 'utf8').trim() };
}

/** Where Debian's redis-server is, or a clear error saying how to install it. */
export const findRedisServer = () => findBinary('redis-server', 'REDIS_SERVER', '/usr/bin/redis-server', "install Debian's package with 'apt-get install -y redis-server'");

/** redis-server on a free port and a fresh directory, append-only file fsync'd every second, no RDB snapshots. */
export async function startRedis(): Promise<LocalServer> {
  const binary = findRedisServer();
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'kindling-bench-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dataDir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--daemonize', 'no'];
  return spawnUntilReady(binary, args, /Ready to accept connections/, dataDir, `127.0.0.1:${port}`, 'redis-server');
}
