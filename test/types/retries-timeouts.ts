// Retries, backoff, non-retryable errors, timeouts and cancellation.
import { NonRetryableError } from 'kindling';
import sleep from 'kindling/util/sleep';
import { hatchet } from './hatchet-client';

type SimpleInput = { Message: string };

export const retries = hatchet.task({
  name: 'retries',
  retries: 3,
  fn: async (_, _ctx) => {
    throw new Error('intentional failure');
  },
});

export const retriesWithCount = hatchet.task({
  name: 'retries-with-count',
  retries: 3,
  fn: async (_, ctx) => {
    const retryCount = ctx.retryCount();
    if (retryCount < 2) throw new Error('intentional failure');
    return { message: 'success' };
  },
});

export const withBackoff = hatchet.task({
  name: 'with-backoff',
  retries: 10,
  backoff: { maxSeconds: 10, factor: 2 },
  fn: async () => {
    throw new Error('intentional failure');
  },
});

const nonRetryableWorkflow = hatchet.workflow({ name: 'no-retry-workflow' });
nonRetryableWorkflow.task({
  name: 'should-not-retry',
  fn: () => {
    throw new NonRetryableError('This task should not retry');
  },
  retries: 1,
});

export const withTimeouts = hatchet.task({
  name: 'with-timeouts',
  scheduleTimeout: '10s',
  executionTimeout: '10s',
  fn: async (input: SimpleInput, ctx) => {
    await sleep(15000);
    const { abortController } = ctx;
    if (abortController.signal.aborted) throw new Error('cancelled');
    return { TransformedMessage: input.Message.toLowerCase() };
  },
});

export const refreshTimeout = hatchet.task({
  name: 'refresh-timeout',
  executionTimeout: { minutes: 1 },
  scheduleTimeout: 10_000,
  fn: async (input: SimpleInput, ctx) => {
    await ctx.refreshTimeout('15s');
    await sleep(15000, ctx.abortController.signal);
    return { TransformedMessage: input.Message.toLowerCase() };
  },
});

export const badTimeout = hatchet.task({
  name: 'bad-timeout',
  // @ts-expect-error a duration is a string, a number of milliseconds or { hours, minutes, seconds }
  executionTimeout: { days: 1 },
  fn: () => ({ ok: true }),
});

export const cancellation = hatchet.task({
  name: 'cancellation',
  fn: async (_, ctx) => {
    await sleep(10 * 1000);
    if (ctx.cancelled) throw new Error('Task was cancelled');
    try {
      await sleep(1000, ctx.abortController.signal);
    } catch (error) {
      ctx.rethrowIfCancelled(error);
    }
    return { Completed: true };
  },
});

export async function manage(id: string) {
  const ref = await cancellation.runNoWait({});
  await ref.cancel();
  await hatchet.runs.cancel({ ids: [id] });
  await hatchet.runs.replay({ ids: [id] });
  const status = await hatchet.runs.get_status(id);
  console.log(status);
}
