/**
 * A worker in its own process for the durable-task kill tests: runs the durable task `journey`
 * (now → sleep → wait for `journey:go` → spawn `journey-child`) and its child. It prints a line per
 * step it executes (`step <name> <runId> <value>`), so the test sees what a killed worker did.
 *   node durable-worker.js <host:port> <token> <sleep ms>
 */
import { HatchetClient } from '../../src/sdk/index.js';
import { declareJourney } from './journey.js';

const [hostPort, token, sleepMs] = process.argv.slice(2);
if (hostPort === undefined || token === undefined || sleepMs === undefined) throw new Error('usage: durable-worker <host:port> <token> <sleep ms>');
const hatchet = HatchetClient.init({ token, host_port: hostPort, log_level: 'ERROR' });
const { journey, child } = declareJourney(hatchet, Number(sleepMs), (step, runId, value) => process.stdout.write(`step ${step} ${runId} ${value}\n`));
const worker = await hatchet.worker('durable-doomed', { workflows: [journey, child], slots: 5, durableSlots: 5, handleKill: false });
await worker.start();
