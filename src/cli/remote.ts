/**
 * The `kindling` commands that talk to a running engine over its REST API (and, to trigger runs,
 * its WebSocket through the SDK): tokens and tenants, runs, workers, events, crons and scheduled
 * runs. Each prints a table or lines for people (coloured on a terminal, unless NO_COLOR is set)
 * and, with `--json`, JSON for scripts.
 *
 * Exit codes: 0 done; 1 the engine refused or failed; 2 bad usage or input; 3 not found; 4 not
 * authenticated or not allowed; 5 the engine could not be reached.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { styleText } from 'node:util';
import type { Command } from 'commander';
import { DEFAULT_PORT, tokenClaims } from '../sdk/config.js';
import { EngineError } from '../sdk/connection.js';
import { HatchetClient } from '../sdk/index.js';
import { RestClient } from '../sdk/rest.js';

export const EXIT = { ok: 0, failed: 1, usage: 2, notFound: 3, auth: 4, unreachable: 5 } as const;

interface Global {
  url?: string;
  token?: string;
  adminToken?: string;
  dataDir?: string;
  json?: boolean;
}

const colour = (style: Parameters<typeof styleText>[0], text: string) => (process.stdout.isTTY && process.env.NO_COLOR === undefined ? styleText(style, text) : text);

/** A failure the CLI reports in one line with its exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export function exitCodeOf(error: unknown): number {
  if (error instanceof CliError) return error.exitCode;
  if (error instanceof EngineError) {
    if (error.code === 'ENGINE_UNAVAILABLE') return EXIT.unreachable;
    if (error.code.startsWith('AUTH_') || error.code === 'HTTP_403') return EXIT.auth;
    if (error.code.endsWith('_NOT_FOUND') || error.code === 'NOT_FOUND' || error.code === 'HTTP_404') return EXIT.notFound;
    if (error.code === 'INVALID_INPUT') return EXIT.usage;
  }
  return EXIT.failed;
}

function dataDir(global: Global): string {
  return resolve(global.dataDir ?? process.env.KINDLING_DATA_DIR ?? '.kindling');
}

function readToken(path: string): string | undefined {
  return existsSync(path) ? readFileSync(path, 'utf8').trim() : undefined;
}

function tenantToken(global: Global): string {
  const token = global.token ?? process.env.HATCHET_CLIENT_TOKEN ?? process.env.KINDLING_TOKEN ?? readToken(join(dataDir(global), 'dev-token'));
  if (token === undefined || token === '') throw new CliError(`no token: pass --token, set HATCHET_CLIENT_TOKEN, or run where ${join(dataDir(global), 'dev-token')} exists`, EXIT.auth);
  return token;
}

function adminToken(global: Global): string {
  const token = global.adminToken ?? process.env.KINDLING_ADMIN_TOKEN ?? readToken(join(dataDir(global), 'admin-token'));
  if (token === undefined || token === '') throw new CliError(`no admin token: pass --admin-token, set KINDLING_ADMIN_TOKEN, or run where ${join(dataDir(global), 'admin-token')} exists`, EXIT.auth);
  return token;
}

function baseUrl(global: Global, token: string): string {
  return global.url ?? process.env.HATCHET_CLIENT_API_URL ?? tokenClaims(token).server_url ?? `http://localhost:${process.env.KINDLING_PORT ?? DEFAULT_PORT}`;
}

function rest(global: Global, token: string): RestClient {
  const claims = tokenClaims(token);
  return new RestClient(baseUrl(global, token), token, async () => claims.sub ?? 'default');
}

/** Prints rows as aligned columns, or as JSON. */
function output(global: Global, json: unknown, rows: Array<Record<string, unknown>>, columns: string[]): void {
  if (global.json) {
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
    return;
  }
  if (rows.length === 0) {
    process.stdout.write(`${colour('dim', '(none)')}\n`);
    return;
  }
  const text = (value: unknown) => (value === undefined || value === null ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value));
  const widths = columns.map((column) => Math.max(column.length, ...rows.map((row) => text(row[column]).length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i] as number)).join('  ').trimEnd();
  process.stdout.write(`${colour('bold', line(columns))}\n`);
  for (const row of rows) process.stdout.write(`${line(columns.map((column) => statusColour(column, text(row[column]))))}\n`);
}

