/**
 * The identity of a durable checkpoint's operation: what a replay must do again at the same node
 * for the recorded result to be its result. Worker and engine both compute it, so a divergence is
 * found wherever it is seen first (DESIGN invariant 5). Inputs and metadata of children are not
 * part of it (they may hold times or ids); the workflows spawned, the conditions waited for and the
 * durations slept are.
 */
import type { DurableOp } from './frames.js';

export function opSignature(op: DurableOp): string {
  switch (op.kind) {
    case 'now':
      return 'now';
    case 'wait':
      return `wait(${op.conditions
        .map((c) => (c.kind === 'sleep' ? `sleep ${c.sleepForMs}ms` : c.kind === 'event' ? `event ${c.eventKey}${c.expression === '' ? '' : ` if ${c.expression}`}` : `parent ${c.parent}`))
        .join(', ')})`;
    case 'children':
      return `spawn(${op.children.map((c) => c.workflow).join(', ')})`;
  }
}
