/**
 * Flow control end to end: the real engine process (`kindling start` on LMDB), the SDK over real
 * sockets, real workers. Each policy has a test that fails if the policy were ignored: concurrency
 * strategies, several keys at once, static and dynamic rate limits, priorities, sticky runs,
 * worker affinity, manual slot release and paused workers — and the policies survive `kill -9`.
 * The machine is shared and loaded: tests assert orders, counts and lower bounds, never tight
 * durations.
 */
import t from 'tap';
import { ConcurrencyLimitStrategy, HatchetClient, Priority, RateLimitDuration, StickyStrategy, WorkerLabelComparator } from '../../src/sdk/index.js';
import type { Worker } from '../../src/sdk/worker.js';
import { type EngineProcess, startEngine } from '../support/engine-process.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const abortable = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });

let engine: EngineProcess;
let hatchet: HatchetClient;
const workers: Worker[] = [];

t.before(async () => {
  engine = await startEngine();
  hatchet = HatchetClient.init({ token: engine.token, host_port: engine.hostPort, log_level: 'ERROR' });
});
t.teardown(async () => {
  for (const worker of workers) await worker.stop().catch(() => {});
  hatchet.close();
  await engine.dispose();
});

type Workflows = NonNullable<Parameters<HatchetClient['worker']>[1] extends infer O ? (O extends { workflows?: infer W } ? W : never) : never>;

async function startWorker(name: string, workflows: Workflows, options: { slots?: number; labels?: Record<string, string | number>; client?: HatchetClient } = {}) {
  const worker = await (options.client ?? hatchet).worker(name, { workflows, slots: options.slots ?? 20, handleKill: false, ...(options.labels === undefined ? {} : { labels: options.labels }) });
  void worker.start();
  await worker.waitUntilReady();
  workers.push(worker);
  return worker;
}

/** Registers workflows without a worker that runs them, so runs can queue up first. */
const register = (name: string, workflows: Workflows) => hatchet.worker(name, { workflows, handleKill: false });

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

t.test('GROUP_ROUND_ROBIN, maxRuns 1: keys take turns, and no key ever runs two at once', async (t) => {
  const starts: string[] = [];
  const running = new Map<string, number>();
  let overlap = 0;
  const rr = hatchet.task({
    name: 'rr-task',
    concurrency: { expression: 'input.group', maxRuns: 1, limitStrategy: ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN },
    fn: async (input: { group: string }) => {
      starts.push(input.group);
      running.set(input.group, (running.get(input.group) ?? 0) + 1);
      if ((running.get(input.group) ?? 0) > 1) overlap += 1;
      await sleep(60);
      running.set(input.group, (running.get(input.group) ?? 1) - 1);
      return { group: input.group };
    },
  });
  await register('rr-registrar', [rr]);
  // A backlog first — A's runs all ahead of B's and C's — then a worker with room for all of them.
  const refs = await rr.runNoWait([...Array(4).fill({ group: 'A' }), ...Array(2).fill({ group: 'B' }), ...Array(2).fill({ group: 'C' })]);
  await startWorker('rr-worker', [rr], { slots: 10 });
  await Promise.all(refs.map((ref) => ref.result()));
  t.equal(overlap, 0, 'never two runs of one key at once');
  t.same([...starts.slice(0, 3)].sort(), ['A', 'B', 'C'], `the first three starts are one of each key (${starts.join('')})`);
  t.notSame(starts.slice(0, 4), ['A', 'A', 'A', 'A'], 'A does not run its backlog first');
  const details = await hatchet.runs.get(refs[1]?.workflowRunId as string);
  t.ok(
    details.taskEvents.some((e) => e.eventType === 'CONCURRENCY_LIMITED' && /input\.group = "A"/.test(e.message ?? '')),
    'a run that waited says so in its history, naming its key',
  );
});

