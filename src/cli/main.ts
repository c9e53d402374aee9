#!/usr/bin/env node
/**
 * The `kindling` command line.
 *
 *   kindling start       the engine on the embedded LMDB log (WebSocket + HTTP on one port)
 *   kindling log verify  read every record of the log and check its checksum
 *   kindling log stat    print the log's size and head position
 *   kindling token|tenant|run|runs|workers|events|crons|scheduled
 *                        talk to a running engine over its REST API (remote.ts)
 *   kindling bench       load-test a deployment (bench/main.ts, run as a process of its own so
 *                        that the engine never loads benchmark code)
 *
 * The data directory comes from --data-dir, else KINDLING_DATA_DIR, else ./.kindling.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { isLogError } from '../../store/errors.js';
import { LmdbLog } from '../../store/lmdb.js';
import { verifyLog } from '../../store/verify.js';
import { DEFAULT_TENANT, Engine } from '../engine/engine.js';
import { startServer } from '../api/server.js';
import { DEFAULT_PORT } from '../sdk/config.js';
import { EngineError } from '../sdk/connection.js';
import { EXIT, exitCodeOf, registerRemoteCommands } from './remote.js';

const dataDir = (option: string | undefined) => resolve(option ?? process.env.KINDLING_DATA_DIR ?? '.kindling');
const logDir = (data: string) => resolve(data, 'log');

/**
 * When an LMDB commit fails (disk full, I/O error), lmdb-js also rejects an internal promise that no
 * caller can reach. The log already fails every append of that commit with LOG_STORAGE_FULL or
 * LOG_UNAVAILABLE, so that one rejection must not take the engine down; any other is still fatal.
 */
process.on('unhandledRejection', (reason) => {
  if (reason instanceof Error && /[/\\]lmdb[/\\]write\.js/.test(reason.stack ?? '')) {
    console.error(`kindling: an LMDB commit failed: ${reason.message}`);
    return;
  }
  throw reason;
});

const program = new Command('kindling').description('A durable task queue and workflow engine on an append-only event log.');
// Usage mistakes exit with 2 (help and --version with 0), where commander would use 1; a
// subcommand run as its own process (bench) exits with its own code.
program.exitOverride((error) => {
  process.exit(error.code === 'commander.executeSubCommandAsync' || error.exitCode === 0 ? error.exitCode : EXIT.usage);
});

program
  .command('start')
  .description('start the engine on the embedded LMDB log: one port for the worker WebSocket and HTTP')
  .option('--port <port>', 'port for WebSocket and HTTP (default: $KINDLING_PORT or 7077)')
  .option('--host <host>', 'address to listen on', '0.0.0.0')
  .option('--public-url <url>', 'the URL clients reach the engine at, written into tokens (default: http://localhost:<port>)')
  .option('--data-dir <dir>', 'data directory (default: $KINDLING_DATA_DIR or ./.kindling)')
  .option('--worker-liveness <ms>', 'a worker silent this long loses its tasks (default 30000)')
  .option('--checkpoint-every <appends>', 'take a recovery checkpoint after this many appends (default 50000)')
  .option('--public-metrics', 'serve GET /metrics (Prometheus) without a token (default: it needs the admin token)')
  .action(async (options: { port?: string; host: string; publicUrl?: string; dataDir?: string; workerLiveness?: string; checkpointEvery?: string; publicMetrics?: boolean }) => {
    const data = dataDir(options.dataDir);
    const port = Number(options.port ?? process.env.KINDLING_PORT ?? DEFAULT_PORT);
    const log = await LmdbLog.open({ path: logDir(data) });
    const startedAt = performance.now();
    const engine = await Engine.start({
      log,
      signingKey: signingKey(data),
      readModelPath: join(data, 'read'),
      ...(options.workerLiveness === undefined ? {} : { workerLivenessMs: Number(options.workerLiveness) }),
      ...(options.checkpointEvery === undefined ? {} : { checkpointEveryAppends: Number(options.checkpointEvery) }),
    });
    const recovered = engine.recoveryStats;
    if (recovered !== undefined) {
      console.log(
        `kindling: recovered ${engine.stats.activeRuns} active runs in ${Math.round(performance.now() - startedAt)} ms, reading ${recovered.recordsScanned} records from position ${recovered.fromPosition}`,
      );
    }
    // Listening first, so the tokens minted below carry the address clients reach the engine at.
    const gateway = await startServer(engine, { port, host: options.host, publicMetrics: options.publicMetrics === true, ...(options.publicUrl === undefined ? {} : { publicUrl: options.publicUrl }) });
    const devToken = await ensureToken(engine, join(data, 'dev-token'), 'tenant');
    if (devToken !== undefined) {
      console.log(`kindling: created tenant 'default' and a development token (also in ${join(data, 'dev-token')}):\n\n  HATCHET_CLIENT_TOKEN=${devToken}\n`);
    } else {
      console.log(`kindling: development token in ${join(data, 'dev-token')}`);
    }
    if ((await ensureToken(engine, join(data, 'admin-token'), 'admin')) !== undefined) console.log(`kindling: created an admin token for tenants and tokens in ${join(data, 'admin-token')}`);
    console.log(`kindling: engine listening on port ${gateway.port} (WebSocket ws://localhost:${gateway.port}/ws, HTTP http://localhost:${gateway.port}) with data in ${data}`);
    const stop = async (signal: string) => {
      gateway.close();
      await engine.close();
      await log.close();
      console.log(`kindling: ${signal}: stopped`);
      process.exit(0);
    };
    process.once('SIGINT', () => void stop('SIGINT'));
    process.once('SIGTERM', () => void stop('SIGTERM'));
  });

