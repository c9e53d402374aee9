/**
 * Recovery: every active actor's state, rebuilt from the log when the engine starts (DESIGN
 * invariant 4).
 *
 * Owns: the order of reading. Starts from the newest checkpoint when there is one — loading the
 * actors it names, each from its snapshot and the events after it — and then reads the log after
 * the checkpoint's position, folding what is new. Without a checkpoint the same scan starts at 0.
 * Talks to: the log only; the engine installs what this returns.
 *
 * Invariants:
 *  1. An actor is folded from the scan only if the scan saw its stream from its first event (or
 *     from just after the version it was loaded at); otherwise it is loaded whole from its stream.
 *  2. Finished runs are not kept: a later event of one (a replay) loads it again from the log.
 */
import { type RateLimitsState, windowMs } from '../../actors/rate-limits.js';
import { evolve, initialState, type RunEvent, type RunState } from '../../actors/workflow-run.js';
import { evolveWorker, initialWorkerState, type WorkerEvent, type WorkerState } from '../../actors/worker.js';
import type { WorkflowSpec } from '../../protocol/frames.js';
import type { EventLog, LogRecord } from '../../store/log.js';
import { limits } from '../lib/limits.js';
import { loadActor } from './actor-host.js';
import { readCheckpoint, type RateLimitWindow } from './checkpoint.js';
import { rateLimitQueueKey } from './flow-control.js';
import { loadRateLimits } from './rate-limits.js';
import { loadRun } from './run-host.js';
import { TENANTS_STREAM, type TenantEvent } from './tenants.js';
/** A tenant's workflow definitions, each version an event. */
export const workflowsStream = (tenantId: string) => `workflows:${tenantId}`;
export const workerStream = (workerId: string) => `worker:${workerId}`;

export interface Recovered {
  /** Active runs. */
  readonly runs: Map<string, { state: RunState; version: number }>;
  readonly workers: Map<string, { state: WorkerState; version: number }>;
  /** Each tenant's workflows by name, and its workflows stream's version. */
  readonly workflows: Map<string, { byName: Map<string, { spec: WorkflowSpec; version: number; createdAtMs: number; updatedAtMs: number }>; version: number }>;
  /** The `tenants` stream's events, in order, for the tenant registry to fold. */
  readonly tenantEvents: TenantEvent[];
  /** Each tenant's rate limits and the version of their stream. */
  readonly rateLimits: Map<string, { state: RateLimitsState; version: number }>;
  /**
   * The last window of each rate limit (queue key) that assignments consumed units of: from the
   * checkpoint, then from the `TaskAssigned` events after it.
   */
  readonly rateLimitUsage: Map<string, RateLimitWindow>;
  /** How recovery went, for the log line at start and for tests. */
  readonly stats: { fromPosition: number; recordsScanned: number; runsLoaded: number };
}

type Folded<S> = { state: S; version: number } | { finished: true; version: number };

async function readWhole(log: EventLog, stream: string): Promise<LogRecord[]> {
  const records: LogRecord[] = [];
  for (;;) {
    const page = await log.readStream(stream, { fromSeq: records.length + 1 });
    records.push(...page);
    if (page.length < limits.readRecordsMax) return records;
  }
}

