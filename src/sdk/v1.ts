/**
 * `kindling/v1`: the surface of Hatchet's `@hatchet-dev/typescript-sdk/v1` — the client, the
 * declarations, contexts, the worker, conditions, enums, errors, durations and types. Names that
 * belong to features this engine does not carry out yet are here too, so programs compile; using
 * them at run time throws a `NotSupportedError` that names the feature.
 */
export { HatchetClient } from './client.js';
export type { ClientConfig } from './config.js';
export { Action, type BaseCondition, Condition, type Conditions, generateGroupId, type IConditions, Or, OrCondition, type Parent, ParentCondition, Render, type Sleep, SleepCondition, type UserEvent, UserEventCondition } from './conditions.js';
export { type ChildRunOpts, Context, ContextWorker, DurableContext, type LogExtra, type SleepForOptions, type SleepResult, type WorkerLabels } from './context.js';
export {
  type ApiWorkflow,
  BaseWorkflowDeclaration,
  type CreateBaseWorkflowOpts,
  type CreateBatchTaskWorkflowOpts,
  CreateBatchTaskWorkflow,
  CreateDurableTaskWorkflow,
  type CreateDurableTaskWorkflowOpts,
  CreateTaskWorkflow,
  type CreateTaskWorkflowOpts,
  CreateWorkflow,
  type CreateWorkflowOpts,
  type CronWorkflows,
  type DefaultFilter,
  type ScheduledWorkflows,
  type TaskDefaults,
  type TaskOutput,
  type TaskOutputType,
  type TaskStatusMetrics,
  TaskWorkflowDeclaration,
  WorkflowDeclaration,
  type WorkflowDefinition,
} from './declaration.js';
export { type Duration, type DurationObject, durationToMs, durationToString } from './duration.js';
export {
  ConcurrencyLimitStrategy,
  MinEngineVersion,
  Priority,
  RateLimitDuration,
  RateLimitOrderByDirection,
  RateLimitOrderByField,
  type SlotConfig,
  SlotType,
  StickyStrategy,
  type StickyStrategyInput,
  V1LogLineLevel,
  V1LogLineOrderByDirection,
  V1TaskStatus,
  WorkerLabelComparator,
  WorkerStatus,
} from './enums.js';
export {
  AbortError,
  BulkTriggerIdempotencyCollisionError,
  DedupeViolationErr,
  EvictionNotSupportedError,
  HatchetError,
  IdempotencyCollisionError,
  isTaskRunTerminatedError,
  NonDeterminismError,
  NonRetryableError,
  NotSupportedError,
  TaskRunTerminatedError,
  type TaskRunTerminationReason,
} from './errors.js';
export {
  type ApiWorker,
  CELClient,
  type CELEvaluationResult,
  type CancelRunOpts,
  type CreateCronInput,
  CreateCronTriggerSchema,
  type CreateRateLimitOpts,
  type CreateScheduledRunInput,
  CreateScheduledRunTriggerSchema,
  type CreateWebhookOptions,
  CronClient,
  type DebugCELInput,
  type Event,
  EventClient,
  type Events,
  FiltersClient,
  type ListLogsOpts,
  type ListRunsOpts,
  LogsClient,
  MetricsClient,
  RatelimitsClient,
  type ReplayRunOpts,
  type RunDetail,
  type RunFilter,
  type RunView,
  RunsClient,
  ScheduleClient,
  type TaskRunDetail,
  TenantClient,
  type UpdateScheduledRunInput,
  UpdateScheduledRunTriggerSchema,
  type PaginationResponse,
  type V1Filter,
  type V1LogLine,
  type V1LogLineList,
  WebhooksClient,
  WorkersClient,
  type WorkflowIdScopePair,
  WorkflowsClient,
} from './features.js';
export { ConsoleLogger, type LogConstructor, Logger, type LogLevel } from './logger.js';
export type { AfterHookFn, BeforeHookFn, TaskMiddleware as HatchetMiddleware, InferMiddlewareAfter, InferMiddlewareBefore, TaskMiddleware } from './middleware.js';
export { WorkflowRunRef } from './run-ref.js';
export { default as sleep } from './sleep.js';
export {
  type BaseIdempotencyConfig,
  type BatchTaskConfig,
  type BatchTaskFn,
  type Concurrency,
  type CreateBaseTaskOpts,
  type CreateOnFailureTaskOpts,
  type CreateOnSuccessTaskOpts,
  type CreateWorkflowDurableTaskOpts,
  type CreateWorkflowTaskOpts,
  DEFAULT_DURABLE_TASK_EVICTION_POLICY,
  type DurableEvictionConfig,
  type DurableTaskFn,
  type EvictionPolicy,
  type IdempotencyConfig,
  type RateLimit,
  type StatusBasedIdempotencyConfig,
  type TaskConcurrency,
  type TaskFn,
  type TTLBasedIdempotencyConfig,
} from './task.js';
export type {
  DesiredWorkerLabel,
  InputType,
  JsonArray,
  JsonObject,
  JsonPrimitive,
  JsonValue,
  OutputType,
  Resolved,
  RunManyOpt,
  RunOpts,
  StrictWorkflowOutputType,
  UnknownInputType,
  WorkflowInputType,
  WorkflowOutputType,
  WorkflowRef,
} from './types.js';
export { type CreateWorkerOpts, Worker } from './worker.js';

/** The name a workflow is registered under: a declaration's name, or the name itself. */
export function getWorkflowName(workflow: string | { name: string }): string {
  return typeof workflow === 'string' ? workflow : workflow.name;
}

/** Whether the engine can evict durable tasks (this one cannot yet). */
export function supportsEviction(_engineVersion?: string): boolean {
  return false;
}
