/**
 * Rate limits as actors: the rate-limits decider (`actors/rate-limits.ts`) hosted by the actor
 * host, one stream per tenant (`ratelimits:<tenantId>`). A tenant's limits stay in memory (they
 * are few and every assignment may need them); recovery loads every tenant's stream at start.
 */
import { decideRateLimits, evolveRateLimits, initialRateLimitsState, type RateLimitsCommand, type RateLimitsEvent, type RateLimitsState } from '../../actors/rate-limits.js';
import type { EventLog } from '../../store/log.js';
import { type ActorEffects, ActorHost, type Decider, loadActor } from './actor-host.js';

export const rateLimitsStream = (tenantId: string) => `ratelimits:${tenantId}`;

export const rateLimitsDecider: Decider<RateLimitsState, RateLimitsCommand, RateLimitsEvent> = {
  initialState: initialRateLimitsState,
  decide: decideRateLimits,
  evolve: evolveRateLimits,
  // Definitions live as long as their tenant: the actor never leaves memory.
  isActive: () => true,
};

export type RateLimitsHost = ActorHost<RateLimitsState, RateLimitsCommand, RateLimitsEvent>;

export function createRateLimitsHost(log: EventLog, clock: () => number, effects: ActorEffects<RateLimitsState, RateLimitsEvent, RateLimitsCommand>): RateLimitsHost {
  return new ActorHost({ log, clock, decider: rateLimitsDecider, stream: rateLimitsStream, effects });
}

export function loadRateLimits(log: EventLog, tenantId: string) {
  return loadActor(log, rateLimitsStream(tenantId), initialRateLimitsState(), evolveRateLimits);
}