t.test('CANCEL_IN_PROGRESS cancels the older run of a key; CANCEL_NEWEST cancels the newer one', async (t) => {
  const started: string[] = [];
  const body = async (input: { key: string; n: number }, ctx: { abortController: AbortController }) => {
    started.push(`${input.key}${input.n}`);
    await abortable(input.n === 1 ? 1500 : 50, ctx.abortController.signal);
    return { n: input.n };
  };
  const inProgress = hatchet.task({ name: 'cip-task', concurrency: { expression: 'input.key', maxRuns: 1, limitStrategy: ConcurrencyLimitStrategy.CANCEL_IN_PROGRESS }, fn: body });
  const newest = hatchet.task({ name: 'cn-task', concurrency: { expression: 'input.key', maxRuns: 1, limitStrategy: ConcurrencyLimitStrategy.CANCEL_NEWEST }, fn: body });
  await startWorker('cancel-worker', [inProgress, newest], { slots: 10 });

  const older = await inProgress.runNoWait({ key: 'k', n: 1 });
  await until(() => started.includes('k1'), 'the older run to start');
  const newer = await inProgress.runNoWait({ key: 'k', n: 2 });
  t.same(await newer.result(), { n: 2 }, 'the newer run completes');
  await t.rejects(older.result(), 'the older run ends cancelled');
  const olderDetails = await hatchet.runs.get(older.workflowRunId);
  t.equal(olderDetails.run.status, 'CANCELLED');
  t.ok(olderDetails.taskEvents.some((e) => e.eventType === 'CANCELLED' && /CANCEL_IN_PROGRESS/.test(e.message ?? '')), 'its history says which strategy cancelled it');

  const first = await newest.runNoWait({ key: 'q', n: 1 });
  await until(() => started.includes('q1'), 'the first run to start');
  const second = await newest.runNoWait({ key: 'q', n: 2 });
  await t.rejects(second.result(), 'the newer run ends cancelled');
  t.equal((await hatchet.runs.get(second.workflowRunId)).run.status, 'CANCELLED');
  t.same(await first.result(), { n: 1 }, 'the run in progress continues to completion');
  t.notOk(started.includes('q2'), 'the cancelled newcomer never started');
});

t.test('two concurrency keys at once: a workflow limited per tier and per account keeps both limits', async (t) => {
  const running = new Map<string, number>();
  const peaks = new Map<string, number>();
  const bump = (key: string, by: number) => {
    const now = (running.get(key) ?? 0) + by;
    running.set(key, now);
    peaks.set(key, Math.max(peaks.get(key) ?? 0, now));
  };
  const wf = hatchet.workflow<{ tier: string; account: string }>({
    name: 'two-keys',
    concurrency: [
      { expression: 'input.tier', maxRuns: 2, limitStrategy: ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN },
      { expression: 'input.account', maxRuns: 1, limitStrategy: ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN },
    ],
  });
  const step = wf.task({
    name: 'step',
    fn: async (input) => {
      bump(`tier:${input.tier}`, 1);
      bump(`account:${input.account}`, 1);
      await sleep(80);
      bump(`tier:${input.tier}`, -1);
      bump(`account:${input.account}`, -1);
      return { ok: true };
    },
  });
  wf.task({ name: 'after', parents: [step], fn: async () => ({ done: true }) });
  await startWorker('two-keys-worker', [wf], { slots: 20 });
  const inputs = [
    ...Array.from({ length: 3 }, () => ({ tier: 'pro', account: 'a1' })),
    ...Array.from({ length: 2 }, () => ({ tier: 'pro', account: 'a2' })),
    ...Array.from({ length: 2 }, () => ({ tier: 'pro', account: 'a3' })),
    ...Array.from({ length: 2 }, () => ({ tier: 'free', account: 'a4' })),
  ];
  const outputs = await wf.run(inputs);
  t.equal(outputs.length, inputs.length, 'every run completes');
  for (const account of ['a1', 'a2', 'a3', 'a4']) t.equal(peaks.get(`account:${account}`), 1, `account ${account} never ran two at once`);
  t.ok((peaks.get('tier:pro') ?? 0) <= 2, `tier pro never ran more than two at once (peak ${peaks.get('tier:pro')})`);
  t.equal(peaks.get('tier:pro'), 2, 'and did run two at once: the limit is 2, not 1');
});

