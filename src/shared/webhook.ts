import type { RunOutcome, WebhookOptions } from './types';

/** Input of the `webhookDelivery` workflow. Holds no secret: the signing key stays in the worker. */
export interface WebhookDeliveryInput {
  runId: string;
  url: string;
  outcome: RunOutcome;
  /** Standard Webhooks `webhook-id`: the same on every attempt and every redelivery of one close's webhook. */
  webhookId: string;
  retry: Pick<WebhookOptions, 'maxRetries' | 'baseDelayMs' | 'maxDelayMs' | 'timeoutMs'>;
}

/** What one `deliverWebhook` attempt reports (in its result, or in its failure's details). */
export interface AttemptReport {
  attempt: number;
  /** HTTP status, when a response arrived. */
  status?: number;
  /** For an attempt to try again: the delay chosen (backoff with jitter, or the receiver's `Retry-After`). */
  retryDelayMs?: number;
}

/** Input of the `deliverWebhook` activity. */
export type DeliverWebhookInput = Pick<WebhookDeliveryInput, 'url' | 'outcome' | 'webhookId'> & {
  /** Attempts made before this activity's first one (by the delivery's first, local, attempt). */
  attemptOffset?: number;
  /** A failed attempt of this activity is not the last: the delivery will try again after it. */
  moreAttempts?: true;
};

/** How a run's terminal webhook went. */
export interface WebhookDeliveryStatus {
  runId: string;
  state: 'pending' | 'delivered' | 'failed';
  /** Attempts made so far (the attempt in progress for a pending delivery). */
  attempts: number;
  lastStatus?: number;
  lastError?: string;
}

/**
 * The Standard Webhooks `webhook-id` of a run's close: `msg_<runId>` for its first, and with the
 * closing execution's ID for a later one (the run closed again after a reset, a retry or a resume).
 */
export function webhookIdFor(runId: string, close?: string): string {
  return close === undefined ? `msg_${runId}` : `msg_${runId}_${close}`;
}

/** The memo key of a `webhookDelivery` naming the close it delivers (the closing execution's ID). */
export const CLOSE_MEMO_KEY = 'durableRuns.close';
