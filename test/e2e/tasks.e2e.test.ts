/**
 * Tasks and workflows end to end: the real engine process (`kindling start` on LMDB), the SDK over
 * a real WebSocket, a real worker.
 */
import t from 'tap';
import { HatchetClient, NonRetryableError, V1LogLineLevel, V1LogLineOrderByDirection } from '../../src/sdk/index.js';
import type { Worker } from '../../src/sdk/worker.js';
import { type EngineProcess, startEngine } from '../support/engine-process.js';

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(new Error('aborted'));
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
  for (const worker of workers) await worker.stop();
  hatchet.close();
  await engine.dispose();
});

async function startWorker(name: string, workflows: Parameters<HatchetClient['worker']>[1] extends infer O ? (O extends { workflows?: infer W } ? W : never) : never, slots = 20) {
  const worker = await hatchet.worker(name, { workflows, slots, handleKill: false });
  void worker.start();
  await worker.waitUntilReady();
  workers.push(worker);
  return worker;
}

t.test('a standalone task returns its output; a DAG fans out and in with parent outputs', async (t) => {
  const simple = hatchet.task({ name: 'simple', fn: (input: { message: string }) => ({ transformed: input.message.toLowerCase() }) });
  const dag = hatchet.workflow<{ n: number }>({ name: 'fan-dag' });
  const start = dag.task({ name: 'start', fn: (input) => ({ n: input.n }) });
  const left = dag.task({ name: 'left', parents: [start], fn: async (_input, ctx) => ({ v: (await ctx.parentOutput<{ n: number }>(start)).n + 1 }) });
  const right = dag.task({ name: 'right', parents: [start], fn: async (_input, ctx) => ({ v: (await ctx.parentOutput<{ n: number }>(start)).n * 10 }) });
  dag.task({
    name: 'join',
    parents: [left, right],
    fn: async (_input, ctx) => ({ sum: (await ctx.parentOutput<{ v: number }>(left)).v + (await ctx.parentOutput<{ v: number }>('right')).v }),
  });
  await startWorker('basic-worker', [simple, dag]);

  t.same(await simple.run({ message: 'Hello World' }), { transformed: 'hello world' });
  t.same(await dag.run({ n: 4 }), { start: { n: 4 }, left: { v: 5 }, right: { v: 40 }, join: { sum: 45 } });
  const ref = await simple.runNoWait({ message: 'REF' });
  t.match(await ref.runId, /^[0-9a-f-]{36}$/);
  t.same(await ref.output, { transformed: 'ref' });
  const details = await hatchet.runs.get(ref.workflowRunId);
  t.match(details, { run: { status: 'COMPLETED', displayName: 'simple' }, tasks: [{ displayName: 'simple', taskExternalId: ref.workflowRunId, status: 'COMPLETED', retryCount: 0 }] });
});

t.test('bulk runs resolve in the order of their inputs', async (t) => {
  const echo = hatchet.task({ name: 'echo', fn: async (input: { i: number }) => {
    await sleep((input.i * 7) % 13);
    return { i: input.i };
  } });
  await startWorker('bulk-worker', [echo]);
  const outputs = await echo.run(Array.from({ length: 60 }, (_, i) => ({ i })));
  t.same(outputs.map((o) => o.i), [...Array(60).keys()]);
  const many = await echo.runMany([{ input: { i: 1 } }, { input: { i: 2 } }]);
  t.same(many, [{ i: 1 }, { i: 2 }]);
});

