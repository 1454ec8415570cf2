/**
 * Prometheus metrics: `DURABLE_RUNS_METRICS=host:port` installs Temporal's Core runtime with its
 * Prometheus exporter there, which serves Temporal's worker metrics (`temporal_*`) and the
 * durable-runs metrics, emitted through Temporal's metric meter (this activity interceptor for
 * steps and webhook deliveries, the workflow's replay-safe `metricMeter` for closed runs).
 */
import type { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure, type MetricMeter } from '@temporalio/common';
import {
  type ActivityExecuteInput,
  type ActivityInboundCallsInterceptor,
  type ActivityInterceptorsFactory,
  type Next,
  type InjectedSinks,
  Runtime,
  type RuntimeOptions,
  type Worker,
} from '@temporalio/worker';
import type { EventEmitter } from 'node:events';
import { ConfigError } from '../common/config';
import { loadMetricsConfig, METRICS_VARIABLE } from './config';
import {
  MetricName,
  type RunMetricsSinks,
  STEP_DURATION_BUCKETS,
  type StepMetricOutcome,
  type WebhookMetricResult,
} from '../shared/metrics';
import { ErrorType } from '../shared/names';
import type { StepResult } from '../activities/run-step';
import type { DeliverWebhookInput } from '../shared/webhook';

/** Where this process serves metrics, once {@link installMetrics} did it. */
let installed: string | undefined;

/** The address this process serves Prometheus metrics on, if {@link installMetrics} installed it. */
export function metricsAddress(): string | undefined {
  return installed;
}

export interface InstallMetricsOptions {
  /** `ip:port`. @default DURABLE_RUNS_METRICS */
  bindAddress?: string;
  /** Further Core runtime options (a logger, say); `telemetryOptions.metrics` is set from `bindAddress`. */
  runtime?: RuntimeOptions;
}

/**
 * Installs Temporal's Core runtime with a Prometheus endpoint: call it before any connection or
 * worker of the process is made (`createWorker` calls it when `DURABLE_RUNS_METRICS` is set).
 * Idempotent for the same address; throws a `ConfigError` when the process already has another
 * runtime, since Core has one per process and takes its telemetry settings only when it starts.
 */
export function installMetrics(options: InstallMetricsOptions = {}): Runtime {
  const bindAddress = options.bindAddress ?? loadMetricsConfig()?.bindAddress;
  if (!bindAddress) throw new ConfigError(`${METRICS_VARIABLE}: not set, and no bindAddress given`);
  if (installed !== undefined) {
    if (installed === bindAddress) return Runtime.instance();
    throw new ConfigError(`${METRICS_VARIABLE}: metrics are already served on ${installed} in this process`);
  }
  if (Runtime._instance !== undefined) {
    throw new ConfigError(
      `${METRICS_VARIABLE}: a Temporal runtime already exists in this process (${Runtime.instantiator === 'install' ? 'installed by Runtime.install()' : 'created by an earlier connection or worker'}), and Core takes its metrics settings only when the runtime starts: call installMetrics() before creating any connection or worker, or configure metrics in your own Runtime.install()`,
    );
  }
  const runtimeOptions = options.runtime ?? {};
  let runtime: Runtime;
  try {
    runtime = Runtime.install({
      ...runtimeOptions,
      telemetryOptions: {
        ...runtimeOptions.telemetryOptions,
        metrics: {
          prometheus: {
            bindAddress,
            histogramBucketOverrides: { [MetricName.StepDurationSeconds]: STEP_DURATION_BUCKETS },
          },
        },
      },
    });
  } catch (err) {
    throw new ConfigError(`${METRICS_VARIABLE}: cannot serve metrics on ${bindAddress}: ${(err as Error).message}`);
  }
  installed = bindAddress;
  return runtime;
}

const STEP_RESULT_OUTCOME: Readonly<Record<string, StepMetricOutcome>> = {
  continue: 'continue',
  continueAfter: 'continue_after',
  waitForEvent: 'wait_for_event',
  runChildren: 'run_children',
  succeed: 'succeed',
  fail: 'fail',
  cancel: 'cancel',
};

const STEP_ERROR_OUTCOME: Readonly<Record<string, StepMetricOutcome>> = {
  [ErrorType.StepTransient]: 'error',
  [ErrorType.StepPermanent]: 'permanent_error',
  [ErrorType.InvalidOutcome]: 'invalid_outcome',
  [ErrorType.UnknownRunner]: 'unknown_runner',
  [ErrorType.InvalidStepInput]: 'invalid_input',
  [ErrorType.StepInterrupted]: 'interrupted',
};

function stepOutcome(result: unknown, error: unknown): StepMetricOutcome {
  if (error === undefined) return STEP_RESULT_OUTCOME[(result as { kind?: string } | null)?.kind ?? ''] ?? 'error';
  if (error instanceof CancelledFailure) return 'interrupted';
  return (error instanceof ApplicationFailure && STEP_ERROR_OUTCOME[error.type ?? '']) || 'error';
}

/** The `runner` label of a step attempt for runners this worker does not have (or could not read). */
export const UNREGISTERED_RUNNER_LABEL = 'unregistered';

/**
 * A step's `runner` label: its runner's name only when this worker has that runner (`runStep`
 * fails with UnknownRunner otherwise, or InvalidStepInput before it could tell), so that the names
 * a submitter makes up do not grow the metric's series without bound.
 */
function runnerLabel(input: unknown, error: unknown): string {
  const runner = (input as { runner?: unknown } | undefined)?.runner;
  const unregistered =
    error instanceof ApplicationFailure &&
    (error.type === ErrorType.UnknownRunner || error.type === ErrorType.InvalidStepInput);
  return typeof runner === 'string' && !unregistered ? runner : UNREGISTERED_RUNNER_LABEL;
}

