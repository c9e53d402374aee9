/**
 * Workflows, in Hatchet's REST shapes: a tenant's workflows (list, get by name — a workflow's id
 * is its name — and delete with all its runs). Workers are in workers.ts.
 */
import { z } from 'zod';
import type { Engine } from '../../engine/engine.js';
import { engineLimits } from '../../lib/limits.js';
import { apiErrors, type Route, route } from '../http.js';
import { iso, pagination } from '../views.js';


function workflowView(tenantId: string, workflow: ReturnType<Engine['listWorkflows']>[number]) {
  return {
    metadata: { id: workflow.name, createdAt: iso(workflow.createdAtMs), updatedAt: iso(workflow.updatedAtMs) },
    name: workflow.name,
    ...(workflow.spec.description === undefined ? {} : { description: workflow.spec.description }),
    isPaused: false,
    tenantId,
    versions: [{ metadata: { id: `${workflow.name}:${workflow.version}`, createdAt: iso(workflow.updatedAtMs), updatedAt: iso(workflow.updatedAtMs) }, version: workflow.spec.version ?? String(workflow.version), order: workflow.version, workflowId: workflow.name }],
    tasks: [...workflow.spec.tasks.map((task) => ({ name: task.name, parents: task.parents })), ...(workflow.spec.onFailure === undefined ? [] : [{ name: 'on-failure-task', parents: [] }])],
  };
}

export function workflowRoutes(engine: Engine): Route[] {
  const workflowOf = (tenantId: string, name: string) => {
    const workflow = engine.listWorkflows(tenantId).find((w) => w.name === name);
    if (workflow === undefined) throw apiErrors.notFound('WORKFLOW_NOT_FOUND', `workflow '${name}' is not registered`);
    return workflow;
  };
  return [
    route({
      method: 'GET',
      path: '/api/v1/tenants/{tenant}/workflows',
      summary: "The tenant's workflows, by name, optionally only those whose name contains `name`",
      query: z.strictObject({
        name: z.string().max(200).optional(),
        limit: z.coerce.number().int().positive().max(engineLimits.listPageMax).default(50),
        offset: z.coerce.number().int().min(0).max(10_000_000).default(0),
      }),
      handle: ({ tenantId, query }) => {
        const all = engine
          .listWorkflows(tenantId)
          .filter((workflow) => query.name === undefined || workflow.name.includes(query.name.toLowerCase()))
          .sort((a, b) => a.name.localeCompare(b.name));
        return {
          rows: all.slice(query.offset, query.offset + query.limit).map((workflow) => workflowView(tenantId, workflow)),
          pagination: pagination(query.offset, query.limit, all.length),
        };
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/workflows/{workflow}',
      summary: 'A workflow of the token\'s tenant, by its id (its name)',
      handle: ({ tenantId, params }) => workflowView(tenantId, workflowOf(tenantId, params.workflow as string)),
    }),
    route({
      method: 'DELETE',
      path: '/api/v1/workflows/{workflow}',
      summary: 'Delete a workflow with its data: its active runs are cancelled and every run of it is deleted',
      handle: async ({ tenantId, params }) => {
        await engine.deleteWorkflow(tenantId, workflowOf(tenantId, params.workflow as string).name);
        return undefined;
      },
    }),
  ];
}