t.test('retries wait their backoff; retryCount counts attempts', async (t) => {
  const seen: Array<{ attempt: number; at: number }> = [];
  const flaky = hatchet.task({
    name: 'flaky',
    retries: 3,
    backoff: { factor: 2, maxSeconds: 1 },
    fn: (_input: Record<string, never>, ctx) => {
      seen.push({ attempt: ctx.retryCount(), at: Date.now() });
      if (ctx.retryCount() < 2) throw new Error(`failure ${ctx.retryCount()}`);
      return { attempts: ctx.retryCount() + 1 };
    },
  });
  await startWorker('retry-worker', [flaky]);
  t.same(await flaky.run({}), { attempts: 3 });
  t.same(seen.map((s) => s.attempt), [0, 1, 2]);
  // factor 2 → 2 s, capped at maxSeconds 1 → each wait is 1 s.
  const gaps = seen.slice(1).map((s, i) => s.at - (seen[i] as { at: number }).at);
  t.ok(gaps.every((gap) => gap >= 950), `each retry waited its 1 s backoff (${gaps.join(', ')} ms)`);
  const [run] = await flaky.runNoWait([{}]);
  await run?.result();
  const events = (await hatchet.runs.get(run?.workflowRunId as string)).taskEvents.map((e) => e.eventType);
  t.same(events.slice(0, 6), ['QUEUED', 'ASSIGNED', 'STARTED', 'FAILED', 'RETRYING', 'QUEUED'], 'a failed attempt reads FAILED, RETRYING, QUEUED');
  t.equal(events.at(-1), 'FINISHED');
});

t.test('a NonRetryableError fails at once; an exhausted task fails with its error', async (t) => {
  let attempts = 0;
  const fatal = hatchet.task({ name: 'fatal', retries: 5, fn: () => {
    attempts += 1;
    throw new NonRetryableError('do not retry me');
  } });
  let tries = 0;
  const always = hatchet.task({ name: 'always-fails', retries: 1, fn: () => {
    tries += 1;
    throw new Error(`boom ${tries}`);
  } });
  await startWorker('fail-worker', [fatal, always]);
  await t.rejects(fatal.run({}), ['do not retry me'] as unknown as Error, 'rejects with the error strings');
  t.equal(attempts, 1);
  const error = await always.run({}).catch((e: unknown) => e);
  t.same(error, ['boom 2']);
  t.equal(tries, 2);
});

t.test('execution timeout fails the task and aborts it on the worker; refreshTimeout extends it', async (t) => {
  let aborted = false;
  const slow = hatchet.task({ name: 'too-slow', executionTimeout: '1s', fn: async (_input: Record<string, never>, ctx) => {
    ctx.abortController.signal.addEventListener('abort', () => {
      aborted = true;
    });
    await sleep(5000, ctx.abortController.signal).catch(() => {});
    return { finished: true };
  } });
  const refreshed = hatchet.task({ name: 'refreshed', executionTimeout: '1s', fn: async (_input: Record<string, never>, ctx) => {
    ctx.refreshTimeout('3s');
    await sleep(1800);
    return { finished: true };
  } });
  await startWorker('timeout-worker', [slow, refreshed]);
  const started = Date.now();
  const error = await slow.run({}).catch((e: unknown) => e);
  t.match(error, [/execution timeout of 1000 ms/]);
  t.ok(Date.now() - started < 4000, 'failed at the timeout, not when the task ended');
  await sleep(200);
  t.ok(aborted, "the worker's abort signal fired");
  t.same(await refreshed.run({}), { finished: true });
});

t.test('schedule timeout fails a task no worker takes', async (t) => {
  const orphan = hatchet.task({ name: 'orphan', scheduleTimeout: '1s', fn: () => ({}) });
  await hatchet.putWorkflow(orphan);
  const error = await orphan.run({}).catch((e: unknown) => e);
  t.match(error, [/schedule timeout of 1000 ms/]);
});

t.test('cancelling a running run aborts the task; cancelling a queued run ends it', async (t) => {
  let abortSeen = false;
  const long = hatchet.task({ name: 'long-running', fn: async (_input: Record<string, never>, ctx) => {
    await sleep(10_000, ctx.abortController.signal).catch(() => {
      abortSeen = ctx.cancelled;
    });
    return {};
  } });
  await startWorker('cancel-worker', [long]);
  const ref = await long.runNoWait({});
  for (let i = 0; i < 100 && (await hatchet.runs.get(ref.workflowRunId)).run.status !== 'RUNNING'; i++) await sleep(20);
  await ref.cancel();
  const error = await ref.result().catch((e: unknown) => e);
  t.match(error, [/cancelled by request/]);
  await sleep(200);
  t.ok(abortSeen, 'the abort signal fired with ctx.cancelled set');
  t.equal((await hatchet.runs.get(ref.workflowRunId)).run.status, 'CANCELLED');

  const nobody = hatchet.task({ name: 'queued-forever', fn: () => ({}) });
  await hatchet.putWorkflow(nobody);
  const queued = await nobody.runNoWait({});
  t.equal((await hatchet.runs.get(queued.workflowRunId)).run.status, 'QUEUED');
  await queued.cancel();
  await t.rejects(queued.result());
  t.equal((await hatchet.runs.get(queued.workflowRunId)).run.status, 'CANCELLED');
});

