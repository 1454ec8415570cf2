/**
 * Building and sending one terminal-webhook request. One call of {@link sendWebhookAttempt} is one
 * HTTP attempt: no redirects, no retries — Temporal retries the activity.
 */
import { request as undiciRequest, type Dispatcher } from 'undici';
import { Webhook } from 'standardwebhooks';
import type { RunOutcome } from '../../shared/types';
import type { AttemptResult } from './classify';

/** A fully built webhook request: the same bytes and headers on every attempt of one delivery. */
export interface WebhookRequest {
  headers: Record<string, string>;
  body: Uint8Array;
}

/** How much of a response body is read for the reason text; the rest is dropped unread. */
const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * Builds the `POST` for a run's outcome.
 *
 * Body: a succeeded run's result as bytes (`Uint8Array`, `application/octet-stream`), as UTF-8 text
 * (a string, `text/plain; charset=utf-8`) or as JSON (anything else, `undefined` as `null`,
 * `application/json`); a failed or cancelled run's error text (`text/plain; charset=utf-8`, empty
 * for a `null` error).
 *
 * Headers: `content-type`, `user-agent`, `workflow-run-id`, `workflow-run-status`,
 * `workflow-run-cancelled-by` (cancelled runs: signal, temporal, runner or parent), the Standard
 * Webhooks `webhook-id` and `webhook-timestamp` (seconds), and `webhook-signature` when `secret`
 * is set, made by the `standardwebhooks` package.
 *
 * The library signs strings: it turns a `Buffer` into one with `toString()` (UTF-8), in `sign` and
 * in the receiver's `verify` alike. So the signature covers the body exactly as a receiver that
 * passes the raw body (string or `Buffer`) to `Webhook.verify` sees it: for every text and JSON
 * body, and every binary body that is valid UTF-8, that is exactly the bytes sent. For binary
 * bodies that are not valid UTF-8 the library — on both ends — signs the decoded text, in which
 * each invalid sequence became U+FFFD; swapping one invalid sequence for another then goes
 * unnoticed, and a verifier that hashes raw bytes (the spec's reading) will not match.
 *
 * @param webhookId Same on every attempt of one delivery, so receivers can de-duplicate.
 * @param timestamp When this attempt is made; receivers reject signatures older than 5 minutes.
 * @param secret Standard Webhooks secret (`whsec_…`). @default unset: the request is not signed.
 */
export function buildWebhookRequest(args: {
  outcome: RunOutcome;
  webhookId: string;
  timestamp: Date;
  secret?: string;
  userAgent: string;
}): WebhookRequest {
  const { outcome, webhookId, timestamp, secret } = args;
  const { contentType, body } = encodeBody(outcome);
  const headers: Record<string, string> = {
    'content-type': contentType,
    'user-agent': args.userAgent,
    'workflow-run-id': outcome.runId,
    'workflow-run-status': outcome.status,
    ...(outcome.status === 'cancelled' && outcome.cancelledBy
      ? { 'workflow-run-cancelled-by': outcome.cancelledBy }
      : {}),
    'webhook-id': webhookId,
    'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
  };
  if (secret !== undefined) {
    const payload = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    headers['webhook-signature'] = new Webhook(secret).sign(webhookId, timestamp, payload);
  }
  return { headers, body };
}

function encodeBody(outcome: RunOutcome): { contentType: string; body: Uint8Array } {
  const utf8 = new TextEncoder();
  if (outcome.status !== 'succeeded') {
    return { contentType: 'text/plain; charset=utf-8', body: utf8.encode(outcome.error ?? '') };
  }
  const { result } = outcome;
  if (result instanceof Uint8Array) return { contentType: 'application/octet-stream', body: result };
  if (typeof result === 'string') return { contentType: 'text/plain; charset=utf-8', body: utf8.encode(result) };
  return { contentType: 'application/json', body: utf8.encode(JSON.stringify(result) ?? 'null') };
}

/**
 * Makes one `POST` of `request` to `url` and reports what happened, never throwing: a response of
 * any status comes back as `status`/`headers` (with the start of its body), anything else —
 * refused address, DNS failure, reset, timeout — as `error`. A timeout comes back as an error
 * whose message says `timed out after <timeoutMs> ms`.
 *
 * The response body is read up to 64 KiB and dropped; a failure while reading it does not change
 * the verdict, since the status already arrived.
 *
 * @param timeoutMs Budget for the whole attempt: connect, response headers, body, each and in total.
 * @param dispatcher From `createGuardedDispatcher`; it carries the address guard.
 */
export async function sendWebhookAttempt(args: {
  url: URL;
  request: WebhookRequest;
  timeoutMs: number;
  dispatcher: Dispatcher;
}): Promise<AttemptResult> {
  const { url, request, timeoutMs, dispatcher } = args;
  const signal = AbortSignal.timeout(timeoutMs);
  let response: Dispatcher.ResponseData;
  try {
    response = await undiciRequest(url, {
      method: 'POST',
      headers: request.headers,
      body: request.body,
      dispatcher,
      signal,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
  } catch (err) {
    return { error: isTimeout(err) ? timeoutError(timeoutMs, err) : err };
  }
  return { status: response.statusCode, headers: response.headers, body: await readStart(response.body) };
}

async function readStart(body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      chunks.push(chunk);
      size += chunk.byteLength;
      if (size >= MAX_RESPONSE_BYTES) break;
    }
  } catch {
    // The status is what counts; a body cut short still gives its start.
  } finally {
    body.destroy();
  }
  return new TextDecoder().decode(Buffer.concat(chunks).subarray(0, MAX_RESPONSE_BYTES));
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

function isTimeout(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return err.name === 'TimeoutError' || TIMEOUT_CODES.has(String((err as NodeJS.ErrnoException).code));
}

function timeoutError(timeoutMs: number, cause: unknown): Error {
  return Object.assign(new Error(`timed out after ${timeoutMs} ms`, { cause }), { code: 'ERR_WEBHOOK_TIMEOUT' });
}
