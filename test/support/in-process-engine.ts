/**
 * The engine in the test's own process, on a real LMDB log in a temporary directory (the log in
 * `log/`, the read models in `read/`, both kept across `restart()`), serving the WebSocket and the
 * REST API on a free port — for tests that need the engine's internals (options, several tenants,
 * a restart in place) next to real sockets.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../../src/api/server.js';
import { Engine, type EngineOptions } from '../../src/engine/engine.js';
import type { Gateway } from '../../src/engine/gateway.js';
import { LmdbLog } from '../../store/lmdb.js';

export interface InProcessEngine {
  engine: Engine;
  server: Gateway;
  readonly log: LmdbLog;
  /** A token per tenant asked for. */
  readonly tokens: Readonly<Record<string, string>>;
  readonly hostPort: string;
  readonly baseUrl: string;
  /** Stops the engine and starts it again on the same log, on a new free port (a clean restart). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function inProcessEngine(options: { tenants?: readonly string[]; engine?: Omit<EngineOptions, 'log'> } = {}): Promise<InProcessEngine> {
  const dir = mkdtempSync(join(tmpdir(), 'kindling-in-process-'));
  const log = await LmdbLog.open({ path: join(dir, 'log') });
  const engineOptions = { readModelPath: join(dir, 'read'), ...options.engine };
  const engine = await Engine.start({ log, ...engineOptions });
  const tokens: Record<string, string> = {};
  for (const tenant of options.tenants ?? ['default']) tokens[tenant] = await engine.createToken(tenant);
  const server = await startServer(engine, { port: 0, host: '127.0.0.1' });
  const running: InProcessEngine = {
    engine,
    server,
    log,
    tokens,
    get hostPort() {
      return `127.0.0.1:${running.server.port}`;
    },
    get baseUrl() {
      return `http://127.0.0.1:${running.server.port}`;
    },
    restart: async () => {
      running.server.close();
      await running.engine.close();
      running.engine = await Engine.start({ log, ...engineOptions });
      running.server = await startServer(running.engine, { port: 0, host: '127.0.0.1' });
    },
    close: async () => {
      running.server.close();
      await running.engine.close();
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return running;
}
