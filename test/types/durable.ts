// Durable tasks: sleeps, event waits and conditions that survive restarts.
import { Or, SleepCondition, UserEventCondition } from 'kindling/v1';
import { z } from 'zod';
import { hatchet } from './hatchet-client';

const EVENT_KEY = 'user:update';

export const durableEvent = hatchet.durableTask({
  name: 'durable-event',
  executionTimeout: '10m',
  fn: async (_, ctx) => {
    const res = await ctx.waitForEvent(EVENT_KEY);
    const filtered = await ctx.waitForEvent(EVENT_KEY, "input.userId == '1234'");
    const parsed = await ctx.waitForEvent(EVENT_KEY, undefined, z.object({ userId: z.string() }));
    const userId: string = parsed.userId;
    console.log('res', res, filtered, userId);
    return { Value: 'done' };
  },
});

export const durableSleep = hatchet.workflow({ name: 'durable-sleep' });

durableSleep.durableTask({
  name: 'durable-sleep',
  executionTimeout: '10m',
  fn: async (_, ctx) => {
    const sleepRes = await ctx.sleepFor('5s');
    const ms: number = sleepRes.durationMs;
    const now: Date = await ctx.now();
    await ctx.sleepUntil(new Date(now.getTime() + 1000));
    const matched = await ctx.waitFor([Or(new SleepCondition('1m'), new UserEventCondition('approval', 'true'))]);
    const count: number = ctx.invocationCount;
    console.log(ms, matched, count);
    return { Value: 'done' };
  },
});

export const spawner = hatchet.durableTask({
  name: 'durable-spawner',
  fn: async (input: { n: number }, ctx) => {
    const child = await ctx.spawnChild(durableEvent, {});
    const value: string = child.Value;
    return { value, n: input.n };
  },
});
