// Middleware declared with the bare HatchetMiddleware type, as the middleware guide writes it.
import { HatchetClient, type HatchetMiddleware } from 'kindling/v1';

export type GlobalInputType = { first: number; second: number };
export type GlobalOutputType = { extra: number };

const myMiddleware = {
  before: (input, _ctx) => {
    console.log('before', input.first);
    return { ...input, dependency: 'abc-123' };
  },
  after: (output, _ctx, _input) => {
    return { ...output, additionalData: 2 };
  },
} satisfies HatchetMiddleware;

export const hatchetWithMiddleware = HatchetClient.init<GlobalInputType, GlobalOutputType>().withMiddleware(myMiddleware);

const firstMiddleware = {
  before: (input, _ctx) => ({ ...input, dependency: 'abc-123' }),
  after: (output, _ctx, _input) => ({ ...output, firstExtra: 3 }),
} satisfies HatchetMiddleware;

const secondMiddleware = {
  before: (input, _ctx) => {
    console.log('before', input.dependency);
    return { ...input, anotherDep: true };
  },
  after: (output, _ctx, _input) => ({ ...output, secondExtra: 4 }),
} satisfies HatchetMiddleware;

export const hatchetWithMiddlewareChaining = HatchetClient.init().withMiddleware(firstMiddleware).withMiddleware(secondMiddleware);

type RequiredContext = { userId: string; orgId: string };
const lookupPerms = (userId: string) => [`read:${userId}`];

export const client = HatchetClient.init<RequiredContext>().withMiddleware({
  before: (input) => ({
    ...input,
    resolvedAt: Date.now(),
    permissions: lookupPerms(input.userId),
  }),
});

export const myTask = client.task<{ item: string }>({
  name: 'my-task',
  fn: (input) => {
    const perms: string[] = input.permissions;
    const at: number = input.resolvedAt;
    console.log(perms, at, input.item);
  },
});

export async function run() {
  await myTask.run({ userId: 'usr_123', orgId: 'org_456', item: 'x' });
  // @ts-expect-error callers must provide the global input (userId, orgId)
  await myTask.run({ item: 'x' });
}
