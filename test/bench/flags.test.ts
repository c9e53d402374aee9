/** The bench's flags turned into workloads: sizes, durations, defaults, and what each flag sets. */
import t from 'tap';
import { payloadBytes, planOf, UsageError } from '../../bench/flags.js';
import { fixedWorkloads } from '../../bench/workloads.js';
import { inputsFor, outputIsRight } from '../../bench/workload.js';

const defaults = {
  events: '10', duration: '10s', slots: '100', delay: '0', failureRate: '0', payloadSize: '0kb', eventFanout: '1', wait: '10s',
  workerDelay: '0', level: 'warn', trigger: 'direct', bulkSize: '500', workers: '1', smoke: false, json: false, progress: false,
};
const plan = (options: Record<string, string | boolean>, given: string[] = Object.keys(options), args: string[] = []) =>
  planOf(args, { ...defaults, ...options }, (flag) => given.includes(flag), ['load']);

t.test('payload sizes: bytes, KB and MB (1 KB = 1,024 bytes)', async (t) => {
  t.equal(payloadBytes('0kb'), 0);
  t.equal(payloadBytes('512'), 512);
  t.equal(payloadBytes('1kb'), 1024);
  t.equal(payloadBytes('64KB'), 65_536);
  t.equal(payloadBytes('1mb'), 1_048_576);
  t.throws(() => payloadBytes('-1kb'), UsageError);
});

t.test('the load scenario: each flag lands in the workload', async (t) => {
  const [load] = plan({ events: 'max', total: '500', trigger: 'bulk', bulkSize: '250', delay: '20ms', failureRate: '0.1', payloadSize: '2kb', workers: '3', slots: '7', workerDelay: '1s', wait: '1m' }).workloads;
  t.match(load, {
    kind: 'load',
    shape: 'task',
    task: { delayMs: 20, failureRate: 0.1, payloadBytes: 2048 },
    trigger: { mode: 'bulk', bulkSize: 250, ratePerSecond: 'max', total: 500, durationMs: undefined },
    workers: { processes: 3, slots: 7, startDelayMs: 1000 },
    waitMs: 60_000,
  });
  const [timed] = plan({ total: '500', duration: '5s' }).workloads;
  t.match(timed, { trigger: { total: 500, durationMs: 5000, ratePerSecond: 10 } }, '--total with --duration: both limits');
  const [byDefault] = plan({}, []).workloads;
  t.match(byDefault, { trigger: { mode: 'direct', ratePerSecond: 10, durationMs: 10_000, total: undefined }, workers: { processes: 1, slots: 100 } }, "Hatchet's load-test defaults");
});

t.test("scenarios: all is w1–w7, w5's durable row and backlog rows come by name, remote engines and peers", async (t) => {
  const all = plan({}, [], ['all']);
  t.same([...new Set(all.workloads.map((w) => w.scenario.split(' ')[0]))], ['w1', 'w2', 'w3', 'w4', 'w5', 'w6', 'w7']);
  t.equal(all.log, undefined);
  const durable = plan({}, [], ['w5-durable']);
  t.match(durable, { workloads: [{ kind: 'load', scenario: 'w5 durable · W1 with 10k durable tasks asleep', background: { durableSleepers: 10_000 } }] });
  t.equal(durable.workloads.length, 1);
  const backlogs = plan({}, [], ['w5-backlog']);
  t.match(backlogs.workloads, [{ kind: 'backlog', scenario: 'w5 backlog · 10k', tasks: 10_000 }, { kind: 'backlog', scenario: 'w5 backlog · 100k', tasks: 100_000 }]);
  t.equal(backlogs.workloads.length, 2);
  const remote = plan({ url: 'ws://10.0.0.5:7077/ws', token: 'kl_x', enginePid: '42', vs: 'bullmq' }, ['url', 'token', 'enginePid', 'vs']);
  t.match(remote, { remote: { url: 'ws://10.0.0.5:7077/ws', token: 'kl_x', pid: 42 }, subjects: ['kindling', 'bullmq'] });
  t.throws(() => plan({ wait: 'forever' }), /--wait must be a duration/);
  t.throws(() => plan({ duration: '0' }), /--duration must be above 0/);
});

t.test('--repeat: how many runs of each row, 1 by default', async (t) => {
  t.equal(plan({}).repeat, 1);
  t.equal(plan({ repeat: '3' }).repeat, 3);
});

