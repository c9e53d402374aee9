import t from 'tap';
import { durationToMs, durationToString } from '../../src/sdk/duration.js';

t.test('durations: strings, objects and milliseconds', async (t) => {
  const cases: Array<[Parameters<typeof durationToMs>[0], number]> = [
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1h30m', 5_400_000],
    ['1m30s', 90_000],
    ['250ms', 250],
    ['1.5s', 1500],
    ['2d', 172_800_000],
    [{ minutes: 5 }, 300_000],
    [{ hours: 1, seconds: 2 }, 3_602_000],
    [1500, 1500],
    [0, 0],
  ];
  for (const [input, ms] of cases) t.equal(durationToMs(input), ms, JSON.stringify(input));
  t.equal(durationToString('1m30s'), '90s');
});

t.test('durations: bad ones say what is accepted', async (t) => {
  for (const bad of ['', '10', 'ten seconds', '5 m', '1x', '-5s']) t.throws(() => durationToMs(bad), /invalid duration .* use forms like '30s'/, JSON.stringify(bad));
  for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) t.throws(() => durationToMs(bad), /invalid duration/);
});
