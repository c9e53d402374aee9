/**
 * The REST data contracts programs name through `APIContracts` (Hatchet's generated REST types):
 * those this SDK returns or takes today. The REST API with Hatchet's full shapes is its own work.
 */
export type { ApiWorkflow as Workflow, CronWorkflows, ScheduledWorkflows, TaskStatusMetrics } from './declaration.js';
export { RateLimitOrderByDirection, RateLimitOrderByField, V1LogLineLevel, V1LogLineOrderByDirection, V1TaskStatus, WorkerStatus } from './enums.js';
export type { ApiWorker as Worker, PaginationResponse, V1Filter, V1LogLine, V1LogLineList } from './features.js';
