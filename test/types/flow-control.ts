// Concurrency, rate limits, priority, sticky assignment, worker affinity and slots.
import { ConcurrencyLimitStrategy, Priority, RateLimitDuration, StickyStrategy, WorkerLabelComparator } from 'kindling/v1';
import { hatchet } from './hatchet-client';

export const simpleConcurrency = hatchet.workflow<{ GroupKey: string }>({
  name: 'simple-concurrency',
  concurrency: {
    maxRuns: 1,
    limitStrategy: ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN,
    expression: 'input.GroupKey',
  },
});

export const multipleConcurrencyKeys = hatchet.workflow({
  name: 'multiple-concurrency',
  concurrency: [
    { maxRuns: 1, limitStrategy: ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN, expression: 'input.Tier' },
    { maxRuns: 1, limitStrategy: ConcurrencyLimitStrategy.CANCEL_NEWEST, expression: 'input.Account' },
  ],
});

export const badConcurrency = hatchet.workflow({
  name: 'bad-concurrency',
  // @ts-expect-error the strategy is a ConcurrencyLimitStrategy
  concurrency: { expression: 'input.x', limitStrategy: 'ROUND_ROBIN' },
});

export const task2 = hatchet.task({
  name: 'task2',
  fn: (input: { userId: string }) => {
    console.log('executed task2 for user: ', input.userId);
  },
  rateLimits: [{ dynamicKey: 'input.userId', units: 1, limit: 10, duration: RateLimitDuration.MINUTE }],
});

const RATE_LIMIT_KEY = 'api-service-rate-limit';
export const task1 = hatchet.task({
  name: 'task1',
  rateLimits: [{ staticKey: RATE_LIMIT_KEY, units: 1 }],
  fn: () => {
    console.log('executed task1');
  },
});

export async function setUp() {
  await hatchet.ratelimits.upsert({ key: RATE_LIMIT_KEY, limit: 10, duration: RateLimitDuration.SECOND });
}

export const priorityWf = hatchet.workflow({ name: 'priority-wf', defaultPriority: Priority.LOW });
priorityWf.task({ name: 'low-by-default', fn: () => ({ ok: true }) });

export const priority = hatchet.task({ name: 'priority', fn: () => ({ done: true }) });
export async function runWithPriority() {
  await priority.run({}, { priority: Priority.HIGH });
  await priority.schedule(new Date(Date.now() + 60 * 60 * 1000), {}, { priority: Priority.HIGH });
  await priority.delay(60 * 60, {}, { priority: Priority.HIGH });
  await priority.cron(`daily-cron-${Math.random()}`, '0 0 * * *', {}, { priority: Priority.HIGH });
  // @ts-expect-error priorities are 1, 2 or 3
  await priority.run({}, { priority: 7 });
}

export const child = hatchet.task({ name: 'sticky-child', fn: (input: { N: number }) => ({ N: input.N }) });
export const sticky = hatchet.task({
  name: 'sticky',
  retries: 3,
  sticky: StickyStrategy.SOFT,
  fn: async () => {
    const result = await child.run({ N: 1 }, { sticky: true });
    return { result };
  },
});

const childWorkflow = hatchet.workflow({ name: 'child-affinity-workflow', description: 'test' });
childWorkflow.task({
  name: 'child-step1',
  desiredWorkerLabels: {
    model: { value: 'xyz', required: true },
    memory: { value: 512, required: false, comparator: WorkerLabelComparator.GREATER_THAN, weight: 10 },
  },
  slotCost: 2,
  fn: async () => ({ childStep1: 'childStep1 results!' }),
});

export async function affinityWorker() {
  const worker = await hatchet.worker('affinity-worker', {
    workflows: [childWorkflow],
    labels: { model: 'xyz', memory: 1024 },
    slots: 10,
  });
  const labels = worker.getLabels();
  await worker.upsertLabels({ ...labels, model: 'abc' });
  await worker.start();
}

export const releases = hatchet.task({
  name: 'releases-slot',
  fn: async (_, ctx) => {
    await ctx.releaseSlot();
    return { released: true };
  },
});
