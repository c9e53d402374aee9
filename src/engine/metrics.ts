/**
 * Prometheus metrics of the engine, in Hatchet's names: global counters (`hatchet_*`) and, per
 * tenant, counters, histograms and slot gauges (`hatchet_tenant_*`, label `tenant_id`).
 *
 * Owns: a plain record of counts per tenant, fed from the run events the engine already applies
 * (after durability), and the prom-client metrics that read those records when scraped.
 *
 * Invariants:
 *  1. The hot path only adds to numbers: counting an event is a field increment on the tenant's
 *     record (one map lookup per batch of events), with no allocation and no append; the two
 *     histograms observe one value per assignment and per finished run. prom-client's series are
 *     filled from the records at scrape time.
 *  2. A tenant's scrape holds only that tenant's series: each tenant has a registry of its own
 *     (default label `tenant_id`); the engine-wide scrape aggregates them beside the global counters.
 *  3. Counts are of this engine process: they start at zero when it starts (a Prometheus counter
 *     reset), and an event is counted once, when it became durable.
 */
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ON_FAILURE_TASK, type RunEvent, type RunState } from '../../actors/workflow-run.js';

/** What a tenant's counters count (names without the `hatchet_` / `hatchet_tenant_` prefix). */
interface Counts {
  created: number;
  retried: number;
  succeeded: number;
  failed: number;
  skipped: number;
  cancelled: number;
  assigned: number;
  schedulingTimedOut: number;
  rateLimited: number;
  queuedToAssigned: number;
  reassigned: number;
}

type CountName = keyof Counts;

/** Global name, tenant name, help, and which count each counter reads. */
const COUNTERS: ReadonlyArray<readonly [global: string, tenant: string, count: CountName, help: string]> = [
  ['hatchet_created_tasks_total', 'hatchet_tenant_created_tasks_total', 'created', 'The total number of tasks created'],
  ['hatchet_retried_tasks_total', 'hatchet_tenant_retried_tasks_total', 'retried', 'The total number of tasks retried'],
  ['hatchet_succeeded_tasks_total', 'hatchet_tenant_succeeded_tasks_total', 'succeeded', 'The total number of tasks that succeeded'],
  ['hatchet_failed_tasks_total', 'hatchet_tenant_failed_tasks_total', 'failed', 'The total number of tasks that failed (in a final state, not including retries)'],
  ['hatchet_skipped_tasks_total', 'hatchet_tenant_skipped_tasks_total', 'skipped', 'The total number of tasks that were skipped'],
  ['hatchet_cancelled_tasks_total', 'hatchet_tenant_cancelled_tasks_total', 'cancelled', 'The total number of tasks cancelled'],
  ['hatchet_assigned_tasks_total', 'hatchet_tenant_assigned_tasks', 'assigned', 'The total number of tasks assigned to a worker'],
  ['hatchet_scheduling_timed_out_total', 'hatchet_tenant_scheduling_timed_out', 'schedulingTimedOut', 'The total number of tasks that timed out while waiting to be scheduled'],
  ['hatchet_rate_limited_total', 'hatchet_tenant_rate_limited', 'rateLimited', 'The total number of tasks that were rate limited'],
  ['hatchet_queued_to_assigned_total', 'hatchet_tenant_queued_to_assigned', 'queuedToAssigned', 'The total number of unique tasks that were queued and later assigned to a worker'],
  ['hatchet_reassigned_tasks_total', 'hatchet_tenant_reassigned_tasks', 'reassigned', 'The total number of tasks that were reassigned to a worker'],
];

/** Seconds in the queue: from a few milliseconds to an hour. */
const QUEUE_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
/** Milliseconds a run took: from a few milliseconds to a day. */
const DURATION_BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000, 86_400_000];

/** One series of a histogram. */
interface Observer {
  observe(value: number): void;
}

/** A tenant's worker slots now: what the engine's workers hold and have free. */
export interface SlotCounts {
  readonly total: number;
  readonly used: number;
}

export interface MetricsSources {
  /** Every tenant the engine knows (the engine-wide scrape lists each, even one with no events yet). */
  tenants(): readonly string[];
  /** The tenant's connected workers' slots. */
  slots(tenantId: string): SlotCounts;
}