function deliveryResult(error: unknown, ctx: Context, input: DeliverWebhookInput | undefined): WebhookMetricResult {
  if (error === undefined) return 'delivered';
  const retryable = error instanceof ApplicationFailure && error.type === ErrorType.WebhookRetry && !error.nonRetryable;
  const maxAttempts = ctx.info.retryPolicy?.maximumAttempts ?? 0;
  // The delivery's first attempt is a local activity of one attempt: the delivery goes on after it.
  const more = input?.moreAttempts === true || maxAttempts === 0 || ctx.info.attempt < maxAttempts;
  return retryable && more ? 'retry' : 'failed';
}

/** Counts and times `runStep` and `deliverWebhook` attempts on the activity's metric meter. */
class MetricsInbound implements ActivityInboundCallsInterceptor {
  constructor(private readonly ctx: Context) {}

  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const type = this.ctx.info.activityType;
    if (type !== 'runStep' && type !== 'deliverWebhook') return next(input);
    const started = performance.now();
    let result: unknown;
    let error: unknown;
    try {
      result = await next(input);
      return result;
    } catch (err) {
      error = err ?? new Error(String(err));
      throw err;
    } finally {
      const meter: MetricMeter = this.ctx.metricMeter;
      // A limited runner's step called on the run's own queue is sent on to its group's: not an attempt.
      const rerouted = (result as { kind?: unknown } | undefined)?.kind === 'reroute';
      if (type === 'runStep' && !rerouted) {
        const name = runnerLabel(input.args[0], error);
        const tags = { runner: name, outcome: stepOutcome(result, error) };
        const steps = meter.createCounter(MetricName.StepsTotal, '', 'Step attempts run by this worker');
        const duration = meter.createHistogram(
          MetricName.StepDurationSeconds,
          'float',
          's',
          'How long a step attempt ran',
        );
        // A chain of fast steps is one call: its steps count one by one, each timed as their mean.
        const chain = (error === undefined ? result : undefined) as Partial<StepResult> | undefined;
        const chained = Number.isSafeInteger(chain?.chained) && chain!.chained! > 1 ? chain!.chained! : 1;
        const seconds = (performance.now() - started) / 1000 / chained;
        if (chained > 1) {
          const continued = { runner: name, outcome: STEP_RESULT_OUTCOME.continue! };
          steps.add(chained - 1, continued);
          for (let i = 1; i < chained; i++) duration.record(seconds, continued);
        }
        steps.add(1, tags);
        duration.record(seconds, tags);
        if (chain?.nextFailed) {
          const failed = { runner: name, outcome: STEP_ERROR_OUTCOME[chain.nextFailed.type] ?? 'error' };
          steps.add(1, failed);
        }
      } else if (type === 'deliverWebhook') {
        meter
          .createCounter(MetricName.WebhookDeliveriesTotal, '', 'Terminal webhook delivery attempts')
          .add(1, { result: deliveryResult(error, this.ctx, input.args[0] as DeliverWebhookInput | undefined) });
      }
    }
  }
}

/** Core's eviction reason for a run whose closing workflow task the server accepted. */
const WORKFLOW_EXECUTION_ENDING = 10;

/**
 * Counts closed runs (`durable_runs_runs_closed_total`) exactly once: the workflow reports the
 * activation that closes a run (sink `durableRunsMetrics.runClosing`, after that activation), and
 * the run is counted when Core evicts it because its execution ended, i.e. once the server took
 * the closing task. Any other eviction (the task failed, the cache was full) forgets the report;
 * the task's next attempt reports again.
 */
export class ClosedRunsCounter {
  /** Reported closes waiting for the server's word, by Temporal run ID. */
  private readonly closing = new Map<string, { status: string; tags: Record<string, string> }>();

  sinks(): InjectedSinks<RunMetricsSinks> {
    return {
      durableRunsMetrics: {
        runClosing: {
          fn: (info, status) =>
            void this.closing.set(info.runId, {
              status,
              tags: { namespace: info.namespace, taskQueue: info.taskQueue, workflowType: info.workflowType },
            }),
          callDuringReplay: false,
        },
      },
    };
  }

  /**
   * Listens to the worker's evictions. SDK internals, as no public API tells a run's eviction
   * reason: `Worker.evictionsEmitter` (protected) emits `{ runId, evictJob: { reason } }`.
   */
  watch(worker: Worker): void {
    const emitter = (worker as unknown as { evictionsEmitter?: EventEmitter }).evictionsEmitter;
    if (!emitter) {
      Runtime.instance().logger.warn(
        `this Temporal SDK has no Worker.evictionsEmitter: ${MetricName.RunsClosedTotal} is not counted`,
      );
      return;
    }
    emitter.on('eviction', ({ runId, evictJob }: { runId: string; evictJob: { reason?: number | null } }) => {
      const closed = this.closing.get(runId);
      if (!closed) return;
      this.closing.delete(runId);
      if (evictJob.reason !== WORKFLOW_EXECUTION_ENDING) return;
      Runtime.instance()
        .metricMeter.createCounter(MetricName.RunsClosedTotal, '', 'Runs that closed')
        .add(1, { ...closed.tags, status: closed.status });
    });
  }
}

/** The activity interceptor behind the step and delivery metrics (a no-op meter without an exporter). */
export const metricsActivityInterceptor: ActivityInterceptorsFactory = (ctx) => ({ inbound: new MetricsInbound(ctx) });
