/**
 * `npm run bench`: the full fixed workloads (w1–w7) and the log benchmark, or the scenarios named
 * after `--`. Takes every flag of `kindling bench` (see bench/README.md):
 *
 *   npm run bench                      # log, w1–w7 at full size
 *   npm run bench -- --vs bullmq       # … and the same workloads on BullMQ, with the ratios
 *   npm run bench -- w2 --smoke --json # one workload at its smoke size, JSON rows on stdout
 */
import { main } from './cli.js';

process.exitCode = await main('npm run bench', ['log', 'all'], process.argv.slice(2));