class TenantMetrics {
  readonly counts: Counts = { created: 0, retried: 0, succeeded: 0, failed: 0, skipped: 0, cancelled: 0, assigned: 0, schedulingTimedOut: 0, rateLimited: 0, queuedToAssigned: 0, reassigned: 0 };
  readonly registry = new Registry();
  readonly queuedToAssignedSeconds: Histogram;
  readonly workflowDurationMs: Histogram<'workflow_name' | 'status'>;
  /** The histograms' series, made once (prom-client's labelled `observe` makes its labels and a closure per call). */
  readonly queuedToAssigned: Observer;
  readonly #durations = new Map<string, Map<string, Observer>>();

  constructor(tenantId: string, sources: MetricsSources) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ tenant_id: tenantId });
    const counts = this.counts;
    for (const [, name, count, help] of COUNTERS) {
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(counts[count]);
        },
      });
    }
    this.workflowDurationMs = new Histogram({
      name: 'hatchet_tenant_workflow_duration_milliseconds',
      help: 'Duration of workflow execution in milliseconds (DAGs and single tasks)',
      labelNames: ['workflow_name', 'status'],
      buckets: DURATION_BUCKETS_MS,
      registers,
    });
    this.queuedToAssignedSeconds = new Histogram({
      name: 'hatchet_tenant_queued_to_assigned_time_seconds',
      help: 'Buckets of time in seconds spent in the queue before being assigned to a worker',
      buckets: QUEUE_BUCKETS_SECONDS,
      registers,
    });
    this.queuedToAssigned = this.queuedToAssignedSeconds.labels();
    const gauge = (name: string, help: string, value: (slots: SlotCounts) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(value(sources.slots(tenantId)));
        },
      });
    gauge('hatchet_tenant_used_worker_slots', 'The current number of worker slots being used', (slots) => slots.used);
    gauge('hatchet_tenant_available_worker_slots', 'The current number of worker slots available (free)', (slots) => Math.max(0, slots.total - slots.used));
    gauge('hatchet_tenant_worker_slots', 'The total number of worker slots (free + used)', (slots) => slots.total);
  }

  /** Observes how long a run of `workflow` took, ending with `status`. */
  observeDuration(workflow: string, status: string, ms: number): void {
    let byStatus = this.#durations.get(workflow);
    if (byStatus === undefined) {
      byStatus = new Map();
      this.#durations.set(workflow, byStatus);
    }
    let series = byStatus.get(status);
    if (series === undefined) {
      series = this.workflowDurationMs.labels(workflow, status);
      byStatus.set(status, series);
    }
    series.observe(ms);
  }
}

export class EngineMetrics {
  readonly #sources: MetricsSources;
  readonly #tenants = new Map<string, TenantMetrics>();
  readonly #global = new Registry();
  readonly #queuedToAssignedSeconds: Histogram;
  readonly #queuedToAssigned: Observer;
  #queueInvocations = 0;

  constructor(sources: MetricsSources) {
    this.#sources = sources;
    const registers = [this.#global];
    const tenants = this.#tenants;
    for (const [name, , count, help] of COUNTERS) {
      new Counter({
        name,
        help,
        registers,
        collect() {
          let sum = 0;
          for (const tenant of tenants.values()) sum += tenant.counts[count];
          this.reset();
          this.inc(sum);
        },
      });
    }
    const self = this;
    new Counter({
      name: 'hatchet_queue_invocations_total',
      help: 'The total number of invocations of the queuer function',
      registers,
      collect() {
        this.reset();
        this.inc(self.#queueInvocations);
      },
    });
    this.#queuedToAssignedSeconds = new Histogram({
      name: 'hatchet_queued_to_assigned_seconds',
      help: 'Buckets of time (in seconds) spent in the queue before being assigned to a worker',
      buckets: QUEUE_BUCKETS_SECONDS,
      registers,
    });
    this.#queuedToAssigned = this.#queuedToAssignedSeconds.labels();
  }

  static readonly contentType = Registry.PROMETHEUS_CONTENT_TYPE;

  #tenant(tenantId: string): TenantMetrics {
    let tenant = this.#tenants.get(tenantId);
    if (tenant === undefined) {
      tenant = new TenantMetrics(tenantId, this.#sources);
      this.#tenants.set(tenantId, tenant);
    }
    return tenant;
  }

