/** The tenant trigger deciders — filters, schedules, crons, idempotency keys — given/when/then. */
import t from 'tap';
import { type CronsState, decideCrons, evolveCrons, initialCronsState } from '../../actors/crons.js';
import { decideFilters, evolveFilters, type FiltersState, initialFiltersState } from '../../actors/filters.js';
import { decideIdempotency, evolveIdempotency, type IdempotencyState, initialIdempotencyState } from '../../actors/idempotency.js';
import { decideSchedules, evolveSchedules, initialSchedulesState, type SchedulesState } from '../../actors/schedules.js';
import { encodePayload } from '../../protocol/payload.js';

const at = (nowMs: number) => ({ nowMs });
const input = encodePayload({}, 'input');

t.test('filters: created, updated, deleted; declared ones replaced whole for their workflow', async (t) => {
  let state: FiltersState = initialFiltersState();
  const apply = (events: ReturnType<typeof decideFilters>) => {
    for (const event of events) state = evolveFilters(state, event);
    return events;
  };
  apply(decideFilters(state, { type: 'CreateFilter', id: 'f1', fields: { workflow: 'wf', scope: 's', expression: 'true', payload: { a: 1 } } }, at(1)));
  t.same(decideFilters(state, { type: 'CreateFilter', id: 'f1', fields: { workflow: 'wf', scope: 's', expression: 'true', payload: {} } }, at(2)), [], 'an id is created once');
  apply(decideFilters(state, { type: 'UpdateFilter', id: 'f1', patch: { expression: 'false' } }, at(3)));
  t.match(state.filters.f1, { expression: 'false', scope: 's', updatedAtMs: 3, declarative: false });
  t.same(decideFilters(state, { type: 'UpdateFilter', id: 'nope', patch: {} }, at(4)), []);
  t.same(decideFilters(state, { type: 'DeleteFilter', id: 'nope' }, at(4)), []);
  apply(decideFilters(state, { type: 'ReplaceDeclaredFilters', workflow: 'wf', filters: [{ id: 'd1', scope: 's', expression: 'true', payload: {} }] }, at(5)));
  const replaced = apply(decideFilters(state, { type: 'ReplaceDeclaredFilters', workflow: 'wf', filters: [{ id: 'd2', scope: 's', expression: 'true', payload: {} }] }, at(6)));
  t.same(replaced.map((e) => e.type), ['FilterDeleted', 'FilterCreated']);
  t.same(Object.keys(state.filters).sort(), ['d2', 'f1'], 'the API filter stays; the declared one is replaced');
  apply(decideFilters(state, { type: 'DeleteFilter', id: 'f1' }, at(7)));
  t.same(Object.keys(state.filters), ['d2']);
  t.same(evolveFilters(state, { type: 'FilterUpdated', id: 'gone', patch: {}, atMs: 8 }), state, 'an update of an unknown filter changes nothing');
});

t.test('schedules: only a waiting one is rescheduled; it triggers or is missed at most once', async (t) => {
  let state: SchedulesState = initialSchedulesState();
  const apply = (events: ReturnType<typeof decideSchedules>) => {
    for (const event of events) state = evolveSchedules(state, event);
    return events;
  };
  const fields = { workflow: 'wf', triggerAtMs: 100, input, additionalMetadata: {}, priority: undefined };
  apply(decideSchedules(state, { type: 'CreateSchedule', id: 's1', fields }, at(1)));
  apply(decideSchedules(state, { type: 'CreateSchedule', id: 's2', fields }, at(1)));
  t.same(decideSchedules(state, { type: 'CreateSchedule', id: 's1', fields }, at(2)), []);
  apply(decideSchedules(state, { type: 'Reschedule', id: 's1', triggerAtMs: 200 }, at(3)));
  t.equal(state.schedules.s1?.triggerAtMs, 200);
  apply(decideSchedules(state, { type: 'MarkTriggered', id: 's1', runId: 'r1' }, at(200)));
  t.same(decideSchedules(state, { type: 'MarkTriggered', id: 's1', runId: 'r2' }, at(201)), [], 'a schedule triggers once');
  t.throws(() => decideSchedules(state, { type: 'Reschedule', id: 's1', triggerAtMs: 300 }, at(202)), { code: 'INVALID_INPUT', message: /already triggered/ });
  apply(decideSchedules(state, { type: 'MarkMissed', id: 's2' }, at(203)));
  t.throws(() => decideSchedules(state, { type: 'Reschedule', id: 's2', triggerAtMs: 300 }, at(204)), { message: /been missed/ });
  t.same(decideSchedules(state, { type: 'MarkMissed', id: 's2' }, at(205)), []);
  t.same(decideSchedules(state, { type: 'Reschedule', id: 'nope', triggerAtMs: 1 }, at(205)), []);
  apply(decideSchedules(state, { type: 'DeleteSchedule', id: 's2' }, at(206)));
  t.same(decideSchedules(state, { type: 'DeleteSchedule', id: 's2' }, at(207)), []);
  t.same(Object.keys(state.schedules), ['s1']);
  t.same(evolveSchedules(state, { type: 'ScheduleMissed', id: 'gone', atMs: 1 }), state);
});