t.test('a static rate limit of 10 per second holds 50 tasks to at least 4 s; its history says it waited', async (t) => {
  t.equal(await hatchet.ratelimits.upsert({ key: 'api-10', limit: 10, duration: RateLimitDuration.SECOND }), 'api-10');
  const starts: number[] = [];
  const limited = hatchet.task({ name: 'rate-limited-10', rateLimits: [{ staticKey: 'api-10', units: 1 }], fn: (_input: { n: number }) => {
    starts.push(Date.now());
    return { ok: true };
  } });
  await startWorker('rate-worker', [limited], { slots: 100 });
  const triggered = Date.now();
  const refs = await limited.runNoWait(Array.from({ length: 50 }, (_, n) => ({ n })));
  await Promise.all(refs.map((ref) => ref.result()));
  const span = Math.max(...starts) - triggered;
  t.ok(span >= 4000, `the 50th task started ${span} ms after the trigger (5 windows of 10)`);
  t.equal(starts.length, 50);
  const list = await hatchet.ratelimits.list();
  t.match(list.rows?.find((row) => row.key === 'api-10'), { key: 'api-10', limitValue: 10, window: 'SECOND' });
  const last = refs.at(-1)?.workflowRunId as string;
  t.ok((await hatchet.runs.get(last)).taskEvents.some((e) => e.eventType === 'REQUEUED_RATE_LIMIT' && /api-10/.test(e.message ?? '')), 'a task that waited for the window says so');
});

t.test('a dynamic per-user rate limit is one limit shared by two tasks; other users are not held by it', async (t) => {
  const starts: Array<{ user: string; at: number }> = [];
  const limit = [{ dynamicKey: 'input.userId', units: 1, limit: 2, duration: RateLimitDuration.SECOND }];
  const fn = (input: { userId: string }) => {
    starts.push({ user: input.userId, at: Date.now() });
    return { ok: true };
  };
  const first = hatchet.task({ name: 'per-user-1', rateLimits: limit, fn });
  const second = hatchet.task({ name: 'per-user-2', rateLimits: limit, fn });
  await startWorker('per-user-worker', [first, second], { slots: 50 });
  const triggered = Date.now();
  const refs = [
    ...(await first.runNoWait(Array.from({ length: 3 }, () => ({ userId: 'u1' })))),
    ...(await second.runNoWait(Array.from({ length: 3 }, () => ({ userId: 'u1' })))),
    ...(await first.runNoWait([{ userId: 'u2' }, { userId: 'u2' }])),
  ];
  await Promise.all(refs.map((ref) => ref.result()));
  const u1 = starts.filter((s) => s.user === 'u1').map((s) => s.at);
  const u2 = starts.filter((s) => s.user === 'u2').map((s) => s.at);
  t.ok(Math.max(...u1) - triggered >= 2000, `six runs of u1 across both tasks took three windows of 2 (${Math.max(...u1) - triggered} ms)`);
  t.ok(Math.max(...u2) < Math.max(...u1), "u2's runs did not wait for u1's windows");
  t.match((await hatchet.ratelimits.list({ search: 'u1' })).rows, [{ key: 'u1', limitValue: 2, window: 'SECOND' }], 'the dynamic key became a rate limit');
});

t.test('priorities reorder a backlog when no slot is free; runs without one take the workflow default', async (t) => {
  const order: string[] = [];
  const priorities: Array<number | undefined> = [];
  let release: () => void = () => {};
  const blocked = new Promise<void>((resolve) => {
    release = resolve;
  });
  const prio = hatchet.task({
    name: 'prio-task',
    defaultPriority: Priority.MEDIUM,
    fn: async (input: { label: string }, ctx) => {
      order.push(input.label);
      priorities.push(ctx.priority());
      if (input.label === 'blocker') await blocked;
      return { label: input.label };
    },
  });
  await startWorker('prio-worker', [prio], { slots: 1 });
  const blocker = await prio.runNoWait({ label: 'blocker' });
  await until(() => order.includes('blocker'), 'the blocker to hold the only slot');
  const low = await Promise.all(['low1', 'low2'].map((label) => prio.runNoWait({ label }, { priority: Priority.LOW })));
  const high = await Promise.all(['high1', 'high2'].map((label) => prio.runNoWait({ label }, { priority: Priority.HIGH })));
  release();
  await Promise.all([blocker, ...low, ...high].map((ref) => ref.result()));
  t.same(order, ['blocker', 'high1', 'high2', 'low1', 'low2'], 'the high-priority runs, queued last, ran first');
  t.equal(priorities[0], Priority.MEDIUM, 'a run without a priority has the default');
});

