/**
 * The log benchmark at smoke size, so it cannot rot: it must run end to end on both backends and
 * their raw floors and produce complete rows. Speed is not asserted here; `npm run bench` reports it.
 */
import t from 'tap';
import { logBench, ratios } from '../../bench/log.js';

t.test('log bench (smoke): every scenario yields a complete row and a ratio', async (t) => {
  const rows = await logBench({ smoke: true });
  t.same(
    rows.map((r) => `${r.scenario} / ${r.subject}`).sort(),
    [
      'log: group commit / lmdb log',
      'log: group commit / raw lmdb puts',
      'log: pipelined / jetstream log',
      'log: pipelined / raw jetstream publish',
      'log: single append / jetstream log',
      'log: single append / lmdb log',
      'log: single append / raw jetstream publish',
      'log: single append / raw lmdb puts',
    ],
  );
  for (const row of rows) {
    t.ok(row.events > 0 && row.perSecond > 0 && row.seconds > 0, `${row.subject}: ${row.perSecond.toFixed(0)} events/s`);
    t.ok((row.latencyMs?.p50 ?? 0) > 0 && (row.latencyMs?.p99 ?? 0) >= (row.latencyMs?.p50 ?? 0), `${row.subject}: percentiles are ordered`);
    t.ok(row.cpuSeconds > 0 && row.rssMb > 0, `${row.subject}: resources measured`);
  }
  t.equal(ratios(rows).length, 4, 'each of our rows has its raw floor');
});