t.test('on-failure sees the errors; on-success runs after every leaf', async (t) => {
  let failureErrors: Record<string, string> | undefined;
  const failing = hatchet.workflow({ name: 'with-on-failure' });
  failing.task({ name: 'explode', fn: () => {
    throw new Error('exploded');
  } });
  failing.onFailure({ fn: (_input, ctx) => {
    failureErrors = ctx.errors();
    return { handled: true };
  } });
  const order: string[] = [];
  const succeeding = hatchet.workflow({ name: 'with-on-success' });
  const first = succeeding.task({ name: 'first', fn: () => {
    order.push('first');
    return 1;
  } });
  succeeding.task({ name: 'second', parents: [first], fn: () => {
    order.push('second');
    return 2;
  } });
  succeeding.onSuccess({ fn: () => {
    order.push('on-success');
    return { ok: true };
  } });
  await startWorker('hooks-worker', [failing, succeeding]);
  t.same(await failing.run({}).catch((e: unknown) => e), ['exploded']);
  t.same(failureErrors, { explode: 'exploded' });
  t.same(await succeeding.run({}), { first: 1, second: 2, 'on-success-task': { ok: true } });
  t.same(order, ['first', 'second', 'on-success']);
});

t.test('the context tells a task where it runs; children run through it and are de-duplicated', async (t) => {
  const child = hatchet.task({ name: 'child', fn: (input: { n: number }, ctx) => ({ doubled: input.n * 2, parent: ctx.parentWorkflowRunId() ?? null, index: ctx.childIndex() ?? null, meta: ctx.additionalMetadata() }) });
  let seen: Record<string, unknown> = {};
  const parent = hatchet.task({
    name: 'parent',
    fn: async (input: { n: number }, ctx) => {
      seen = {
        runId: ctx.workflowRunId(),
        taskRunId: ctx.taskRunId(),
        externalId: ctx.taskRunExternalId(),
        taskName: ctx.taskName(),
        workflowName: ctx.workflowName(),
        retryCount: ctx.retryCount(),
        priority: ctx.priority(),
        metadata: ctx.additionalMetadata(),
        cancelled: ctx.cancelled,
        sameController: ctx.controller === ctx.abortController,
        errors: ctx.errors(),
        stepRunErrors: ctx.stepRunErrors(),
        workerId: ctx.worker.id(),
        labels: ctx.worker.labels(),
      };
      ctx.log('spawning children');
      ctx.log('x'.repeat(20_000), 'WARN');
      ctx.releaseSlot();
      const one = await ctx.runChild(child, { n: input.n });
      const many = await ctx.bulkRunChildren([
        { workflow: child, input: { n: 10 } },
        { workflow: child, input: { n: 20 }, options: { key: 'keyed' } },
      ]);
      const ref = await ctx.runNoWaitChild(child, { n: 7 });
      return { one, many: many.map((m) => m.doubled), later: (await ref.result()).doubled };
    },
  });
  const worker = await startWorker('context-worker', [child, parent]);
  const ref = await parent.runNoWait({ n: 3 }, { additionalMetadata: { tenant: 'acme' }, priority: 2 });
  const output = (await ref.result()) as { one: { doubled: number; parent: string; index: number; meta: Record<string, string> }; many: number[]; later: number };
  t.match(output.one, { doubled: 6, parent: ref.workflowRunId, index: 0, meta: { tenant: 'acme' } }, 'children inherit the metadata');
  t.same(output.many, [20, 40]);
  t.equal(output.later, 14);
  t.match(seen, {
    runId: ref.workflowRunId,
    taskRunId: ref.workflowRunId,
    externalId: ref.workflowRunId,
    taskName: 'parent',
    workflowName: 'parent',
    retryCount: 0,
    priority: 2,
    metadata: { tenant: 'acme' },
    cancelled: false,
    sameController: true,
    errors: {},
    stepRunErrors: {},
    workerId: worker.workerId,
    labels: {},
  });
  const details = await hatchet.runs.get(ref.workflowRunId);
  t.equal(details.run.status, 'COMPLETED');
  const lines = (await hatchet.logs.list(ref.workflowRunId)).rows ?? [];
  t.match(lines, [
    { taskExternalId: ref.workflowRunId, attempt: 1, retryCount: 0, level: 'INFO', message: 'spawning children', createdAt: /^\d{4}-\d\d-\d\dT/ },
    { level: 'WARN', message: /… \(truncated\)$/ },
  ]);
  t.equal(lines[1]?.message.length, 10_000, 'a long line is cut at the limit');
});