t.test('sticky: a SOFT child falls back to another worker when its parent worker is full; HARD waits for it; the seeds rule for children that cannot be sticky', async (t) => {
  const soft = hatchet.task({ name: 'sticky-soft-child', sticky: StickyStrategy.SOFT, fn: (_input: Record<string, never>, ctx) => ({ worker: ctx.worker.id() ?? '' }) });
  const childEvents: Array<{ worker: string; at: number }> = [];
  const hard = hatchet.task({ name: 'sticky-hard-child', sticky: StickyStrategy.HARD, fn: (_input: Record<string, never>, ctx) => {
    childEvents.push({ worker: ctx.worker.id() ?? '', at: Date.now() });
    return { worker: ctx.worker.id() ?? '' };
  } });
  const notSticky = hatchet.task({ name: 'not-sticky-child', fn: () => ({ ok: true }) });
  let parentDoneAt = 0;
  let hardRunId = '';
  const parent = hatchet.task({
    name: 'sticky-parent',
    fn: async (input: { mode: string }, ctx) => {
      if (input.mode === 'soft') return { child: await ctx.runChild(soft, {}, { sticky: true }), me: ctx.worker.id() ?? '' };
      if (input.mode === 'hard') {
        const ref = await ctx.runNoWaitChild(hard, {}, { sticky: true });
        hardRunId = await ref.runId;
        await sleep(600);
        parentDoneAt = Date.now();
        return { me: ctx.worker.id() ?? '' };
      }
      if (input.mode === 'unsticky') return ctx.runChild(notSticky, {}, { sticky: true });
      return ctx.runChild(sharedOnly, {}, { sticky: true });
    },
  });
  const sharedOnly = hatchet.task({ name: 'sticky-elsewhere', sticky: StickyStrategy.SOFT, fn: () => ({ ok: true }) });
  // The parent's worker has one slot (the parent takes it); the other runs the children too.
  const home = await startWorker('sticky-home', [parent, soft, hard, notSticky], { slots: 1 });
  const other = await startWorker('sticky-other', [soft, hard, sharedOnly], { slots: 5 });

  const softResult = (await parent.run({ mode: 'soft' })) as { child: { worker: string }; me: string };
  t.equal(softResult.me, home.workerId);
  t.equal(softResult.child.worker, other.workerId, 'SOFT: the parent worker is full, so the child ran elsewhere');

  const hardParent = (await parent.run({ mode: 'hard' })) as { me: string };
  await hatchet.runRef(hardRunId).result();
  t.equal(childEvents[0]?.worker, hardParent.me, 'HARD: the child ran on its parent worker');
  t.ok((childEvents[0]?.at ?? 0) >= parentDoneAt, 'it waited for the parent to give the slot back, though another worker was free');
  t.ok((await hatchet.runs.get(hardRunId)).taskEvents.some((e) => e.eventType === 'REQUEUED_NO_WORKER' && /sticky: hard/.test(e.message ?? '')), 'its history says what it waited for');

  await t.rejects(parent.run({ mode: 'unsticky' }), [/cannot run 'not-sticky-child' sticky: it declares no sticky strategy/] as unknown as Error);
  await t.rejects(parent.run({ mode: 'elsewhere' }), [/cannot run 'sticky-elsewhere' sticky: worker '.+' has not registered it/] as unknown as Error);
});

