/**
 * The SDK's exported surface without an engine: enums carry Hatchet's values, conditions group as
 * Hatchet's do, error classes have their names and fields, the default logger filters by level,
 * and every entry point of a feature this engine does not carry out yet rejects with a
 * `NotSupportedError` that names the feature.
 */
import t from 'tap';
import type { AssignedTask } from '../../protocol/frames.js';
import { encodePayload } from '../../protocol/payload.js';
import type { ContextHost } from '../../src/sdk/context.js';
import * as sdk from '../../src/sdk/index.js';
import sleep from '../../src/sdk/sleep.js';

t.test("enums have Hatchet's exact values", async (t) => {
  t.same([sdk.Priority.LOW, sdk.Priority.MEDIUM, sdk.Priority.HIGH], [1, 2, 3]);
  t.match(sdk.ConcurrencyLimitStrategy, { CANCEL_IN_PROGRESS: 0, DROP_NEWEST: 1, QUEUE_NEWEST: 2, GROUP_ROUND_ROBIN: 3, CANCEL_NEWEST: 4, UNRECOGNIZED: -1 });
  t.match(sdk.WorkerLabelComparator, { EQUAL: 0, NOT_EQUAL: 1, GREATER_THAN: 2, GREATER_THAN_OR_EQUAL: 3, LESS_THAN: 4, LESS_THAN_OR_EQUAL: 5 });
  t.match(sdk.RateLimitDuration, { SECOND: 0, MINUTE: 1, HOUR: 2, DAY: 3, WEEK: 4, MONTH: 5, YEAR: 6 });
  t.same(sdk.StickyStrategy, { SOFT: 'soft', HARD: 'hard' });
  t.same(sdk.MinEngineVersion, { SLOT_CONFIG: 'v0.78.23', DURABLE_EVICTION: 'v0.80.0' });
  t.same(Object.values(sdk.V1TaskStatus), ['QUEUED', 'RUNNING', 'COMPLETED', 'CANCELLED', 'FAILED']);
  t.same(Object.values(sdk.WorkerStatus), ['ACTIVE', 'INACTIVE', 'PAUSED']);
  t.same([sdk.SlotType.Default, sdk.SlotType.Durable], ['default', 'durable']);
  t.match(sdk.Action, { CREATE: 0, QUEUE: 1, CANCEL: 2, SKIP: 3 });
  t.same(sdk.DEFAULT_DURABLE_TASK_EVICTION_POLICY, { ttl: '15m', allowCapacityEviction: true, priority: 0 });
  t.equal(sdk.supportsEviction('v0.80.0'), false);
});

t.test('conditions: shorthands become conditions; Or shares one group, the rest get one each', async (t) => {
  const parent = { name: 'start' };
  const or = sdk.Or({ sleepFor: '1m' }, new sdk.UserEventCondition('user:update', 'true'));
  const groups = new Set(or.conditions.map((c) => c.base.orGroupId));
  t.equal(groups.size, 1, 'one shared group');
  const rendered = sdk.Render(sdk.Action.SKIP, [or, { eventKey: 'user:delete', scope: 's' }, { parent, expression: 'output.n > 1' }, new sdk.SleepCondition('10s')]);
  t.equal(rendered.length, 5);
  t.ok(rendered.every((c) => c.base.action === sdk.Action.SKIP));
  t.equal(new Set(rendered.map((c) => c.base.orGroupId)).size, 4, 'the Or group, then one group per other condition');
  t.match(rendered[2], { eventKey: 'user:delete', scope: 's', base: { readableDataKey: 'user:delete' } });
  t.match(rendered[3], { parent, base: { readableDataKey: 'parent-start', expression: 'output.n > 1' } });
  t.match(rendered[4], { sleepFor: '10s', base: { readableDataKey: 'sleep-10s' } });
  t.same(sdk.Render(sdk.Action.QUEUE), []);
  t.match(new sdk.UserEventCondition('k', '', 'key', sdk.Action.CANCEL, 'scope', '2026-01-01T00:00:00Z'), { scope: 'scope', considerEventsSince: '2026-01-01T00:00:00Z', base: { action: 2 } });
  t.match(new sdk.SleepCondition({ minutes: 1 }), { base: { readableDataKey: 'sleep-{"minutes":1}' } });
});

