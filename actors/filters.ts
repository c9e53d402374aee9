/**
 * The event filters of one tenant, as a pure decider. Stream: `filters:<tenant>`.
 *
 * Owns: each filter's workflow, scope, CEL expression and payload, and which filters a workflow's
 * definition declared (`defaultFilters`, replaced whenever a new version of the workflow is
 * registered). Does not own: evaluating them against events (the engine's event router does, with
 * this state) or checking their CEL (the engine refuses a bad expression before it gets here).
 *
 * Invariants:
 *  1. Filter ids are unique; an update or delete of an unknown id decides nothing.
 *  2. A workflow's declared filters are exactly those of its newest registered version.
 */
import { assertNever } from '../src/lib/errors.js';

export interface Filter {
  readonly id: string;
  readonly workflow: string;
  readonly scope: string;
  readonly expression: string;
  /** JSON object the filter hands to the runs it triggers (`ctx.filterPayload()`). */
  readonly payload: Record<string, unknown>;
  /** Declared by the workflow's definition (`defaultFilters`) rather than created through the API. */
  readonly declarative: boolean;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
}

export interface FiltersState {
  readonly filters: Readonly<Record<string, Filter>>;
}

export type FilterFields = Pick<Filter, 'workflow' | 'scope' | 'expression' | 'payload'>;

export type FiltersCommand =
  | { readonly type: 'CreateFilter'; readonly id: string; readonly fields: FilterFields }
  | { readonly type: 'UpdateFilter'; readonly id: string; readonly patch: Partial<Pick<Filter, 'scope' | 'expression' | 'payload'>> }
  | { readonly type: 'DeleteFilter'; readonly id: string }
  | { readonly type: 'ReplaceDeclaredFilters'; readonly workflow: string; readonly filters: ReadonlyArray<{ readonly id: string } & Omit<FilterFields, 'workflow'>> };

export type FiltersEvent =
  | { readonly type: 'FilterCreated'; readonly filter: Filter }
  | { readonly type: 'FilterUpdated'; readonly id: string; readonly patch: Partial<Pick<Filter, 'scope' | 'expression' | 'payload'>>; readonly atMs: number }
  | { readonly type: 'FilterDeleted'; readonly id: string; readonly atMs: number };

export const initialFiltersState = (): FiltersState => ({ filters: {} });

export function decideFilters(state: FiltersState, command: FiltersCommand, ctx: { nowMs: number }): FiltersEvent[] {
  const now = ctx.nowMs;
  switch (command.type) {
    case 'CreateFilter':
      if (state.filters[command.id] !== undefined) return [];
      return [{ type: 'FilterCreated', filter: { id: command.id, ...command.fields, declarative: false, createdAtMs: now, updatedAtMs: now } }];
    case 'UpdateFilter':
      return state.filters[command.id] === undefined ? [] : [{ type: 'FilterUpdated', id: command.id, patch: command.patch, atMs: now }];
    case 'DeleteFilter':
      return state.filters[command.id] === undefined ? [] : [{ type: 'FilterDeleted', id: command.id, atMs: now }];
    case 'ReplaceDeclaredFilters': {
      const events: FiltersEvent[] = [];
      for (const filter of Object.values(state.filters)) {
        if (filter.declarative && filter.workflow === command.workflow) events.push({ type: 'FilterDeleted', id: filter.id, atMs: now });
      }
      for (const { id, ...fields } of command.filters) {
        events.push({ type: 'FilterCreated', filter: { id, workflow: command.workflow, ...fields, declarative: true, createdAtMs: now, updatedAtMs: now } });
      }
      return events;
    }
    default:
      return assertNever(command, 'filters command');
  }
}

export function evolveFilters(state: FiltersState, event: FiltersEvent): FiltersState {
  switch (event.type) {
    case 'FilterCreated':
      return { filters: { ...state.filters, [event.filter.id]: event.filter } };
    case 'FilterUpdated': {
      const filter = state.filters[event.id];
      if (filter === undefined) return state;
      return { filters: { ...state.filters, [event.id]: { ...filter, ...event.patch, updatedAtMs: event.atMs } } };
    }
    case 'FilterDeleted': {
      const { [event.id]: _gone, ...rest } = state.filters;
      return { filters: rest };
    }
    default:
      return assertNever(event, 'filters event');
  }
}