t.test('worker affinity: a required label waits for a matching worker that joins later; weights choose the heavier worker', async (t) => {
  const big = hatchet.task({ name: 'needs-big-model', desiredWorkerLabels: { model: { value: 'big', required: true } }, fn: (_input: Record<string, never>, ctx) => ({ worker: ctx.worker.id() ?? '' }) });
  const anywhere = hatchet.task({ name: 'runs-anywhere', fn: (_input: Record<string, never>, ctx) => ({ worker: ctx.worker.id() ?? '' }) });
  await startWorker('affinity-small', [big, anywhere], { labels: { model: 'small' } });
  const ref = await big.runNoWait({});
  await sleep(500);
  t.equal(await hatchet.runs.get_status(ref), 'QUEUED', 'no worker has the label: the task waits');
  t.ok((await hatchet.runs.get(ref.workflowRunId)).taskEvents.some((e) => e.eventType === 'REQUEUED_NO_WORKER'), 'and says why');
  const bigWorker = await startWorker('affinity-big', [big, anywhere], { labels: { model: 'big' } });
  t.same(await ref.result(), { worker: bigWorker.workerId }, 'it ran on the worker that joined with the label');
  const perRun = await Promise.all([1, 2, 3].map(() => anywhere.run({}, { desiredWorkerLabels: { model: { value: 'big' } } })));
  t.same(new Set(perRun.map((o) => o.worker)), new Set([bigWorker.workerId]), 'desired labels given per run steer a task that declares none');

  const weighted = hatchet.task({
    name: 'weighted',
    desiredWorkerLabels: {
      region: { value: 'eu', required: false, weight: 10 },
      memory: { value: 1000, required: false, weight: 90, comparator: WorkerLabelComparator.GREATER_THAN },
    },
    fn: (_input: Record<string, never>, ctx) => ({ worker: ctx.worker.id() ?? '' }),
  });
  await startWorker('weight-eu', [weighted], { labels: { region: 'eu', memory: 512 } });
  const heavy = await startWorker('weight-memory', [weighted], { labels: { region: 'us', memory: 4096 } });
  const outputs = [];
  for (let i = 0; i < 6; i++) outputs.push(await weighted.run({}));
  t.same(new Set(outputs.map((o) => o.worker)), new Set([heavy.workerId]), 'every run went to the worker whose matching weight is heavier');
  const last = await weighted.runNoWait({});
  await last.result();
  const assigned = (await hatchet.runs.get(last.workflowRunId)).taskEvents;
  t.ok(assigned.some((e) => e.eventType === 'ASSIGNED' && /its labels match with weight 90/.test(e.message ?? '')), 'the assignment says why that worker');
});

t.test('ctx.worker.upsertLabels changes where the next tasks go; labels() reads them', async (t) => {
  const loader = hatchet.task({ name: 'load-model', fn: async (input: { model: string }, ctx) => {
    await ctx.worker.upsertLabels({ model: input.model });
    return { labels: ctx.worker.labels() };
  } });
  const user = hatchet.task({ name: 'use-model', desiredWorkerLabels: { model: { value: 'vision' } }, fn: (_input: Record<string, never>, ctx) => ({ worker: ctx.worker.id() ?? '' }) });
  const worker = await startWorker('relabel-worker', [loader, user]);
  const ref = await user.runNoWait({});
  await sleep(300);
  t.equal(await hatchet.runs.get_status(ref), 'QUEUED');
  t.match(await loader.run({ model: 'vision' }), { labels: { model: 'vision' } });
  t.same(await ref.result(), { worker: worker.workerId }, 'the waiting task found its label');
  t.match((await hatchet.workers.get(worker.workerId as string)).labels, [{ key: 'model', value: 'vision' }]);
});

t.test('releaseSlot lets a second task start on a one-slot worker while the first still runs', async (t) => {
  let secondStarted = false;
  let firstSawSecond = false;
  const releasing = hatchet.task({ name: 'releases-slot', fn: async (input: { n: number }, ctx) => {
    if (input.n === 1) {
      await ctx.releaseSlot();
      const deadline = Date.now() + 10_000;
      while (!secondStarted && Date.now() < deadline) await sleep(20);
      firstSawSecond = secondStarted;
    } else {
      secondStarted = true;
    }
    return { n: input.n };
  } });
  await startWorker('release-worker', [releasing], { slots: 1 });
  const first = await releasing.runNoWait({ n: 1 });
  await sleep(100);
  const second = await releasing.runNoWait({ n: 2 });
  t.same(await second.result(), { n: 2 });
  t.same(await first.result(), { n: 1 });
  t.ok(firstSawSecond, 'the second task ran while the first was still running');
  t.ok((await hatchet.runs.get(first.workflowRunId)).taskEvents.some((e) => e.eventType === 'SLOT_RELEASED'), 'SLOT_RELEASED is in its history');
});

