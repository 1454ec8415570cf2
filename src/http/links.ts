/**
 * The pages of approval links (`/v1/links/{token}`): a confirm page for `GET` (it changes nothing:
 * mail scanners and link previews open links), and the answer of its `POST`, which sends the event.
 * Browsers get small HTML pages; other callers JSON (errors in the API's error shape).
 */
import type { Context } from 'hono';
import type { Client } from '@temporalio/client';
import { type LinkClaims, type LinkRejection, verifyLink } from '../common/links';
import type { EventSignal } from '../shared/types';
import { fromRawPayload } from '../client/read';
import { ApiError, type ErrorCode, errorBody } from './errors';

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);

/** Whether the caller reads HTML (a browser): its `Accept` names `text/html`. */
export const wantsHtml = (c: Context): boolean => /\btext\/html\b/i.test(c.req.header('accept') ?? '');

/**
 * The page's headers: never cached or framed (a framed button could be clicked by a trick), no
 * referrer (the URL is the credential), nothing loaded, and the form posts only to this server.
 */
const PAGE_HEADERS = {
  'Content-Type': 'text/html; charset=utf-8',
  'Cache-Control': 'no-store',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Content-Security-Policy':
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
};

export function page(status: 200 | 403 | 404 | 409 | 429 | 500 | 503 | 504, title: string, body: string): Response {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;line-height:1.5}
dt{font-weight:600}dd{margin:0 0 .5rem;font-family:monospace;word-break:break-all}
button{font-size:1.1rem;padding:.5rem 1.5rem;cursor:pointer}</style></head>
<body><h1>${escapeHtml(title)}</h1>
${body}
</body></html>
`;
  return new Response(html, { status, headers: PAGE_HEADERS });
}

const details = (claims: LinkClaims): string =>
  `<dl><dt>Run</dt><dd>${escapeHtml(claims.runId)}</dd><dt>Event</dt><dd>${escapeHtml(claims.event)}</dd>${
    claims.data !== undefined ? `<dt>Data</dt><dd>${escapeHtml(JSON.stringify(claims.data))}</dd>` : ''
  }<dt>Link works until</dt><dd>${new Date(claims.expiresAt).toISOString()}</dd></dl>`;

/** The confirm page of `GET`: a form whose button posts to this same address. */
export const confirmPage = (claims: LinkClaims): Response =>
  page(
    200,
    `Send "${claims.event}"?`,
    `<p>Pressing the button sends the event <strong>${escapeHtml(claims.event)}</strong> to the run below. Opening this page did nothing.</p>
${details(claims)}
<form method="post"><button type="submit">Send ${escapeHtml(claims.event)}</button></form>`,
  );

/** The page after a `POST` that sent the event, or found it sent. */
export const sentPage = (claims: LinkClaims, duplicate: boolean): Response =>
  duplicate
    ? page(
        200,
        'Already recorded',
        `<p>This link was used before: the run already has its event. Nothing changed.</p>\n${details(claims)}`,
      )
    : page(
        200,
        'Sent',
        `<p>The run has the event <strong>${escapeHtml(claims.event)}</strong>.</p>\n${details(claims)}`,
      );

const REJECTIONS: Record<LinkRejection, string> = {
  malformed: 'this is not a link this server made',
  signature: 'this link was altered, or signed with another secret',
  expired: 'this link has expired',
};

/** Checks a link's token: a `403` naming why for a tampered, foreign or expired one. */
export function claimsOf(token: string, secret: string | undefined): LinkClaims {
  if (!secret)
    throw new ApiError(403, 'forbidden', 'approval links are not enabled on this server (DURABLE_RUNS_LINK_SECRET)');
  const verdict = verifyLink(token, secret);
  if (!verdict.ok) throw new ApiError(403, 'forbidden', REJECTIONS[verdict.reason]);
  return verdict.claims;
}

const TITLES: Partial<Record<ErrorCode, string>> = {
  forbidden: 'This link does not work',
  run_closed: 'The run is closed',
  not_found: 'No such run',
};

/** An error as the caller reads it: an HTML page for a browser, the API's error body for others. */
export function linkError(c: Context, err: ApiError): Response {
  if (!wantsHtml(c)) return c.json(errorBody(err.code, err.message), err.status);
  const status = err.status === 400 || err.status === 401 || err.status === 413 ? 500 : err.status;
  return page(status, TITLES[err.code] ?? 'Something went wrong', `<p>${escapeHtml(err.message)}.</p>`);
}

/**
 * Whether a closed run took the event with this `id` (a link used before it closed): its history
 * is read only then. Looks at the run's last execution (a run continued as new keeps earlier ones apart).
 */
export async function closedRunHadEvent(temporal: Client, runId: string, id: string): Promise<boolean> {
  const history = await temporal.workflow.getHandle(runId).fetchHistory();
  for (const event of history.events ?? []) {
    const update = event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input;
    const signal = event.workflowExecutionSignaledEventAttributes;
    const payload =
      update?.name === 'event'
        ? update.args?.payloads?.[0]
        : signal?.signalName === 'event'
          ? signal.input?.payloads?.[0]
          : undefined;
    if (!payload) continue;
    const sent = await fromRawPayload<EventSignal>(temporal, payload).catch(() => undefined);
    if (sent?.id === id) return true;
  }
  return false;
}
