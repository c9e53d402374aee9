import t from 'tap';
import { CelError, celInteger, celKey, compileCel } from '../../src/lib/cel.js';

const run = { input: { group: 'a', n: 3, nested: { tier: 'pro' } }, additional_metadata: { source: 'web' } };

t.test('cel: keys from the input and the metadata; numbers and booleans become strings', async (t) => {
  t.equal(celKey('input.group', run), 'a');
  t.equal(celKey('input.nested.tier + "-" + additional_metadata.source', run), 'pro-web');
  t.equal(celKey('input.n', run), '3');
  t.equal(celKey('input.n > 2', run), 'true');
  t.equal(celInteger('int(input.n) * 2', run), 6, 'integer results (BigInts) become numbers');
  t.equal(celInteger('input.n', run), 3);
});

t.test('cel: a bad expression, a missing field and a wrong result type are CelErrors that say so', async (t) => {
  t.throws(() => compileCel('input.'), { name: 'CelError', message: /'input\.' is not a valid CEL expression: / });
  t.throws(() => celKey('input.missing', run), { message: /'input\.missing' could not be evaluated: No such key: missing/ });
  t.throws(() => celKey('input.nested', run), { message: /must evaluate to a string, not object/ });
  t.throws(() => celInteger('input.group', run), { message: /must evaluate to a whole number, not "a"/ });
  t.ok(new CelError('x') instanceof Error);
  t.equal(compileCel('input.group'), compileCel('input.group'), 'parsed once, then cached');
});
