/**
 * The routes of the HTTP API (contract v3, "Reaching runs from anywhere"), as data: each names its
 * method, path, request schemas and answers, which both the router (validation) and
 * `GET /openapi.json` read, and a handler that does its work through a `RunsClient`.
 */
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { ulid } from 'ulid';
import type { z } from 'zod';
import { RunNotFound, type RunsClient } from '../client';
import { firstInput } from '../client/read';
import type { RunStatus } from '../shared/types';
import { validateRunIdLookup } from '../shared/validate';
import { ApiError, apiErrorOf, errorBody } from './errors';
import { claimsOf, closedRunHadEvent, confirmPage, linkError, sentPage, wantsHtml } from './links';
import {
  ActionAnswer,
  CancelBody,
  EmptyBody,
  ErrorAnswer,
  EventAnswer,
  EventBody,
  ForkBody,
  HealthAnswer,
  LinkAnswer,
  LinkParams,
  ListAnswer,
  ListQuery,
  ResultQuery,
  ResumeBody,
  RunIdParams,
  RunOutcomeAnswer,
  RunStatusAnswer,
  SubmitAnswer,
  SubmitBody,
} from './schemas';
import { toWire } from './wire';

/** What a handler works with: the client, the caller's tenant (if its key has one) and the checked request. */
export interface RouteInput<P, Q, B> {
  client: RunsClient;
  tenant: string | undefined;
  /** The secret approval links are signed with (DURABLE_RUNS_LINK_SECRET); none: links get 403. */
  linkSecret: string | undefined;
  params: P;
  query: Q;
  body: B;
  c: Context;
}

export interface Answer {
  description: string;
  /** The JSON body's schema; a stream of Server-Sent Events with `sse`. */
  schema?: z.ZodType;
  sse?: boolean;
  /** An HTML page (for a browser; with `schema`, the JSON other callers get). */
  html?: boolean;
}

export interface Route<P = unknown, Q = unknown, B = unknown> {
  method: 'get' | 'post';
  /** OpenAPI form: `/v1/runs/{id}`. */
  path: string;
  summary: string;
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  /** Whether a request must have a body (else an empty one reads as `{}`). */
  bodyRequired?: boolean;
  /** Open to anyone, also where API keys are set. */
  public?: boolean;
  answers: Record<number, Answer>;
  handle(input: RouteInput<P, Q, B>): Promise<Response>;
}

const route = <P, Q, B>(spec: Route<P, Q, B>): Route => spec as unknown as Route;

const json = (c: Context, value: unknown, status: 200 | 201 | 202): Response => c.json(toWire(value) as object, status);

const errorAnswer = (description: string): Answer => ({ description, schema: ErrorAnswer });
const BAD = errorAnswer('the request is not valid: malformed JSON, a wrong type, an unknown field, a bad run ID');
const NOT_FOUND = errorAnswer('no such run (or one of another tenant)');

const CLOSED: ReadonlySet<string> = new Set(['succeeded', 'failed', 'cancelled']);

/**
 * Checks the run ID and that the caller may see the run: a key bound to a tenant sees only runs
 * whose `tenant` header is its own; any other run reads as not found, as an unknown one does.
 */
async function visibleRun(client: RunsClient, tenant: string | undefined, runId: string): Promise<void> {
  validateRunIdLookup(runId);
  if (tenant === undefined) return;
  const spec = await firstInput(client.temporal, runId);
  if (spec.headers.tenant !== tenant) throw new RunNotFound(runId);
}

/** Whether the caller's tenant may see a run it lists (its input is read: no search attribute holds the tenant yet). */
async function runMatches(client: RunsClient, runId: string, tenant?: string, runner?: string): Promise<boolean> {
  const spec = await firstInput(client.temporal, runId).catch(() => undefined);
  if (!spec) return false;
  return (tenant === undefined || spec.headers.tenant === tenant) && (runner === undefined || spec.runner === runner);
}