  /** The queue ran once (one pass of assignments over every tenant's queued tasks). */
  queueInvoked(): void {
    this.#queueInvocations += 1;
  }

  /** Counts a run's events once they are durable (`before`: the state before them). */
  applied(before: RunState, events: readonly RunEvent[], after: RunState): void {
    if (after.kind === 'none') return;
    const tenant = this.#tenant(after.tenantId);
    const counts = tenant.counts;
    for (let i = 0; i < events.length; i++) {
      const event = events[i] as RunEvent;
      switch (event.type) {
        case 'RunCreated':
          // Every task of the run (the on-failure task counts once it is queued, if ever).
          counts.created += event.workflow.tasks.length;
          break;
        case 'TaskQueued':
          if (event.task === ON_FAILURE_TASK && event.attempt === 0 && (before.kind === 'none' || before.tasks[ON_FAILURE_TASK]?.status === 'pending')) counts.created += 1;
          break;
        case 'TaskRetrying':
          counts.retried += 1;
          break;
        case 'TaskCompleted':
          counts.succeeded += 1;
          break;
        case 'TaskFailed':
          // A failure the task retries is followed, in the same decision, by its TaskRetrying.
          if (events[i + 1]?.type !== 'TaskRetrying') counts.failed += 1;
          break;
        case 'TaskSkipped':
          counts.skipped += 1;
          break;
        case 'TaskCancelled':
          // The on-failure task, never queued, is called off when the run succeeds: it was not created.
          if (event.task !== ON_FAILURE_TASK || (before.kind !== 'none' && before.tasks[ON_FAILURE_TASK]?.status !== 'pending')) counts.cancelled += 1;
          break;
        case 'TaskAssigned': {
          if (event.adopted === true) break;
          counts.assigned += 1;
          const queuedAtMs = queuedAt(before, events, i, event.task);
          if (queuedAtMs !== undefined) {
            counts.queuedToAssigned += 1;
            const seconds = Math.max(0, event.atMs - queuedAtMs) / 1000;
            tenant.queuedToAssigned.observe(seconds);
            this.#queuedToAssigned.observe(seconds);
          }
          break;
        }
        case 'TaskSchedulingTimedOut':
          counts.schedulingTimedOut += 1;
          break;
        case 'TaskWaiting':
          if (event.eventType === 'REQUEUED_RATE_LIMIT') counts.rateLimited += 1;
          break;
        case 'TaskReassigned':
          counts.reassigned += 1;
          break;
        case 'RunFinished':
          tenant.observeDuration(after.workflow.name, event.status, Math.max(0, event.atMs - after.createdAtMs));
          break;
        default:
          break;
      }
    }
  }

  /** One tenant's series, in the Prometheus text format. */
  tenantText(tenantId: string): Promise<string> {
    return this.#tenant(tenantId).registry.metrics();
  }

  /** Every series: the global counters, then every tenant's (each with its `tenant_id`). */
  async text(): Promise<string> {
    for (const tenantId of this.#sources.tenants()) this.#tenant(tenantId);
    const perTenant = await Promise.all([...this.#tenants.values()].map((tenant) => tenant.registry.getMetricsAsJSON()));
    const tenants = perTenant.length === 0 ? '' : await AggregatorRegistry.aggregate(perTenant).metrics();
    return `${await this.#global.metrics()}\n${tenants}`;
  }
}

/**
 * When the task assigned at `events[index]` was queued: by a TaskQueued earlier in the same batch,
 * or else as its queued state says (its schedule deadline less its schedule timeout).
 */
function queuedAt(before: RunState, events: readonly RunEvent[], index: number, task: string): number | undefined {
  for (let i = index - 1; i >= 0; i--) {
    const event = events[i] as RunEvent;
    if (event.type === 'TaskQueued' && event.task === task) return event.atMs;
  }
  if (before.kind === 'none') return undefined;
  const state = before.tasks[task];
  if (state?.status !== 'queued' || state.scheduleDeadlineMs === undefined) return undefined;
  return state.scheduleDeadlineMs - state.spec.scheduleTimeoutMs;
}
