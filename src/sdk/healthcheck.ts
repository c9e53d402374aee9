/**
 * A worker's health-check HTTP server (Hatchet's `HATCHET_CLIENT_WORKER_HEALTHCHECK_*`): `GET
 * /health` says whether the worker's connection to the engine is up (200 `HEALTHY`, else 503 with
 * `STARTING` or `UNHEALTHY`) and `GET /metrics` answers the Prometheus text format with
 * `hatchet_worker_listener_health_<worker>` (1 or 0) and `hatchet_worker_event_loop_lag_seconds_<worker>`.
 *
 * The event loop's lag is measured by a timer that notes how late it fires; a lag over the
 * threshold makes the worker unhealthy too. prom-client is loaded only when a server starts.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HatchetError } from './errors.js';

export type WorkerHealthStatus = 'STARTING' | 'HEALTHY' | 'UNHEALTHY';

export interface HealthSource {
  readonly name: string;
  /** Whether the worker is registered and its connection is up now. */
  connected(): boolean;
  /** Whether it ever was (before that it is STARTING). */
  registered(): boolean;
  details(): { slots: number; actions: string[]; labels: Record<string, string | number> };
}

const LAG_SAMPLE_MS = 500;

export class HealthServer {
  readonly #server: Server;
  readonly #timer: NodeJS.Timeout;
  #lagSeconds = 0;

  private constructor(server: Server, timer: NodeJS.Timeout) {
    this.#server = server;
    this.#timer = timer;
  }

  /** Listens on `port` (0: any free port); rejects with a HatchetError saying why it cannot. */
  static async start(source: HealthSource, options: { port: number; eventLoopBlockThresholdSeconds: number }): Promise<HealthServer> {
    const { Gauge, Registry } = await import('prom-client');
    const registry = new Registry();
    const suffix = source.name.replace(/[^a-zA-Z0-9_]/g, '_');
    let health: HealthServer | undefined;
    const status = (): WorkerHealthStatus => {
      if (!source.registered()) return 'STARTING';
      return source.connected() && (health?.lagSeconds ?? 0) <= options.eventLoopBlockThresholdSeconds ? 'HEALTHY' : 'UNHEALTHY';
    };
    new Gauge({
      name: `hatchet_worker_listener_health_${suffix}`,
      help: 'Listener health (1 healthy, 0 unhealthy)',
      registers: [registry],
      collect() {
        this.set(status() === 'HEALTHY' ? 1 : 0);
      },
    });
    new Gauge({
      name: `hatchet_worker_event_loop_lag_seconds_${suffix}`,
      help: 'Event loop lag in seconds (listener process)',
      registers: [registry],
      collect() {
        this.set(health?.lagSeconds ?? 0);
      },
    });
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { 'content-type': 'application/json', allow: 'GET' }).end(JSON.stringify({ error: 'use GET' }));
      } else if (path === '/health') {
        const now = status();
        res.writeHead(now === 'HEALTHY' ? 200 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: now, name: source.name, ...source.details(), nodeVersion: process.version }));
      } else if (path === '/metrics') {
        registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
          (error: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(String(error)),
        );
      } else {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `no ${path} here: GET /health or /metrics` }));
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(new HatchetError(`the worker's health check could not listen on port ${options.port}: ${error.code === 'EADDRINUSE' ? 'the port is in use' : error.message} (HATCHET_CLIENT_WORKER_HEALTHCHECK_PORT)`)),
      );
      server.listen(options.port, () => resolve());
    });
    let expected = performance.now() + LAG_SAMPLE_MS;
    const timer = setInterval(() => {
      const now = performance.now();
      if (health !== undefined) health.#lagSeconds = Math.max(0, now - expected) / 1000;
      expected = now + LAG_SAMPLE_MS;
    }, LAG_SAMPLE_MS);
    timer.unref();
    health = new HealthServer(server, timer);
    return health;
  }

  get lagSeconds(): number {
    return this.#lagSeconds;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    clearInterval(this.#timer);
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}