t.test('a paused worker receives nothing until it is unpaused', async (t) => {
  const seen: string[] = [];
  const work = hatchet.task({ name: 'pause-work', fn: (_input: Record<string, never>, ctx) => {
    seen.push(ctx.worker.id() ?? '');
    return { ok: true };
  } });
  const paused = await startWorker('paused-worker', [work], { slots: 10 });
  await paused.pause();
  t.equal(await paused.isPaused(), true);
  t.equal((await hatchet.workers.get(paused.workerId as string)).status, 'PAUSED');
  const active = await startWorker('active-worker', [work], { slots: 10 });
  await work.run(Array.from({ length: 10 }, () => ({})));
  t.same(new Set(seen), new Set([active.workerId]), 'all ten went to the active worker');
  await hatchet.workers.pause(active.workerId as string);
  const ref = await work.runNoWait({});
  await sleep(300);
  t.equal(await hatchet.runs.get_status(ref), 'QUEUED', 'with every worker paused, the run waits');
  await hatchet.workers.unpause(paused.workerId as string);
  await ref.result();
  t.equal(seen.at(-1), paused.workerId, 'the unpaused worker took it');
  t.equal(await hatchet.workers.isPaused(paused.workerId as string), false);
  const listed = await hatchet.workers.list();
  t.match(listed.rows?.find((row) => row.metadata.id === active.workerId), { status: 'PAUSED', name: 'active-worker' });
  await hatchet.workers.unpause(active.workerId as string);
});

t.test('bad inputs get clear errors at registration or at trigger, and change nothing', async (t) => {
  const refusal = async (declaration: unknown) =>
    hatchet.worker('bad-input-worker', { workflows: [declaration as never], handleKill: false }).then(
      () => undefined,
      (e: unknown) => e as { code?: string; message: string },
    );
  t.match(await refusal(hatchet.task({ name: 'bad-cel', concurrency: { expression: 'input.', maxRuns: 1 }, fn: () => ({}) })), { code: 'INVALID_INPUT', message: /concurrency\[0\]\.expression: 'input\.' is not a valid CEL expression/ });
  t.match(await refusal(hatchet.task({ name: 'bad-strategy', concurrency: { expression: 'input.k', limitStrategy: ConcurrencyLimitStrategy.DROP_NEWEST }, fn: () => ({}) })), { code: 'INVALID_INPUT', message: /unknown concurrency limitStrategy "DROP_NEWEST"/ });
  t.match(await refusal(hatchet.task({ name: 'bad-label', desiredWorkerLabels: { gpu: { value: true as unknown as string } }, fn: () => ({}) })), { code: 'INVALID_INPUT', message: /a desired worker label value is a string or a number/ });
  t.match(await refusal(hatchet.task({ name: 'bad-comparator', desiredWorkerLabels: { gpu: { value: 'a', comparator: WorkerLabelComparator.GREATER_THAN } }, fn: () => ({}) })), { code: 'INVALID_INPUT', message: /compare numbers/ });
  t.match(await refusal(hatchet.task({ name: 'bad-dynamic', rateLimits: [{ dynamicKey: 'input.u', units: 1 }], fn: () => ({}) })), { code: 'INVALID_INPUT', message: /a dynamicKey needs a limit/ });

  const missingKey = hatchet.task({ name: 'missing-rate-limit', rateLimits: [{ staticKey: 'never-upserted', units: 1 }], fn: () => ({}) });
  const needsField = hatchet.task({ name: 'needs-field', concurrency: { expression: 'input.tenant', maxRuns: 1, limitStrategy: ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN }, fn: () => ({}) });
  await hatchet.ratelimits.upsert({ key: 'tiny', limit: 2, duration: RateLimitDuration.MINUTE });
  const tooMany = hatchet.task({ name: 'too-many-units', rateLimits: [{ staticKey: 'tiny', units: 5 }], fn: () => ({}) });
  await startWorker('bad-trigger-worker', [missingKey, needsField, tooMany]);
  await t.rejects(missingKey.run({}), { code: 'INVALID_INPUT', message: /the rate limit 'never-upserted' does not exist; create it first with hatchet\.ratelimits\.upsert/ });
  await t.rejects(needsField.run({}), { code: 'INVALID_INPUT', message: /'input\.tenant' could not be evaluated: No such key: tenant/ });
  const rejected = await tooMany.runNoWait({});
  await t.rejects(rejected.result(), [/needs 5 units of rate limit '.*tiny', more than its whole limit of 2/] as unknown as Error, 'units over the whole limit fail the task');
  t.ok((await hatchet.runs.get(rejected.workflowRunId)).taskEvents.some((e) => e.eventType === 'RATE_LIMIT_ERROR'), 'as RATE_LIMIT_ERROR');
  await t.rejects(hatchet.ratelimits.upsert({ key: 'zero', limit: 0 }), { code: 'INVALID_INPUT' });
  await t.rejects(hatchet.workers.get('no-such-worker'), { code: 'WORKER_NOT_FOUND' });
  t.same(await needsField.run({ tenant: 'x' } as never), {}, 'the same workflow runs with an input that has the field');
});

