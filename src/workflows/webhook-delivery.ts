import {
  ActivityFailure,
  ApplicationFailure,
  patched,
  proxyActivities,
  proxyLocalActivities,
  sleep,
  TemporalFailure,
  TimeoutFailure,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { webhookRetryPolicy } from '../shared/retry';
import { ErrorType } from '../shared/names';
import type { AttemptReport, WebhookDeliveryInput } from '../shared/webhook';

type Activities = ReturnType<typeof createActivities>;

/** Patch: the first attempt runs as a local activity (deliveries started since 2026-11-25). */
const LOCAL_FIRST_ATTEMPT = 'webhook-local-first-attempt';

/** Result of a delivered webhook. */
export interface WebhookDelivered {
  delivered: true;
  attempts: number;
  lastStatus?: number;
}

/** Details of an undelivered webhook (in the workflow's failure). */
export interface WebhookNotDelivered {
  delivered: false;
  attempts?: number;
  lastStatus?: number;
  lastError: string;
}

/**
 * Delivers a run's terminal webhook in its own workflow (`<runId>.webhook`), so the run closes
 * as soon as its outcome is known and the delivery survives worker restarts on its own. Closes
 * Completed when delivered, Failed (with the last status and error) when not.
 */
export async function webhookDelivery(input: WebhookDeliveryInput): Promise<WebhookDelivered> {
  if (
    typeof input?.url !== 'string' ||
    typeof input.webhookId !== 'string' ||
    typeof input.outcome !== 'object' ||
    !input.retry
  ) {
    throw ApplicationFailure.create({
      type: 'InvalidDeliveryInput',
      message: 'webhookDelivery needs { runId, url, outcome, webhookId, retry }',
      nonRetryable: true,
    });
  }
  const options = {
    // The activity enforces the per-attempt timeout itself; this only catches a lost worker.
    startToCloseTimeout: input.retry.timeoutMs + 30_000,
    summary: `POST ${input.url.replace(/^[a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?([^/?#]*).*$/is, '$1')}`,
  };
  const request = { url: input.url, outcome: input.outcome, webhookId: input.webhookId };
  try {
    let report: AttemptReport;
    if (patched(LOCAL_FIRST_ATTEMPT)) {
      // The first attempt is a local activity: a receiver that answers at once costs no task-queue
      // round trip, and the delivery closes in the workflow task that started it. Retries go to
      // the `deliverWebhook` activity with the same backoff, visible as a pending activity.
      try {
        report = await proxyLocalActivities<Activities>({ ...options, retry: { maximumAttempts: 1 } }).deliverWebhook({
          ...request,
          ...(input.retry.maxRetries > 0 ? { moreAttempts: true } : {}),
        });
      } catch (err) {
        const cause = err instanceof ActivityFailure ? err.cause : err;
        const final =
          cause instanceof ApplicationFailure && (cause.nonRetryable || cause.type !== ErrorType.WebhookRetry);
        if (final || input.retry.maxRetries === 0 || !(cause instanceof TemporalFailure)) throw err;
        const first = (cause instanceof ApplicationFailure ? cause.details?.[0] : undefined) as
          AttemptReport | undefined;
        await sleep(Math.max(1, first?.retryDelayMs ?? input.retry.baseDelayMs));
        report = await proxyActivities<Activities>({
          ...options,
          retry: { ...webhookRetryPolicy(input.retry), maximumAttempts: input.retry.maxRetries },
        }).deliverWebhook({ ...request, attemptOffset: 1 });
      }
    } else {
      report = await proxyActivities<Activities>({ ...options, retry: webhookRetryPolicy(input.retry) }).deliverWebhook(
        request,
      );
    }
    return {
      delivered: true,
      attempts: report.attempt,
      ...(report.status !== undefined ? { lastStatus: report.status } : {}),
    };
  } catch (err) {
    const cause = err instanceof ActivityFailure ? err.cause : err;
    const report = (cause instanceof ApplicationFailure ? cause.details?.[0] : undefined) as AttemptReport | undefined;
    const lastError =
      cause instanceof TimeoutFailure
        ? `attempt ${cause.message}`
        : cause instanceof Error
          ? cause.message
          : String(cause);
    const details: WebhookNotDelivered = {
      delivered: false,
      ...(report ? { attempts: report.attempt } : {}),
      ...(report?.status !== undefined ? { lastStatus: report.status } : {}),
      lastError,
    };
    throw ApplicationFailure.create({
      type: 'WebhookNotDelivered',
      message: `webhook not delivered: ${lastError}`,
      nonRetryable: true,
      details: [details],
    });
  }
}