/** The data directory's token-signing key, made on first start (only this file can mint tokens). */
function signingKey(data: string): Buffer {
  const path = join(data, 'signing-key');
  if (!existsSync(path)) {
    mkdirSync(data, { recursive: true });
    writeFileSync(path, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  }
  const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'hex');
  if (key.length < 32) throw new Error(`${path} must hold at least 32 bytes as hex; delete it to make a new one (tokens signed with it stop working)`);
  return key;
}

/** Writes a fresh token to `path` unless the one there still authenticates; returns the new one. */
async function ensureToken(engine: Engine, path: string, role: 'tenant' | 'admin'): Promise<string | undefined> {
  if (existsSync(path) && engine.authenticate(readFileSync(path, 'utf8').trim()).ok) return undefined;
  const token = await engine.createToken(DEFAULT_TENANT, { role, name: role === 'admin' ? 'admin' : 'development' });
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  return token;
}

const logCommand = program.command('log').description('inspect the embedded LMDB log');

/** Opens the data directory's log for one command and always closes it. */
async function withLog(options: { dataDir?: string }, work: (log: LmdbLog) => Promise<void>): Promise<void> {
  const log = await LmdbLog.open({ path: logDir(dataDir(options.dataDir)) });
  try {
    await work(log);
  } finally {
    await log.close();
  }
}

logCommand
  .command('verify')
  .description('read every record and check its checksum; exit 1 at the first damaged one')
  .option('--data-dir <dir>', 'data directory')
  .action((options: { dataDir?: string }) =>
    withLog(options, async (log) => {
      const { records, headPosition } = await verifyLog(log);
      console.log(`ok: ${records} records verified, head position ${headPosition}`);
    }),
  );

logCommand
  .command('stat')
  .description('print where the log is and its head position')
  .option('--data-dir <dir>', 'data directory')
  .action((options: { dataDir?: string }) =>
    withLog(options, async (log) => {
      console.log(JSON.stringify({ path: log.path, headPosition: await log.headPosition() }));
    }),
  );

registerRemoteCommands(program);

program.command('bench', 'load-test a Kindling deployment, or one started here, optionally side by side with BullMQ (kindling bench --help)', {
  executableFile: fileURLToPath(new URL('../../bench/main.js', import.meta.url)),
});

try {
  await program.parseAsync();
} catch (error) {
  const code = (error as { code?: unknown }).code;
  const named = isLogError(error) || (error instanceof EngineError && typeof code === 'string') ? `${code as string}: ` : '';
  console.error(`kindling: ${named}${(error as Error).message}`);
  process.exit(exitCodeOf(error));
}
