import type { RetryPolicy } from '@temporalio/common';
import { ErrorType } from './names';
import type { WebhookOptions } from './types';

/** Backoff between attempts of a step whose runner threw a transient error. */
export const STEP_BACKOFF = {
  /** @default 1000 — long enough for a blip to pass, short enough not to be noticed. */
  initialMs: 1000,
  /** @default 2 */
  coefficient: 2,
  /** @default 300000 (5 min) — a run never sleeps longer than this between attempts. */
  maximumMs: 300_000,
} as const;

/** The longest `StepError.retryAfter` delay: a longer one (a provider's `Retry-After: 7200`) waits this long. */
export const MAX_RETRY_AFTER_MS = 3600_000;

/** Delay before attempt `attempt + 1` of a step (1-based `attempt`). */
export function stepBackoffMs(attempt: number): number {
  return Math.min(STEP_BACKOFF.initialMs * STEP_BACKOFF.coefficient ** (attempt - 1), STEP_BACKOFF.maximumMs);
}

/**
 * Temporal's retry policy for the `runStep` activity. It covers only what the runner cannot
 * report itself — a worker that died (heartbeat timeout) or a step past its timeout — so a
 * crashing worker does not spend the run's step budget; errors the runner throws come back
 * non-retryable and the workflow retries them with {@link stepBackoffMs}, which keeps attempt
 * numbers and the last error visible in `status`.
 */
export const STEP_INFRA_RETRY: RetryPolicy = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  /** @default 10 — a step that kills its worker ten times in a row is not going to succeed. */
  maximumAttempts: 10,
  nonRetryableErrorTypes: [
    ErrorType.StepTransient,
    ErrorType.StepPermanent,
    ErrorType.InvalidOutcome,
    ErrorType.UnknownRunner,
  ],
};

/** Retry policy of `deliverWebhook`: Temporal's backoff is the webhook's backoff. */
export function webhookRetryPolicy(
  options: Pick<WebhookOptions, 'maxRetries' | 'baseDelayMs' | 'maxDelayMs'>,
): RetryPolicy {
  return {
    initialInterval: options.baseDelayMs,
    backoffCoefficient: 2,
    maximumInterval: options.maxDelayMs,
    maximumAttempts: options.maxRetries + 1,
    nonRetryableErrorTypes: [ErrorType.WebhookGiveUp],
  };
}
