// Events, filters, schedules, crons, streaming and event-triggered tasks.
import { hatchet } from './hatchet-client';
import { simple } from './quickstart';

const SIMPLE_EVENT = 'simple-event:create';

export const lower = hatchet.workflow<{ Message: string; ShouldSkip: boolean }>({
  name: 'lower',
  onEvents: [SIMPLE_EVENT],
  defaultFilters: [{ expression: 'true', scope: 'example-scope', payload: { mainCharacter: 'Anna', location: 'Moscow' } }],
});

lower.task({
  name: 'lowerWithFilter',
  fn: (input, ctx) => {
    console.log(ctx.filterPayload(), ctx.triggeredByEvent(), input.Message);
  },
});

export const onCron = hatchet.workflow({ name: 'on-cron-workflow', on: { cron: '*/15 * * * *' } });

export const handleStripePayment = hatchet.task({
  name: 'handle-stripe-payment',
  on: { event: 'stripe:payment_intent.succeeded' },
  fn: async (input: { data: { object: { customer: string; amount: number } } }) => {
    const { customer, amount } = input.data.object;
    return { customer, amount };
  },
});

export async function events() {
  const res = await hatchet.events.push(SIMPLE_EVENT, { Message: 'hello', ShouldSkip: false });
  const id: string = res.eventId;
  await hatchet.events.push(SIMPLE_EVENT, { Message: 'hello', ShouldSkip: true }, { scope: 'foobarbaz', additionalMetadata: { source: 'api' } });
  await hatchet.events.bulkPush('user:create', [
    { payload: { test: 'test1' }, additionalMetadata: { user_id: 'user1', source: 'test' } },
    { payload: { test: 'test2' }, additionalMetadata: { user_id: 'user2', source: 'test' } },
  ]);
  await hatchet.filters.create({ workflowId: lower.id, expression: 'input.ShouldSkip == false', scope: 'foobarbaz', payload: { main_character: 'Anna' } });
  console.log(id);
}

export async function schedules() {
  const runAt = new Date(new Date().setHours(12, 0, 0, 0) + 24 * 60 * 60 * 1000);
  const scheduled = await simple.schedule(runAt, { Message: 'hello' });
  const scheduledRunId: string = scheduled.metadata.id;
  await hatchet.scheduled.list({ workflow: simple });
  await hatchet.scheduled.update(scheduledRunId, { triggerAt: new Date(Date.now() + 60 * 60 * 1000) });
  await hatchet.scheduled.bulkDelete({ scheduledRuns: [scheduledRunId] });
  await hatchet.scheduled.bulkUpdate([{ scheduledRun: scheduledRunId, triggerAt: new Date(Date.now() + 2 * 60 * 60 * 1000) }]);
  await hatchet.scheduled.delete(scheduled);
  // @ts-expect-error a schedule needs a date
  await simple.schedule('tomorrow', { Message: 'hello' });
}

export async function crons() {
  const cron = await simple.cron('simple-daily', '0 0 * * *', { Message: 'hello' });
  const cronId: string = cron.metadata.id;
  await hatchet.crons.list({ workflow: simple });
  await hatchet.crons.delete(cronId);
}

export const streamingTask = hatchet.task({
  name: 'stream-example',
  fn: async (_, ctx) => {
    for (const chunk of ['a', 'b']) await ctx.putStream(chunk);
  },
});

export async function stream() {
  const ref = await streamingTask.runNoWait({});
  const id = await ref.getWorkflowRunId();
  for await (const content of hatchet.runs.subscribeToStream(id)) process.stdout.write(content);
}
