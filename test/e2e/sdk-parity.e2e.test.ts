/**
 * Loggers, input validation and the features this engine does not carry out yet, end to end: the
 * real engine process, a real worker, over a real WebSocket.
 */
import t from 'tap';
import { z } from 'zod';
import { HatchetClient, Logger, type LogLevel } from '../../src/sdk/index.js';
import type { Worker } from '../../src/sdk/worker.js';
import { type EngineProcess, startEngine } from '../support/engine-process.js';

let engine: EngineProcess;
const clients: HatchetClient[] = [];
const workers: Worker[] = [];

t.before(async () => {
  engine = await startEngine();
});
t.teardown(async () => {
  for (const worker of workers) await worker.stop();
  for (const client of clients) client.close();
  await engine.dispose();
});

function client(config: Parameters<typeof HatchetClient.init>[0] = {}) {
  const made = HatchetClient.init({ token: engine.token, host_port: engine.hostPort, log_level: 'ERROR', ...config });
  clients.push(made);
  return made;
}

// biome-ignore lint/suspicious/noExplicitAny: a worker takes declarations of any types.
async function start(hatchet: HatchetClient, name: string, workflows: any[]) {
  const worker = await hatchet.worker(name, { workflows, slots: 10, handleKill: false });
  void worker.start();
  await worker.waitUntilReady();
  workers.push(worker);
  return worker;
}

/** A bring-your-own logger, as a program would write one around pino or winston. */
class RecordingLogger extends Logger {
  constructor(
    readonly context: string,
    readonly level: LogLevel | undefined,
    readonly lines: Array<{ context: string; level: string; message: string; extra?: unknown; error?: string }>,
  ) {
    super();
  }
  debug(message: string, extra?: unknown) {
    this.lines.push({ context: this.context, level: 'DEBUG', message, extra });
  }
  info(message: string, extra?: unknown) {
    this.lines.push({ context: this.context, level: 'INFO', message, extra });
  }
  green(message: string, extra?: unknown) {
    this.info(message, extra);
  }
  warn(message: string, error?: Error, extra?: unknown) {
    this.lines.push({ context: this.context, level: 'WARN', message, extra, ...(error === undefined ? {} : { error: error.message }) });
  }
  error(message: string, error?: Error, extra?: unknown) {
    this.lines.push({ context: this.context, level: 'ERROR', message, extra, ...(error === undefined ? {} : { error: error.message }) });
  }
}

t.test("a custom logger receives ctx.logger's lines, which are also stored with the task", async (t) => {
  const lines: RecordingLogger['lines'] = [];
  const levels: Array<LogLevel | undefined> = [];
  const hatchet = client({
    log_level: 'DEBUG',
    logger: (context, level) => {
      levels.push(level);
      return new RecordingLogger(context, level, lines);
    },
  });
  const task = hatchet.task({
    name: 'logs-lines',
    fn: async (_input: Record<string, never>, ctx) => {
      await ctx.logger.debug('debugging', { step: 1 });
      await ctx.logger.info('hello from the task', { hello: 'moon' });
      await ctx.logger.warn('careful', { error: new Error('a warning cause'), extra: { n: 2 } });
      await ctx.logger.error('it broke');
      await ctx.log('plain line');
      return { ok: true };
    },
  });
  await start(hatchet, 'logger-worker', [task]);
  const ref = await task.runNoWait({});
  await ref.result();
  t.ok(levels.every((level) => level === 'DEBUG'), 'every logger is made at the configured level');
  const fromTask = lines.filter((line) => line.context === 'ctx');
  t.match(fromTask, [
    { level: 'DEBUG', message: 'debugging', extra: { step: 1, workflowRunId: ref.workflowRunId, taskRunExternalId: ref.workflowRunId, retryCount: 0, workflowName: 'logs-lines' } },
    { level: 'INFO', message: 'hello from the task', extra: { hello: 'moon' } },
    { level: 'WARN', message: 'careful', error: 'a warning cause', extra: { n: 2 } },
    { level: 'ERROR', message: 'it broke' },
    { level: 'INFO', message: 'plain line' },
  ]);
  const stored = (await hatchet.logs.list(ref.workflowRunId)).rows ?? [];
  t.same(
    stored.map((line) => [line.level, line.message]),
    [
      ['DEBUG', 'debugging'],
      ['INFO', 'hello from the task'],
      ['WARN', 'careful'],
      ['ERROR', 'it broke'],
      ['INFO', 'plain line'],
    ],
    'the same lines are in the task log',
  );
});

