/**
 * The cron triggers of one tenant, as a pure decider. Stream: `crons:<tenant>`.
 *
 * Owns: each cron's workflow, name, expression (UTC), input, metadata and priority, and whether a
 * workflow's definition declared it (`on: { cron }`: replaced whenever a new version is
 * registered) or the API created it. Does not own: the ticks. The engine computes each next tick
 * from the expression and the current time — nothing per tick is stored, a tick's run id is derived
 * from the cron and the tick's time (so a tick fires one run however often it is retried), and
 * ticks missed while the engine was down are not run afterwards (Hatchet's rule).
 *
 * Invariants:
 *  1. Names are unique per workflow among API crons; a second create with a taken name is refused.
 *  2. A workflow's declared crons are exactly those of its newest registered version.
 */
import { assertNever, KindlingError } from '../src/lib/errors.js';
import type { Payload } from '../protocol/payload.js';

export interface Cron {
  readonly id: string;
  readonly workflow: string;
  readonly name?: string | undefined;
  readonly expression: string;
  readonly input: Payload;
  readonly additionalMetadata: Readonly<Record<string, string>>;
  readonly priority?: number | undefined;
  readonly declarative: boolean;
  readonly createdAtMs: number;
}

export interface CronsState {
  readonly crons: Readonly<Record<string, Cron>>;
}

export type CronFields = Pick<Cron, 'workflow' | 'name' | 'expression' | 'input' | 'additionalMetadata' | 'priority'>;

export type CronsCommand =
  | { readonly type: 'CreateCron'; readonly id: string; readonly fields: CronFields }
  | { readonly type: 'DeleteCron'; readonly id: string }
  | { readonly type: 'ReplaceDeclaredCrons'; readonly workflow: string; readonly crons: ReadonlyArray<{ readonly id: string; readonly expression: string; readonly input: Payload }> };

export type CronsEvent = { readonly type: 'CronCreated'; readonly cron: Cron } | { readonly type: 'CronDeleted'; readonly id: string; readonly atMs: number };

export const initialCronsState = (): CronsState => ({ crons: {} });

export function decideCrons(state: CronsState, command: CronsCommand, ctx: { nowMs: number }): CronsEvent[] {
  const now = ctx.nowMs;
  switch (command.type) {
    case 'CreateCron': {
      if (state.crons[command.id] !== undefined) return [];
      const taken = Object.values(state.crons).find((cron) => !cron.declarative && cron.workflow === command.fields.workflow && cron.name === command.fields.name);
      if (taken !== undefined) throw new KindlingError('ALREADY_EXISTS', `workflow '${command.fields.workflow}' already has a cron named '${command.fields.name}' (id ${taken.id})`, false);
      return [{ type: 'CronCreated', cron: { id: command.id, ...command.fields, declarative: false, createdAtMs: now } }];
    }
    case 'DeleteCron':
      return state.crons[command.id] === undefined ? [] : [{ type: 'CronDeleted', id: command.id, atMs: now }];
    case 'ReplaceDeclaredCrons': {
      const events: CronsEvent[] = [];
      for (const cron of Object.values(state.crons)) if (cron.declarative && cron.workflow === command.workflow) events.push({ type: 'CronDeleted', id: cron.id, atMs: now });
      for (const { id, expression, input } of command.crons) {
        events.push({ type: 'CronCreated', cron: { id, workflow: command.workflow, expression, input, additionalMetadata: {}, declarative: true, createdAtMs: now } });
      }
      return events;
    }
    default:
      return assertNever(command, 'crons command');
  }
}

export function evolveCrons(state: CronsState, event: CronsEvent): CronsState {
  switch (event.type) {
    case 'CronCreated':
      return { crons: { ...state.crons, [event.cron.id]: event.cron } };
    case 'CronDeleted': {
      const { [event.id]: _gone, ...rest } = state.crons;
      return { crons: rest };
    }
    default:
      return assertNever(event, 'crons event');
  }
}
