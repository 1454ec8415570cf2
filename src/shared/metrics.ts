/**
 * Names of the durable-runs metrics (see DESIGN.md, "Production"). Sandbox-safe: the workflow
 * counts closed runs with them, the worker's activity interceptor counts steps and deliveries.
 * They go to Temporal's metric meter, so they are served next to Temporal's own worker metrics.
 */
import type { Sinks } from '@temporalio/workflow';

/**
 * The workflow tells its worker that the activation it just ran closes the run; the worker counts
 * the close once the server took it (see `ClosedRunsCounter`). A sink emits no command.
 */
export interface RunMetricsSinks extends Sinks {
  durableRunsMetrics: { runClosing(status: string): void };
}

export const MetricName = {
  /** Counter; labels `runner`, `outcome` (see {@link StepMetricOutcome}). One per step attempt a worker ran. */
  StepsTotal: 'durable_runs_steps_total',
  /**
   * Counter; label `status`: `succeeded`, `failed` or `cancelled`. One per run that closed, counted
   * by the worker whose workflow task closed it, once the server accepted that task.
   */
  RunsClosedTotal: 'durable_runs_runs_closed_total',
  /** Histogram in seconds; labels `runner`, `outcome`. How long a step attempt ran on its worker. */
  StepDurationSeconds: 'durable_runs_step_duration_seconds',
  /**
   * Counter; label `result`: `delivered`, `retry` or `failed`, one per webhook delivery attempt;
   * and `not_started`, one per run that gave up starting its delivery (no attempt was made).
   */
  WebhookDeliveriesTotal: 'durable_runs_webhook_deliveries_total',
  /**
   * Counter; labels `runner`, `model` (`unspecified` without one) and `kind` (`input` or
   * `output`): the tokens steps reported with `step.usage`, counted when reported.
   */
  TokensTotal: 'durable_runs_tokens_total',
  /**
   * Labels `runner`, `model`: the US dollars steps reported with `step.usage`. A float gauge that
   * only grows (Core's counters are whole numbers): read it with `rate()`/`increase()` as a counter.
   */
  CostUsdTotal: 'durable_runs_cost_usd_total',
} as const;

/**
 * `outcome` of a step attempt: what the runner returned (`StepOutcome.continueAfter` is
 * `continue_after`), or why it did not return one.
 */
export type StepMetricOutcome =
  | 'continue'
  | 'continue_after'
  | 'wait_for_event'
  | 'run_children'
  | 'succeed'
  | 'fail'
  | 'cancel'
  /** The runner threw a transient error (or any error): the run retries the step while attempts remain. */
  | 'error'
  /** The runner threw `StepError.permanent`: the run fails. */
  | 'permanent_error'
  /** The runner returned something that is not a step outcome, or one too large to record. */
  | 'invalid_outcome'
  /** The run names a runner this worker does not have. */
  | 'unknown_runner'
  /** The worker could not read the step's input. */
  | 'invalid_input'
  /** The step was cancelled (the run was cancelled, or the worker shut down) before it returned. */
  | 'interrupted';

/** `result` of a webhook delivery attempt: `retry` is followed by another attempt, `failed` is not. */
export type WebhookMetricResult = 'delivered' | 'retry' | 'failed' | 'not_started';

/**
 * Bucket bounds of `durable_runs_step_duration_seconds`, in seconds: from a quick tool call to an
 * hour-long step. (Core's default buckets are meant for milliseconds.)
 */
export const STEP_DURATION_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600,
];
