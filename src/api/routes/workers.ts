/**
 * Workers, in Hatchet's REST shapes: the tenant's workers (`GET /api/v1/tenants/{tenant}/worker`),
 * one worker (`GET /api/v1/workers/{worker}`), and pausing or unpausing one (`PATCH` with
 * `{isPaused}`). A paused worker keeps the tasks it has and is given no new ones.
 */
import { z } from 'zod';
import type { Engine, WorkerView } from '../../engine/engine.js';
import { type Route, route } from '../http.js';
import { iso } from '../views.js';


/** A worker as Hatchet's `Worker`. */
export function workerView(worker: WorkerView, tenantId: string) {
  return {
    metadata: { id: worker.workerId, createdAt: iso(worker.registeredAtMs), updatedAt: iso(worker.lastSeenMs) },
    name: worker.name,
    type: 'SELFHOSTED',
    tenantId,
    status: worker.paused ? 'PAUSED' : worker.connected ? 'ACTIVE' : 'INACTIVE',
    isPaused: worker.paused,
    lastHeartbeatAt: iso(worker.lastSeenMs),
    actions: worker.actions,
    maxRuns: worker.slots,
    availableRuns: Math.max(0, worker.slots - worker.usedSlots),
    slotConfig: { default: { available: Math.max(0, worker.slots - worker.usedSlots), limit: worker.slots } },
    labels: Object.entries(worker.labels).map(([key, value]) => ({ metadata: { id: `${worker.workerId}:${key}`, createdAt: iso(worker.registeredAtMs), updatedAt: iso(worker.lastSeenMs) }, key, value: String(value) })),
  };
}

export function workerRoutes(engine: Engine): Route[] {
  return [
    route({
      method: 'GET',
      path: '/api/v1/tenants/{tenant}/worker',
      summary: "The tenant's workers: status (ACTIVE, INACTIVE, PAUSED), actions, slots and labels",
      handle: ({ tenantId }) => {
        const rows = engine.listWorkers(tenantId).map((worker) => workerView(worker, tenantId));
        return { rows, pagination: { current_page: 1, num_pages: 1 } };
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/workers/{worker}',
      summary: 'One worker',
      handle: ({ tenantId, params }) => workerView(engine.getWorker(tenantId, params.worker as string), tenantId),
    }),
    route({
      method: 'PATCH',
      path: '/api/v1/workers/{worker}',
      summary: 'Pause or unpause a worker (`{isPaused: true|false}`)',
      body: z.strictObject({ isPaused: z.boolean() }),
      handle: async ({ tenantId, params, body }) => workerView(await engine.setWorkerPaused(tenantId, params.worker as string, body.isPaused), tenantId),
    }),
  ];
}
