/**
 * `npm run bench` — runs the benchmark scenarios and prints a table, the ratios against the raw
 * floors, and (with --json) one JSON line per row for comparison across runs.
 *
 *   node build/bench/run.js [log] [engine] [--smoke] [--json] [--only lmdb|jetstream] [--nats URL]
 */
import { parseArgs } from 'node:util';
import { engineBench } from './engine.js';
import { logBench, ratios, sampleEventBytes } from './log.js';
import { printTable, runInfo } from './report.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    smoke: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    only: { type: 'string' },
    nats: { type: 'string' },
  },
});

const scenarios = positionals.length === 0 ? ['log', 'engine'] : positionals;
const info = runInfo();
console.log(`kindling bench · commit ${info.commit} · ${info.date} · node ${info.node} · ${info.cpus}`);

for (const scenario of scenarios) {
  if (scenario === 'engine') {
    console.log(`\nengine: no-op tasks, trigger → result, one worker with 100 slots, ${values.smoke ? 'smoke' : 'full'} size\n`);
    const rows = await engineBench({ smoke: values.smoke });
    printTable(rows);
    if (values.json) for (const row of rows) console.log(JSON.stringify({ ...info, ...row }));
    continue;
  }
  if (scenario !== 'log') {
    console.error(`unknown scenario '${scenario}'; known: log, engine`);
    process.exit(2);
  }
  const only = values.only === 'lmdb' || values.only === 'jetstream' ? values.only : undefined;
  console.log(`\nlog: durable appends of ${sampleEventBytes()}-byte events (msgpack), ${values.smoke ? 'smoke' : 'full'} size\n`);
  const rows = await logBench({ smoke: values.smoke, ...(values.nats === undefined ? {} : { natsUrl: values.nats }), ...(only === undefined ? {} : { only }) });
  printTable(rows);
  console.log('');
  for (const r of ratios(rows)) {
    console.log(`${r.scenario}: ${r.ours} / ${r.floor} = ${(r.throughput * 100).toFixed(0)}% of the throughput, ${r.p50.toFixed(2)}× the p50 latency`);
  }
  if (values.json) for (const row of rows) console.log(JSON.stringify({ ...info, ...row }));
}