t.test('crons: a name is unique per workflow; declared crons are replaced whole', async (t) => {
  let state: CronsState = initialCronsState();
  const apply = (events: ReturnType<typeof decideCrons>) => {
    for (const event of events) state = evolveCrons(state, event);
    return events;
  };
  const fields = { workflow: 'wf', name: 'nightly', expression: '0 0 * * *', input, additionalMetadata: {}, priority: undefined };
  apply(decideCrons(state, { type: 'CreateCron', id: 'c1', fields }, at(1)));
  t.same(decideCrons(state, { type: 'CreateCron', id: 'c1', fields }, at(2)), []);
  t.throws(() => decideCrons(state, { type: 'CreateCron', id: 'c2', fields }, at(3)), { code: 'ALREADY_EXISTS' });
  apply(decideCrons(state, { type: 'CreateCron', id: 'c3', fields: { ...fields, workflow: 'other' } }, at(4)));
  apply(decideCrons(state, { type: 'ReplaceDeclaredCrons', workflow: 'wf', crons: [{ id: 'd1', expression: '* * * * *', input }] }, at(5)));
  const replaced = apply(decideCrons(state, { type: 'ReplaceDeclaredCrons', workflow: 'wf', crons: [] }, at(6)));
  t.same(replaced.map((e) => e.type), ['CronDeleted']);
  apply(decideCrons(state, { type: 'DeleteCron', id: 'c1' }, at(7)));
  t.same(decideCrons(state, { type: 'DeleteCron', id: 'c1' }, at(8)), []);
  t.same(Object.keys(state.crons), ['c3']);
});

t.test('idempotency: a held key is not claimed again; it frees when it expires or its run releases it', async (t) => {
  let state: IdempotencyState = initialIdempotencyState();
  const apply = (events: ReturnType<typeof decideIdempotency>) => {
    for (const event of events) state = evolveIdempotency(state, event);
    return events;
  };
  apply(decideIdempotency(state, { type: 'ClaimKeys', claims: [{ key: 'k1', runId: 'r1', expiresAtMs: 100, untilFinished: false }, { key: 'k1', runId: 'r9', untilFinished: false }] }, at(1)));
  t.equal(state.claims.k1?.runId, 'r1', 'one claim per key, the first');
  t.same(decideIdempotency(state, { type: 'ClaimKeys', claims: [{ key: 'k1', runId: 'r2', untilFinished: false }] }, at(50)), [], 'held until it expires');
  apply(decideIdempotency(state, { type: 'ClaimKeys', claims: [{ key: 'k2', runId: 'r3', untilFinished: true }] }, at(150)));
  t.notOk('k1' in state.claims, 'an expired claim is dropped as new ones come');
  t.same(decideIdempotency(state, { type: 'ReleaseKey', key: 'k2', runId: 'other' }, at(151)), [], 'only its run releases a key');
  apply(decideIdempotency(state, { type: 'ReleaseKey', key: 'k2', runId: 'r3' }, at(152)));
  t.same(state.claims, {});
});
