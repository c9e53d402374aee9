// A DAG: a workflow whose output type maps task names to outputs, tasks wired through parents.
import type { Context } from 'kindling';
import { hatchet } from './hatchet-client';

type DagInput = {
  Message: string;
};

type DagOutput = {
  reverse: {
    Original: string;
    Transformed: string;
  };
};

export const dag = hatchet.workflow<DagInput, DagOutput>({
  name: 'simple',
});

const toLower = dag.task({
  name: 'to-lower',
  fn: (input) => {
    return {
      TransformedMessage: input.Message.toLowerCase(),
    };
  },
});

dag.task({
  name: 'reverse',
  parents: [toLower],
  fn: async (input, ctx) => {
    const lower = await ctx.parentOutput(toLower);
    // @ts-expect-error the parent's output has no such field
    console.log(lower.Upper);
    return {
      Original: input.Message,
      Transformed: lower.TransformedMessage.split('').reverse().join(''),
    };
  },
});

dag.task({
  name: 'reverse',
  // @ts-expect-error a task named in the workflow's output type must return that shape
  fn: () => ({ Original: 'x' }),
});

dag.onFailure({
  name: 'on_failure',
  fn: async (_input, ctx: Context<DagInput>) => {
    console.log('onFailure for run:', ctx.workflowRunId(), ctx.errors());
    return { status: 'handled' };
  },
});

dag.onSuccess({
  fn: async (input) => ({ done: input.Message }),
});

export async function run() {
  const result = await dag.run({ Message: 'Hello, World!' });
  const reversed: string = result.reverse.Transformed;
  const ref = await dag.runNoWait({ Message: 'later' });
  const later = await ref.output;
  // @ts-expect-error the workflow input needs its Message
  await dag.run({ message: 'lower case' });
  console.log(reversed, later.reverse.Original);
}
