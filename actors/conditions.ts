/**
 * Conditions, as the workflow run decider evaluates them: for DAG tasks (`waitFor`, `skipIf`,
 * `cancelIf`) and for durable waits. Pure: time comes in as an argument, CEL is evaluated against
 * JSON decoded here, never fetched.
 *
 * A list of conditions holds when every OR group in it has at least one condition that holds
 * (conjunctive normal form: `[Or(a, b), c]` is `(a || b) && c`).
 *
 * Results are JSON built from the payloads' bytes without parsing them: `{ <readableDataKey>:
 * { <eventId>: <event payload> } }` for a matched event, `{ <readableDataKey>: { "durationMs": n } }`
 * for a sleep that elapsed.
 */
import type { Condition } from '../protocol/frames.js';
import { decodePayload, type Payload } from '../protocol/payload.js';
import { celMatches } from '../src/lib/cel.js';

/** An event that conditions may match, as the engine hands it to a run. */
export interface OccurredEvent {
  readonly eventId: string;
  readonly key: string;
  readonly payload: Payload;
  readonly additionalMetadata: Readonly<Record<string, string>>;
  readonly scope?: string | undefined;
  readonly atMs: number;
}

export interface ConditionMatch {
  readonly eventId: string;
  readonly payload: Payload;
}

/** Decodes an event's payload once for every condition that looks at it. */
export class EventView {
  #input: unknown;
  #decoded = false;
  constructor(readonly event: OccurredEvent) {}

  get input(): unknown {
    if (!this.#decoded) {
      this.#decoded = true;
      try {
        this.#input = decodePayload(this.event.payload);
      } catch {
        this.#input = null;
      }
    }
    return this.#input;
  }
}

/** Whether an event condition matches an event: same key, the scope if the condition names one, and its CEL expression. */
export function eventMatches(condition: Condition, view: EventView): boolean {
  if (condition.kind !== 'event' || condition.eventKey !== view.event.key) return false;
  if (condition.scope !== undefined && condition.scope !== '' && condition.scope !== view.event.scope) return false;
  const input = view.input;
  return celMatches(condition.expression, {
    input,
    payload: input,
    additional_metadata: view.event.additionalMetadata,
    event_key: view.event.key,
    event_id: view.event.eventId,
  });
}

/** What one condition needs to be judged. */
export interface Judge {
  readonly sinceMs: number;
  readonly nowMs: number;
  readonly matches: Readonly<Record<number, ConditionMatch>>;
  /** A parent task's output, when it completed. */
  readonly parentOutput?: (parent: string) => Payload | undefined;
  readonly input?: Payload;
}

function decodeOrNull(payload: Payload | undefined): unknown {
  if (payload === undefined) return null;
  try {
    return decodePayload(payload);
  } catch {
    return null;
  }
}

export function conditionHolds(condition: Condition, index: number, judge: Judge): boolean {
  switch (condition.kind) {
    case 'sleep':
      return judge.nowMs >= judge.sinceMs + condition.sleepForMs;
    case 'event':
      return judge.matches[index] !== undefined;
    case 'parent': {
      const output = judge.parentOutput?.(condition.parent);
      if (output === undefined) return false;
      return celMatches(condition.expression, { output: decodeOrNull(output), input: decodeOrNull(judge.input) });
    }
  }
}

/** Whether the conditions (`indexes` into `all`) hold together: every OR group has one that holds. */
export function groupsHold(all: readonly Condition[], indexes: readonly number[], judge: Judge): boolean {
  const groups = new Map<string, boolean>();
  for (const index of indexes) {
    const condition = all[index] as Condition;
    const holds = conditionHolds(condition, index, judge);
    groups.set(condition.orGroupId, (groups.get(condition.orGroupId) ?? false) || holds);
  }
  for (const holds of groups.values()) if (!holds) return false;
  return true;
}

/** The earliest sleep deadline among `indexes` that is after `afterMs`. */
export function nextSleepDeadline(all: readonly Condition[], indexes: readonly number[], sinceMs: number, afterMs: number): number | undefined {
  let earliest: number | undefined;
  for (const index of indexes) {
    const condition = all[index];
    if (condition?.kind !== 'sleep') continue;
    const due = sinceMs + condition.sleepForMs;
    if (due > afterMs && (earliest === undefined || due < earliest)) earliest = due;
  }
  return earliest;
}

const text = (value: string) => Buffer.from(value, 'utf8');

/** The result of conditions that hold: what satisfied each, by readable data key (see the header). */
export function conditionsResult(all: readonly Condition[], indexes: readonly number[], judge: Judge): Payload {
  const parts: Buffer[] = [];
  const seen = new Set<string>();
  for (const index of indexes) {
    const condition = all[index] as Condition;
    if (seen.has(condition.readableDataKey) || !conditionHolds(condition, index, judge)) continue;
    seen.add(condition.readableDataKey);
    const key = JSON.stringify(condition.readableDataKey);
    if (condition.kind === 'event') {
      const match = judge.matches[index] as ConditionMatch;
      parts.push(text(`${key}:{${JSON.stringify(match.eventId)}:`), Buffer.from(match.payload), text('}'));
    } else if (condition.kind === 'sleep') {
      parts.push(text(`${key}:{"durationMs":${condition.sleepForMs}}`));
    } else {
      parts.push(text(`${key}:{"parent":${JSON.stringify(condition.parent)}}`));
    }
    parts.push(text(','));
  }
  if (parts.length > 0) parts.pop();
  return Buffer.concat([text('{'), ...parts, text('}')]);
}