t.test('the log level comes from log_level or HATCHET_CLIENT_LOG_LEVEL; a bad one is refused', async (t) => {
  const made: Array<LogLevel | undefined> = [];
  const previous = process.env.HATCHET_CLIENT_LOG_LEVEL;
  t.teardown(() => {
    if (previous === undefined) delete process.env.HATCHET_CLIENT_LOG_LEVEL;
    else process.env.HATCHET_CLIENT_LOG_LEVEL = previous;
  });
  process.env.HATCHET_CLIENT_LOG_LEVEL = 'WARN';
  const fromEnv = HatchetClient.init({ token: engine.token, host_port: engine.hostPort, logger: (context, level) => {
    made.push(level);
    return new RecordingLogger(context, level, []);
  } });
  t.equal(fromEnv.config.log_level, 'WARN');
  t.same(made, ['WARN']);
  process.env.HATCHET_CLIENT_LOG_LEVEL = 'LOUD';
  t.throws(() => HatchetClient.init({ token: engine.token }), { name: 'HatchetError', message: /invalid log level 'LOUD'.*OFF, DEBUG, INFO, WARN, ERROR/ });
  // biome-ignore lint/suspicious/noExplicitAny: a program without types passing the wrong thing.
  t.throws(() => HatchetClient.init({ token: engine.token, log_level: 'INFO', logger: 'pino' as any }), { message: /logger must be a function/ });
});

t.test('inputValidator: bad input fails the task at once with a clear error; the schema round-trips through the engine', async (t) => {
  const hatchet = client();
  let ran = 0;
  const schema = z.object({ email: z.string().email(), count: z.number().int().min(1) });
  const task = hatchet.task({
    name: 'validated',
    retries: 3,
    inputValidator: schema,
    fn: (input: z.infer<typeof schema>) => {
      ran += 1;
      return { sent: input.count };
    },
  });
  const dag = hatchet.workflow<{ id: string }>({ name: 'validated-dag', inputValidator: z.object({ id: z.string().uuid() }) });
  dag.task({ name: 'only', fn: (input) => ({ id: input.id }) });
  await start(hatchet, 'validation-worker', [task, dag]);

  t.same(await task.run({ email: 'a@example.com', count: 2 }), { sent: 2 }, 'good input runs');
  const errors = await task.run({ email: 'not-an-email', count: 0 }).catch((e: unknown) => e);
  t.match(errors, [/the input of 'validated' does not match its inputValidator:[\s\S]*email[\s\S]*count/], 'the error names what is wrong');
  t.equal(ran, 1, 'the task never ran for the bad input');
  const badRef = await task.runNoWait({ email: 'x', count: 1 });
  await badRef.result().catch(() => {});
  const details = await hatchet.runs.get(badRef.workflowRunId);
  t.match(details.tasks, [{ status: 'FAILED', retryCount: 0 }], 'no retry: the same input would fail again');
  await t.rejects(dag.run({ id: 'nope' }), [/validated-dag[\s\S]*id/] as unknown as Error, 'a workflow validates its input too');

  const registered = await hatchet.getWorkflow(task);
  t.match(registered, { name: 'validated', version: 1, spec: { name: 'validated', inputJsonSchema: { type: 'object', required: ['email', 'count'] } } });
  t.match(registered.spec.inputJsonSchema, { properties: { email: { type: 'string', format: 'email' }, count: { type: 'integer', minimum: 1 } } });
  const runDetails = await hatchet.runs.get(badRef.workflowRunId);
  t.notOk(JSON.stringify(runDetails).includes('"format"'), "runs do not carry the schema in their own log");

  await engine.kill('SIGKILL');
  await engine.restart();
  const afterRestart = HatchetClient.init({ token: engine.token, host_port: engine.hostPort, log_level: 'ERROR' });
  clients.push(afterRestart);
  t.same((await afterRestart.getWorkflow('validated')).spec, registered.spec, 'the schema survives an engine restart (it is in the log)');
  await t.rejects(afterRestart.getWorkflow('never-registered'), { code: 'WORKFLOW_NOT_FOUND' });
});

t.test('options of features this engine does not carry out yet are refused when a worker registers them', async (t) => {
  const hatchet = client({ namespace: 'unsupported' });
  const batched = hatchet.batchTask({ name: 'batched', batch: { maxSize: 10 }, fn: () => ({ ok: true }) });
  const cases: Array<[unknown, RegExp]> = [[batched, /workflow 'unsupported_batched' uses batch tasks \(batchTask\): not supported by this engine yet/]];
  for (const [workflow, message] of cases) {
    await t.rejects(hatchet.worker('refusing-worker', { workflows: [workflow as never], handleKill: false }), { name: 'NotSupportedError', message });
  }
  const plain = hatchet.task({ name: 'plain', fn: () => ({ ok: true }) });
  await start(hatchet, 'plain-worker', [plain]);
  t.same(await plain.run({}), { ok: true }, 'a workflow without them registers and runs');

});
