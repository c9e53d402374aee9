// Child runs: spawned from a parent task through the context, typed by the child's declaration.
import { hatchet } from './hatchet-client';

type ChildInput = { N: number };

export const child = hatchet.task({
  name: 'child',
  fn: (input: ChildInput) => ({ Value: input.N }),
});

type ParentInput = { N: number };

export const parent = hatchet.task({
  name: 'parent',
  fn: async (input: ParentInput, ctx) => {
    const promises = [];
    for (let i = 0; i < input.N; i++) promises.push(child.run({ N: i }));
    const childRes = await Promise.all(promises);
    const sum = childRes.reduce((acc, curr) => acc + curr.Value, 0);

    const one = await ctx.runChild(child, { N: 1 }, { key: 'first' });
    const value: number = one.Value;
    // @ts-expect-error the child's input needs N
    await ctx.runChild(child, {});
    const ref = await ctx.runNoWaitChild(child, { N: 2 });
    const later = await ref.output;
    const bulk = await ctx.bulkRunChildren([
      { workflow: child, input: { N: 3 } },
      { workflow: child, input: { N: 4 }, options: { additionalMetadata: { source: 'bulk' } } },
    ]);
    const refs = await ctx.bulkRunNoWaitChildren([{ workflow: child, input: { N: 5 } }]);
    const byName = await ctx.runChild('child', { N: 6 });
    console.log(byName, refs.length);
    return { Result: sum + value + later.Value + bulk[0].Value + bulk[1].Value };
  },
});

export const withErrorHandling = hatchet.task({
  name: 'parent-error-handling',
  fn: async () => {
    try {
      const childRes = await child.run({ N: 1 });
      return { Result: childRes.Value };
    } catch (_error) {
      return { Result: -1 };
    }
  },
});

export const dagChild = hatchet.workflow<{ Message: string }, { child3: { TransformedMessage: string } }>({ name: 'child' });
const child1 = dagChild.task({ name: 'child1', fn: (input, ctx) => {
  ctx.logger.info('hello from the child1', { hello: 'moon' });
  return { TransformedMessage: input.Message.toLowerCase() };
} });
dagChild.task({ name: 'child3', parents: [child1], fn: async (input) => ({ TransformedMessage: input.Message }) });

export const dagParent = hatchet.task({
  name: 'dag-parent',
  executionTimeout: '5m',
  fn: async (input: { Message: string }, ctx) => {
    const c = await ctx.runChild(dagChild, { Message: input.Message });
    return { TransformedMessage: c.child3.TransformedMessage };
  },
});