export async function recover(log: EventLog): Promise<Recovered> {
  const tenants = new Set<string>();
  const tenantEvents = (await readWhole(log, TENANTS_STREAM)).map((record) => record.data as TenantEvent);
  for (const event of tenantEvents) if ('tenantId' in event && event.tenantId !== '') tenants.add(event.tenantId);
  const workflows: Recovered['workflows'] = new Map();
  for (const tenantId of tenants) {
    const records = await readWhole(log, workflowsStream(tenantId));
    const byName = new Map<string, { spec: WorkflowSpec; version: number; createdAtMs: number; updatedAtMs: number }>();
    for (const record of records) {
      const data = record.data as { name: string; version: number; spec: WorkflowSpec };
      if (record.type === 'WorkflowDeleted') {
        byName.delete(data.name);
        continue;
      }
      byName.set(data.name, { spec: data.spec, version: data.version, createdAtMs: byName.get(data.name)?.createdAtMs ?? record.timestampMs, updatedAtMs: record.timestampMs });
    }
    workflows.set(tenantId, { byName, version: records.length });
  }
  const rateLimits: Recovered['rateLimits'] = new Map();
  const windows = new Map<string, number>();
  for (const tenantId of tenants) {
    const { state, version } = await loadRateLimits(log, tenantId);
    rateLimits.set(tenantId, { state, version });
    for (const definition of Object.values(state.definitions)) windows.set(rateLimitQueueKey(tenantId, definition.key), windowMs(definition.duration));
  }

  const checkpoint = await readCheckpoint(log);
  const runs = new Map<string, Folded<RunState>>();
  const workers = new Map<string, { state: WorkerState; version: number }>();
  let runsLoaded = 0;
  const loadWholeRun = async (runId: string) => {
    const { state, version } = await loadRun(log, runId);
    runsLoaded += 1;
    runs.set(runId, state.kind === 'active' ? { state, version } : { finished: true, version });
  };
  const loadWorker = async (workerId: string) => {
    const { state, version } = await loadActor(log, workerStream(workerId), initialWorkerState(), evolveWorker);
    workers.set(workerId, { state, version });
  };
  for (const runId of checkpoint?.runs ?? []) await loadWholeRun(runId);
  for (const workerId of checkpoint?.workers ?? []) await loadWorker(workerId);
  const rateLimitUsage = new Map<string, RateLimitWindow>();
  for (const window of checkpoint?.rateLimitUsage ?? []) rateLimitUsage.set(window.key, window);
  const consumed = (event: RunEvent) => {
    if (event.type !== 'TaskAssigned' || event.rateLimits === undefined) return;
    for (const use of event.rateLimits) {
      const length = windows.get(use.key);
      if (length === undefined) continue;
      const window = rateLimitUsage.get(use.key);
      if (window === undefined || event.atMs >= window.startMs + length) rateLimitUsage.set(use.key, { key: use.key, startMs: event.atMs, used: use.units });
      else rateLimitUsage.set(use.key, { ...window, used: window.used + use.units });
    }
  };

  const fromPosition = checkpoint?.position ?? 0;
  let after = fromPosition;
  let recordsScanned = 0;
  for (let page = await log.readAll({ after }); page.length > 0; page = await log.readAll({ after })) {
    for (const record of page) {
      after = record.position;
      recordsScanned += 1;
      const { stream, seq } = record;
      if (stream.startsWith('run:')) {
        consumed(record.data as RunEvent);
        const runId = stream.slice(4);
        const entry = runs.get(runId);
        if (entry !== undefined && seq <= entry.version) continue;
        // Invariant 1, and 2: a run seen from the middle, or one that had finished, is loaded whole.
        if ((entry === undefined && seq !== 1) || (entry !== undefined && ('finished' in entry || seq !== entry.version + 1))) {
          await loadWholeRun(runId);
          continue;
        }
        const state = evolve(entry?.state ?? initialState(), record.data as RunEvent);
        runs.set(runId, state.kind === 'active' ? { state, version: seq } : { finished: true, version: seq });
      } else if (stream.startsWith('worker:')) {
        const workerId = stream.slice(7);
        const entry = workers.get(workerId);
        if (entry !== undefined && seq <= entry.version) continue;
        if ((entry === undefined && seq !== 1) || (entry !== undefined && seq !== entry.version + 1)) {
          await loadWorker(workerId);
          continue;
        }
        workers.set(workerId, { state: evolveWorker(entry?.state ?? initialWorkerState(), record.data as WorkerEvent), version: seq });
      }
    }
  }

  const active = new Map<string, { state: RunState; version: number }>();
  for (const [runId, entry] of runs) if (!('finished' in entry) && entry.state.kind === 'active') active.set(runId, entry);
  return {
    runs: active,
    workers,
    workflows,
    tenantEvents,
    rateLimits,
    rateLimitUsage,
    stats: { fromPosition, recordsScanned, runsLoaded },
  };
}