t.test('a failed run replayed runs its failed task again and completes', async (t) => {
  let failNext = true;
  const sometimes = hatchet.task({ name: 'fails-once', fn: (_input: Record<string, never>, ctx) => {
    if (failNext) {
      failNext = false;
      throw new Error('first time fails');
    }
    return { attempt: ctx.retryCount() };
  } });
  await startWorker('replay-worker', [sometimes]);
  const ref = await sometimes.runNoWait({});
  t.same(await ref.result().catch((e: unknown) => e), ['first time fails']);
  await ref.replay();
  t.same(await ref.result(), { attempt: 1 }, 'the replay is attempt 1');
  t.equal((await hatchet.runs.get(ref.workflowRunId)).run.status, 'COMPLETED');
});

t.test('a worker stopping gracefully finishes its tasks and hands the rest to another worker', async (t) => {
  const ranOn: string[] = [];
  const make = (label: string) =>
    hatchet.task({ name: 'handover', fn: async (input: { i: number }) => {
      ranOn.push(label);
      await sleep(150);
      return { i: input.i, on: label };
    } });
  const first = await hatchet.worker('handover-a', { workflows: [make('a')], slots: 2, handleKill: false });
  void first.start();
  await first.waitUntilReady();
  const refs = await make('a').runNoWait(Array.from({ length: 8 }, (_, i) => ({ i })));
  while (ranOn.length < 2) await sleep(10);
  const stopped = first.stop();
  const second = await startWorker('handover-b', [make('b')], 4);
  await stopped;
  const outputs = (await Promise.all(refs.map((ref) => ref.result()))) as Array<{ i: number; on: string }>;
  t.same(outputs.map((o) => o.i), [...Array(8).keys()], 'every run completed; none failed because a worker was stopping');
  t.ok(outputs.filter((o) => o.on === 'a').length >= 2, 'the stopping worker finished what it had started');
  t.ok(outputs.some((o) => o.on === 'b'), 'the rest went to the other worker');
  t.ok(second.workerId !== first.workerId);
});

t.test('large outputs are batched by size and every run completes once', async (t) => {
  let executions = 0;
  const big = hatchet.task({ name: 'big-output', fn: (input: { i: number }) => {
    executions += 1;
    return { i: input.i, blob: 'b'.repeat(250 * 1024) };
  } });
  await startWorker('big-worker', [big], 20);
  const outputs = (await big.run(Array.from({ length: 24 }, (_, i) => ({ i })))) as Array<{ i: number; blob: string }>;
  t.same(outputs.map((o) => o.i), [...Array(24).keys()]);
  t.ok(outputs.every((o) => o.blob.length === 250 * 1024));
  t.equal(executions, 24, 'no task ran twice');
});

