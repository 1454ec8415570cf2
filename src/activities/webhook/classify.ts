/**
 * The webhook's retry decision: one pure function from an attempt's result to deliver / retry
 * after N ms / give up. Temporal does the waiting and the retrying; this only decides.
 */
import { STATUS_CODES } from 'node:http';
import { isAddressRefusal } from './guard';

/** What to do after one delivery attempt. */
export type Verdict =
  { kind: 'delivered' } | { kind: 'retry'; delayMs: number; reason: string } | { kind: 'give-up'; reason: string };

/** The outcome of one HTTP attempt, as {@link classify} needs it. */
export interface AttemptResult {
  /** Response status; absent when no response arrived (network error or timeout, see `error`). */
  status?: number;
  /** Response headers, lower-case names as undici reports them. */
  headers?: Record<string, string | string[] | undefined>;
  /** Why no response arrived. */
  error?: unknown;
  /** Start of the response body (at most 64 KiB was read), quoted in give-up reasons. */
  body?: string;
}

/** The backoff knobs {@link classify} and {@link backoffDelay} read (see `WebhookOptions`). */
export interface BackoffOptions {
  /** Nominal delay after the first attempt; doubles with every attempt. */
  baseDelayMs: number;
  /** Strict cap on every delay, `Retry-After` included. */
  maxDelayMs: number;
}

/**
 * Fraction by which a backoff delay is spread either way, so that receivers coming back from an
 * outage are not hit by every worker at the same instant.
 * @default 0.25
 */
export const JITTER = 0.25;

/** Statuses worth another try: the receiver may recover (timeouts, throttling, server faults). */
const RETRIED_4XX = new Set([408, 429]);

/** Statuses whose `Retry-After` is honoured; on others (e.g. 500) it is advice we do not take. */
const RETRY_AFTER_STATUSES = new Set([429, 503]);

/** Longest body excerpt quoted in a reason: enough for an error message, not a page of HTML. */
const REASON_BODY_CHARS = 200;

/**
 * Decides what follows one delivery attempt.
 *
 * - 2xx: delivered.
 * - No response (network error, timeout), 408, 429, 5xx: retry. On 429 and 503 a valid
 *   `Retry-After` sets the delay (capped at `maxDelayMs`, never jittered, at least 1 ms);
 *   otherwise the delay is {@link backoffDelay}.
 * - 3xx: give up; redirects are not followed, so following one by retrying would be wrong.
 * - Any other status (410 included), and a URL the address guard refused: give up.
 *
 * @param attempt 1-based number of the attempt that produced `result`.
 * @param now Clock for `Retry-After` HTTP-dates, ms since the epoch. @default Date.now()
 * @param random Source of jitter in [0, 1). @default Math.random
 */
export function classify(
  result: AttemptResult,
  attempt: number,
  options: BackoffOptions,
  now: number = Date.now(),
  random: () => number = Math.random,
): Verdict {
  const { status } = result;
  if (status === undefined) {
    const reason = describeError(result.error);
    if (isAddressRefusal(result.error)) return { kind: 'give-up', reason };
    return { kind: 'retry', delayMs: backoffDelay(attempt, options, random), reason };
  }
  if (status >= 200 && status < 300) return { kind: 'delivered' };

  const statusText = describeStatus(status);
  if (status >= 300 && status < 400) {
    const location = header(result.headers, 'location');
    const target = location === undefined ? '' : ` (Location: ${location})`;
    return { kind: 'give-up', reason: `${statusText}: redirects are not followed${target}` };
  }
  if (RETRIED_4XX.has(status) || (status >= 500 && status < 600)) {
    const retryAfter = RETRY_AFTER_STATUSES.has(status)
      ? parseRetryAfter(header(result.headers, 'retry-after'), now)
      : undefined;
    const delayMs =
      retryAfter === undefined
        ? backoffDelay(attempt, options, random)
        : Math.max(1, Math.min(retryAfter, Math.floor(options.maxDelayMs)));
    return { kind: 'retry', delayMs, reason: statusText };
  }
  const excerpt = bodyExcerpt(result.body);
  return { kind: 'give-up', reason: excerpt === '' ? statusText : `${statusText}: ${excerpt}` };
}

