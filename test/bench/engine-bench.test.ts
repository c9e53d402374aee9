/** The engine benchmark at smoke size, so it cannot rot. Speed is reported by `npm run bench`. */
import t from 'tap';
import { engineBench } from '../../bench/engine.js';

t.test('engine bench (smoke): throughput, latency and chain rows are complete', async (t) => {
  const rows = await engineBench({ smoke: true });
  t.same(rows.map((r) => r.scenario), ['engine: throughput', 'engine: latency', 'engine: chain a→b→c']);
  for (const row of rows) {
    t.ok(row.events > 0 && row.perSecond > 0, `${row.scenario}: ${row.perSecond.toFixed(0)}/s`);
    t.ok((row.latencyMs?.p50 ?? 0) > 0 && (row.latencyMs?.p99 ?? 0) >= (row.latencyMs?.p50 ?? 0), `${row.scenario}: percentiles ordered`);
    t.ok((row.serverCpuSeconds ?? 0) > 0 && (row.serverRssMb ?? 0) > 0, `${row.scenario}: the engine's CPU and memory were measured`);
  }
});
