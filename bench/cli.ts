/**
 * The benchmark's entry point, behind `kindling bench` (bench/main.ts) and `npm run bench`
 * (bench/run.ts): parse the flags into a plan, check that every subject can run every workload,
 * run them one row at a time — each row on a fresh server when the bench starts its own, Kindling
 * and the peer back to back — then print the tables, the ratios and (with --json) the rows.
 *
 * Exit codes: 0 when every row ran; 1 when a workload could not run (a feature this engine lacks,
 * a server that would not start, runs that failed to finish); 2 for bad flags.
 */
import { CommanderError } from 'commander';
import { type Figures, type LedgerHolder, runBacklog, runLoad } from './driver.js';
import { type BenchPlan, planOf, type Scenario, UsageError, benchCommand } from './flags.js';
import { type Progress, progressLine } from './progress.js';
import { runRecovery } from './recovery.js';
import { backlogLines, type BenchRow, jsonLine, type LoadRow, loadTable, logTable, ratioLines, type RecoveryRow, recoveryTable, runInfo } from './report.js';
import type { OpenSubject, StartWorker, SubjectName, Unsupported } from './subjects/subject.js';
import { type BacklogWorkload, type LoadWorkload, paramsOf, type Workload } from './workload.js';

type SubjectModule = { openSubject: OpenSubject; startWorker: StartWorker; unsupported: Unsupported };

const loadSubject = (name: SubjectName) => import(`./subjects/${name}.js`) as Promise<SubjectModule>;

/** Writes human output to stdout, or to stderr when stdout carries JSON rows. */
function writer(json: boolean): (line?: string) => void {
  return (line = '') => (json ? process.stderr : process.stdout).write(`${line}\n`);
}

/** Asks every subject about every workload before anything starts; the first refusal ends the run. */
async function refusal(plan: BenchPlan): Promise<string | undefined> {
  for (const name of plan.subjects) {
    const { unsupported } = await loadSubject(name);
    for (const workload of plan.workloads) {
      if (workload.kind !== 'load') continue;
      const reason = unsupported(workload);
      if (reason !== undefined) return `${workload.scenario} on ${name}: ${reason}`;
    }
  }
  return undefined;
}

async function runRow(name: SubjectName, workload: LoadWorkload | BacklogWorkload, plan: BenchPlan, progress: Progress): Promise<LoadRow[]> {
  const { openSubject } = await loadSubject(name);
  const holder: LedgerHolder = { current: undefined };
  const subject = await openSubject({
    remote: name === 'kindling' ? plan.remote : undefined,
    logLevel: plan.logLevel,
    onFinished: (id, ok, output) => holder.current?.finish(id, ok, output),
  });
  const row = (scenario: string, figures: Figures, phase?: LoadRow['phase']): LoadRow => ({
    kind: 'load',
    ...(phase === undefined ? {} : { phase }),
    scenario,
    subject: name,
    params: paramsOf(workload),
    figures,
  });
  try {
    if (workload.kind === 'load') return [row(workload.scenario, await runLoad(subject, workload, holder, progress, plan.logLevel))];
    const { queued, drain } = await runBacklog(subject, workload, holder, progress, plan.logLevel);
    return [row(`${workload.scenario} queued`, queued, 'queued'), row(`${workload.scenario} drain`, drain, 'drain')];
  } finally {
    await subject.close();
  }
}

/** Runs the plan's workloads; returns the rows and the notes about what did not run. */
export async function runPlan(plan: BenchPlan, progress: Progress): Promise<{ rows: BenchRow[]; notes: string[] }> {
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  for (const workload of plan.workloads as Workload[]) {
    switch (workload.kind) {
      case 'recovery': {
        if (plan.subjects.includes('bullmq')) notes.push(`${workload.scenario}: Kindling only — BullMQ has no log to recover from`);
        for (const figures of await runRecovery(workload, progress, plan.logLevel)) {
          rows.push({ kind: 'recovery', scenario: workload.scenario, subject: 'kindling', params: paramsOf(workload), figures } satisfies RecoveryRow);
        }
        break;
      }
      default: {
        if (workload.policy !== undefined && plan.subjects.includes('bullmq')) notes.push(`${workload.scenario}: Kindling only — per-key concurrency and rate limits are BullMQ Pro features`);
        if (workload.kind === 'load' && workload.background !== undefined && plan.subjects.includes('bullmq')) notes.push(`${workload.scenario}: Kindling only — BullMQ has no durable sleep`);
        const kindlingOnly = workload.policy !== undefined || (workload.kind === 'load' && workload.background !== undefined);
        const subjects = plan.subjects.filter((name) => !kindlingOnly || name === 'kindling');
        // Repeats alternate the subjects, so drifts of a shared machine fall on both alike.
        const runs = new Map<SubjectName, LoadRow[][]>(subjects.map((name) => [name, []]));
        for (let repeat = 0; repeat < plan.repeat; repeat++) {
          for (const name of subjects) runs.get(name)?.push(await runRow(name, workload, plan, progress));
        }
        for (const name of subjects) rows.push(...medianRows(runs.get(name) ?? []));
      }
    }
  }
  return { rows, notes };
}