t.test('error classes have their names, fields and bases', async (t) => {
  const cases: Array<[Error, string, Record<string, unknown>, boolean]> = [
    [new sdk.HatchetError('x', { cause: 'why' }), 'HatchetError', { cause: 'why' }, true],
    [new sdk.NotSupportedError('events'), 'NotSupportedError', { feature: 'events', message: 'events is not supported by this engine yet' }, true],
    [new sdk.NonRetryableError('stop'), 'NonRetryableError', { message: 'stop' }, false],
    [new sdk.TaskRunTerminatedError('evicted'), 'TaskRunTerminatedError', { reason: 'evicted', message: 'task run was evicted' }, false],
    [new sdk.NonDeterminismError('task-1', 2, 3, 'diverged'), 'NonDeterminismError', { taskExternalId: 'task-1', invocationCount: 2, nodeId: 3 }, true],
    [new sdk.EvictionNotSupportedError('v0.79'), 'EvictionNotSupportedError', { engineVersion: 'v0.79', message: /v0\.79/ }, true],
    [new sdk.IdempotencyCollisionError('run-1'), 'IdempotencyCollisionError', { existingRunExternalId: 'run-1' }, true],
    [new sdk.BulkTriggerIdempotencyCollisionError(['a'], [new sdk.IdempotencyCollisionError('b')]), 'BulkTriggerIdempotencyCollisionError', { successfulWorkflowRunExternalIds: ['a'] }, false],
    [new sdk.DedupeViolationErr('dup'), 'DedupeViolationErr', { message: 'dup' }, false],
    [new sdk.AbortError(), 'AbortError', { message: /cancelled/ }, false],
  ];
  for (const [error, name, fields, isHatchetError] of cases) {
    t.equal(error.name, name);
    t.match(error, fields, name);
    t.equal(error instanceof sdk.HatchetError, isHatchetError, `${name} ${isHatchetError ? 'is' : 'is not'} a HatchetError, as in Hatchet`);
  }
  t.ok(sdk.isTaskRunTerminatedError(new sdk.TaskRunTerminatedError()));
  t.notOk(sdk.isTaskRunTerminatedError(new Error('x')));
});

t.test('the default logger writes at its level and above, with its context and extra fields', async (t) => {
  const written: string[] = [];
  const saved = { debug: console.debug, info: console.info, warn: console.warn, error: console.error };
  for (const level of ['debug', 'info', 'warn', 'error'] as const) console[level] = (line: string) => written.push(`${level}: ${line}`);
  t.teardown(() => Object.assign(console, saved));
  const logger = new sdk.ConsoleLogger('ctx', 'WARN');
  logger.debug('hidden');
  logger.info('hidden too');
  logger.green('hidden as well');
  logger.warn('careful', new Error('cause'), { n: 1 });
  logger.error('broken', undefined, 'text');
  const off = new sdk.ConsoleLogger('quiet', 'OFF');
  off.error('never');
  const all = new sdk.ConsoleLogger('all', 'DEBUG');
  all.debug('d', {});
  all.green('g', { circular: undefined });
  t.same(written, ['warn: [WARN/ctx] careful cause {"n":1}', 'error: [ERROR/ctx] broken text', 'debug: [DEBUG/all] d', 'info: [INFO/all] g {}']);
});

t.test('sleep resolves after its time and rejects with Error("Cancelled") when aborted', async (t) => {
  const started = Date.now();
  await sleep('50ms');
  t.ok(Date.now() - started >= 45);
  const controller = new AbortController();
  const pending = sleep(10_000, controller.signal);
  controller.abort();
  await t.rejects(pending, { message: 'Cancelled' });
  await t.rejects(sdk.sleep(10, controller.signal), { message: 'Cancelled' }, 'an aborted signal rejects at once');
});

const task: AssignedTask = {
  taskId: 'task-1',
  attempt: 1,
  runId: 'run-1',
  workflow: 'wf',
  task: 'step',
  action: 'wf:step',
  input: encodePayload({ n: 1 }, 'input'),
  parents: { first: encodePayload({ n: 0 }, 'output') },
  additionalMetadata: { k: 'v' },
  priority: 2,
  parentTaskId: 'parent-1',
  childIndex: 3,
  childKey: 'key',
};
const streamed: Array<{ index: number; data: string | Uint8Array }> = [];
const host: ContextHost = {
  putStream: async (_task, index, data) => {
    streamed.push({ index, data });
  },
  refreshTimeout: () => {},
  releaseSlot: () => {},
  cancelRun: async () => {},
  runChild: async () => ({}),
  log: () => {},
  logUtil: () => {},
  hasWorkflow: (name) => name === 'wf',
  upsertLabels: async (labels) => ({ gpu: 'yes', ...labels }),
  resolveWorkflow: (workflow) => ({ name: String(workflow), standalone: undefined }),
  checkpoint: async () => ({ done: false }),
  evicted: () => {},
  namespaced: (key) => key,
  workerId: 'worker-1',
  workerLabels: { gpu: 'yes' },
};

t.test('Context: the run as Hatchet names it', async (t) => {
  const ctx = new sdk.Context<{ n: number }>(task, host);
  t.same(
    [ctx.workflowName(), ctx.workflowNameV1(), ctx.taskName(), ctx.stepName(), ctx.workflowRunId(), ctx.taskRunExternalId(), ctx.taskRunId(), ctx.retryCount()],
    ['wf', 'wf', 'step', 'step', 'run-1', 'task-1', 'task-1', 1],
  );
  t.same([ctx.priority(), ctx.parentWorkflowRunId(), ctx.childIndex(), ctx.childKey(), ctx.workflowId(), ctx.workflowVersionId()], [2, 'parent-1', 3, 'key', undefined, undefined]);
  t.same([ctx.triggers(), ctx.filterPayload(), ctx.triggeredByEvent(), ctx.userData(), ctx.triggeringEventId(), ctx.triggeringEventKey()], [{}, {}, false, {}, undefined, undefined]);
  t.same(ctx.workflowInput(), { n: 1 });
  t.same(ctx.stepOutput('first'), { n: 0 });
  t.throws(() => ctx.stepOutput('missing'), /Output for parent task 'missing' not found/);
  t.same(await ctx.parentOutput('First'), { n: 0 }, 'task names are case-insensitive, as registered');
  t.same(ctx.additionalMetadata(), { k: 'v' });
  t.same(ctx.worker.labels(), { gpu: 'yes' });
  t.equal(ctx.worker.id(), 'worker-1');
  t.ok(ctx.worker.hasWorkflow('wf'));
  t.equal(ctx.controller, ctx.abortController);
  await ctx.logger.util('trace', 'x');
  await ctx.log('off', 'OFF');
  ctx.abortController.abort();
  t.throws(() => ctx.rethrowIfCancelled(new Error('x')), { message: 'x' });
  await t.rejects(ctx.runChild('wf', {}), { name: 'AbortError' }, 'a cancelled task spawns nothing');
});

