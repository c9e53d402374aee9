/**
 * Runs the real engine (`kindling start`) as a child process on a free port with its own data
 * directory, so tests can talk to it over real sockets and kill it with SIGKILL.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './nats-server.js';
import { stopProcess } from './process.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface EngineProcess {
  readonly port: number;
  readonly dataDir: string;
  readonly token: string;
  readonly hostPort: string;
  /** The running engine's process id. */
  readonly pid: number | undefined;
  /** Everything the engine printed. */
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
  restart(): Promise<void>;
  dispose(): Promise<void>;
}

export async function startEngine(options: { workerLivenessMs?: number; checkpointEveryAppends?: number } = {}): Promise<EngineProcess> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'kindling-engine-'));
  let child: ChildProcess | undefined;
  let output = '';

  const start = async () => {
    const args = [cli, 'start', '--port', String(port), '--host', '127.0.0.1', '--data-dir', dataDir];
    if (options.workerLivenessMs !== undefined) args.push('--worker-liveness', String(options.workerLivenessMs));
    if (options.checkpointEveryAppends !== undefined) args.push('--checkpoint-every', String(options.checkpointEveryAppends));
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the engine did not start in 30 s:\n${output}`)), 30_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('engine listening on port')) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout?.on('data', onData);
      proc.stderr?.on('data', onData);
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the engine exited with ${code} before it listened:\n${output}`));
      });
    });
  };

  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    const proc = child;
    child = undefined;
    await stopProcess(proc, signal);
  };

  await start();
  return {
    port,
    dataDir,
    token: readFileSync(join(dataDir, 'dev-token'), 'utf8').trim(),
    hostPort: `127.0.0.1:${port}`,
    get pid() {
      return child?.pid;
    },
    output: () => output,
    kill,
    restart: async () => {
      output = '';
      await start();
    },
    dispose: async () => {
      await kill('SIGTERM');
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
