/**
 * A worker in its own process, for tests that kill workers: runs the tasks `slow-step` and
 * `released-step` (which gives its slot back first); each prints `started <runId> <attempt>` and
 * then sleeps far longer than any test waits. It prints only once its STARTED report has had time
 * to reach the engine, so a test that kills it then sees the whole story in the task events.
 *   node worker-process.js <host:port> <token>
 */
import { HatchetClient } from '../../src/sdk/index.js';

const [hostPort, token] = process.argv.slice(2);
if (hostPort === undefined || token === undefined) throw new Error('usage: worker-process <host:port> <token>');
const hatchet = HatchetClient.init({ token, host_port: hostPort, log_level: 'ERROR' });
export const slowStep = hatchet.task({
  name: 'slow-step',
  fn: async (_input: Record<string, never>, ctx) => {
    await new Promise((resolve) => setTimeout(resolve, 100)); // let the worker report STARTED first
    process.stdout.write(`started ${ctx.workflowRunId()} ${ctx.retryCount()}\n`);
    await new Promise((resolve) => setTimeout(resolve, 600_000));
    return { by: 'the killed worker' };
  },
});
export const releasedStep = hatchet.task({
  name: 'released-step',
  fn: async (_input: Record<string, never>, ctx) => {
    ctx.releaseSlot();
    await new Promise((resolve) => setTimeout(resolve, 100)); // let the worker report STARTED first
    process.stdout.write(`started ${ctx.workflowRunId()} ${ctx.retryCount()}\n`);
    await new Promise((resolve) => setTimeout(resolve, 600_000));
    return { by: 'the killed worker' };
  },
});
const worker = await hatchet.worker('doomed-worker', { workflows: [slowStep, releasedStep], slots: 5, handleKill: false });
await worker.start();
