/**
 * Every fixed workload (W1–W7) at its smoke size, on Kindling and on BullMQ side by side (W7, flow
 * control, on Kindling only), so that
 * the bench suite cannot rot. It checks that each row is complete and sane — every run finished
 * with the output its shape promises, latencies ordered, resources measured — never how fast.
 */
import t from 'tap';
import { runPlan } from '../../bench/cli.js';
import { planOf } from '../../bench/flags.js';
import { progressLine } from '../../bench/progress.js';
import { backlogLines, jsonLine, type LoadRow, ratioLines, type RecoveryRow, runInfo } from '../../bench/report.js';
import type { Percentiles } from '../../bench/stats.js';
import type { Workload } from '../../bench/workload.js';

const loadDefaults = {
  events: '10', duration: '10s', slots: '100', delay: '0', failureRate: '0', payloadSize: '0kb', eventFanout: '1', wait: '10s',
  workerDelay: '0', level: 'error', trigger: 'direct', bulkSize: '500', workers: '1',
};

const ordered = (p: Percentiles | undefined) => p !== undefined && p.p50 > 0 && p.p50 <= p.p95 && p.p95 <= p.p99 && p.p99 <= p.max;

t.test('fixed workloads (smoke), kindling and bullmq: every row complete and sane', async (t) => {
  const plan = planOf(['all'], { smoke: true, vs: 'bullmq', level: 'error' }, () => false, ['load']);
  const { rows, notes } = await runPlan(plan, progressLine({ forced: false }));
  const load = rows.filter((row): row is LoadRow => row.kind === 'load');
  const recovery = rows.filter((row): row is RecoveryRow => row.kind === 'recovery');

  const scenarios = [
    'w1 throughput · bulk',
    'w1 throughput · one by one',
    'w2 latency · 200/s',
    'w3 chain a→b→c',
    'w4 fan-out · 40 children',
    'w5 scale · 1 worker',
    'w5 scale · 2 workers',
    'w5 scale · 4 workers',
    'w5 payload · 1 KB',
    'w5 payload · 64 KB',
  ];
  const backlogs = ['w5 backlog · 200', 'w5 backlog · 1k'];
  const flow = ['w7 round-robin · 60 keys', 'w7 rate-limited · 60 keys'];
  const flowBacklogs = ['w7 backlog round-robin · 200', 'w7 backlog round-robin · 1k'];
  t.same(
    load.map((row) => `${row.scenario} / ${row.subject}`),
    [
      ...scenarios.flatMap((scenario) => [`${scenario} / kindling`, `${scenario} / bullmq`]),
      ...backlogs.flatMap((backlog) => ['kindling', 'bullmq'].flatMap((subject) => [`${backlog} queued / ${subject}`, `${backlog} drain / ${subject}`])),
      'w5 durable · W1 with 200 durable tasks asleep / kindling',
      ...flow.map((scenario) => `${scenario} / kindling`),
      ...flowBacklogs.flatMap((backlog) => [`${backlog} queued / kindling`, `${backlog} drain / kindling`]),
    ],
    'one row per workload and subject (a backlog has two), Kindling first',
  );

  for (const { scenario, subject, phase, figures: f, params } of load) {
    const name = `${scenario} / ${subject}`;
    t.ok(f.runs > 0 && f.failed === 0 && f.triggerErrors === 0, `${name}: ${f.runs} runs, none failed`);
    t.ok(f.triggersPerSecond > 0 && f.serverCpuSeconds !== undefined && (f.serverPeakRssMb ?? 0) > 0, `${name}: triggers and the server measured`);
    if (phase === 'queued') {
      t.equal(f.unfinished, f.runs, `${name}: every run still queued when the memory was read`);
      t.equal(f.workerProcesses, 0, `${name}: no worker yet`);
      continue;
    }
    t.equal(f.completed, f.runs, `${name}: every run completed with the output its shape promises`);
    t.ok(f.completionsPerSecond > 0 && f.seconds > 0, `${name}: ${Math.round(f.completionsPerSecond)} runs/s`);
    t.ok(ordered(f.resultMs), `${name}: trigger → result percentiles ordered`);
    if (params.shape === 'fanout') t.equal(f.startMs, undefined, `${name}: a fan-out has no single first task to time`);
    else t.ok(ordered(f.startMs) && (f.startMs?.p50 ?? 0) <= (f.resultMs?.p50 ?? 0), `${name}: trigger → start ordered, and before the result`);
    t.equal(f.workerProcesses, Number(params.workers), `${name}: ${params.workers} worker processes`);
    t.ok((f.workerCpuSeconds ?? 0) > 0 && (f.workerPeakRssMbMax ?? 0) > 0 && (f.workerPeakRssMbSum ?? 0) >= (f.workerPeakRssMbMax ?? 0), `${name}: workers measured`);
  }

  t.same(recovery.map((row) => row.figures.start), ['no checkpoint', 'from checkpoint'], 'two recovery rows (Kindling only): the log as built, then after a stop');
  for (const r of recovery.map((row) => row.figures)) {
    t.ok(r.events >= 20_000 && r.finishedRuns > 0 && r.activeRuns > 0, `${r.start}: the recovery log holds finished and active runs`);
    t.ok(r.listenSeconds > 0 && r.listenSeconds <= r.firstResultSeconds && r.serverCpuSeconds > 0 && r.serverPeakRssMb > 0, `${r.start}: recovery timed and measured`);
  }
  const [cold, warm] = recovery.map((row) => row.figures.recordsRead ?? Number.NaN);
  t.ok((cold as number) >= 20_000 && (warm as number) < (cold as number) / 10, `the checkpoint spares reading the log (${cold} records, then ${warm})`);

  t.match(notes.join('\n'), /w5 durable .*Kindling only — BullMQ has no durable sleep/, 'the durable row says it has no BullMQ counterpart');
  t.match(notes.join('\n'), /w6 recovery .*Kindling only/, 'recovery says it has no BullMQ counterpart');
  t.match(notes.join('\n'), /w7 round-robin .*Kindling only/, 'flow control says it has no BullMQ counterpart');
  const drains = backlogLines(load);
  t.equal(drains.length, 3, 'a per-assignment cost line for each subject and family of backlogs');
  t.match(drains[0], /^kindling w5 backlog: per assignment \d+ µs with 200 queued, \d+ µs with 1,000 queued \(\d+\.\d\d× from the smallest backlog to the largest\)$/);
  t.match(drains[2], /^kindling w7 backlog round-robin: per assignment \d+ µs with 200 queued, \d+ µs with 1,000 queued/);
  t.equal(ratioLines(load, 'bullmq').length, scenarios.length + 2 * backlogs.length, 'a ratio line for every row');

  const json = JSON.parse(jsonLine(runInfo(), load[0] as LoadRow));
  t.match(json, { commit: String, date: String, node: process.version, cpus: String, scenario: String, subject: 'kindling', params: Object, figures: { runs: Number } });
});

t.test('bullmq: --concurrency is its global concurrency, so 20 tasks of 50 ms two at a time take at least 0.5 s', async (t) => {
  const [workload] = planOf(['load'], { ...loadDefaults, events: 'max', total: '20', delay: '50ms', concurrency: '2', slots: '10' }, (flag) => ['events', 'total', 'delay', 'concurrency', 'slots'].includes(flag), ['load']).workloads;
  const plan = { ...planOf([], { ...loadDefaults }, () => false, ['load']), workloads: [workload as Workload], subjects: ['bullmq' as const] };
  const { rows } = await runPlan(plan, progressLine({ forced: false }));
  const figures = (rows[0] as LoadRow).figures;
  t.equal(figures.completed, 20);
  t.ok(figures.seconds >= 0.45, `took ${figures.seconds.toFixed(2)} s: never more than two at once`);
});
