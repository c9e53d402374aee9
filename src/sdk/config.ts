/**
 * Client configuration: the constructor's options, then Hatchet's environment variables, then
 * Kindling's development defaults (`localhost:7077` and the token in `./.kindling/dev-token`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HatchetError } from './errors.js';
import { DEFAULT_LOGGER, LOG_LEVELS, type LogConstructor, type LogLevel } from './logger.js';
import type { TaskMiddleware } from './middleware.js';

export interface ClientConfig {
  token: string;
  /** `host:port` of the engine. */
  host_port: string;
  api_url: string;
  namespace: string;
  tls_config: { tls_strategy: 'tls' | 'mtls' | 'none' };
  /** `HATCHET_CLIENT_LOG_LEVEL`; default `INFO`. */
  log_level: LogLevel;
  /** Makes the SDK's loggers (one per context); default: the console. */
  logger: LogConstructor;
  /** The tenant the token belongs to (known to the engine; not set by a program). */
  tenant_id: string;
  cancellation_grace_period: number;
  cancellation_warning_threshold: number;
  /**
   * The worker's health-check HTTP server (`GET /health`, `GET /metrics`), opened by
   * `worker.start()` when enabled (`HATCHET_CLIENT_WORKER_HEALTHCHECK_ENABLED`, `_PORT`: default 8001,
   * 0 for any free port; `_EVENT_LOOP_BLOCK_THRESHOLD_SECONDS`: default 5).
   */
  healthcheck: { enabled: boolean; port: number; eventLoopBlockThresholdSeconds: number };
  /** Set through `withMiddleware`, which types the hooks. */
  middleware?: TaskMiddleware;
}

export const DEFAULT_PORT = 7077;

/** What `HatchetClient.init` takes: any of the settings (the health check's one by one). */
export type ClientOptions = Partial<Omit<ClientConfig, 'healthcheck'>> & { healthcheck?: Partial<ClientConfig['healthcheck']> };

export function loadConfig(overrides: ClientOptions = {}): ClientConfig {
  const env = process.env;
  const dataDir = env.KINDLING_DATA_DIR ?? '.kindling';
  const devTokenPath = join(dataDir, 'dev-token');
  const token = overrides.token ?? env.HATCHET_CLIENT_TOKEN ?? env.KINDLING_TOKEN ?? (existsSync(devTokenPath) ? readFileSync(devTokenPath, 'utf8').trim() : undefined);
  if (token === undefined || token === '') {
    throw new HatchetError(
      `no token: set HATCHET_CLIENT_TOKEN, pass { token } to HatchetClient.init, or start the engine here (npx kindling start) so ${devTokenPath} exists`,
    );
  }
  // An engine's token says where the engine is, as Hatchet's do; explicit settings win.
  const claims = tokenClaims(token);
  const explicitHostPort = overrides.host_port ?? env.HATCHET_CLIENT_HOST_PORT;
  const hostPort = explicitHostPort ?? claims.grpc_broadcast_address ?? `localhost:${env.KINDLING_PORT ?? DEFAULT_PORT}`;
  let namespace = (overrides.namespace ?? env.HATCHET_CLIENT_NAMESPACE ?? '').toLowerCase();
  if (namespace !== '' && !namespace.endsWith('_')) namespace += '_';
  const logLevel = overrides.log_level ?? env.HATCHET_CLIENT_LOG_LEVEL ?? 'INFO';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new HatchetError(`invalid log level '${logLevel}' (HATCHET_CLIENT_LOG_LEVEL or log_level): use one of ${LOG_LEVELS.join(', ')}`);
  }
  if (overrides.logger !== undefined && typeof overrides.logger !== 'function') {
    throw new HatchetError('logger must be a function (context, logLevel) => Logger');
  }
  const healthcheck = healthcheckConfig(overrides.healthcheck, env);
  const tls = (overrides.tls_config?.tls_strategy ?? env.HATCHET_CLIENT_TLS_STRATEGY ?? 'none') as ClientConfig['tls_config']['tls_strategy'];
  return {
    token,
    host_port: hostPort,
    // The REST API shares the gateway's port: an explicit host_port implies its URL.
    api_url: overrides.api_url ?? env.HATCHET_CLIENT_API_URL ?? (explicitHostPort === undefined ? claims.server_url : undefined) ?? `http://${hostPort}`,
    namespace,
    tls_config: { tls_strategy: tls },
    log_level: logLevel as LogLevel,
    logger: overrides.logger ?? DEFAULT_LOGGER,
    tenant_id: overrides.tenant_id ?? claims.sub ?? '',
    cancellation_grace_period: overrides.cancellation_grace_period ?? 1000,
    cancellation_warning_threshold: overrides.cancellation_warning_threshold ?? 300,
    healthcheck,
    ...(overrides.middleware === undefined ? {} : { middleware: overrides.middleware }),
  };
}