t.test('bad workflows are refused when a worker registers them', async (t) => {
  // The SDK cannot express a cycle; another runtime's client could, so send one as it would.
  const task = (name: string, parents: string[]) => ({ name, parents, executionTimeoutMs: 1000, scheduleTimeoutMs: 1000, retries: 0, slotCost: 1 });
  const cyclic = { spec: () => ({ name: 'cyclic', tasks: [task('a', ['b']), task('b', ['a']), task('c', [])] }) } as unknown as Parameters<HatchetClient['putWorkflow']>[0];
  await t.rejects(hatchet.putWorkflow(cyclic), { code: 'INVALID_INPUT', message: /'a', 'b' depend on each other in a cycle/ });
  const selfLoop = { spec: () => ({ name: 'self-loop', tasks: [task('a', ['a'])] }) } as unknown as Parameters<HatchetClient['putWorkflow']>[0];
  await t.rejects(hatchet.putWorkflow(selfLoop), { code: 'INVALID_INPUT', message: /cycle/ });
  const twice = hatchet.workflow({ name: 'twice' });
  twice.task({ name: 'same', fn: () => ({ n: 1 }) });
  twice.task({ name: 'same', fn: () => ({ n: 2 }) });
  await t.rejects(hatchet.worker('twice-worker', { workflows: [twice], handleKill: false }), { code: 'INVALID_INPUT', message: /two tasks are named 'same'/ });
  const proto = hatchet.task({ name: '__proto__', fn: () => ({ n: 1 }) });
  await t.rejects(hatchet.worker('proto-worker', { workflows: [proto], handleKill: false }), { code: 'INVALID_INPUT', message: /cannot be a task name/ });
});

t.test('a task keeps its first 1,000 log lines (later ones are dropped), listed with Hatchet\'s filters', async (t) => {
  const chatty = hatchet.task({ name: 'chatty', retries: 1, fn: async (_input: Record<string, never>, ctx) => {
    if (ctx.retryCount() === 0) {
      ctx.log('first attempt', 'WARN');
      throw new Error('again');
    }
    for (let i = 0; i < 1200; i++) ctx.log(`line ${i}`, i % 100 === 0 ? 'ERROR' : 'INFO');
    await sleep(300);
    return { done: true };
  } });
  await startWorker('chatty-worker', [chatty]);
  const ref = await chatty.runNoWait({});
  await ref.result();
  await sleep(300);
  const lines = (await hatchet.logs.list(ref.workflowRunId)).rows ?? [];
  t.equal(lines.length, 1000, 'the first 1,000 lines of the task, over both attempts');
  t.equal(lines[0]?.message, 'first attempt');
  t.equal(lines.at(-1)?.message, 'line 998', 'the line past the limit and later ones were dropped');
  t.same((await hatchet.logs.list(ref.workflowRunId, { limit: 3 })).rows?.map((line) => line.message), ['line 996', 'line 997', 'line 998'], 'the newest of them, oldest first');
  t.same((await hatchet.logs.list(ref.workflowRunId, { limit: 2, orderByDirection: V1LogLineOrderByDirection.DESC })).rows?.map((line) => line.message), ['line 998', 'line 997']);
  t.same((await hatchet.logs.list(ref.workflowRunId, { limit: 2, orderByDirection: V1LogLineOrderByDirection.ASC })).rows?.map((line) => line.message), ['first attempt', 'line 0']);
  t.same((await hatchet.logs.list(ref.workflowRunId, { levels: [V1LogLineLevel.ERROR] })).rows?.map((line) => line.message), ['line 0', 'line 100', 'line 200', 'line 300', 'line 400', 'line 500', 'line 600', 'line 700', 'line 800', 'line 900']);
  t.same((await hatchet.logs.list(ref.workflowRunId, { search: 'LINE 99' })).rows?.map((line) => line.message), ['line 99', ...Array.from({ length: 9 }, (_, i) => `line ${990 + i}`)], 'a search matches text in any case');
  t.match((await hatchet.logs.list(ref.workflowRunId, { attempt: 1 })).rows, [{ message: 'first attempt', attempt: 1, retryCount: 0, level: 'WARN' }]);
  t.equal((await hatchet.logs.list(ref.workflowRunId, { attempt: 2 })).rows?.length, 999);
  t.same((await hatchet.logs.list(ref.workflowRunId, { since: new Date(Date.now() + 60_000) })).rows, []);
  t.equal((await hatchet.logs.list(ref.workflowRunId, { until: new Date(Date.now() + 60_000) })).rows?.length, 1000);
  await t.rejects(hatchet.logs.list(ref.workflowRunId, { limit: 0 }), { code: 'INVALID_INPUT' });
});

