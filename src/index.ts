/** durable-runs: durable multi-step runs on Temporal. */
export { StepOutcome, StepError, fastSteps, MAX_RETRY_AFTER_MS } from './shared/outcome';
export { limited } from './limits/groups';
export type {
  Step,
  StepRunner,
  FastStep,
  FastStepRunner,
  StepOutcomeData,
  RunSpec,
  RunOutcome,
  RunStatus,
  RunState,
  RunHeaders,
  TerminalHook,
  WebhookOptions,
  RunEvent,
  EventSignal,
  ForkOrigin,
  RunUsage,
  UsageFigures,
  UsageRecord,
  UsageBudget,
} from './shared/types';
export type { ForkOptions } from './client/fork';
export type { RetryAnswer } from './client/retry';
export type { BulkCancel, BulkRetry } from './client/bulk';
export { MAX_PENDING_EVENTS } from './shared/events';
export {
  MAX_COMMAND_BYTES,
  MAX_HEADERS_BYTES,
  MAX_JSON_DEPTH,
  MAX_PENDING_EVENT_BYTES,
  MAX_REMEMBERED_ID_BYTES,
  MAX_RUN_SPEC_BYTES,
  MAX_VALUE_DEPTH,
} from './shared/limits';
export { ValidationError } from './shared/validate';
export {
  RunsClient,
  InputMismatch,
  RunNotFound,
  EventRefused,
  RunNotResponding,
  SEND_EVENT_TIMEOUT_MS,
  type SendEventOptions,
  type RunsClientOptions,
  type SubmitOptions,
  type Submission,
  type RunListing,
  type ResumeAnswer,
  type ResumeOptions,
  StreamOutOfRange,
  type StreamEvent,
  type StreamOptions,
  dataConverter,
} from './client';
export { MAX_CHUNK_BYTES, STREAM_KEEP_BYTES } from './shared/stream';
export { createWorker, type CreateWorkerOptions } from './worker';
export { DurableRunsPlugin, PluginConflict, type DurableRunsPluginOptions } from './worker/plugin';
export { EncryptionKeys, EncryptionCodec, encryptionDataConverter, type EncryptionOption } from './payloads/encryption';
export { startCodecServer, type CodecServer, type CodecServerOptions } from './payloads/codec-server';
export {
  RunSchedules,
  ScheduleNotFound,
  type ScheduleOptions,
  type ScheduleInfo,
  type OverlapPolicy,
} from './client/schedules';
export { RunLimits, UnknownLimitGroup, type LimitGroupInfo, type LimitSettings } from './limits/admin';
export type { RateInput } from './limits/rates';
export type { ChildRunSpec, CancelOrigin } from './shared/types';
export { ConfigError } from './common/config';
export { flushTracing, TRACING_WORKFLOW_MODULE } from './observability';
export { installMetrics, type InstallMetricsOptions } from './observability/metrics';
export { ObservabilityPlugin, setUpObservability } from './observability/plugin';
export { MetricName, STEP_DURATION_BUCKETS } from './shared/metrics';
export { WORKFLOW_TYPE, DEFAULT_TASK_QUEUE } from './shared/names';
