/**
 * Middleware end to end: the real engine process, workers made from middleware clients over a
 * real WebSocket. Hooks run in the worker, in registration order, and replace what they return.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import t from 'tap';
import { HatchetClient, type HatchetMiddleware } from '../../src/sdk/index.js';
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

function client(namespace: string) {
  const made = HatchetClient.init({ token: engine.token, host_port: engine.hostPort, log_level: 'ERROR', namespace });
  clients.push(made);
  return made;
}

// biome-ignore lint/suspicious/noExplicitAny: a worker takes declarations of any types.
async function start(hatchet: { worker: HatchetClient['worker'] }, name: string, workflows: any[]) {
  const worker = await hatchet.worker(name, { workflows, slots: 10, handleKill: false });
  void worker.start();
  await worker.waitUntilReady();
  workers.push(worker);
  return worker;
}

t.test('before and after hooks run in registration order; returned values replace, undefined passes through', async (t) => {
  const calls: string[] = [];
  const hatchet = client('order')
    .withMiddleware({
      before: (input) => {
        calls.push(`before-1 ${JSON.stringify(input)}`);
        return { ...input, first: 1 };
      },
      after: (output, _ctx, input) => {
        calls.push(`after-1 ${JSON.stringify(output)} input=${JSON.stringify(input)}`);
        return { ...output, afterFirst: true };
      },
    })
    .withMiddleware({
      before: [
        async (input) => {
          await new Promise((resolve) => setTimeout(resolve, 20));
          calls.push(`before-2a ${JSON.stringify(input)}`);
          return { ...input, second: 2 };
        },
        (input) => {
          calls.push(`before-2b ${JSON.stringify(input)}`);
        },
      ],
      after: async (output) => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        calls.push(`after-2 ${JSON.stringify(output)}`);
        return { replaced: true, seen: output };
      },
    });
  const task = hatchet.task<{ message: string }, { echoed: string; first: number; second: number }>({
    name: 'ordered',
    fn: (input) => {
      calls.push(`task ${JSON.stringify(input)}`);
      return { echoed: input.message, first: input.first, second: input.second };
    },
  });
  await start(hatchet, 'order-worker', [task]);
  const output = await task.run({ message: 'hi' });
  t.same(calls, [
    'before-1 {"message":"hi"}',
    'before-2a {"message":"hi","first":1}',
    'before-2b {"message":"hi","first":1,"second":2}',
    'task {"message":"hi","first":1,"second":2}',
    'after-1 {"echoed":"hi","first":1,"second":2} input={"message":"hi","first":1,"second":2}',
    'after-2 {"echoed":"hi","first":1,"second":2,"afterFirst":true}',
  ]);
  t.same(output, { replaced: true, seen: { echoed: 'hi', first: 1, second: 2, afterFirst: true } }, 'the last after hook replaced the output');
});

t.test('a before hook that returns an object without spreading the input replaces it whole', async (t) => {
  const hatchet = client('replace').withMiddleware({ before: () => ({ requestId: 'r-1' }) });
  const task = hatchet.task({ name: 'sees-replaced', fn: (input) => ({ keys: Object.keys(input).join(',') }) });
  await start(hatchet, 'replace-worker', [task]);
  t.same(await task.run({ original: 'dropped' } as never), { keys: 'requestId' });
});

t.test('middleware applies to every task of a workflow, each on its own', async (t) => {
  const hatchet = client('dag').withMiddleware({ before: (input, ctx) => ({ ...input, task: ctx.taskName() }) });
  const dag = hatchet.workflow<{ n: number }>({ name: 'mw-dag' });
  const first = dag.task({ name: 'first', fn: (input) => ({ n: input.n, task: input.task }) });
  dag.task({ name: 'second', parents: [first], fn: async (input, ctx) => ({ n: (await ctx.parentOutput(first)).n + 1, task: input.task }) });
  await start(hatchet, 'dag-worker', [dag]);
  t.same(await dag.run({ n: 1 }), { first: { n: 1, task: 'first' }, second: { n: 2, task: 'second' } });
});

t.test('a throwing hook fails the attempt; the retry runs the hooks and the task again', async (t) => {
  let beforeCalls = 0;
  let taskCalls = 0;
  let afterCalls = 0;
  const hatchet = client('throws').withMiddleware({
    before: async (input, ctx) => {
      beforeCalls += 1;
      if (ctx.retryCount() === 0) throw new Error('before hook failed on attempt 0');
      return input;
    },
    after: (output, ctx) => {
      afterCalls += 1;
      if (ctx.retryCount() === 1) return Promise.reject(new Error('after hook failed on attempt 1'));
      return output;
    },
  });
  const task = hatchet.task({
    name: 'hooked-retries',
    retries: 2,
    backoff: { factor: 1, maxSeconds: 1 },
    fn: (_input: Record<string, never>, ctx) => {
      taskCalls += 1;
      return { attempt: ctx.retryCount() };
    },
  });
  const once = hatchet.task({ name: 'hooked-no-retries', fn: (_input: Record<string, never>) => ({ ran: true }) });
  await start(hatchet, 'throws-worker', [task, once]);
  t.same(await task.run({}), { attempt: 2 }, 'the third attempt succeeds');
  t.equal(beforeCalls, 3, 'before ran on every attempt');
  t.equal(taskCalls, 2, 'the task did not run on the attempt whose before hook threw');
  t.equal(afterCalls, 2, 'after ran on the attempts whose task ran');
  await t.rejects(once.run({}), ['before hook failed on attempt 0'] as unknown as Error, 'with no retries left the run fails with the hook error');
  const ref = await task.runNoWait({});
  await ref.result();
  const events = (await hatchet.runs.get(ref.workflowRunId)).taskEvents.map((e) => `${e.eventType}${e.message === '' ? '' : `: ${e.message}`}`);
  t.match(events, [/^QUEUED/, /^ASSIGNED/, /^STARTED/, /^FAILED: before hook failed on attempt 0/, /^RETRYING/]);
});

t.test('middleware runs only in the worker: the engine stores only ciphertext (end-to-end encryption)', async (t) => {
  const key = randomBytes(32);
  type Envelope = { ciphertext: string; iv: string; tag: string };
  const encrypt = (value: unknown): Envelope => {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const ciphertext = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return { ciphertext: ciphertext.toString('base64'), iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64') };
  };
  const decrypt = (envelope: Envelope): unknown => {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(envelope.iv, 'base64'));
    decipher.setAuthTag(Buffer.from(envelope.tag, 'base64'));
    return JSON.parse(decipher.update(envelope.ciphertext, 'base64', 'utf8') + decipher.final('utf8'));
  };
  const e2e: HatchetMiddleware = {
    before: (input) => (input.encrypted === undefined ? input : { ...(decrypt(input.encrypted) as object) }),
    after: (output) => ({ encrypted: encrypt(output) }),
  };
  const hatchet = client('e2e').withMiddleware(e2e);
  const secretTask = hatchet.task({ name: 'secret', fn: (input: { card: string }) => ({ last4: input.card.slice(-4) }) });
  await start(hatchet, 'e2e-worker', [secretTask]);

  const ref = await secretTask.runNoWait({ encrypted: encrypt({ card: '4111111111111111' }) } as never);
  const output = (await ref.result()) as unknown as { encrypted: Envelope };
  t.same(decrypt(output.encrypted), { last4: '1111' }, 'the caller decrypts the output');
  const stored = JSON.stringify(await hatchet.runs.get(ref.workflowRunId));
  t.notOk(stored.includes('4111111111111111'), 'the engine never saw the card number');
  t.notOk(stored.includes('"last4"'), 'nor the plaintext output');
  t.ok(stored.includes(output.encrypted.ciphertext), 'it holds the ciphertext');
});
