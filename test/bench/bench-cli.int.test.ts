/**
 * `kindling bench` as users run it: bad flags are refused with a clear message and exit code 2,
 * features the engine lacks with exit code 1 and a message naming them, and a short load test runs
 * against an engine it starts itself or one it is pointed at (--url), printing JSON rows.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { startEngine } from '../support/engine-process.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const exec = promisify(execFile);

async function bench(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [cli, 'bench', ...args], { timeout: 120_000, env: { ...process.env, HATCHET_CLIENT_TOKEN: '' } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

t.test('bad flags: a clear message and exit code 2, before anything starts (flags.test.ts has every check)', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['--slots', 'x'], /kindling bench: --slots must be a whole number from 1 to 10000, not 'x'\n\(see kindling bench --help\)/],
    [['w1', '--events', '50', '--slots', '5'], /--events, --slots only shape the load scenario; the fixed workloads take no load-test flags/],
    [['--trigger', 'carrier-pigeon'], /argument 'carrier-pigeon' is invalid. Allowed choices are direct, bulk, event/],
    [['--vs', 'sidekiq'], /argument 'sidekiq' is invalid. Allowed choices are bullmq/],
    [['--bogus'], /unknown option '--bogus'/],
  ];
  const results = await Promise.all(cases.map(([args]) => bench(args)));
  cases.forEach(([args, message], i) => {
    t.equal(results[i]?.code, 2, `${args.join(' ')}: exit code 2`);
    t.match(results[i]?.stderr, message, `${args.join(' ')}: says what is wrong`);
  });
  const help = await bench(['--help']);
  t.equal(help.code, 0, '--help is not an error');
  t.match(help.stdout, /Usage: kindling bench \[options\] \[scenario\.\.\.\]/);
});

t.test('features this engine lacks: exit code 1 and a message naming them', async (t) => {
  const fanout = await bench(['--trigger', 'event', '-F', '17']);
  t.equal(fanout.code, 1);
  t.match(fanout.stderr, /an event starts at most 16 of the bench's workflows/);
});

t.test('--trigger event pushes events, each starting --event-fanout runs; w5-durable runs W1 with durable tasks asleep', async (t) => {
  const [events, durable] = await Promise.all([bench(['--trigger', 'event', '-F', '3', '-e', 'max', '-n', '60', '--json']), bench(['w5-durable', '--smoke', '--json'])]);
  t.equal(events.code, 0, events.stderr);
  const [row] = jsonRows(events.stdout);
  t.match(row, { scenario: 'load', params: { trigger: 'event', eventFanout: 3, total: 60 }, figures: { runs: 60, completed: 60, unfinished: 0 } });
  t.equal(durable.code, 0, durable.stderr);
  const [sleepy] = jsonRows(durable.stdout);
  t.match(sleepy, { scenario: 'w5 durable · W1 with 200 durable tasks asleep', params: { durableSleepers: 200 }, figures: { runs: 600, completed: 600, unfinished: 0 } });
});

type Figures = { runs: number; completed: number; failed: number; unfinished: number; serverCpuSeconds: number; serverPeakRssMb: number; workerCpuSeconds: number };

const jsonRows = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { scenario: string; subject: string; params: Record<string, unknown>; figures: Record<string, unknown> });

t.test('--concurrency on Kindling is a workflow concurrency limit: 20 tasks of 50 ms two at a time take at least 0.5 s', async (t) => {
  const { code, stdout, stderr } = await bench(['-e', 'max', '-n', '20', '-D', '50ms', '-c', '2', '-s', '10', '--json']);
  t.equal(code, 0, stderr);
  const [row] = jsonRows(stdout);
  t.match(row, { params: { concurrency: 2 }, figures: { runs: 20, completed: 20 } });
  t.ok(Number(row?.figures.seconds) >= 0.45, `took ${Number(row?.figures.seconds).toFixed(2)} s: never more than two at once`);
});

t.test('a load test on an engine it starts: a JSON row with every figure, the table on stderr', async (t) => {
  const { code, stdout, stderr } = await bench(['-e', '100', '-d', '1s', '-D', '5ms', '-f', '0.2', '-P', '1kb', '-s', '20', '--workers', '2', '-p', '200ms', '--json', '--progress']);
  t.equal(code, 0, stderr);
  const [row, ...more] = jsonRows(stdout);
  t.equal(more.length, 0, 'one row');
  t.match(row, { scenario: 'load', subject: 'kindling', params: { trigger: 'direct', rate: 100, workers: 2, slots: 20, workerDelayMs: 200, delayMs: 5, failureRate: 0.2, payloadBytes: 1024 } });
  const f = row?.figures as Figures;
  t.ok(f.runs >= 90 && f.completed + f.failed === f.runs && f.unfinished === 0, `${f.runs} runs, all finished`);
  t.ok(f.failed > 0 && f.completed > 0, `--failure-rate 0.2: ${f.failed} of ${f.runs} failed`);
  t.ok(f.serverCpuSeconds > 0 && f.serverPeakRssMb > 0 && f.workerCpuSeconds > 0, 'engine and workers measured');
  t.match(stderr, /scenario\s+subject\s+runs\s+trig\/s\s+done\/s/, 'the table goes to stderr');
  t.match(stderr, /load · kindling · triggered \d+/, '--progress prints progress lines');
});

t.test('--url: loads an engine it did not start; its CPU and memory only with --engine-pid', async (t) => {
  const engine = await startEngine();
  t.teardown(() => engine.dispose());
  const remote = await bench(['-e', 'max', '-n', '300', '-t', 'bulk', '--bulk-size', '100', '--url', `ws://${engine.hostPort}/ws`, '--token', engine.token, '--json']);
  t.equal(remote.code, 0, remote.stderr);
  const [row] = jsonRows(remote.stdout);
  t.match(row?.params, { trigger: 'bulk', bulkSize: 100, rate: 'max', total: 300 });
  t.match(row?.figures, { runs: 300, completed: 300, serverCpuSeconds: null, serverPeakRssMb: null });
  t.match(remote.stderr, /server = the engine \(with --engine-pid\)/);

  const measured = await bench(['-e', 'max', '-n', '100', '--url', engine.hostPort, '--token', engine.token, '--engine-pid', String(engine.pid), '--json']);
  t.equal(measured.code, 0, measured.stderr);
  const figures = jsonRows(measured.stdout)[0]?.figures as Figures;
  t.ok(figures.serverCpuSeconds > 0 && figures.serverPeakRssMb > 0, 'the engine measured through its pid');

  const wrongToken = await bench(['-n', '10', '--url', engine.hostPort, '--token', 'kl_wrong', '--wait', '2s']);
  t.equal(wrongToken.code, 1, 'a refused token fails the run');
  t.match(wrongToken.stderr, /kindling bench: the token is not a JSON Web Token/, 'and says why, in one line');
});
