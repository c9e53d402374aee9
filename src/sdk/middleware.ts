/**
 * Middleware: hooks a client runs in the worker around every task it executes (Hatchet's
 * `withMiddleware`). They run only in the worker process, never in the engine, so a `before` hook
 * may decrypt an input the engine only ever saw encrypted, and an `after` hook encrypt the output.
 *
 * Semantics (the seeds' middleware page; the older "shallow merge" of `before` results is not
 * what Hatchet does today, and not what this SDK does):
 *  1. `before` hooks run in registration order, each with the current input and the `Context`;
 *     a returned value REPLACES the input (spread `...input` to keep its fields); `undefined`
 *     passes it through unchanged.
 *  2. The task runs with the final input.
 *  3. `after` hooks run in registration order with the current output, the `Context` and the
 *     final input; a returned value REPLACES the output; `undefined` passes it through.
 *  4. Hooks may be async. A hook that throws (or rejects) fails the attempt with that error, so the
 *     task's retries run the hooks and the task again from the start.
 */
import type { Context } from './context.js';

// Hooks are typed by the input and output they see; an untyped middleware sees `any`, as in Hatchet.
// biome-ignore-start lint/suspicious/noExplicitAny: hook values are the program's own types.

/** Runs before every task; returns the new input, or nothing to keep it. */
export type BeforeHookFn<T = any> = (input: T, ctx: Context<any>) => Record<string, any> | void | Promise<Record<string, any> | void>;

/** Runs after every task; returns the new output, or nothing to keep it. */
export type AfterHookFn<TOutput = any, TInput = any> = (
  output: TOutput,
  ctx: Context<any>,
  input: TInput,
) => Record<string, any> | void | Promise<Record<string, any> | void>;

/** The `before` and `after` hooks of one `withMiddleware` call: a function or a list of them each. */
export type TaskMiddleware<TInput = any, TOutput = any> = {
  before?: BeforeHookFn<TInput> | readonly BeforeHookFn<TInput>[];
  after?: AfterHookFn<TOutput, TInput> | readonly AfterHookFn<TOutput, TInput>[];
};

/**
 * What one hook adds to the type: its return type, or nothing for a hook that returns nothing (it
 * passes the value through). Hatchet's own types turn such a hook into `never`; this is the fix.
 */
type NonVoidReturn<F> = F extends (...args: any[]) => infer R ? ([Exclude<Awaited<R>, void | undefined>] extends [never] ? {} : Exclude<Awaited<R>, void | undefined>) : {};
type MergeReturns<T> = T extends readonly [infer F, ...infer Rest] ? NonVoidReturn<F> & MergeReturns<Rest> : {};

/** The input type a middleware's `before` hooks produce. */
export type InferMiddlewareBefore<M> = M extends { before: infer P } ? (P extends (...args: any[]) => any ? NonVoidReturn<P> : P extends readonly any[] ? MergeReturns<P> : {}) : {};
/** The output type a middleware's `after` hooks produce. */
export type InferMiddlewareAfter<M> = M extends { after: infer P } ? (P extends (...args: any[]) => any ? NonVoidReturn<P> : P extends readonly any[] ? MergeReturns<P> : {}) : {};

// biome-ignore-end lint/suspicious/noExplicitAny: see above.

/** All hooks of a client, in registration order. */
export interface MiddlewareChain {
  readonly before: readonly BeforeHookFn[];
  readonly after: readonly AfterHookFn[];
}

function list<T>(value: T | readonly T[] | undefined): T[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? [...(value as readonly T[])] : [value as T];
}

/** The chain after adding `middleware`'s hooks behind `chain`'s. */
export function appendMiddleware(chain: TaskMiddleware | undefined, middleware: TaskMiddleware): MiddlewareChain {
  const hooks = { before: [...list(chain?.before), ...list(middleware.before)], after: [...list(chain?.after), ...list(middleware.after)] };
  for (const hook of [...hooks.before, ...hooks.after]) {
    if (typeof hook !== 'function') throw new TypeError(`a middleware hook must be a function, not ${typeof hook}`);
  }
  return hooks;
}

const noHooks = (hooks: unknown): boolean => hooks === undefined || hooks === null || (Array.isArray(hooks) && hooks.length === 0);

/**
 * Runs `fn` between the chain's hooks (the semantics at the top of this file); with no hooks, it is
 * just `fn(input, ctx)`, its value or promise returned as it is (and what it throws, thrown).
 */
export function runWithMiddleware(
  chain: TaskMiddleware | undefined,
  input: unknown,
  ctx: Context<unknown>,
  fn: (input: unknown, ctx: Context<unknown>) => unknown,
): unknown {
  if (chain === undefined || (noHooks(chain.before) && noHooks(chain.after))) return fn(input, ctx);
  return runWithHooks(chain, input, ctx, fn);
}

async function runWithHooks(chain: TaskMiddleware, input: unknown, ctx: Context<unknown>, fn: (input: unknown, ctx: Context<unknown>) => unknown): Promise<unknown> {
  let current = input;
  for (const before of list(chain.before)) {
    const replaced = await before(current, ctx);
    if (replaced !== undefined) current = replaced;
  }
  let output = await fn(current, ctx);
  for (const after of list(chain.after)) {
    const replaced = await after(output, ctx, current);
    if (replaced !== undefined) output = replaced;
  }
  return output;
}
