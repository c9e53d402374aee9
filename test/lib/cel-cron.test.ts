/** CEL and cron expressions: what is refused at creation, and how values evaluate. */
import t from 'tap';
import { CEL_EXPRESSION_CHARS_MAX, celInteger, celKey, celMatches, celString, checkCel, compileCel } from '../../src/lib/cel.js';
import { checkCron, nextCronTick } from '../../src/lib/cron.js';

t.test('cel: a bad expression is refused with INVALID_INPUT; evaluation errors do not match', async (t) => {
  t.throws(() => checkCel('input.', 'the filter'), { code: 'INVALID_INPUT', message: /the filter: 'input\.' is not a valid CEL expression/ });
  t.throws(() => checkCel('x'.repeat(CEL_EXPRESSION_CHARS_MAX + 1), 'the filter'), { message: /characters; the limit/ });
  t.doesNotThrow(() => checkCel("input.user_id == '1' && payload.amount >= 100", 'ok'));
  t.equal(celMatches('', {}), true, 'an empty expression always holds');
  t.equal(celMatches('input.priority > 3', { input: { priority: 4 } }), true, 'JSON numbers compare with integer literals');
  t.equal(celMatches('input.missing == 1', { input: {} }), false, 'a missing field is no match, not an error');
  t.equal(celMatches('1', {}), false, 'only true matches');
  t.equal(celString("input.a + '-' + input.b", { input: { a: 'x', b: 'y' } }), 'x-y');
  t.equal(celString('1 + 2', {}), '3', 'integer results are BigInts, turned into strings');
  t.equal(celString('input.n', { input: { n: 1.5 } }), '1.5');
  t.equal(celString('input.flag', { input: { flag: true } }), 'true');
  t.equal(celString('input.obj', { input: { obj: { a: 1 } } }), '{"a":1}');
  t.equal(celString('input.none', { input: { none: null } }), undefined);
  t.equal(celString('input.missing', { input: {} }), undefined);
});

t.test('cron: 5 or 6 fields or an alias, UTC; anything else is refused with the reason', async (t) => {
  t.throws(() => checkCron(''), { code: 'INVALID_INPUT', message: /give 5 fields/ });
  t.throws(() => checkCron('* * *'), { message: /has 3 fields/ });
  t.throws(() => checkCron('* * * * * * *'), { message: /has 7 fields/ });
  t.throws(() => checkCron('61 * * * *'), { message: /not a valid cron expression/ });
  for (const ok of ['*/15 * * * *', '30 * * * * *', '@daily']) t.doesNotThrow(() => checkCron(ok), ok);
  const midnight = Date.UTC(2030, 0, 1, 0, 0, 0);
  t.equal(nextCronTick('0 0 * * *', midnight), Date.UTC(2030, 0, 2), 'strictly after the time given');
  t.equal(nextCronTick('*/10 * * * * *', midnight + 1), midnight + 10_000, 'the seconds field');
  t.equal(nextCronTick('not a cron', midnight), undefined);
});

t.test('cel: keys and numbers must evaluate; their errors name the expression', async (t) => {
  const context = { input: { user: 'u1', n: 3, units: '2' }, additional_metadata: { tier: 'gold' } };
  t.equal(celKey('input.user', context), 'u1');
  t.equal(celKey("additional_metadata.tier + '-' + input.user", context), 'gold-u1');
  t.equal(celKey('input.n', context), '3', 'a number is written as a key');
  t.equal(celInteger('input.n', context), 3);
  t.equal(celInteger('input.units', context), 2, 'a numeric string counts');
  t.equal(celInteger('2 + 3', context), 5, 'BigInt results become numbers');
  t.throws(() => celKey('input.missing', context), { code: 'INVALID_INPUT', message: /'input\.missing' could not be evaluated/ });
  t.throws(() => celKey('input', context), { message: /must evaluate to a string, not object/ });
  t.throws(() => celInteger('input.user', context), { message: /must evaluate to a whole number, not "u1"/ });
  t.throws(() => compileCel('input.'), { code: 'INVALID_INPUT', message: /is not a valid CEL expression/ });
});
