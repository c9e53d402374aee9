/** The rate-limits decider, given/when/then. */
import t from 'tap';
import { decideRateLimits, evolveRateLimits, initialRateLimitsState, type RateLimitsCommand, type RateLimitsState, windowMs } from '../../actors/rate-limits.js';

const upsert = (key: string, limit: number, extra: Partial<RateLimitsCommand> = {}): RateLimitsCommand => ({ type: 'UpsertRateLimit', key, limit, duration: 'SECOND', dynamic: false, ...extra });

function given(commands: RateLimitsCommand[]): RateLimitsState {
  let state = initialRateLimitsState();
  for (const command of commands) for (const event of decideRateLimits(state, command, { nowMs: 1 })) state = evolveRateLimits(state, event);
  return state;
}

t.test('rate limits: an upsert defines a limit; the same upsert again logs nothing; a change logs the new limit', async (t) => {
  t.match(decideRateLimits(initialRateLimitsState(), upsert('api', 10), { nowMs: 5 }), [{ type: 'RateLimitUpserted', key: 'api', limit: 10, duration: 'SECOND', atMs: 5 }]);
  const defined = given([upsert('api', 10)]);
  t.same(decideRateLimits(defined, upsert('api', 10), { nowMs: 6 }), []);
  t.match(decideRateLimits(defined, upsert('api', 20, { duration: 'MINUTE' }), { nowMs: 6 }), [{ limit: 20, duration: 'MINUTE' }]);
  t.match(given([upsert('api', 10), upsert('api', 20)]).definitions.api, { limit: 20, dynamic: false });
});

t.test('rate limits: a dynamic key never overrides a limit upserted by hand; a bad limit is refused', async (t) => {
  const defined = given([upsert('user-1', 5)]);
  t.same(decideRateLimits(defined, upsert('user-1', 100, { dynamic: true }), { nowMs: 6 }), []);
  t.equal(decideRateLimits(initialRateLimitsState(), upsert('user-2', 100, { dynamic: true }), { nowMs: 6 }).length, 1);
  t.throws(() => decideRateLimits(initialRateLimitsState(), upsert('bad', 0), { nowMs: 6 }), /positive whole number/);
  t.same([windowMs('SECOND'), windowMs('MINUTE'), windowMs('DAY')], [1000, 60_000, 86_400_000]);
});
