// Middleware: global input and output types, before/after hooks that add fields, chaining.
import { HatchetClient, type HatchetMiddleware } from 'kindling/v1';

export type GlobalInputType = {
  first: number;
  second: number;
};

export type GlobalOutputType = {
  extra: number;
};

const myMiddleware = {
  before: (input, _ctx) => {
    console.log('before', input.first);
    return { ...input, dependency: 'abc-123' };
  },
  after: (output, _ctx, _input) => {
    return { ...output, additionalData: 2 };
  },
} satisfies HatchetMiddleware<GlobalInputType, GlobalOutputType>;

export const hatchetWithMiddleware = HatchetClient.init<GlobalInputType, GlobalOutputType>().withMiddleware(myMiddleware);

type TaskInput = {
  message: string;
};

type TaskOutput = {
  message: string;
};

export const taskWithMiddleware = hatchetWithMiddleware.task<TaskInput, TaskOutput>({
  name: 'task-with-middleware',
  fn: (input, _ctx) => {
    const message: string = input.message; // from TaskInput
    const first: number = input.first; // from the global input type
    const dependency: string = input.dependency; // injected by the before hook
    // @ts-expect-error injected as a string
    const wrong: number = input.dependency;
    console.log(message, first, dependency, wrong);
    return {
      message: input.message,
      extra: 1,
    };
  },
});

export const missingGlobalOutput = hatchetWithMiddleware.task<TaskInput, TaskOutput>({
  name: 'missing-global-output',
  // @ts-expect-error every task must return the global output type's fields
  fn: (input) => ({ message: input.message }),
});

export async function run() {
  // Callers supply the global input; the middleware's fields are injected, not required.
  const result = await taskWithMiddleware.run({ message: 'hi', first: 1, second: 2 });
  const additional: number = result.additionalData;
  // @ts-expect-error the global input is required at the call site
  await taskWithMiddleware.run({ message: 'hi' });
  console.log(additional);
}

// Chaining: each hook sees what the previous one returned.
const firstMiddleware = {
  before: (input, _ctx) => ({ ...input, dependency: 'abc-123' }),
  after: (output, _ctx, _input) => ({ ...output, firstExtra: 3 }),
} satisfies HatchetMiddleware<GlobalInputType>;

const secondMiddleware = {
  before: (input, _ctx) => {
    console.log('before', input.dependency);
    return { ...input, anotherDep: true };
  },
  after: (output, _ctx, _input) => ({ ...output, secondExtra: 4 }),
} satisfies HatchetMiddleware<GlobalInputType & { dependency: string }>;

export const hatchetWithMiddlewareChaining = HatchetClient.init<GlobalInputType>().withMiddleware(firstMiddleware).withMiddleware(secondMiddleware);

export const chained = hatchetWithMiddlewareChaining.task({
  name: 'chained',
  fn: (input) => {
    const both: [string, boolean] = [input.dependency, input.anotherDep];
    return { both: both.join(',') };
  },
});

export async function runChained() {
  const out = await chained.run({ first: 1, second: 2 });
  const extras: [number, number] = [out.firstExtra, out.secondExtra];
  console.log(out.both, extras);
}

// Untyped middleware, as the end-to-end encryption example writes it.
const e2eEncryption: HatchetMiddleware = {
  before: (input) => (input.encrypted ? { ...input, ...JSON.parse(input.encrypted), encrypted: undefined } : input),
  after: (output) => ({ encrypted: JSON.stringify(output) }),
};
export const encryptionClient = HatchetClient.init().withMiddleware(e2eEncryption);

// Async hooks, and workers from the middleware client.
export const asyncClient = HatchetClient.init().withMiddleware({
  before: async (input) => ({ ...input, resolvedAt: Date.now() }),
  after: async (output) => output,
});

export async function worker() {
  const w = await hatchetWithMiddleware.worker('task-with-middleware', { workflows: [taskWithMiddleware] });
  await w.start();
}