export const DEFAULT_HEALTHCHECK_PORT = 8001;

/** The health-check settings: the options, else the environment, else off on port 8001; a bad value is refused. */
function healthcheckConfig(options: Partial<ClientConfig['healthcheck']> | undefined, env: NodeJS.ProcessEnv): ClientConfig['healthcheck'] {
  const enabledText = env.HATCHET_CLIENT_WORKER_HEALTHCHECK_ENABLED;
  let enabled = options?.enabled;
  if (enabled === undefined && enabledText !== undefined && enabledText !== '') {
    const lowered = enabledText.toLowerCase();
    if (lowered !== 'true' && lowered !== 'false') throw new HatchetError(`HATCHET_CLIENT_WORKER_HEALTHCHECK_ENABLED is '${enabledText}': use true or false`);
    enabled = lowered === 'true';
  }
  const portText = env.HATCHET_CLIENT_WORKER_HEALTHCHECK_PORT;
  const port = options?.port ?? (portText === undefined || portText === '' ? DEFAULT_HEALTHCHECK_PORT : /^\d{1,5}$/.test(portText) ? Number(portText) : Number.NaN);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    const given = options?.port !== undefined ? `healthcheck.port is ${String(options.port)}` : `HATCHET_CLIENT_WORKER_HEALTHCHECK_PORT is '${portText}'`;
    throw new HatchetError(`${given}: a port is a whole number from 1 to 65535 (0 for any free port)`);
  }
  const thresholdText = env.HATCHET_CLIENT_WORKER_HEALTHCHECK_EVENT_LOOP_BLOCK_THRESHOLD_SECONDS;
  const threshold = options?.eventLoopBlockThresholdSeconds ?? (thresholdText === undefined || thresholdText === '' ? 5 : Number(thresholdText));
  if (!Number.isFinite(threshold) || threshold <= 0) {
    throw new HatchetError(`the health check's event loop block threshold is '${String(thresholdText ?? threshold)}' (HATCHET_CLIENT_WORKER_HEALTHCHECK_EVENT_LOOP_BLOCK_THRESHOLD_SECONDS): use a number of seconds above 0`);
  }
  return { enabled: enabled ?? false, port, eventLoopBlockThresholdSeconds: threshold };
}

export function engineUrl(config: ClientConfig): string {
  const scheme = config.tls_config.tls_strategy === 'none' ? 'ws' : 'wss';
  return `${scheme}://${config.host_port}/ws`;
}

/**
 * The claims of a JSON Web Token, read without checking its signature (the engine checks it): the
 * tenant (`sub`) and where the engine is. Empty for a token that is not a JWT.
 */
export function tokenClaims(token: string): { sub?: string; server_url?: string; grpc_broadcast_address?: string } {
  const payload = token.split('.')[1];
  if (payload === undefined) return {};
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    const text = (key: string) => (typeof claims[key] === 'string' && claims[key] !== '' ? { [key]: claims[key] as string } : {});
    return { ...text('sub'), ...text('server_url'), ...text('grpc_broadcast_address') };
  } catch {
    return {};
  }
}