t.test('features this engine does not carry out yet reject with a NotSupportedError that names them', async (t) => {
  const ctx = new sdk.DurableContext<{ n: number }>(task, host);
  t.equal(ctx.invocationCount, 1);
  t.equal(ctx.supportsEviction, true);
  const hatchet = sdk.HatchetClient.init({ token: 'unused', host_port: '127.0.0.1:1', log_level: 'OFF' });
  t.teardown(() => hatchet.close());
  const decl = hatchet.task({ name: 'stub', fn: () => ({ ok: true }) });
  const worker = await hatchet.worker('stub-worker', { workflows: [], handleKill: false });
  t.same(worker.getLabels(), {});
  const calls: Array<[string, () => unknown]> = [
    ['decl.metrics', () => decl.metrics()],
    ['decl.taskStatusMetrics', () => decl.taskStatusMetrics()],
    ['decl.get', () => decl.get()],
    ['hatchet.api', async () => hatchet.api],
  ];
  calls.push(['events.putLog', () => hatchet.events.putLog('x', 'y')]);
  for (const [name, call] of calls) {
    const error = await Promise.resolve()
      .then(call)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    t.ok(error instanceof sdk.NotSupportedError, `${name} rejects with a NotSupportedError`);
    t.match((error as Error | undefined)?.message, /.+ is not supported by this engine yet$/, `${name} names the feature`);
  }
  await ctx.putStream('a');
  await ctx.putStream(new Uint8Array([98]));
  t.same(streamed, [{ index: 0, data: 'a' }, { index: 1, data: new Uint8Array([98]) }], 'ctx.putStream numbers its chunks from 0');
  await t.rejects(hatchet.events.putStream('not-running', 'y', 0), { code: 'TASK_NOT_HELD' }, 'events.putStream streams only for a task a worker of this client runs');
  t.equal(hatchet.event, hatchet.events, 'aliases: event');
  t.equal(hatchet.cron, hatchet.crons, 'aliases: cron');
  t.equal(hatchet.schedule, hatchet.scheduled, 'aliases: schedule');
  t.equal(hatchet.schedules, hatchet.scheduled, 'aliases: schedules');
  t.equal(hatchet.tasks, hatchet.workflows, 'aliases: tasks');
  t.equal(hatchet.tenantId, '');
});

t.test('declarations made without a client say so; a task without fn cannot be registered', async (t) => {
  const unbound = sdk.CreateTaskWorkflow({ name: 'loose', fn: () => ({ ok: true }) });
  await t.rejects(unbound.run({}), { name: 'HatchetError', message: /not bound to a client/ });
  const wf = sdk.CreateWorkflow<{ id: string }>({ name: 'stub-only' });
  wf.task({ name: 'declared-elsewhere' });
  t.throws(() => wf.spec(), { message: "task 'declared-elsewhere' of workflow 'stub-only' has no fn, so no worker can run it" });
  const durable = sdk.CreateDurableTaskWorkflow({ name: 'durable', fn: async (_input: { n: number }) => ({ n: 1 }) });
  t.match(durable.spec(), { tasks: [{ name: 'durable', durable: true }] }, 'a durable task is marked durable in its spec');
  const batch = sdk.CreateBatchTaskWorkflow({ name: 'batch', batch: { maxSize: 10 }, fn: () => ({ ok: true }) });
  t.throws(() => batch.spec(), { name: 'NotSupportedError', message: /batch tasks/ });
  const inWorkflow = sdk.CreateWorkflow({ name: 'mixed', sticky: sdk.StickyStrategy.SOFT, on: { cron: '* * * * *', event: 'e' } });
  inWorkflow.durableTask({ name: 'd', fn: async () => ({ n: 1 }) });
  inWorkflow.batchTask({ name: 'b', batch: { maxSize: 2 }, fn: () => ({ n: 1 }) });
  t.throws(() => inWorkflow.spec(), { message: /workflow 'mixed' uses batch tasks \(batchTask\)/ });
  t.same(wf.definition._tasks.map((task) => task.name), ['declared-elsewhere']);
  t.equal(unbound.taskDef.name, 'loose');
  t.equal(unbound._standalone_task_name, 'loose');
});