t.test('bad flags: each is a UsageError that says what is wrong', async (t) => {
  const cases: Array<[Record<string, string>, string[], RegExp]> = [
    [{ slots: 'x' }, [], /--slots must be a whole number from 1 to 10000, not 'x'/],
    [{ events: '-3' }, [], /--events must be a number of triggers per second above 0, or 'max'/],
    [{ duration: 'soon' }, [], /--duration must be a duration such as 500ms, 10s or 1m, not 'soon'/],
    [{ failureRate: '1.5' }, [], /--failure-rate must be a fraction from 0 to 1/],
    [{ payloadSize: 'big' }, [], /--payload-size must be a size such as 0kb, 1kb or 64kb/],
    [{ bulkSize: '5000' }, [], /--bulk-size must be a whole number from 1 to 1000/],
    [{ workers: '0' }, [], /--workers must be a whole number from 1 to 64/],
    [{ eventFanout: '3' }, [], /--event-fanout needs --trigger event/],
    [{ level: 'loud' }, [], /--level must be one of debug, info, warn, error/],
    [{ token: 'abc' }, [], /--token goes with --url/],
    [{ enginePid: '12' }, [], /--engine-pid goes with --url/],
    [{ url: 'not a url' }, [], /--url must be host:port, ws:\/\/host:port or http:\/\/host:port/],
    [{ url: '127.0.0.1:1' }, ['w6'], /w6 builds a log and starts an engine on it, so it cannot run against --url/],
    [{ events: '50' }, ['w1'], /--events only shapes the load scenario/],
    [{}, ['w9'], /unknown scenario 'w9'; known: load, w1/],
    [{ only: 'lmdb' }, [], /--only and --nats belong to the log scenario/],
    [{ repeat: '0' }, [], /--repeat must be a whole number/],
    [{ repeat: '10' }, [], /--repeat takes 1 to 9/],
  ];
  for (const [options, args, message] of cases) t.throws(() => plan(options, Object.keys(options), args), { name: 'UsageError', message }, JSON.stringify(options));
});

t.test('fixed workloads: full sizes are the published ones, smoke sizes are smaller', async (t) => {
  const [bulk, direct] = fixedWorkloads('w1', false);
  t.match(bulk, { trigger: { mode: 'bulk', total: 20_000 }, workers: { processes: 1, slots: 100 } });
  t.match(direct, { trigger: { mode: 'direct', total: 20_000 } });
  t.match(fixedWorkloads('w2', false), [{ trigger: { ratePerSecond: 200, durationMs: 20_000 } }]);
  t.match(fixedWorkloads('w3', false), [{ shape: 'chain', trigger: { total: 2_000 } }]);
  t.match(fixedWorkloads('w4', false), [{ shape: 'fanout', children: 1_000 }]);
  const w5 = fixedWorkloads('w5', false);
  t.same(w5.map((w) => w.scenario), [
    'w5 scale · 1 worker', 'w5 scale · 4 workers', 'w5 scale · 16 workers', 'w5 payload · 1 KB', 'w5 payload · 64 KB',
    'w5 backlog · 10k', 'w5 backlog · 100k', 'w5 durable · W1 with 10k durable tasks asleep',
  ]);
  t.match(fixedWorkloads('w6', false), [{ kind: 'recovery', events: 1_000_000 }]);
  t.match(fixedWorkloads('w6', true), [{ kind: 'recovery', events: 20_000 }]);
});

t.test('inputs depend only on the workload and the sequence number; outputs are checked by shape', async (t) => {
  const task = { delayMs: 0, failureRate: 0, payloadBytes: 1024 };
  const [input] = inputsFor({ shape: 'task', children: 0, task }, 0, 1);
  t.equal(JSON.stringify(input).length, 1024, 'a 1 KB payload is 1,024 bytes of JSON');
  t.same(inputsFor({ shape: 'chain', children: 0, task }, 7, 2), [{ n: 7 }, { n: 8 }]);
  t.ok(outputIsRight('chain', { n: 7 }, { n: 10 }));
  t.notOk(outputIsRight('chain', { n: 7 }, { n: 9 }), 'a chain that skipped a step is wrong');
  t.ok(outputIsRight('fanout', { children: 5 }, { children: 5 }));
  t.notOk(outputIsRight('fanout', { children: 5 }, { children: 4 }), 'a fan-out that lost a child is wrong');
});
