/**
 * Flow control at the engine's edges: what the tenant queue needs to know about a run's tasks,
 * and the checks that keep bad policies out.
 *
 * Owns: checking a workflow's policies when it is registered (every CEL expression parses, every
 * limit is sane); rendering a run's policies when it is triggered (CEL over its input and
 * metadata, evaluated once and stored in `RunCreated`, so nothing is evaluated again on recovery);
 * and turning a run's state into each task's `TaskPolicy` for the queue. Talks to: nothing — pure
 * functions over specs, states and payloads. The engine calls them.
 *
 * Invariants:
 *  1. A workflow without policies costs nothing here: no payload is decoded, no policy is built.
 *  2. Keys are the tenant's: concurrency keys carry the tenant, workflow (and task) and limit they
 *     belong to; rate-limit keys carry the tenant. No tenant's key can meet another's.
 */
import type { ActiveRun, RunPolicy, TaskState } from '../../actors/workflow-run.js';
import type { ConcurrencyGate, Placement, TaskPolicy } from '../../actors/tenant-queue.js';
import type { RateLimitDefinition } from '../../actors/rate-limits.js';
import { ProtocolError, ProtocolErrorCode } from '../../protocol/errors.js';
import type { ConcurrencySpec, DesiredLabel, RateLimitDurationName, RateLimitSpec, TaskSpec, TriggerRun, WorkflowSpec } from '../../protocol/frames.js';
import { decodePayload } from '../../protocol/payload.js';
import { CelError, type CelRunContext, celInteger, celKey, compileCel } from '../lib/cel.js';
import { engineLimits } from '../lib/limits.js';

const invalid = (message: string) => new ProtocolError(ProtocolErrorCode.InvalidInput, message);

function tasksOf(spec: WorkflowSpec): TaskSpec[] {
  return spec.onFailure === undefined ? spec.tasks : [...spec.tasks, spec.onFailure];
}

/** Whether a workflow uses any flow control that needs its runs' inputs or a placement. */
export function hasPolicies(spec: WorkflowSpec): boolean {
  return (spec.concurrency?.length ?? 0) > 0 || tasksOf(spec).some((task) => (task.concurrency?.length ?? 0) > 0 || (task.rateLimits?.length ?? 0) > 0);
}

/** Registration: every expression parses. Throws INVALID_INPUT naming the workflow, task and expression. */
export function checkPolicies(spec: WorkflowSpec): void {
  const parse = (where: string, expression: string) => {
    try {
      compileCel(expression);
    } catch (error) {
      throw invalid(`workflow '${spec.name}': ${where}: ${(error as Error).message}`);
    }
  };
  for (const [i, limit] of (spec.concurrency ?? []).entries()) parse(`concurrency[${i}].expression`, limit.expression);
  for (const task of tasksOf(spec)) {
    for (const [i, limit] of (task.concurrency ?? []).entries()) parse(`task '${task.name}' concurrency[${i}].expression`, limit.expression);
    for (const [i, limit] of (task.rateLimits ?? []).entries()) {
      const where = `task '${task.name}' rateLimits[${i}]`;
      if (limit.dynamicKey !== undefined) parse(`${where}.dynamicKey`, limit.dynamicKey);
      if (typeof limit.units === 'string') parse(`${where}.units`, limit.units);
      if (typeof limit.limit === 'string') parse(`${where}.limit`, limit.limit);
    }
  }
}

/** A dynamic rate limit a trigger defines (or redefines) as it renders its key. */
export interface DynamicRateLimit {
  readonly key: string;
  readonly limit: number;
  readonly duration: RateLimitDurationName;
}

/**
 * Trigger: a run's policies, rendered from its input and metadata. Returns undefined when the run
 * has none (invariant 1). Throws INVALID_INPUT when an expression fails on this run, a key is too
 * long or a static rate limit does not exist.
 */
export function renderPolicy(
  spec: WorkflowSpec,
  run: TriggerRun,
  rateLimits: ReadonlyMap<string, RateLimitDefinition> | undefined,
): { policy: RunPolicy | undefined; dynamic: DynamicRateLimit[] } {
  const dynamic: DynamicRateLimit[] = [];
  const withPlacement = run.desiredWorkerId !== undefined || run.desiredWorkerLabels !== undefined;
  if (!hasPolicies(spec) && !withPlacement) return { policy: undefined, dynamic };
  let context: CelRunContext | undefined;
  const ctx = (): CelRunContext => {
    context ??= { input: decodePayload(run.input), additional_metadata: run.additionalMetadata ?? {} };
    return context;
  };
  const evaluate = <T>(where: string, work: () => T): T => {
    try {
      return work();
    } catch (error) {
      if (error instanceof CelError) throw invalid(`a run of '${spec.name}': ${where}: ${error.message}`);
      throw error;
    }
  };
  const keysOf = (where: string, limits: readonly ConcurrencySpec[] | undefined) =>
    limits?.map((limit, i) =>
      evaluate(`${where}concurrency[${i}]`, () => {
        const key = celKey(limit.expression, ctx());
        if (key.length > engineLimits.concurrencyKeyCharsMax) throw new CelError(`'${limit.expression}' made a key of ${key.length} characters; the limit is ${engineLimits.concurrencyKeyCharsMax}`);
        return key;
      }),
    );
  const tasks: Record<string, NonNullable<RunPolicy['tasks']>[string]> = {};
  for (const task of tasksOf(spec)) {
    const name = task === spec.onFailure ? 'on-failure-task' : task.name;
    const concurrencyKeys = keysOf(`task '${name}' `, task.concurrency);
    const uses = task.rateLimits?.map((limit, i) => renderRateLimit(spec, name, i, limit, ctx, evaluate, rateLimits, dynamic));
    if (concurrencyKeys !== undefined || uses !== undefined) {
      tasks[name] = { ...(concurrencyKeys === undefined ? {} : { concurrencyKeys }), ...(uses === undefined ? {} : { rateLimits: uses }) };
    }
  }
  const concurrencyKeys = keysOf('', spec.concurrency);
  const policy: RunPolicy = {
    ...(concurrencyKeys === undefined ? {} : { concurrencyKeys }),
    ...(Object.keys(tasks).length === 0 ? {} : { tasks }),
    ...(run.desiredWorkerId === undefined ? {} : { desiredWorkerId: run.desiredWorkerId }),
    ...(run.desiredWorkerLabels === undefined ? {} : { desiredWorkerLabels: run.desiredWorkerLabels }),
  };
  return { policy, dynamic };
}

