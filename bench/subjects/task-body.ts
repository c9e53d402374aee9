/**
 * What a benchmark task does, the same in every subject's worker: wait `delayMs` to stand for
 * work, then fail for a `failureRate` fraction of tasks, else return nothing. Chain steps add one
 * to their predecessor's `n`; a fan-out parent returns how many children it awaited.
 */
import type { TaskBehaviour } from '../workload.js';

export class PlannedFailure extends Error {
  constructor() {
    super('a planned failure (--failure-rate)');
    this.name = 'PlannedFailure';
  }
}

export async function taskBody(behaviour: TaskBehaviour): Promise<null> {
  if (behaviour.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, behaviour.delayMs));
  if (behaviour.failureRate > 0 && Math.random() < behaviour.failureRate) throw new PlannedFailure();
  return null;
}

export const chainStep = (previous: { n: number }): { n: number } => ({ n: previous.n + 1 });