t.test('awaiting a run that does not exist rejects with RUN_NOT_FOUND', async (t) => {
  await t.rejects(hatchet.runRef('00000000-0000-0000-0000-000000000000').result(), { code: 'RUN_NOT_FOUND' });
});

t.test('bad input is refused with a clear error and the engine carries on', async (t) => {
  const unknown = hatchet.task({ name: 'never-registered', fn: () => ({}) });
  await t.rejects(unknown.run({}), { code: 'WORKFLOW_NOT_FOUND', message: /'never-registered' is not registered/ });
  const big = hatchet.task({ name: 'big-input', fn: () => ({}) });
  await hatchet.putWorkflow(big);
  await t.rejects(big.runNoWait({ blob: 'x'.repeat(300 * 1024) }), { code: 'PAYLOAD_TOO_LARGE', message: /limit is 262144/ });
  await t.rejects(hatchet.runs.get('no-such-run'), { code: 'RUN_NOT_FOUND' });
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  await t.rejects(big.runNoWait(circular), { code: 'INVALID_INPUT', message: /not JSON-serialisable: .*circular/i });
  await t.rejects(big.runNoWait({ n: 10n }), { code: 'INVALID_INPUT', message: /BigInt/ });
  await t.rejects(big.runNoWait((() => 1) as never), { code: 'INVALID_INPUT', message: /function has no JSON form/ });
  const simpleAgain = hatchet.task({ name: 'simple', fn: (input: { message: string }) => ({ transformed: input.message.toLowerCase() }) });
  t.same(await simpleAgain.run({ message: 'Still Fine' }), { transformed: 'still fine' }, 'the engine still serves');
});

t.test('an output JSON cannot carry fails its task for good with a clear error; JSON rules apply to outputs', async (t) => {
  let attempts = 0;
  // Typed programs cannot return these (outputs are JSON objects); untyped ones can.
  const bad = hatchet.task({ name: 'bad-output', retries: 3, fn: (() => {
    attempts += 1;
    return { n: 10n };
  }) as () => never });
  const dated = hatchet.task({ name: 'dated-output', fn: (() => ({ at: new Date(0), gone: undefined, list: [undefined, 1] })) as () => never });
  await startWorker('output-worker', [bad, dated]);
  const errors = await bad.run({}).then(() => [], (rejected: unknown) => rejected as string[]);
  t.match(errors, [/the output of task 'bad-output' is not JSON-serialisable: .*BigInt/]);
  t.equal(attempts, 1, 'not retried: running it again cannot help');
  t.same(await dated.run({}), { at: '1970-01-01T00:00:00.000Z', list: [null, 1] }, 'what JSON.stringify keeps, as in Hatchet');
});

t.test('runs triggered one by one in the same turn share a frame, and one bad run fails only its own caller', async (t) => {
  const echo = hatchet.task({ name: 'one-by-one', fn: (input: { i: number }) => ({ i: input.i }) });
  await startWorker('one-by-one-worker', [echo]);
  const missing = hatchet.task({ name: 'never-declared-anywhere', fn: () => ({}) });
  const calls = [...Array.from({ length: 30 }, (_, i) => echo.run({ i })), missing.run({}).then(() => 'created', (error: { code?: string }) => error.code)];
  const settled = await Promise.all(calls);
  t.same(settled.slice(0, 30).map((o) => (o as { i: number }).i), [...Array(30).keys()], 'every good run ran with its own input');
  t.equal(settled[30], 'WORKFLOW_NOT_FOUND', 'the bad one is refused on its own');
});
