/**
 * The durable task the durable tests run in several processes: `journey` reads the time once
 * (`now`), sleeps, waits for the event `journey:go` and spawns the child `journey-child`; `onStep`
 * hears each step the function executes, so a test counts what a replay did again.
 */
import type { HatchetClient } from '../../src/sdk/index.js';

export function declareJourney(hatchet: HatchetClient, sleepMs: number, onStep: (step: string, runId: string, value: string) => void) {
  const child = hatchet.task({
    name: 'journey-child',
    fn: (input: { from: string }, ctx) => {
      onStep('child', ctx.workflowRunId(), input.from);
      return { hello: input.from };
    },
  });
  const journey = hatchet.durableTask({
    name: 'journey',
    executionTimeout: '2m',
    fn: async (_input: Record<string, never>, ctx) => {
      const started = await ctx.now();
      onStep('now', ctx.workflowRunId(), String(started.getTime()));
      const slept = await ctx.sleepFor(sleepMs);
      onStep('slept', ctx.workflowRunId(), String(ctx.invocationCount));
      const event = await ctx.waitForEvent('journey:go', 'input.ok == true');
      onStep('event', ctx.workflowRunId(), JSON.stringify(event));
      const childOutput = await child.run({ from: ctx.workflowRunId() });
      onStep('done', ctx.workflowRunId(), String(ctx.invocationCount));
      return { started: started.getTime(), slept: slept.durationMs, event: event as Record<string, string>, child: childOutput, invocation: ctx.invocationCount };
    },
  });
  return { journey, child };
}
