/**
 * The one-off scheduled runs of one tenant, as a pure decider. Stream: `schedules:<tenant>`.
 *
 * Owns: each schedule's workflow, time (`triggerAtMs`, UTC), input, metadata and priority, and its
 * fate: waiting, triggered (with its run) or missed. Does not own: the timer (the engine arms one
 * from `triggerAtMs`, which is in the events, so it is re-armed after a restart) or the run it
 * starts (whose id is derived from the schedule's, so firing twice creates one run).
 *
 * Invariants:
 *  1. Only a waiting schedule is rescheduled; one that has triggered (or was missed) is refused.
 *  2. A schedule triggers at most once.
 *  3. A schedule whose time passed while the engine was down is marked missed, not run (Hatchet's
 *     rule for downtime).
 */
import { assertNever, KindlingError } from '../src/lib/errors.js';
import type { Payload } from '../protocol/payload.js';

export interface Schedule {
  readonly id: string;
  readonly workflow: string;
  readonly triggerAtMs: number;
  readonly input: Payload;
  readonly additionalMetadata: Readonly<Record<string, string>>;
  readonly priority?: number | undefined;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
  readonly status: 'scheduled' | 'triggered' | 'missed';
  readonly runId?: string | undefined;
}

export interface SchedulesState {
  readonly schedules: Readonly<Record<string, Schedule>>;
}

export type ScheduleFields = Pick<Schedule, 'workflow' | 'triggerAtMs' | 'input' | 'additionalMetadata' | 'priority'>;

export type SchedulesCommand =
  | { readonly type: 'CreateSchedule'; readonly id: string; readonly fields: ScheduleFields }
  | { readonly type: 'Reschedule'; readonly id: string; readonly triggerAtMs: number }
  | { readonly type: 'DeleteSchedule'; readonly id: string }
  | { readonly type: 'MarkTriggered'; readonly id: string; readonly runId: string }
  | { readonly type: 'MarkMissed'; readonly id: string };

export type SchedulesEvent =
  | { readonly type: 'ScheduleCreated'; readonly schedule: Schedule }
  | { readonly type: 'ScheduleRescheduled'; readonly id: string; readonly triggerAtMs: number; readonly atMs: number }
  | { readonly type: 'ScheduleDeleted'; readonly id: string; readonly atMs: number }
  | { readonly type: 'ScheduleTriggered'; readonly id: string; readonly runId: string; readonly atMs: number }
  | { readonly type: 'ScheduleMissed'; readonly id: string; readonly atMs: number };

export const initialSchedulesState = (): SchedulesState => ({ schedules: {} });

const refused = (message: string) => new KindlingError('INVALID_INPUT', message, false);

export function decideSchedules(state: SchedulesState, command: SchedulesCommand, ctx: { nowMs: number }): SchedulesEvent[] {
  const now = ctx.nowMs;
  const schedule = command.type === 'CreateSchedule' ? undefined : state.schedules[command.id];
  switch (command.type) {
    case 'CreateSchedule':
      if (state.schedules[command.id] !== undefined) return [];
      return [{ type: 'ScheduleCreated', schedule: { id: command.id, ...command.fields, createdAtMs: now, updatedAtMs: now, status: 'scheduled' } }];
    case 'Reschedule':
      if (schedule === undefined) return [];
      if (schedule.status !== 'scheduled') throw refused(`scheduled run '${command.id}' has ${schedule.status === 'triggered' ? 'already triggered' : 'been missed'}; only a waiting one can be rescheduled`);
      return [{ type: 'ScheduleRescheduled', id: command.id, triggerAtMs: command.triggerAtMs, atMs: now }];
    case 'DeleteSchedule':
      return schedule === undefined ? [] : [{ type: 'ScheduleDeleted', id: command.id, atMs: now }];
    case 'MarkTriggered':
      return schedule?.status === 'scheduled' ? [{ type: 'ScheduleTriggered', id: command.id, runId: command.runId, atMs: now }] : [];
    case 'MarkMissed':
      return schedule?.status === 'scheduled' ? [{ type: 'ScheduleMissed', id: command.id, atMs: now }] : [];
    default:
      return assertNever(command, 'schedules command');
  }
}

export function evolveSchedules(state: SchedulesState, event: SchedulesEvent): SchedulesState {
  const change = (id: string, fields: Partial<Schedule>): SchedulesState => {
    const schedule = state.schedules[id];
    return schedule === undefined ? state : { schedules: { ...state.schedules, [id]: { ...schedule, ...fields } } };
  };
  switch (event.type) {
    case 'ScheduleCreated':
      return { schedules: { ...state.schedules, [event.schedule.id]: event.schedule } };
    case 'ScheduleRescheduled':
      return change(event.id, { triggerAtMs: event.triggerAtMs, updatedAtMs: event.atMs });
    case 'ScheduleDeleted': {
      const { [event.id]: _gone, ...rest } = state.schedules;
      return { schedules: rest };
    }
    case 'ScheduleTriggered':
      return change(event.id, { status: 'triggered', runId: event.runId, updatedAtMs: event.atMs });
    case 'ScheduleMissed':
      return change(event.id, { status: 'missed', updatedAtMs: event.atMs });
    default:
      return assertNever(event, 'schedules event');
  }
}