t.test('policies survive an engine restart mid-backlog: rate limits, concurrency keys, labels and pauses', async (t) => {
  const restartable = await startEngine({ workerLivenessMs: 5000 });
  t.teardown(() => restartable.dispose());
  const client = HatchetClient.init({ token: restartable.token, host_port: restartable.hostPort, log_level: 'OFF' });
  t.teardown(() => client.close());
  await client.ratelimits.upsert({ key: 'survives', limit: 50, duration: RateLimitDuration.SECOND });
  // Runs of each key in progress: a run whose assignment was not yet durable at the kill may run
  // twice (at-least-once), which is not two runs of its key.
  const running = new Map<string, Set<string>>();
  let overlap = 0;
  const seenBy = new Set<string>();
  const limited = client.task({
    name: 'restart-limited',
    retries: 3,
    concurrency: { expression: 'input.key', maxRuns: 1, limitStrategy: ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN },
    rateLimits: [{ staticKey: 'survives', units: 1 }],
    desiredWorkerLabels: { pool: { value: 'main' } },
    fn: async (input: { key: string; i: number }, ctx) => {
      seenBy.add(ctx.worker.id() ?? '');
      const runs = running.get(input.key) ?? new Set<string>();
      running.set(input.key, runs);
      runs.add(ctx.workflowRunId());
      if (runs.size > 1) overlap += 1;
      await sleep(150);
      runs.delete(ctx.workflowRunId());
      return { i: input.i };
    },
  });
  const local: Worker[] = [];
  const start = async (name: string, labels: Record<string, string>) => {
    const worker = await client.worker(name, { workflows: [limited], slots: 10, labels, handleKill: false });
    void worker.start();
    await worker.waitUntilReady();
    local.push(worker);
    return worker;
  };
  // Stopped while their engine still runs (teardowns run last-registered first).
  t.teardown(async () => {
    for (const worker of local) await worker.stop();
  });
  const main = await start('restart-main', { pool: 'main' });
  const idle = await start('restart-paused', { pool: 'main' });
  await idle.pause();
  const relabelled = await start('restart-relabelled', { pool: 'other' });
  await relabelled.upsertLabels({ zone: 'b' });

  const refs = await limited.runNoWait(Array.from({ length: 12 }, (_, i) => ({ key: `k${i % 3}`, i })));
  await until(() => seenBy.size > 0 && [...running.values()].some((runs) => runs.size > 0), 'the backlog to start draining');
  await restartable.kill('SIGKILL');
  await restartable.restart();
  const outputs = await Promise.all(refs.map((ref) => ref.result()));
  t.same(outputs.map((o) => o.i).sort((a, b) => a - b), [...Array(12).keys()], 'every run of the backlog completed after the restart');
  t.equal(overlap, 0, 'no key ever ran two at once, across the restart');
  t.same([...seenBy], [main.workerId], 'only the unpaused worker with the label ran them: the pause and the labels survived');
  t.equal(await client.workers.isPaused(idle.workerId as string), true, 'still paused after the restart');
  t.match((await client.workers.get(relabelled.workerId as string)).labels, [{ key: 'pool', value: 'other' }, { key: 'zone', value: 'b' }], 'upserted labels survived');
  t.match((await client.ratelimits.list()).rows, [{ key: 'survives', limitValue: 50, window: 'SECOND' }], 'the rate limit survived');
});