function statusColour(column: string, value: string): string {
  if (column !== 'status') return value;
  const style = value === 'COMPLETED' || value === 'ACTIVE' ? 'green' : value === 'FAILED' ? 'red' : value === 'CANCELLED' || value === 'INACTIVE' ? 'yellow' : 'cyan';
  return colour(style, value);
}

/** `1h`, `30m`, `7d`, or a date-time: how far back `since` reaches. */
function sinceOf(text: string): Date {
  const match = /^(\d+)([smhd])$/.exec(text);
  if (match !== null) return new Date(Date.now() - Number(match[1]) * { s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[match[2] as 's' | 'm' | 'h' | 'd']);
  const at = Date.parse(text);
  if (Number.isNaN(at)) throw new CliError(`--since '${text}' is neither a duration (30m, 1h, 7d) nor a date-time`, EXIT.usage);
  return new Date(at);
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CliError(`${what} is not JSON: ${(error as Error).message}`, EXIT.usage);
  }
}

function metadataOf(pairs: string[] | undefined): Record<string, string> | undefined {
  if (pairs === undefined) return undefined;
  return Object.fromEntries(
    pairs.map((pair) => {
      const at = pair.indexOf('=');
      if (at <= 0) throw new CliError(`--metadata '${pair}' is not key=value`, EXIT.usage);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** A 404 from a route of a feature this engine does not serve yet, said plainly. */
async function notYetServed<T>(feature: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof EngineError && error.code === 'NOT_FOUND') throw new CliError(`this engine does not serve ${feature} yet`, EXIT.notFound);
    throw error;
  }
}

export function registerRemoteCommands(program: Command): void {
  const global = (command: Command): Global => command.optsWithGlobals() as Global;
  const withConnection = (command: Command) =>
    command
      .option('--url <url>', "the engine's URL (default: $HATCHET_CLIENT_API_URL, the token's server_url, or http://localhost:7077)")
      .option('--token <token>', 'a tenant API token (default: $HATCHET_CLIENT_TOKEN or <data-dir>/dev-token)')
      .option('--data-dir <dir>', 'where to find dev-token and admin-token (default: $KINDLING_DATA_DIR or ./.kindling)')
      .option('--json', 'print JSON for scripts');

  // ---- tokens and tenants (admin)
  const token = program.command('token').description('create, list and revoke API tokens (needs the admin token)');
  const withAdmin = (command: Command) => withConnection(command).option('--admin-token <token>', 'the admin token (default: $KINDLING_ADMIN_TOKEN or <data-dir>/admin-token)');
  withAdmin(token.command('create'))
    .description("create an API token for a tenant; it is printed once and never stored in the clear")
    .option('--tenant <id>', 'the tenant', 'default')
    .option('--name <name>', 'a name to recognise it by', 'cli')
    .option('--expires-in <duration>', 'lifetime, such as 30d or 12h (default 90d)')
    .action(async (options: { tenant: string; name: string; expiresIn?: string }, command: Command) => {
      const g = global(command);
      const admin = adminToken(g);
      const created = await rest(g, admin).request<{ token: string; metadata: { id: string }; expiresAt: string }>('POST', `/api/v1/tenants/${encodeURIComponent(options.tenant)}/api-tokens`, {
        body: { name: options.name, ...(options.expiresIn === undefined ? {} : { expiresIn: options.expiresIn }) },
      });
      if (g.json) output(g, created, [], []);
      else process.stdout.write(`${created.token}\n${colour('dim', `token ${created.metadata.id} for tenant '${options.tenant}', expires ${created.expiresAt}`)}\n`);
    });
  withAdmin(token.command('list'))
    .description("list a tenant's tokens (never the tokens themselves)")
    .option('--tenant <id>', 'the tenant', 'default')
    .action(async (options: { tenant: string }, command: Command) => {
      const g = global(command);
      const listed = await rest(g, adminToken(g)).request<{ rows: Array<{ metadata: { id: string; createdAt: string }; name: string; expiresAt: string; revoked: boolean }> }>('GET', `/api/v1/tenants/${encodeURIComponent(options.tenant)}/api-tokens`);
      output(g, listed, listed.rows.map((row) => ({ id: row.metadata.id, name: row.name, created: row.metadata.createdAt, expires: row.expiresAt, revoked: row.revoked })), ['id', 'name', 'created', 'expires', 'revoked']);
    });
  withAdmin(token.command('revoke <tokenId>'))
    .description('revoke a token by its id; connections using it are closed')
    .action(async (tokenId: string, _options: unknown, command: Command) => {
      const g = global(command);
      const revoked = await rest(g, adminToken(g)).request<{ name: string; revokedAt: string }>('POST', `/api/v1/api-tokens/${encodeURIComponent(tokenId)}`);
      if (g.json) output(g, revoked, [], []);
      else process.stdout.write(`revoked token '${revoked.name}' (${tokenId}) at ${revoked.revokedAt}\n`);
    });
  const tenant = program.command('tenant').description('create and list tenants (needs the admin token)');
  withAdmin(tenant.command('create <id>'))
    .description('create a tenant; its id names it in URLs and tokens')
    .option('--name <name>', 'a display name')
    .action(async (id: string, options: { name?: string }, command: Command) => {
      const g = global(command);
      const created = await rest(g, adminToken(g)).request<{ metadata: { id: string }; name: string }>('POST', '/api/v1/tenants', { body: { slug: id, ...(options.name === undefined ? {} : { name: options.name }) } });
      if (g.json) output(g, created, [], []);
      else process.stdout.write(`created tenant '${created.metadata.id}' (${created.name})\n`);
    });
  withAdmin(tenant.command('list'))
    .description('list every tenant')
    .action(async (_options: unknown, command: Command) => {
      const g = global(command);
      const listed = await rest(g, adminToken(g)).request<{ rows: Array<{ metadata: { id: string; createdAt: string }; name: string }> }>('GET', '/api/v1/tenants');
      output(g, listed, listed.rows.map((row) => ({ id: row.metadata.id, name: row.name, created: row.metadata.createdAt })), ['id', 'name', 'created']);
    });

  // ---- running
  withConnection(program.command('run <workflow>'))
    .description('trigger a run of a workflow; with --wait, wait for its output')
    .option('--input <json>', 'the input, as JSON', '{}')
    .option('--metadata <key=value>', 'additional metadata (repeatable)', collect)
    .option('--wait', 'wait for the run to finish and print its output')
    .action(async (workflow: string, options: { input: string; metadata?: string[]; wait?: boolean }, command: Command) => {
      const g = global(command);
      const input = parseJson(options.input, '--input');
      const metadata = metadataOf(options.metadata);
      const tokenText = tenantToken(g);
      const url = new URL(baseUrl(g, tokenText));
      const hatchet = HatchetClient.init({ token: tokenText, host_port: url.host, api_url: url.origin, log_level: 'OFF' });
      try {
        const ref = await hatchet.runNoWait(workflow, input as never, metadata === undefined ? {} : { additionalMetadata: metadata });
        if (!options.wait) {
          if (g.json) output(g, { runId: ref.workflowRunId }, [], []);
          else process.stdout.write(`${ref.workflowRunId}\n`);
          return;
        }
        if (process.stderr.isTTY && !g.json) process.stderr.write(colour('dim', `run ${ref.workflowRunId}: waiting for it to finish…\n`));
        try {
          const result = await ref.result();
          if (g.json) output(g, { runId: ref.workflowRunId, status: 'COMPLETED', output: result }, [], []);
          else process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        } catch (errors) {
          const messages = Array.isArray(errors) ? errors.map(String) : [String((errors as Error).message ?? errors)];
          if (g.json) output(g, { runId: ref.workflowRunId, status: 'FAILED', errors: messages }, [], []);
          throw new CliError(`run ${ref.workflowRunId} did not complete: ${messages.join('; ')}`, EXIT.failed);
        }
      } finally {
        hatchet.close();
      }
    });

  const runs = program.command('runs').description('list, inspect, cancel and replay runs');
  withConnection(runs.command('list'))
    .description('list runs, newest first')
    .option('--since <when>', 'how far back: 30m, 1h, 7d or a date-time', '1h')
    .option('--until <when>', 'a date-time')
    .option('--status <status>', 'QUEUED, RUNNING, COMPLETED, FAILED or CANCELLED (repeatable)', collect)
    .option('--workflow <name>', 'a workflow (repeatable)', collect)
    .option('--metadata <key=value>', 'runs with this metadata (repeatable; any matches)', collect)
    .option('--limit <n>', 'rows per page', '50')
    .option('--offset <n>', 'rows to skip', '0')
    .action(async (options: { since: string; until?: string; status?: string[]; workflow?: string[]; metadata?: string[]; limit: string; offset: string }, command: Command) => {
      const g = global(command);
      const metadata = metadataOf(options.metadata);
      const page = await rest(g, tenantToken(g)).request<{ rows: Array<Record<string, unknown> & { metadata: { id: string } }>; pagination: { current_page: number; num_pages: number } }>('GET', '/api/v1/stable/tenants/{tenant}/workflow-runs', {
        query: {
          since: sinceOf(options.since).toISOString(),
          until: options.until === undefined ? undefined : sinceOf(options.until).toISOString(),
          statuses: options.status?.map((status) => status.toUpperCase()),
          workflow_ids: options.workflow?.map((name) => name.toLowerCase()),
          additional_metadata: metadata === undefined ? undefined : Object.entries(metadata).map(([key, value]) => `${key}:${value}`),
          limit: options.limit,
          offset: options.offset,
          include_payloads: false,
        },
      });
      output(g, page, page.rows.map((row) => ({ id: row.metadata.id, workflow: row.workflowName, status: row.status, created: row.createdAt, finished: row.finishedAt })), ['id', 'workflow', 'status', 'created', 'finished']);
      if (!g.json) process.stdout.write(`${colour('dim', `page ${page.pagination.current_page} of ${page.pagination.num_pages}`)}\n`);
    });
  withConnection(runs.command('get <runId>'))
    .description("a run's details: its tasks and their events")
    .action(async (runId: string, _options: unknown, command: Command) => {
      const g = global(command);
      const details = await rest(g, tenantToken(g)).request<{ run: { status: string; displayName: string; createdAt: string; errorMessage?: string }; tasks: Array<{ displayName: string; status: string; retryCount: number; errorMessage?: string }> }>('GET', `/api/v1/stable/workflow-runs/${encodeURIComponent(runId)}`);
      if (g.json) return output(g, details, [], []);
      process.stdout.write(`${colour('bold', runId)}  ${details.run.displayName}  ${statusColour('status', details.run.status)}  created ${details.run.createdAt}\n`);
      output(g, details, details.tasks.map((task) => ({ task: task.displayName, status: task.status, retries: task.retryCount, error: task.errorMessage })), ['task', 'status', 'retries', 'error']);
    });
  withConnection(runs.command('history <runId>'))
    .description("a run's every event with its log position (the audit trail); --at shows the run as of a position")
    .option('--at <position>', 'show the run as it stood at this log position')
    .action(async (runId: string, options: { at?: string }, command: Command) => {
      const g = global(command);
      const client = rest(g, tenantToken(g));
      if (options.at !== undefined) {
        const state = await client.request<Record<string, unknown>>('GET', `/api/v1/stable/workflow-runs/${encodeURIComponent(runId)}/state`, { query: { position: options.at } });
        process.stdout.write(`${JSON.stringify(state, null, 2)}\n`);
        return;
      }
      const history = await client.request<{ events: Array<{ position: number; seq: number; time: string; type: string; data: Record<string, unknown> }> }>('GET', `/api/v1/stable/workflow-runs/${encodeURIComponent(runId)}/history`);
      const detail = (data: Record<string, unknown>) => ['task', 'attempt', 'workerId', 'error', 'reason', 'status'].filter((key) => data[key] !== undefined).map((key) => `${key}=${typeof data[key] === 'string' ? data[key] : JSON.stringify(data[key])}`).join(' ');
      output(g, history, history.events.map((event) => ({ position: event.position, seq: event.seq, time: event.time, type: event.type, detail: detail(event.data) })), ['position', 'seq', 'time', 'type', 'detail']);
    });
  for (const [name, path, describe] of [
    ['cancel', 'cancel', 'cancel runs (or tasks) by id'],
    ['replay', 'replay', 'run finished runs again from the tasks that did not complete'],
  ] as const) {
    withConnection(runs.command(`${name} <runIds...>`))
      .description(describe)
      .action(async (runIds: string[], _options: unknown, command: Command) => {
        const g = global(command);
        const answer = await rest(g, tenantToken(g)).request<{ ids: string[] }>('POST', `/api/v1/stable/tenants/{tenant}/tasks/${path}`, { body: { externalIds: runIds } });
        if (g.json) output(g, answer, [], []);
        else process.stdout.write(`${name === 'cancel' ? 'cancelled' : 'replayed'} ${answer.ids.length} run(s)\n`);
      });
  }

  // ---- workers, events, crons, scheduled runs
  withConnection(program.command('workers').command('list'))
    .description("the tenant's workers")
    .action(async (_options: unknown, command: Command) => {
      const g = global(command);
      const listed = await rest(g, tenantToken(g)).request<{ rows: Array<{ metadata: { id: string }; name: string; status: string; maxRuns: number; availableRuns: number; lastHeartbeatAt: string }> }>('GET', '/api/v1/tenants/{tenant}/worker');
      output(g, listed, listed.rows.map((row) => ({ id: row.metadata.id, name: row.name, status: row.status, slots: `${row.maxRuns - row.availableRuns}/${row.maxRuns}`, 'last seen': row.lastHeartbeatAt })), ['id', 'name', 'status', 'slots', 'last seen']);
    });
  withConnection(program.command('events').command('push <key>'))
    .description('push an event, which triggers the workflows that listen for its key')
    .option('--payload <json>', 'the payload, as JSON', '{}')
    .option('--metadata <key=value>', 'additional metadata (repeatable)', collect)
    .action(async (key: string, options: { payload: string; metadata?: string[] }, command: Command) => {
      const g = global(command);
      const body = { key, data: parseJson(options.payload, '--payload'), ...(options.metadata === undefined ? {} : { additionalMetadata: metadataOf(options.metadata) }) };
      const event = await notYetServed('events', () => rest(g, tenantToken(g)).request<{ metadata?: { id: string } }>('POST', '/api/v1/tenants/{tenant}/events', { body }));
      if (g.json) output(g, event, [], []);
      else process.stdout.write(`${event.metadata?.id ?? 'pushed'}\n`);
    });
  for (const [name, path, columns] of [
    ['crons', '/api/v1/tenants/{tenant}/workflows/crons', ['id', 'name', 'workflow', 'cron']],
    ['scheduled', '/api/v1/tenants/{tenant}/workflows/scheduled', ['id', 'workflow', 'triggerAt']],
  ] as const) {
    withConnection(program.command(name).command('list'))
      .description(name === 'crons' ? 'cron triggers' : 'scheduled runs')
      .action(async (_options: unknown, command: Command) => {
        const g = global(command);
        const listed = await notYetServed(name === 'crons' ? 'cron triggers' : 'scheduled runs', () => rest(g, tenantToken(g)).request<{ rows?: Array<Record<string, unknown> & { metadata: { id: string } }> }>('GET', path));
        output(g, listed, (listed.rows ?? []).map((row) => ({ ...row, id: row.metadata.id, workflow: row.workflowName })), [...columns]);
      });
  }
}