/** What a link says, for a caller that reads JSON. */
const linkView = (claims: { runId: string; event: string; data?: unknown; expiresAt: number }) => ({
  runId: claims.runId,
  event: claims.event,
  ...(claims.data !== undefined ? { data: claims.data } : {}),
  expiresAt: new Date(claims.expiresAt).toISOString(),
});

/** A run's status when an action did nothing: throws not found for an unknown run. */
const statusOf = (client: RunsClient, runId: string): Promise<RunStatus> => client.status(runId);

/** How far a listing may page (runs skipped plus runs read for one page). */
const MAX_LIST_DEPTH = 10_000;
/** How many runs one filtered page reads at most to fill itself. */
const MAX_FILTER_SCAN = 1000;

const encodeCursor = (skip: number) => Buffer.from(JSON.stringify({ skip })).toString('base64url');
function decodeCursor(cursor: string): number {
  try {
    const { skip } = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { skip?: unknown };
    if (typeof skip === 'number' && Number.isSafeInteger(skip) && skip >= 0) return skip;
  } catch {
    // falls through to the error
  }
  throw new ApiError(400, 'bad_request', 'query.cursor: not a cursor this API gave');
}

/** Last-Event-ID: the offset of the last chunk the reader got, a whole number. */
function parseLastEventId(header: string | undefined): number | undefined {
  if (header === undefined || header === '') return undefined;
  const offset = /^\d{1,15}$/.test(header) ? Number(header) : NaN;
  if (!Number.isSafeInteger(offset)) {
    throw new ApiError(
      400,
      'bad_request',
      `Last-Event-ID must be a stream offset (a whole number from 0), got ${JSON.stringify(header.slice(0, 40))}`,
    );
  }
  return offset;
}

/** A link route's work, its errors answered as a page for a browser. */
async function asLinkPage(c: Context, work: () => Promise<Response>): Promise<Response> {
  try {
    return await work();
  } catch (err) {
    const known = apiErrorOf(err);
    if (!known) throw err;
    return linkError(c, known);
  }
}

const LINK_FORBIDDEN: Answer = {
  description: 'the link was altered, is expired, or this server has no DURABLE_RUNS_LINK_SECRET',
  schema: ErrorAnswer,
  html: true,
};

/** How often an idle stream sends a comment, so that proxies keep the connection. */
const SSE_KEEPALIVE_MS = 15_000;

