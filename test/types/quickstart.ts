// A first task, a worker for it, and the ways to run it.
import { hatchet } from './hatchet-client';

export type SimpleInput = {
  Message: string;
};

export const simple = hatchet.task({
  name: 'simple',
  retries: 3,
  fn: async (input: SimpleInput) => {
    return {
      TransformedMessage: input.Message.toLowerCase(),
    };
  },
});

export const lower = hatchet.task<{ name: string }, { message: string }>({
  name: 'greet',
  fn: async (input) => ({ message: `Hello, ${input.name}!` }),
});

async function main() {
  const worker = await hatchet.worker('simple-worker', {
    workflows: [simple, lower],
    slots: 100,
  });
  await worker.start();
}

export async function run() {
  const res = await simple.run({ Message: 'HeLlO WoRlD' }, { additionalMetadata: { test: 'test' } });
  const message: string = res.TransformedMessage;
  // @ts-expect-error the output has no such field
  console.log(res.Missing);
  // @ts-expect-error the input needs its Message
  await simple.run({});
  // @ts-expect-error Message is a string
  await simple.run({ Message: 42 });

  const ref = await simple.runNoWait({ Message: 'later' });
  const runId: string = await ref.runId;
  const output = await ref.output;
  const again = await hatchet.runRef<typeof output>(runId).output;
  console.log(message, again.TransformedMessage);

  const many = await simple.run([{ Message: 'HeLlO WoRlD' }, { Message: 'Hello MoOn' }]);
  console.log(many[0].TransformedMessage, many[1].TransformedMessage);
  const runManyRes = await simple.runMany([{ input: { Message: 'a' } }, { input: { Message: 'b' }, opts: { priority: 3 } }]);
  console.log(runManyRes[0].TransformedMessage);

  const greeting: { message: string } = await lower.run({ name: 'World' });
  const byName = await hatchet.run<SimpleInput, { TransformedMessage: string }>('simple', { Message: 'by name' });
  console.log(greeting.message, byName.TransformedMessage);
}

if (require.main === module) {
  main();
}