/**
 * Exponential backoff before the attempt after `attempt`: `baseDelayMs × 2^(attempt-1)`, spread by
 * ±{@link JITTER}, then capped at `maxDelayMs` (the cap is strict: jitter never exceeds it), never
 * below 1 ms, in whole milliseconds.
 *
 * @param attempt 1-based number of the attempt that just failed.
 * @param random Source of jitter in [0, 1). @default Math.random
 * @throws RangeError when `attempt` is not a positive integer.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new RangeError(`attempt must be a positive integer, got ${attempt}`);
  }
  const nominal = options.baseDelayMs * 2 ** (attempt - 1);
  const jittered = nominal * (1 - JITTER + 2 * JITTER * random());
  return Math.max(1, Math.min(Math.round(jittered), Math.floor(options.maxDelayMs)));
}

const IMF_FIXDATE =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;
const RFC850_DATE =
  /^(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), \d{2}-(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-\d{2} \d{2}:\d{2}:\d{2} GMT$/;
const ASCTIME_DATE =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/;

/**
 * Reads a `Retry-After` value (RFC 9110 §10.2.3) as milliseconds from `now`: delta-seconds, or an
 * HTTP-date in any of its three forms (a date in the past gives 0). Anything else — including the
 * inputs `Date.parse` would leniently accept, like `"1.5"` — gives `undefined`, so the caller
 * falls back to its own backoff. Not capped here.
 */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  let date: number;
  if (IMF_FIXDATE.test(text) || RFC850_DATE.test(text)) date = Date.parse(text);
  else if (ASCTIME_DATE.test(text)) date = Date.parse(`${text} GMT`);
  else return undefined;
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Short labels for the failures a webhook sender meets; the code is appended to each. */
const ERROR_LABELS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed while sending',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed temporarily',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'timed out',
  UND_ERR_SOCKET: 'connection closed by the receiver',
  UND_ERR_CONNECT_TIMEOUT: 'connect timed out',
  UND_ERR_HEADERS_TIMEOUT: 'no response headers in time',
  UND_ERR_BODY_TIMEOUT: 'response body stalled',
};

/**
 * One line saying why an attempt got no response, e.g. `connection refused (ECONNREFUSED)`.
 * Walks the `cause` chain (undici and `fetch` wrap the socket error) and takes the outermost error
 * with a string `code`; our own `ERR_WEBHOOK_*` errors already carry a human message and are
 * shown as they are.
 */
export function describeError(err: unknown): string {
  for (const e of causeChain(err)) {
    const code = (e as { code?: unknown }).code;
    if (typeof code !== 'string') continue;
    if (code.startsWith('ERR_WEBHOOK_')) return e.message;
    const aggregated =
      e instanceof AggregateError ? (e.errors[0] as { message?: unknown } | undefined)?.message : undefined;
    const text = ERROR_LABELS[code] ?? (e.message || (typeof aggregated === 'string' ? aggregated : '') || e.name);
    return `${text} (${code})`;
  }
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

function* causeChain(err: unknown): Generator<Error> {
  const seen = new Set<unknown>();
  for (let e = err; e instanceof Error && !seen.has(e); e = e.cause) {
    seen.add(e);
    yield e;
  }
}

function describeStatus(status: number): string {
  const text = STATUS_CODES[status];
  return text === undefined ? `HTTP ${status}` : `HTTP ${status} ${text}`;
}

function header(headers: AttemptResult['headers'], name: string): string | undefined {
  if (headers === undefined) return undefined;
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : headers[key];
  return Array.isArray(value) ? value[0] : value;
}

function bodyExcerpt(body: string | undefined): string {
  if (body === undefined) return '';
  const line = body.replace(/\s+/g, ' ').trim();
  return line.length > REASON_BODY_CHARS ? `${line.slice(0, REASON_BODY_CHARS)}…` : line;
}