export const ROUTES: readonly Route[] = [
  route({
    method: 'get',
    path: '/healthz',
    summary: 'liveness of this server',
    public: true,
    answers: { 200: { description: 'the server answers', schema: HealthAnswer } },
    handle: async ({ c }) => json(c, { status: 'ok' }, 200),
  }),
  route({
    method: 'post',
    path: '/v1/runs',
    summary: 'submit a run (idempotent by runId)',
    body: SubmitBody,
    bodyRequired: true,
    answers: {
      201: { description: 'the run was started', schema: SubmitAnswer },
      200: { description: 'the same run (same input and headers) was submitted before', schema: SubmitAnswer },
      400: BAD,
      401: errorAnswer('no key, or a wrong one'),
      409: errorAnswer('the run ID exists with another input or headers'),
      413: errorAnswer('the body is over 1 MiB'),
    },
    handle: async ({ client, tenant, body, c }) => {
      const { startDelay, ...spec } = body;
      const headers = { ...(spec.headers ?? {}) };
      if (tenant !== undefined) {
        if (headers.tenant !== undefined && headers.tenant !== tenant) {
          throw new ApiError(400, 'bad_request', 'body.headers.tenant: set by the API key, and this is another tenant');
        }
        headers.tenant = tenant;
      }
      const submission = await client.submit({
        ...spec,
        headers,
        ...(startDelay !== undefined ? { startDelay } : {}),
      });
      const answer = { runId: submission.runId, newlySubmitted: submission.newlySubmitted };
      return json(c, answer, submission.newlySubmitted ? 201 : 200);
    },
  }),
  route({
    method: 'get',
    path: '/v1/runs',
    summary: 'list runs, newest first',
    query: ListQuery,
    answers: {
      200: { description: 'a page of runs', schema: ListAnswer },
      400: BAD,
      401: errorAnswer('no key, or a wrong one'),
    },
    handle: async ({ client, tenant, query, c }) => {
      const limit = query.limit ?? 100;
      const skip = query.cursor === undefined ? 0 : decodeCursor(query.cursor);
      const filtered = tenant !== undefined || query.runner !== undefined;
      const scan = filtered ? MAX_FILTER_SCAN : limit;
      if (skip + scan > MAX_LIST_DEPTH) {
        throw new ApiError(400, 'bad_request', `query.cursor: a listing pages at most ${MAX_LIST_DEPTH} runs deep`);
      }
      const listed = await client.list({
        ...(query.state ? { state: query.state } : {}),
        ...(query.parent !== undefined ? { parent: query.parent } : {}),
        limit: skip + scan + 1,
      });
      const rows = listed.slice(skip);
      const runs = [];
      let read = 0;
      while (runs.length < limit && read < Math.min(rows.length, scan)) {
        const batch = rows.slice(read, Math.min(read + (filtered ? 16 : limit), scan, rows.length));
        const keep = filtered
          ? await Promise.all(batch.map((row) => runMatches(client, row.runId, tenant, query.runner)))
          : batch.map(() => true);
        for (const [i, row] of batch.entries()) {
          read += 1;
          if (!keep[i]) continue;
          runs.push(row);
          if (runs.length >= limit) break;
        }
      }
      const more = read < rows.length;
      return json(c, { runs, ...(more ? { nextCursor: encodeCursor(skip + read) } : {}) }, 200);
    },
  }),
  route({
    method: 'get',
    path: '/v1/runs/{id}',
    summary: "a run's status",
    params: RunIdParams,
    answers: { 200: { description: 'where the run stands', schema: RunStatusAnswer }, 400: BAD, 404: NOT_FOUND },
    handle: async ({ client, tenant, params, c }) => {
      await visibleRun(client, tenant, params.id);
      return json(c, await client.status(params.id), 200);
    },
  }),
  route({
    method: 'get',
    path: '/v1/runs/{id}/result',
    summary: "a run's outcome, waiting up to `wait` seconds for it to close",
    params: RunIdParams,
    query: ResultQuery,
    answers: {
      200: { description: 'the run closed: its outcome', schema: RunOutcomeAnswer },
      202: { description: 'the run is still open: its status', schema: RunStatusAnswer },
      400: BAD,
      404: NOT_FOUND,
    },
    handle: async ({ client, tenant, params, query, c }) => {
      await visibleRun(client, tenant, params.id);
      const status = await client.status(params.id);
      if (CLOSED.has(status.state)) return json(c, await client.result(params.id), 200);
      const waitMs = (query.wait ?? 0) * 1000;
      if (waitMs > 0) {
        const abort = new AbortController();
        const timer = setTimeout(() => abort.abort(), waitMs);
        const onGone = () => abort.abort();
        c.req.raw.signal.addEventListener('abort', onGone);
        try {
          const outcome = await client.temporal.withAbortSignal(abort.signal, () => client.result(params.id));
          return json(c, outcome, 200);
        } catch (err) {
          if (!abort.signal.aborted) throw err;
        } finally {
          clearTimeout(timer);
          c.req.raw.signal.removeEventListener('abort', onGone);
        }
      }
      return json(c, await client.status(params.id), 202);
    },
  }),
  route({
    method: 'post',
    path: '/v1/runs/{id}/events',
    summary: 'send a run an event',
    params: RunIdParams,
    body: EventBody,
    bodyRequired: true,
    answers: {
      202: { description: 'the run has the event (`duplicate`: it had one with this id already)', schema: EventAnswer },
      400: BAD,
      404: NOT_FOUND,
      409: errorAnswer('the run is closed or closing'),
      413: errorAnswer('the body is over 1 MiB'),
      429: errorAnswer("the run's inbox is full: it keeps its limit of unconsumed events"),
      504: errorAnswer(
        'no worker answered for the run in time; send again with the same id to learn whether it took it',
      ),
    },
    handle: async ({ client, tenant, params, body, c }) => {
      await visibleRun(client, tenant, params.id);
      const id = body.id ?? ulid();
      const answer = await client.deliverEvent(params.id, body.name, body.data, { id });
      if (answer === 'not-running') {
        const status = await statusOf(client, params.id);
        throw new ApiError(409, 'run_closed', `run ${params.id} is closed (${status.state}): it takes no events`);
      }
      return json(c, { runId: params.id, id, duplicate: answer === 'duplicate' }, 202);
    },
  }),
  route({
    method: 'post',
    path: '/v1/runs/{id}/cancel',
    summary: 'cancel a running run',
    params: RunIdParams,
    body: CancelBody,
    answers: {
      202: { description: 'the run is cancelling', schema: ActionAnswer },
      400: BAD,
      404: NOT_FOUND,
      409: errorAnswer('the run is closed'),
    },
    handle: async ({ client, tenant, params, body, c }) => {
      await visibleRun(client, tenant, params.id);
      if (!(await client.cancel(params.id, body.reason))) {
        const status = await statusOf(client, params.id);
        throw new ApiError(409, 'run_closed', `run ${params.id} is closed (${status.state}): nothing to cancel`);
      }
      return json(c, { runId: params.id, cancelling: true }, 202);
    },
  }),
  route({
    method: 'post',
    path: '/v1/runs/{id}/retry',
    summary: 'run a failed run again from the step that ended it',
    params: RunIdParams,
    body: EmptyBody,
    answers: {
      202: { description: 'the run runs again from `step`', schema: ActionAnswer },
      400: BAD,
      404: NOT_FOUND,
      409: errorAnswer('the run did not fail, or has no step to go back to'),
    },
    handle: async ({ client, tenant, params, c }) => {
      await visibleRun(client, tenant, params.id);
      const answer = await client.retryRun(params.id);
      if (!answer.retried) {
        await statusOf(client, params.id);
        throw new ApiError(409, 'conflict', answer.reason);
      }
      return json(c, { runId: params.id, step: answer.step }, 202);
    },
  }),
  route({
    method: 'post',
    path: '/v1/runs/{id}/resume',
    summary: "run a parked run's step again from attempt 1",
    params: RunIdParams,
    body: ResumeBody,
    answers: {
      202: { description: 'the parked step runs again', schema: ActionAnswer },
      400: BAD,
      404: NOT_FOUND,
      409: errorAnswer('the run is not parked'),
    },
    handle: async ({ client, tenant, params, body, c }) => {
      await visibleRun(client, tenant, params.id);
      const answer = await client.resumeRun(params.id, {
        ...(Object.hasOwn(body, 'payload') ? { payload: body.payload } : {}),
        ...(body.maxCostUsd !== undefined ? { maxCostUsd: body.maxCostUsd } : {}),
        ...(body.maxTokens !== undefined ? { maxTokens: body.maxTokens } : {}),
      });
      if (!answer.resumed) {
        await statusOf(client, params.id);
        throw new ApiError(409, 'conflict', answer.reason);
      }
      return json(c, { runId: params.id, step: answer.step }, 202);
    },
  }),
  route({
    method: 'post',
    path: '/v1/runs/{id}/fork',
    summary: 'a new run from step `fromStep` of this one',
    params: RunIdParams,
    body: ForkBody,
    bodyRequired: true,
    answers: {
      201: { description: "the fork's run ID", schema: ActionAnswer },
      400: BAD,
      404: NOT_FOUND,
    },
    handle: async ({ client, tenant, params, body, c }) => {
      await visibleRun(client, tenant, params.id);
      const fork = await client.fork(params.id, {
        fromStep: body.fromStep,
        ...(Object.hasOwn(body, 'payload') ? { payload: body.payload } : {}),
        ...(body.runId !== undefined ? { runId: body.runId } : {}),
      });
      return json(c, fork, 201);
    },
  }),
  route({
    method: 'get',
    path: '/v1/runs/{id}/stream',
    summary:
      "the run's live stream as Server-Sent Events: `chunk` (id = offset), `retract`, `gap`, then `closed` with the outcome; `Last-Event-ID` resumes after that offset",
    params: RunIdParams,
    answers: {
      200: { description: 'a stream of Server-Sent Events', sse: true },
      400: errorAnswer('a bad run ID, or a Last-Event-ID that is not an offset'),
      404: NOT_FOUND,
    },
    handle: async ({ client, tenant, params, c }) => {
      const from = parseLastEventId(c.req.header('last-event-id'));
      await visibleRun(client, tenant, params.id);
      await client.status(params.id);
      return streamSSE(c, async (sse) => {
        const abort = new AbortController();
        sse.onAbort(() => abort.abort());
        const keepalive = setInterval(() => void sse.write(': keepalive\n\n'), SSE_KEEPALIVE_MS);
        try {
          for await (const event of client.stream(params.id, {
            signal: abort.signal,
            ...(from !== undefined ? { from } : {}),
          })) {
            await sse.writeSSE({
              event: event.type,
              data: JSON.stringify(toWire(event)),
              ...(event.type === 'chunk' ? { id: String(event.offset) } : {}),
            });
          }
        } catch (err) {
          const known = apiErrorOf(err);
          if (!known) console.error(`durable-runs serve: stream of ${params.id}:`, err);
          const body = known ? errorBody(known.code, known.message) : errorBody('internal', 'internal error');
          if (!abort.signal.aborted) await sse.writeSSE({ event: 'error', data: JSON.stringify(body) });
        } finally {
          clearInterval(keepalive);
        }
      });
    },
  }),
  route({
    method: 'get',
    path: '/v1/links/{token}',
    summary:
      "an approval link's confirm page (from `step.eventUrl`): it changes nothing, its button POSTs to the same address; no API key",
    params: LinkParams,
    public: true,
    answers: {
      200: { description: 'the confirm page: the run, the event, a button', html: true },
      403: LINK_FORBIDDEN,
    },
    handle: async ({ linkSecret, params, c }) =>
      asLinkPage(c, async () => {
        const claims = claimsOf(params.token, linkSecret);
        return wantsHtml(c) ? confirmPage(claims) : c.json(toWire(linkView(claims)) as object, 200);
      }),
  }),
  route({
    method: 'post',
    path: '/v1/links/{token}',
    summary:
      "use an approval link: sends its run its event, with the link's nonce as the event `id` (a second use changes nothing); no API key",
    params: LinkParams,
    public: true,
    answers: {
      200: {
        description: 'the run has the event (`duplicate`: the link was used before)',
        schema: LinkAnswer,
        html: true,
      },
      403: LINK_FORBIDDEN,
      404: { ...NOT_FOUND, html: true },
      409: { ...errorAnswer('the run is closed: it takes no events'), html: true },
      429: { ...errorAnswer("the run's inbox is full"), html: true },
      503: { ...errorAnswer('Temporal did not answer (unavailable or busy): press again shortly'), html: true },
      504: { ...errorAnswer('no worker answered for the run in time; press again'), html: true },
    },
    handle: async ({ client, linkSecret, params, c }) =>
      asLinkPage(c, async () => {
        const claims = claimsOf(params.token, linkSecret);
        const answer = await client.deliverEvent(claims.runId, claims.event, claims.data, { id: claims.nonce });
        let duplicate = answer === 'duplicate';
        if (answer === 'not-running') {
          const status = await statusOf(client, claims.runId);
          // The run took this link's event and closed since: the link was used.
          duplicate = await closedRunHadEvent(client.temporal, claims.runId, claims.nonce);
          if (!duplicate) {
            throw new ApiError(
              409,
              'run_closed',
              `run ${claims.runId} is closed (${status.state}): it takes no events`,
            );
          }
        }
        return wantsHtml(c)
          ? sentPage(claims, duplicate)
          : c.json(toWire({ ...linkView(claims), id: claims.nonce, duplicate }) as object, 200);
      }),
  }),
];
