/**
 * Idempotent triggers: a workflow whose definition has `idempotency` gets a key for each trigger
 * (its CEL expression over `input` and `additional_metadata`), and a trigger whose key is held by
 * another run is refused with IDEMPOTENCY_COLLISION, naming that run.
 *
 * Owns: the per-tenant `idempotency:<tenant>` actors (actors/idempotency.ts) on the actor host,
 * loaded at start, and which unfinished runs hold keys until they finish. Talks to: the engine,
 * which claims keys before it creates runs and tells this module when runs finish.
 *
 * Invariants:
 *  1. A key is claimed (durably) before the run holding it is created; a claim whose run could not
 *     be created is released.
 *  2. A `status` key is released once its run finishes, and at start for runs that finished while
 *     their release was not yet stored.
 */
import { type Claim, decideIdempotency, evolveIdempotency, type IdempotencyCommand, type IdempotencyEvent, type IdempotencyState, initialIdempotencyState } from '../../actors/idempotency.js';
import type { WorkflowSpec } from '../../protocol/frames.js';
import { decodePayload, type Payload } from '../../protocol/payload.js';
import type { EventLog } from '../../store/log.js';
import { celString } from '../lib/cel.js';
import { KindlingError } from '../lib/errors.js';
import { ActorHost, loadActor } from './actor-host.js';

export class IdempotencyCollision extends KindlingError {
  override readonly name = 'IdempotencyCollision';
  constructor(
    readonly existingRunId: string,
    key: string,
  ) {
    super('IDEMPOTENCY_COLLISION', `a run with idempotency key '${key}' already exists: ${existingRunId}`, false);
  }
}

/** A run about to be created that a workflow's idempotency applies to. */
export interface KeyedRun {
  readonly runId: string;
  readonly workflow: WorkflowSpec;
  readonly input: Payload;
  readonly additionalMetadata: Record<string, string>;
}

export class Idempotency {
  readonly #host: ActorHost<IdempotencyState, IdempotencyCommand, IdempotencyEvent>;
  readonly #clock: () => number;
  /** Unfinished runs holding a `status` key: run id → tenant and key. */
  readonly #holders = new Map<string, { tenantId: string; key: string }>();

  constructor(
    private readonly log: EventLog,
    clock: () => number,
  ) {
    this.#clock = clock;
    this.#host = new ActorHost({
      log,
      clock,
      decider: { initialState: initialIdempotencyState, decide: decideIdempotency, evolve: evolveIdempotency, isActive: () => true },
      stream: (tenantId) => `idempotency:${tenantId}`,
      snapshotEveryEvents: 500,
      effects: { applied: () => {}, reconciled: () => {}, decided: () => {} },
    });
  }

  /** Loads each tenant's keys; releases `status` keys whose runs finished meanwhile (invariant 2). */
  async start(tenants: Iterable<string>, finished: (runId: string) => Promise<boolean>): Promise<void> {
    for (const tenantId of tenants) {
      const { state, version } = await loadActor(this.log, `idempotency:${tenantId}`, initialIdempotencyState(), evolveIdempotency);
      if (version === 0) continue;
      this.#host.adopt(tenantId, state, version);
      for (const [key, claim] of Object.entries(state.claims)) {
        if (!claim.untilFinished) continue;
        if (await finished(claim.runId)) await this.#host.send(tenantId, { type: 'ReleaseKey', key, runId: claim.runId });
        else this.#holders.set(claim.runId, { tenantId, key });
      }
    }
  }

  /** The key of a run of an idempotent workflow, or undefined when the workflow has none. */
  static keyOf(run: KeyedRun): string | undefined {
    const idempotency = run.workflow.idempotency;
    if (idempotency === undefined) return undefined;
    let input: unknown = null;
    try {
      input = decodePayload(run.input);
    } catch {
      // Not JSON: the expression sees null.
    }
    const key = celString(idempotency.expression, { input, additional_metadata: run.additionalMetadata });
    if (key === undefined) throw new KindlingError('INVALID_INPUT', `workflow '${run.workflow.name}': its idempotency expression '${idempotency.expression}' has no value for this input`, false);
    return key;
  }

  /**
   * Claims the keys of these runs (invariant 1). Resolves with, for each run, undefined (claimed, or
   * no key) or the collision that refuses it.
   */
  async claim(tenantId: string, runs: readonly KeyedRun[]): Promise<Array<IdempotencyCollision | undefined>> {
    const now = this.#clock();
    const keys = runs.map((run) => Idempotency.keyOf(run));
    const claims: Array<{ key: string } & Claim> = [];
    runs.forEach((run, i) => {
      const key = keys[i];
      const idempotency = run.workflow.idempotency;
      if (key === undefined || idempotency === undefined) return;
      const ttlMs = idempotency.ttlMs;
      claims.push({ key, runId: run.runId, expiresAtMs: ttlMs === undefined ? undefined : now + ttlMs, untilFinished: idempotency.strategy === 'status' });
    });
    if (claims.length === 0) return runs.map(() => undefined);
    await this.#host.send(tenantId, { type: 'ClaimKeys', claims });
    const state = this.#host.peek(tenantId);
    return runs.map((run, i) => {
      const key = keys[i];
      if (key === undefined) return undefined;
      const holder = state?.claims[key]?.runId;
      if (holder === run.runId) {
        if (run.workflow.idempotency?.strategy === 'status') this.#holders.set(run.runId, { tenantId, key });
        return undefined;
      }
      return new IdempotencyCollision(holder ?? 'unknown', key);
    });
  }

  /** Frees the key a run holds (it finished, or it was never created). */
  release(runId: string): void {
    const holder = this.#holders.get(runId);
    if (holder === undefined) return;
    this.#holders.delete(runId);
    this.#host.send(holder.tenantId, { type: 'ReleaseKey', key: holder.key, runId }).catch(() => {});
  }

  /** Frees a key claimed for a run that will not be created. */
  async unclaim(tenantId: string, runId: string, run: KeyedRun): Promise<void> {
    this.#holders.delete(runId);
    const key = Idempotency.keyOf(run);
    if (key !== undefined) await this.#host.send(tenantId, { type: 'ReleaseKey', key, runId }).catch(() => []);
  }
}
