/**
 * The task a piece of code runs inside, if any: the worker runs every task function in this
 * context, so `decl.run()` called from inside a task knows its parent (Hatchet's implicit
 * parenting: the run becomes a child of the task, numbered by the task's child counter).
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface ParentTask {
  readonly taskId: string;
  readonly runId: string;
  readonly additionalMetadata: Record<string, string>;
  /** The next child index of this task (shared by every way of spawning children). */
  nextChildIndex(): number;
  readonly durable: boolean;
  /** The task's context (a DurableContext for durable tasks). */
  readonly ctx: unknown;
}

export const taskContext = new AsyncLocalStorage<ParentTask>();
