/**
 * Starts a real `nats-server` with JetStream for a test or a benchmark: a free loopback port, a
 * temporary store directory, and `stop()` / `restart()` on the same port and directory.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBinary, freePort, stopProcess } from '../../bench/processes.js';

export { freePort };

export interface NatsServer {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  /** The running server's process id (undefined while it is stopped). */
  readonly pid: number | undefined;
  /** Stops the server (SIGTERM); the store directory stays for a restart. */
  stop(): Promise<void>;
  /** Kills the server (SIGKILL), as a crash would; the store directory stays for a restart. */
  kill(): Promise<void>;
  /** Starts it again on the same port with the same store. */
  restart(): Promise<void>;
  /** Stops it and removes its store. */
  dispose(): Promise<void>;
}

export const findNatsServer = () => findBinary('nats-server', 'NATS_SERVER', '/usr/sbin/nats-server', "install Debian's package with 'apt-get install -y nats-server' (2.9 or later)");

export async function startNatsServer(): Promise<NatsServer> {
  const binary = findNatsServer();
  const port = await freePort();
  const storeDir = mkdtempSync(join(tmpdir(), 'kindling-nats-'));
  let child: ChildProcess | undefined;

  const start = async () => {
    const proc = spawn(binary, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    await new Promise<void>((resolve, reject) => {
      let output = '';
      const timer = setTimeout(() => reject(new Error(`nats-server did not become ready in 15 s:\n${output}`)), 15_000);
      proc.stderr?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Server is ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited with ${code} before it was ready:\n${output}`));
      });
    });
    proc.stderr?.resume();
  };

  const stopWith = async (signal: NodeJS.Signals) => {
    const proc = child;
    child = undefined;
    await stopProcess(proc, signal);
  };
  const stop = () => stopWith('SIGTERM');

  await start();
  return {
    url: `127.0.0.1:${port}`,
    port,
    storeDir,
    get pid() {
      return child?.pid;
    },
    stop,
    kill: () => stopWith('SIGKILL'),
    restart: start,
    async dispose() {
      await stop();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}
