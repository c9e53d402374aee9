// Conditions and branching in a DAG: waitFor, skipIf, cancelIf, Or groups, parent conditions.
import { type Context, Or, SleepCondition, UserEventCondition } from 'kindling/v1';
import { ParentCondition } from 'kindling/v1/conditions/parent-condition';
import { hatchet } from './hatchet-client';

export const taskConditionWorkflow = hatchet.workflow({
  name: 'TaskConditionWorkflow',
});

const start = taskConditionWorkflow.task({
  name: 'start',
  fn: () => ({ randomNumber: Math.floor(Math.random() * 100) + 1 }),
});

const waitForSleep = taskConditionWorkflow.task({
  name: 'waitForSleep',
  parents: [start],
  waitFor: [new SleepCondition('10s')],
  fn: () => ({ randomNumber: Math.floor(Math.random() * 100) + 1 }),
});

const skipOnEvent = taskConditionWorkflow.task({
  name: 'skipOnEvent',
  parents: [start],
  waitFor: [new SleepCondition('10s')],
  skipIf: [new UserEventCondition('skip_on_event:skip', 'true')],
  fn: () => ({ randomNumber: Math.floor(Math.random() * 100) + 1 }),
});

const leftBranch = taskConditionWorkflow.task({
  name: 'leftBranch',
  parents: [waitForSleep],
  skipIf: [new ParentCondition(waitForSleep, 'output.randomNumber > 50')],
  fn: () => ({ randomNumber: Math.floor(Math.random() * 100) + 1 }),
});

const rightBranch = taskConditionWorkflow.task({
  name: 'rightBranch',
  parents: [waitForSleep],
  skipIf: [new ParentCondition(waitForSleep, 'output.randomNumber <= 50')],
  fn: () => ({ randomNumber: Math.floor(Math.random() * 100) + 1 }),
});

const waitForEvent = taskConditionWorkflow.task({
  name: 'waitForEvent',
  parents: [start],
  waitFor: [Or(new SleepCondition('1m'), new UserEventCondition('wait_for_event:start', 'true'))],
  cancelIf: { eventKey: 'wait_for_event:cancel' },
  fn: () => ({ randomNumber: Math.floor(Math.random() * 100) + 1 }),
});

taskConditionWorkflow.task({
  name: 'shorthands',
  parents: [start],
  waitFor: [{ sleepFor: 5 }, Or({ eventKey: 'user:update' }, { parent: start, expression: 'output.randomNumber > 1' })],
  // @ts-expect-error a condition is a condition object, a shorthand or an Or group
  skipIf: [{ notACondition: true }],
  fn: () => ({ ok: true }),
});

taskConditionWorkflow.task({
  name: 'sum',
  parents: [start, waitForSleep, waitForEvent, skipOnEvent, leftBranch, rightBranch],
  fn: async (_, ctx: Context<{}>) => {
    const one = (await ctx.parentOutput(start)).randomNumber;
    const two = (await ctx.parentOutput(waitForEvent)).randomNumber;
    const three = (await ctx.parentOutput(waitForSleep)).randomNumber;
    const four = (await ctx.parentOutput(skipOnEvent))?.randomNumber || 0;
    const five = (await ctx.parentOutput(leftBranch))?.randomNumber || 0;
    const six = (await ctx.parentOutput(rightBranch))?.randomNumber || 0;
    return { sum: one + two + three + four + five + six };
  },
});