function renderRateLimit(
  spec: WorkflowSpec,
  task: string,
  i: number,
  limit: RateLimitSpec,
  ctx: () => CelRunContext,
  evaluate: <T>(where: string, work: () => T) => T,
  definitions: ReadonlyMap<string, RateLimitDefinition> | undefined,
  dynamic: DynamicRateLimit[],
): { key: string; units: number } {
  const where = `task '${task}' rateLimits[${i}]`;
  const units = typeof limit.units === 'number' ? limit.units : evaluate(`${where}.units`, () => celInteger(limit.units as string, ctx()));
  if (units < 0) throw invalid(`a run of '${spec.name}': ${where}.units is ${units}; units are 0 or more`);
  if (limit.staticKey !== undefined) {
    if (definitions?.get(limit.staticKey) === undefined) {
      throw invalid(`a run of '${spec.name}': ${where}: the rate limit '${limit.staticKey}' does not exist; create it first with hatchet.ratelimits.upsert({ key: '${limit.staticKey}', limit, duration })`);
    }
    return { key: limit.staticKey, units };
  }
  const key = evaluate(`${where}.dynamicKey`, () => celKey(limit.dynamicKey as string, ctx()));
  if (key.length === 0 || key.length > engineLimits.rateLimitKeyCharsMax) throw invalid(`a run of '${spec.name}': ${where}.dynamicKey made a key of ${key.length} characters; keys are 1 to ${engineLimits.rateLimitKeyCharsMax}`);
  const value = typeof limit.limit === 'number' ? limit.limit : evaluate(`${where}.limit`, () => celInteger(limit.limit as string, ctx()));
  if (value <= 0) throw invalid(`a run of '${spec.name}': ${where}.limit is ${value}; a limit is a positive whole number`);
  dynamic.push({ key, limit: value, duration: limit.duration ?? 'MINUTE' });
  return { key, units };
}

/** A rate limit's key in the queue: the tenant's. */
export const rateLimitQueueKey = (tenantId: string, key: string) => `${tenantId}/${key}`;

/**
 * A task's policy for the queue, from its run's state; undefined for a task without one (the
 * queue then takes its plain path).
 */
export function taskPolicy(state: ActiveRun, task: TaskState): TaskPolicy | undefined {
  const { workflow, policy, tenantId } = state;
  const sticky = workflow.sticky;
  const labels = task.spec.desiredWorkerLabels === undefined && policy?.desiredWorkerLabels === undefined ? undefined : { ...task.spec.desiredWorkerLabels, ...policy?.desiredWorkerLabels };
  const workflowLimits = workflow.concurrency ?? [];
  const taskLimits = task.spec.concurrency ?? [];
  const rateLimits = policy?.tasks?.[task.name]?.rateLimits;
  if (workflowLimits.length === 0 && taskLimits.length === 0 && rateLimits === undefined && labels === undefined && sticky === undefined) return undefined;
  const gates: ConcurrencyGate[] = [];
  const gate = (scope: 'run' | 'task', owner: string, limit: ConcurrencySpec, i: number, key: string | undefined) => {
    if (key === undefined) return;
    gates.push({ key: `${tenantId}/${owner}/${i}/${key}`, maxRuns: limit.maxRuns, strategy: limit.limitStrategy, scope, label: `${limit.expression} = ${JSON.stringify(key)}` });
  };
  for (const [i, limit] of workflowLimits.entries()) gate('run', workflow.name, limit, i, policy?.concurrencyKeys?.[i]);
  for (const [i, limit] of taskLimits.entries()) gate('task', `${workflow.name}:${task.name}`, limit, i, policy?.tasks?.[task.name]?.concurrencyKeys?.[i]);
  const stuck = sticky !== undefined && state.stickyWorkerId !== undefined;
  const placement: Placement | undefined =
    labels === undefined && !stuck ? undefined : { ...(labels === undefined ? {} : { labels: labels as Record<string, DesiredLabel> }), ...(stuck ? { workerId: state.stickyWorkerId, sticky } : {}) };
  return {
    ...(gates.length === 0 ? {} : { concurrency: gates }),
    ...(rateLimits === undefined ? {} : { rateLimits: rateLimits.map((use) => ({ key: rateLimitQueueKey(tenantId, use.key), units: use.units })) }),
    ...(placement === undefined ? {} : { placement }),
  };
}
