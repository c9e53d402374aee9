/**
 * Conditions of DAG tasks (`waitFor`, `skipIf`, `cancelIf`) and durable waits (Hatchet's
 * `v1/conditions`): sleeps, user events and parent outputs, AND-ed unless grouped by `Or(...)`.
 * These classes only describe conditions; which engine features act on them is the business of
 * the code that registers or waits (see `declaration.ts` and `DurableContext`).
 */
import { randomUUID } from 'node:crypto';
import type { Duration } from './duration.js';

/** What a matched condition does to the task. */
export enum Action {
  CREATE = 0,
  QUEUE = 1,
  CANCEL = 2,
  SKIP = 3,
  UNRECOGNIZED = -1,
}

export interface BaseCondition {
  readableDataKey?: string;
  action?: Action;
  orGroupId?: string;
  expression?: string;
}

export abstract class Condition {
  constructor(public base: BaseCondition) {}
}

/** Shorthand of a sleep condition. */
export interface Sleep {
  sleepFor: Duration;
  readableDataKey?: string;
}

/** Shorthand of a user-event condition. */
export interface UserEvent {
  eventKey: string;
  expression?: string;
  readableDataKey?: string;
  /** Only events pushed with this scope match. */
  scope?: string;
  /** An ISO date: events pushed since then match too. */
  considerEventsSince?: string;
}

/** A parent task, as `wf.task(...)` returned it. */
export interface ParentTaskRef {
  name: string;
}

/** Shorthand of a parent condition. */
export interface Parent {
  parent: ParentTaskRef;
  expression?: string;
}

export class SleepCondition extends Condition {
  sleepFor: Duration;

  constructor(sleepFor: Duration, readableDataKey?: string, action?: Action) {
    super({ readableDataKey: readableDataKey ?? `sleep-${String(typeof sleepFor === 'object' ? JSON.stringify(sleepFor) : sleepFor)}`, ...(action === undefined ? {} : { action }) });
    this.sleepFor = sleepFor;
  }
}

export class UserEventCondition extends Condition {
  eventKey: string;
  expression: string;
  scope?: string;
  considerEventsSince?: string;

  constructor(eventKey: string, expression = '', readableDataKey?: string, action?: Action, scope?: string, considerEventsSince?: string) {
    super({ readableDataKey: readableDataKey ?? eventKey, expression, ...(action === undefined ? {} : { action }) });
    this.eventKey = eventKey;
    this.expression = expression;
    if (scope !== undefined) this.scope = scope;
    if (considerEventsSince !== undefined) this.considerEventsSince = considerEventsSince;
  }
}

export class ParentCondition extends Condition {
  parent: ParentTaskRef;

  constructor(parent: ParentTaskRef, expression = '', readableDataKey?: string, action?: Action) {
    super({ readableDataKey: readableDataKey ?? `parent-${parent.name}`, expression, ...(action === undefined ? {} : { action }) });
    this.parent = parent;
  }
}

export type IConditions = Sleep | UserEvent | Parent;
export type Conditions = Condition | OrCondition | IConditions;

/** Conditions of which any one suffices. */
export class OrCondition {
  constructor(public conditions: Condition[]) {}
}

export function generateGroupId(): string {
  return randomUUID();
}

function fromShorthand(condition: IConditions | Condition): Condition {
  if (condition instanceof Condition) return condition;
  if ('sleepFor' in condition) return new SleepCondition(condition.sleepFor, condition.readableDataKey);
  if ('eventKey' in condition) return new UserEventCondition(condition.eventKey, condition.expression, condition.readableDataKey, undefined, condition.scope, condition.considerEventsSince);
  return new ParentCondition(condition.parent, condition.expression);
}

/** Groups conditions so that any one of them suffices. */
export function Or(...conditions: Array<IConditions | Condition>): OrCondition {
  const orGroupId = generateGroupId();
  return new OrCondition(
    conditions.map((condition) => {
      const made = fromShorthand(condition);
      made.base = { ...made.base, orGroupId };
      return made;
    }),
  );
}

/**
 * The flat list of conditions with their action and OR groups: each condition outside an `Or` gets
 * its own group (so groups are AND-ed), each `Or` one shared group.
 */
export function Render(action?: Action, conditions?: Conditions | Conditions[]): Condition[] {
  if (conditions === undefined) return [];
  const all = Array.isArray(conditions) ? conditions : [conditions];
  return all.flatMap((condition) => {
    const members = condition instanceof OrCondition ? condition.conditions : [fromShorthand(condition)];
    const groupId = condition instanceof OrCondition ? undefined : generateGroupId();
    return members.map((member) => {
      member.base = { ...member.base, orGroupId: member.base.orGroupId ?? groupId ?? generateGroupId(), ...(action === undefined ? {} : { action }) };
      return member;
    });
  });
}
