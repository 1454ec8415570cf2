/**
 * The HTTP API as a Hono app: stateless (it holds a `RunsClient` and the API keys, nothing of any
 * run), so any number of servers answer for the same runs. Each request is checked against its
 * route's zod schemas; every error is `{ "error": { "code", "message" } }`, never a stack trace.
 */
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { HTTPException } from 'hono/http-exception';
import type { z } from 'zod';
import type { RunsClient } from '../client';
import { ApiError, apiErrorOf, errorBody } from './errors';
import { type ApiKey, keyOf } from './keys';
import { openApiDocument } from './openapi';
import { ROUTES, type Route } from './routes';

/** Bodies larger than this get 413. */
export const MAX_BODY_BYTES = 1024 * 1024;

export interface HttpApiOptions {
  client: RunsClient;
  /** Without keys, every request is let in (the server then listens on loopback only). */
  keys?: readonly ApiKey[];
  /** The one origin browsers may call from (CORS); none by default. */
  corsOrigin?: string;
  /** The API's version in the OpenAPI document. */
  version?: string;
  /** DURABLE_RUNS_LINK_SECRET: approval links verify with it (without it they get 403). */
  linkSecret?: string;
}

type Env = { Variables: { tenant: string | undefined } };

/** `what: message` for each zod issue, naming the field (`body.input`, `query.limit`). */
function describeIssues(where: string, error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = [where, ...issue.path.map(String)].join('.');
      if (issue.code === 'unrecognized_keys') {
        return `${path}: unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
      }
      return `${path}: ${issue.message}`;
    })
    .join('; ');
}

function check<T>(where: string, schema: z.ZodType<T> | undefined, value: unknown): T {
  if (!schema) return undefined as T;
  const result = schema.safeParse(value);
  if (!result.success) throw new ApiError(400, 'bad_request', describeIssues(where, result.error));
  return result.data;
}

async function readBody(c: Context, route: Route): Promise<unknown> {
  if (!route.body) return undefined;
  const text = await c.req.text();
  if (text.trim() === '') {
    if (route.bodyRequired) throw new ApiError(400, 'bad_request', 'body: a JSON object is required');
    return {};
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ApiError(400, 'bad_request', `body: malformed JSON (${(err as Error).message})`);
  }
}

function sendError(c: Context, err: unknown): Response {
  const known = apiErrorOf(err);
  if (known) return c.json(errorBody(known.code, known.message), known.status);
  if (err instanceof HTTPException && err.status < 500) {
    return c.json(errorBody('bad_request', err.message || 'bad request'), 400);
  }
  console.error(`durable-runs serve: ${c.req.method} ${c.req.path}:`, err);
  return c.json(errorBody('internal', 'internal error; the server log has the details'), 500);
}

export function createHttpApi(options: HttpApiOptions): Hono<Env> {
  const { client, keys = [], corsOrigin } = options;
  const app = new Hono<Env>();
  const document = openApiDocument(ROUTES, { auth: keys.length > 0, version: options.version ?? '0.0.0' });

  app.onError((err, c) => sendError(c, err));
  app.notFound((c) => c.json(errorBody('not_found', `no route ${c.req.method} ${c.req.path}`), 404));
  if (corsOrigin) {
    app.use(
      '*',
      cors({
        origin: corsOrigin,
        allowHeaders: ['Authorization', 'Content-Type', 'Last-Event-ID'],
        allowMethods: ['GET', 'POST'],
        maxAge: 600,
      }),
    );
  }
  app.use(
    '*',
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      // The rest of the body is not read: the connection cannot carry another request.
      onError: (c) =>
        c.json(errorBody('payload_too_large', `the body is over ${MAX_BODY_BYTES} bytes (1 MiB)`), 413, {
          Connection: 'close',
        }),
    }),
  );
  app.get('/openapi.json', (c) => c.json(document));

  for (const route of ROUTES) {
    const honoPath = route.path.replace(/\{(\w+)\}/g, ':$1');
    app.on(route.method.toUpperCase(), honoPath, async (c) => {
      let tenant: string | undefined;
      if (keys.length > 0 && !route.public) {
        const key = keyOf(keys, c.req.header('authorization'));
        if (!key) throw new ApiError(401, 'unauthorized', 'an API key is required: Authorization: Bearer <secret>');
        tenant = key.tenant;
      }
      const params = check('path', route.params, c.req.param());
      const query = check('query', route.query, c.req.query());
      const body = check('body', route.body, await readBody(c, route));
      return route.handle({ client, tenant, linkSecret: options.linkSecret, params, query, body, c });
    });
  }
  return app;
}
