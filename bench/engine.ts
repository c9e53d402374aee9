/**
 * The engine benchmark: the trigger → result path of no-op tasks through the real engine process
 * (`kindling start` on LMDB, fsync'd appends) and a worker over a real WebSocket.
 *
 * Scenarios (full size; `--smoke` runs a fraction):
 *  - throughput: 20,000 tasks triggered in bulk, one worker with 100 slots; completions per second
 *    from the first trigger to the last result.
 *  - latency: 200 tasks/s triggered one by one for 20 s; trigger → result percentiles.
 *  - chain: 2,000 runs of a 3-task DAG A → B → C, each passing its output on; runs per second and
 *    per-run latency.
 *
 * Measured: wall time, per-run latency (trigger call → result resolved, in this process), the
 * engine's CPU seconds and peak RSS (from /proc), and this process's (driver + worker) CPU and RSS.
 * Not measured: a worker in its own process (the worker shares this process with the driver), and
 * durable tasks, events or schedules.
 */
import { HatchetClient } from '../src/sdk/index.js';
import { startEngine } from '../test/support/engine-process.js';
import { percentiles, processCpuSeconds, processPeakRssMb, ResourceMeter, type Row } from './report.js';

const sizes = (smoke: boolean) => ({
  throughputTasks: smoke ? 1_000 : 20_000,
  latencyRate: 200,
  latencySeconds: smoke ? 2 : 20,
  chainRuns: smoke ? 100 : 2_000,
});

export async function engineBench(options: { smoke: boolean }): Promise<Row[]> {
  const size = sizes(options.smoke);
  const engine = await startEngine();
  const hatchet = HatchetClient.init({ token: engine.token, host_port: engine.hostPort, log_level: 'ERROR' });
  const noop = hatchet.task({ name: 'bench-noop', fn: (_input: Record<string, never>) => null });
  const chain = hatchet.workflow<{ n: number }>({ name: 'bench-chain' });
  const a = chain.task({ name: 'a', fn: (input) => ({ n: input.n + 1 }) });
  const b = chain.task({ name: 'b', parents: [a], fn: async (_input, ctx) => ({ n: (await ctx.parentOutput(a)).n + 1 }) });
  chain.task({ name: 'c', parents: [b], fn: async (_input, ctx) => ({ n: (await ctx.parentOutput(b)).n + 1 }) });
  const worker = await hatchet.worker('bench-worker', { workflows: [noop, chain], slots: 100, handleKill: false });
  void worker.start();
  await worker.waitUntilReady();
  const pid = engine.pid as number;
  const rows: Row[] = [];

  const measure = async (scenario: string, params: Row['params'], runs: number, body: (latencies: Float64Array) => Promise<void>) => {
    const engineCpu = processCpuSeconds(pid);
    const meter = new ResourceMeter();
    const latencies = new Float64Array(runs);
    const started = performance.now();
    await body(latencies);
    const seconds = (performance.now() - started) / 1000;
    const { cpuSeconds, rssMb } = meter.stop();
    rows.push({
      scenario,
      subject: 'kindling',
      params,
      events: runs,
      seconds,
      perSecond: runs / seconds,
      latencyMs: percentiles(latencies),
      cpuSeconds,
      rssMb,
      serverCpuSeconds: processCpuSeconds(pid) - engineCpu,
      serverRssMb: processPeakRssMb(pid),
    });
  };

  try {
    // Warm up connections and code paths so the first scenario does not pay for them.
    await noop.run(Array.from({ length: 200 }, () => ({})));

    await measure('engine: throughput', { tasks: size.throughputTasks, slots: 100, trigger: 'bulk' }, size.throughputTasks, async (latencies) => {
      const t0 = performance.now();
      const refs = await noop.runNoWait(Array.from({ length: size.throughputTasks }, () => ({})));
      await Promise.all(
        refs.map((ref, i) =>
          ref.result().then(() => {
            latencies[i] = performance.now() - t0;
          }),
        ),
      );
    });

    const latencyRuns = size.latencyRate * size.latencySeconds;
    await measure('engine: latency', { rate: size.latencyRate, seconds: size.latencySeconds }, latencyRuns, async (latencies) => {
      const intervalMs = 1000 / size.latencyRate;
      const start = performance.now();
      const pending: Promise<void>[] = [];
      for (let i = 0; i < latencyRuns; i++) {
        const due = start + i * intervalMs;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
        const t0 = performance.now();
        pending.push(
          noop.run({}).then(() => {
            latencies[i] = performance.now() - t0;
          }),
        );
      }
      await Promise.all(pending);
    });

    await measure('engine: chain a→b→c', { runs: size.chainRuns, tasksPerRun: 3 }, size.chainRuns, async (latencies) => {
      const t0 = performance.now();
      const refs = await chain.runNoWait(Array.from({ length: size.chainRuns }, (_, n) => ({ n })));
      await Promise.all(
        refs.map((ref, i) =>
          ref.result().then(() => {
            latencies[i] = performance.now() - t0;
          }),
        ),
      );
    });
  } finally {
    await worker.stop();
    hatchet.close();
    await engine.dispose();
  }
  return rows;
}
