import { ApplicationFailure, Context } from '@temporalio/activity';
import { ErrorType } from '../../shared/names';
import type { WebhookOptions } from '../../shared/types';
import type { AttemptReport, DeliverWebhookInput } from '../../shared/webhook';
import { classify } from './classify';
import { createGuardedDispatcher, parseCallbackUrl, WebhookUrlError } from './guard';
import { buildWebhookRequest, sendWebhookAttempt } from './request';

/** `durable-runs/<version>`, sent as `User-Agent`. */
export const USER_AGENT = `durable-runs/${(require('../../../package.json') as { version: string }).version}`;

/**
 * One HTTP attempt per activity attempt; Temporal's retry policy is the backoff. The verdict of
 * `classify` becomes the activity's result or failure: retryable with `nextRetryDelay` (our
 * jittered, strictly capped delay, or the receiver's `Retry-After`), or non-retryable.
 * The signing secret comes from worker config and never enters workflow history.
 */
export function createDeliverWebhook(options: Readonly<WebhookOptions>) {
  const dispatcher = createGuardedDispatcher({ allowPrivate: options.allowPrivate, timeoutMs: options.timeoutMs });
  return async function deliverWebhook(input: DeliverWebhookInput): Promise<AttemptReport> {
    const attempt = Context.current().info.attempt + (input.attemptOffset ?? 0);
    let url: URL;
    try {
      url = parseCallbackUrl(input.url);
    } catch (err) {
      if (!(err instanceof WebhookUrlError)) throw err;
      throw ApplicationFailure.create({
        type: ErrorType.WebhookGiveUp,
        message: err.message,
        nonRetryable: true,
        details: [{ attempt }],
      });
    }
    const request = buildWebhookRequest({
      outcome: input.outcome,
      webhookId: input.webhookId,
      timestamp: new Date(),
      ...(options.secret ? { secret: options.secret } : {}),
      userAgent: USER_AGENT,
    });
    const result = await sendWebhookAttempt({ url, request, timeoutMs: options.timeoutMs, dispatcher });
    const report: AttemptReport = { attempt, ...(result.status !== undefined ? { status: result.status } : {}) };
    const verdict = classify(result, attempt, options);
    switch (verdict.kind) {
      case 'delivered':
        return report;
      case 'retry':
        throw ApplicationFailure.create({
          type: ErrorType.WebhookRetry,
          message: verdict.reason,
          nextRetryDelay: verdict.delayMs,
          details: [{ ...report, retryDelayMs: verdict.delayMs }],
        });
      case 'give-up':
        throw ApplicationFailure.create({
          type: ErrorType.WebhookGiveUp,
          message: verdict.reason,
          nonRetryable: true,
          details: [report],
        });
    }
  };
}
