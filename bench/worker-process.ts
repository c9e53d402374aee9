/**
 * A benchmark worker in its own process, forked by bench/worker-pool.ts. It loads its subject's
 * worker half at once (so a later `start` pays no module loading), connects on `start`, and on
 * `stop` stops, reports, and exits.
 *
 * Messages (the types are in worker-pool.ts): in `start`, `mark`, `stop`; out `booted`, `ready`, `report`
 * (every run start it saw, with this process's CPU and peak memory while serving), `failed`.
 * Start times are `performance.timeOrigin + performance.now()`, the clock the driver uses too, and
 * travel only in the final report so that timing adds nothing to what the runs carry.
 */
import type { StartWorker, SubjectName, WorkerHandle } from './subjects/subject.js';
import type { FromWorker, ToWorker } from './worker-pool.js';

const subject = process.argv[2] as SubjectName;
const send = (message: FromWorker, then?: () => void) => process.send?.(message, undefined, {}, then);

// The driver is gone: nothing will ever stop this worker, so stop now.
process.on('disconnect', () => process.exit(1));

const { startWorker } = (await import(`./subjects/${subject}.js`)) as { startWorker: StartWorker };
const starts = new Map<string, number>();
const onStart = (id: string) => {
  if (!starts.has(id)) starts.set(id, performance.timeOrigin + performance.now());
};
let handle: WorkerHandle | undefined;
let cpuAtReady = process.cpuUsage();

process.on('message', (message: ToWorker) => {
  void (async () => {
    try {
      if (message.type === 'start') {
        handle = await startWorker(message.target, message.config, onStart);
        cpuAtReady = process.cpuUsage();
        send({ type: 'ready' });
      } else if (message.type === 'mark') {
        starts.clear();
        cpuAtReady = process.cpuUsage();
      } else if (message.type === 'stop') {
        await handle?.stop();
        const cpu = process.cpuUsage(cpuAtReady);
        const report: FromWorker = { type: 'report', starts: [...starts], cpuSeconds: (cpu.user + cpu.system) / 1e6, peakRssMb: process.resourceUsage().maxRSS / 1024 };
        send(report, () => process.exit(0));
      }
    } catch (error) {
      send({ type: 'failed', message: (error as Error).stack ?? String(error) }, () => process.exit(1));
    }
  })();
});
send({ type: 'booted' });
