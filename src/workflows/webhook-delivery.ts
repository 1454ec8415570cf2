import { ActivityFailure, ApplicationFailure, proxyActivities, TimeoutFailure } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { webhookRetryPolicy } from '../shared/retry';
import type { AttemptReport, WebhookDeliveryInput } from '../shared/webhook';

type Activities = ReturnType<typeof createActivities>;

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
  const { deliverWebhook } = proxyActivities<Activities>({
    // The activity enforces the per-attempt timeout itself; this only catches a lost worker.
    startToCloseTimeout: input.retry.timeoutMs + 30_000,
    retry: webhookRetryPolicy(input.retry),
    summary: `POST ${input.url.replace(/^[a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?([^/?#]*).*$/is, '$1')}`,
  });
  try {
    const report = await deliverWebhook({ url: input.url, outcome: input.outcome, webhookId: input.webhookId });
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