/** Of several runs of one row (each a list of phases), the median run by its last phase's rate. */
function medianRows(runs: readonly LoadRow[][]): LoadRow[] {
  if (runs.length <= 1) return runs[0] ?? [];
  const rate = (rows: readonly LoadRow[]) => {
    const last = rows[rows.length - 1];
    return last === undefined ? 0 : last.phase === 'queued' ? last.figures.triggersPerSecond : last.figures.completionsPerSecond;
  };
  const sorted = [...runs].sort((a, b) => rate(a) - rate(b));
  const median = sorted[Math.floor((sorted.length - 1) / 2)] ?? [];
  return median.map((row, phase) => ({
    ...row,
    runs: runs.map((rows) => {
      const same = rows[phase];
      return same === undefined ? Number.NaN : same.phase === 'queued' ? same.figures.triggersPerSecond : same.figures.completionsPerSecond;
    }),
  }));
}

/** Parses `argv`, runs, prints; returns the exit code. */
export async function main(name: string, defaultScenarios: readonly Scenario[], argv: readonly string[]): Promise<number> {
  const command = benchCommand(name, defaultScenarios).exitOverride();
  let plan: BenchPlan | undefined;
  command.action((args: string[], options: Record<string, string | boolean | undefined>) => {
    plan = planOf(args, options, (flag) => command.getOptionValueSource(flag) === 'cli', defaultScenarios);
  });
  try {
    await command.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (error instanceof UsageError) {
      process.stderr.write(`${name}: ${error.message}\n(see ${name} --help)\n`);
      return 2;
    }
    throw error;
  }
  if (plan === undefined) return 2;
  const write = writer(plan.json);
  const refused = await refusal(plan);
  if (refused !== undefined) {
    process.stderr.write(`${name}: ${refused}\n`);
    return 1;
  }
  const info = runInfo();
  write(`kindling bench · commit ${info.commit} · ${info.date} · node ${info.node} · ${info.cpus}${plan.smoke ? ' · smoke sizes' : ''}`);
  const progress = progressLine({ forced: plan.progress });
  // Ctrl-C: leave through `exit`, so no server the bench started outlives it (servers.ts).
  process.once('SIGINT', () => process.exit(130));

  if (plan.log !== undefined) {
    const { logBench, ratios, sampleEventBytes } = await import('./log.js').catch((error: unknown) => {
      throw new Error(`the log scenario runs in a Kindling checkout only (npm run bench): ${(error as Error).message}`);
    });
    write(`\nlog: durable appends of ${sampleEventBytes()}-byte events (msgpack), ${plan.smoke ? 'smoke' : 'full'} size\n`);
    const rows = await logBench({ smoke: plan.smoke, ...(plan.log.natsUrl === undefined ? {} : { natsUrl: plan.log.natsUrl }), ...(plan.log.only === undefined ? {} : { only: plan.log.only }) });
    for (const line of logTable(rows)) write(line);
    write();
    for (const r of ratios(rows)) write(`${r.scenario}: ${r.ours} / ${r.floor} = ${(r.throughput * 100).toFixed(0)}% of the throughput, ${r.p50.toFixed(2)}× the p50 latency`);
    if (plan.json) for (const row of rows) process.stdout.write(`${jsonLine(info, row)}\n`);
  }

  let ran: Awaited<ReturnType<typeof runPlan>>;
  try {
    ran = await runPlan(plan, progress);
  } catch (error) {
    progress.clear();
    process.stderr.write(`${name}: ${(error as Error).message}\n`);
    return 1;
  }
  const { rows, notes } = ran;
  const load = rows.filter((row): row is LoadRow => row.kind === 'load');
  const recovery = rows.filter((row): row is RecoveryRow => row.kind === 'recovery');
  if (load.length > 0) {
    write(`\nruns: trigger → start and trigger → result in ms; done/s = finished runs per second; server = ${plan.remote === undefined ? 'the engine or redis-server started here' : 'the engine (with --engine-pid) or redis-server'}\n`);
    for (const line of loadTable(load)) write(line);
    const repeated = load.filter((row) => row.runs !== undefined);
    if (repeated.length > 0) {
      write(`\neach run (done/s; triggers/s for a queued phase), the median one above:`);
      for (const row of repeated) write(`  ${row.scenario} · ${row.subject}: ${(row.runs ?? []).map((rate) => rate.toFixed(0)).join(' / ')}`);
    }
  }
  if (recovery.length > 0) {
    write();
    for (const line of recoveryTable(recovery)) write(line);
  }
  const backlogs = backlogLines(load);
  if (backlogs.length > 0) {
    write('\nbacklog drains (per-assignment cost = 1 / drain rate):');
    for (const line of backlogs) write(`  ${line}`);
  }
  const peer = plan.subjects.find((subject) => subject !== 'kindling');
  if (peer !== undefined && load.length > 0) {
    write(`\nratios (kindling / ${peer}; above 1× is better for done/s and trig/s, below 1× for latencies and memory):`);
    for (const line of ratioLines(load, peer)) write(`  ${line}`);
  }
  for (const note of notes) write(`\nnote: ${note}`);
  if (plan.json) for (const row of rows) process.stdout.write(`${jsonLine(info, row)}\n`);

  // A backlog's `queued` row is unfinished by design: its runs finish in the `drain` row.
  const incomplete = load.filter((row) => (row.phase !== 'queued' && row.figures.unfinished > 0) || row.figures.triggerErrors > 0);
  for (const { scenario, subject, figures } of incomplete) {
    const why = figures.firstTriggerError === undefined ? '' : ` (the first: ${figures.firstTriggerError})`;
    process.stderr.write(`${name}: ${scenario} on ${subject}: ${figures.unfinished} runs unfinished, ${figures.triggerErrors} trigger calls refused${why}\n`);
  }
  return incomplete.length > 0 ? 1 : 0;
}
