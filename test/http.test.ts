/**
 * The HTTP API (contract v3, "Reaching runs from anywhere") through real `durable-runs serve`
 * processes on loopback, a dev server and a worker: every route and status code, bad input, API
 * keys and tenant isolation, the OpenAPI document checked by a 3.1 validator (and every route it
 * documents answering), a Python client with only urllib, and two servers answering for one run.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020';
import { StepError, StepOutcome, type StepRunner } from '../src';
import { createTestKit, type TestKit } from '../src/testing';
import { eventually } from '../support/wait';
import { startGrpcFaultProxy } from './helpers/grpc-fault-proxy';
import { BIN, type ServeProcess, serveEnv, startServe } from './helpers/serve';

const exec = promisify(execFile);

/** Runs that retry has been asked for (their step then succeeds). */
const retried = new Set<string>();

const runners: Record<string, StepRunner> = {
  /** Waits for `approve`, then succeeds with who approved. */
  approval: async (step) =>
    step.stepNumber === 0
      ? StepOutcome.waitForEvent(null, { events: 'approve' })
      : StepOutcome.succeed({ approvedBy: step.event?.data }),
  /** Waits for an event that never comes: events pile up in its inbox. */
  waitsForever: async () => StepOutcome.waitForEvent(null, { events: 'never' }),
  /** Fails until it was retried. */
  failsUntilRetried: async (step) =>
    retried.has(step.runId) ? StepOutcome.succeed('second time') : StepOutcome.fail('the model was down'),
  /** Parks (submitted with onExhausted: park) until resumed with `{ fixed: true }`. */
  parks: async (step) => {
    if ((step.payload as { fixed?: boolean }).fixed) return StepOutcome.succeed('fixed');
    throw StepError.permanent('needs a human');
  },
  /** Step 0 streams five chunks and waits for `go`; step 1 streams two and succeeds. */
  chatty: async (step) => {
    if (step.stepNumber === 0) {
      for (let i = 0; i < 5; i++) step.stream(`a${i}`);
      return StepOutcome.waitForEvent(null, { events: 'go' });
    }
    for (let i = 0; i < 2; i++) step.stream(`b${i}`);
    return StepOutcome.succeed('streamed');
  },
  /** Starts two child runs and succeeds with their states. */
  family: async (step) =>
    step.stepNumber === 0
      ? StepOutcome.runChildren(null, [{ input: 'a' }, { input: 'b' }])
      : StepOutcome.succeed(step.children!.map((c) => c.status)),
  default: async (step) => StepOutcome.succeed(step.payload),
};

const KEYS = 'acme:secret-acme-0123456789:acme,globex:secret-globex-0123456789:globex,ops:secret-ops-0123456789';
const ACME = 'secret-acme-0123456789';
const GLOBEX = 'secret-globex-0123456789';
const OPS = 'secret-ops-0123456789';

let kit: TestKit;
const servers: ServeProcess[] = [];
/** Two servers without keys (one with CORS for one origin), and one with keys. */
let open: string;
let open2: string;
let keyed: string;

async function serve(args: string[] = [], env: Record<string, string> = {}): Promise<string> {
  const server = await startServe(kit, args, env);
  servers.push(server);
  return server.url;
}

before(async () => {
  kit = await createTestKit({ runners, server: 'local', encryptionKeys: false });
  [open, open2, keyed] = await Promise.all([
    serve(['--cors-origin', 'http://app.example']),
    serve(),
    serve([], { DURABLE_RUNS_API_KEYS: KEYS }),
  ]);
  await loadDocument();
});

/** The OpenAPI document's routes: each answer `call` gets must be one its route documents, in its shape. */
let documentedRoutes: { method: string; path: RegExp; template: string; responses: Record<string, unknown> }[] = [];
const ajv = new Ajv2020({ strict: false, allErrors: true });
const responseSchemas = new Map<string, ValidateFunction>();

/** Reads the served OpenAPI document's routes. */
async function loadDocument(): Promise<void> {
  const doc = (await (await fetch(`${open}/openapi.json`)).json()) as {
    paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
  };
  documentedRoutes = Object.entries(doc.paths).flatMap(([template, ops]) =>
    Object.entries(ops).map(([method, op]) => ({
      method: method.toUpperCase(),
      template,
      path: new RegExp(`^${template.replace(/\{\w+\}/g, '[^/]+')}$`),
      responses: op.responses,
    })),
  );
}

/** Asserts that `status` and `body` are what the OpenAPI document says this route answers. */
function conformsToDocument(method: string, url: string, status: number, body: unknown): void {
  const path = url.split('?')[0]!;
  const route = documentedRoutes.find((r) => r.method === method && r.path.test(path));
  if (!route) return; // not a documented route (a 404 for an unknown path, openapi.json itself)
  const key = `${method} ${route.template} ${status}`;
  const answer = route.responses[String(status)] as
    { content?: { 'application/json'?: { schema?: Record<string, unknown> } } } | undefined;
  assert.ok(answer, `${key}: the document lists no ${status} for this route`);
  const schema = answer.content?.['application/json']?.schema;
  assert.ok(schema, `${key}: the document gives no JSON body for this answer`);
  let validate = responseSchemas.get(key);
  if (!validate) responseSchemas.set(key, (validate = ajv.compile(schema)));
  assert.ok(
    validate(body),
    `${key}: body ${JSON.stringify(body)} is not as documented: ${ajv.errorsText(validate.errors)}`,
  );
}

after(async () => {
  await Promise.all(servers.map((server) => server.stop()));
  await kit?.teardown();
});

interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

/** A request; every error answer must be `{ error: { code, message } }` and nothing more. */
async function call<T = Record<string, unknown>>(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; raw?: string; key?: string; headers?: Record<string, string> } = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key) headers.authorization = `Bearer ${options.key}`;
  let body: string | undefined = options.raw;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] = 'application/json';
  }
  const response = await fetch(`${base}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await response.text();
  const parsed = JSON.parse(text) as T;
  if (response.status >= 400) {
    const error = (parsed as { error?: { code?: unknown; message?: unknown } }).error;
    assert.deepEqual(Object.keys(parsed as object), ['error'], text);
    assert.deepEqual(Object.keys(error!).sort(), ['code', 'message'], text);
    assert.equal(typeof error!.code, 'string');
    assert.doesNotMatch(String(error!.message), /\n\s+at /, 'no stack trace');
  }
  if (documentedRoutes.length > 0) conformsToDocument(method, path, response.status, parsed);
  return { status: response.status, body: parsed, headers: response.headers };
}

const errorOf = (answer: Answer) => (answer.body as { error: { code: string; message: string } }).error;

async function waitForState(base: string, runId: string, state: string, key?: string): Promise<void> {
  await eventually(
    async () => (await call(base, 'GET', `/v1/runs/${runId}`, key ? { key } : {})).body.state === state,
    30_000,
    `${runId} is ${state}`,
  );
}

test('healthz, and openapi.json is valid OpenAPI 3.1 whose every route answers as documented', async () => {
  assert.deepEqual((await call(open, 'GET', '/healthz')).body, { status: 'ok' });
  const doc = (await call(open, 'GET', '/openapi.json')).body as {
    openapi: string;
    paths: Record<string, Record<string, { responses: Record<string, unknown>; requestBody?: unknown }>>;
  };
  assert.equal(doc.openapi, '3.1.0');
  const { Validator } = await import('@seriousme/openapi-schema-validator');
  const validator = new Validator();
  const verdict = await validator.validate(doc as unknown as Parameters<typeof validator.validate>[0]);
  assert.deepEqual(verdict, { valid: true });
  assert.equal(validator.version, '3.1');
  const expected = [
    'get /healthz',
    'get /v1/runs',
    'post /v1/runs',
    'get /v1/runs/{id}',
    'get /v1/runs/{id}/result',
    'post /v1/runs/{id}/events',
    'post /v1/runs/{id}/cancel',
    'post /v1/runs/{id}/retry',
    'post /v1/runs/{id}/resume',
    'post /v1/runs/{id}/fork',
    'get /v1/runs/{id}/stream',
    'get /v1/links/{token}',
    'post /v1/links/{token}',
  ];
  const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`));
  assert.deepEqual(documented.sort(), expected.sort());
  // Every documented route answers with a status it documents: for an unknown run, 404 (or 400
  // for a body it needs), the others 200.
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const answer = await call(open, method.toUpperCase(), path.replace('{id}', 'no-such-run'), {
        ...(method === 'post' ? { body: {} } : {}),
      });
      assert.ok(Object.hasOwn(op.responses, String(answer.status)), `${method} ${path} answered ${answer.status}`);
    }
  }
  // A route that is not there is a 404 in the same shape.
  assert.equal(errorOf(await call(open, 'GET', '/v2/nothing')).code, 'not_found');
});

test('submit: 201, 200 for the same run again, 409 for another input under its ID', async () => {
  const spec = { input: { order: 'A-1' }, runner: 'approval', runId: 'http-submit-1', headers: { team: 'x' } };
  const first = await call(open, 'POST', '/v1/runs', { body: spec });
  assert.equal(first.status, 201);
  assert.deepEqual(first.body, { runId: 'http-submit-1', newlySubmitted: true });
  const again = await call(open, 'POST', '/v1/runs', { body: spec });
  assert.equal(again.status, 200);
  assert.deepEqual(again.body, { runId: 'http-submit-1', newlySubmitted: false });
  const other = await call(open, 'POST', '/v1/runs', { body: { ...spec, input: { order: 'A-2' } } });
  assert.equal(other.status, 409);
  assert.deepEqual(errorOf(other), {
    code: 'input_mismatch',
    message: 'run http-submit-1 already exists with a different input or headers',
  });
  // No run ID: a new ULID.
  const fresh = await call<{ runId: string }>(open, 'POST', '/v1/runs', { body: { input: 'hi' } });
  assert.equal(fresh.status, 201);
  assert.match(fresh.body.runId, /^[0-9A-HJKMNP-TV-Z]{26}$/);
  assert.equal((await call(open, 'GET', `/v1/runs/${fresh.body.runId}/result?wait=30`)).body.result, 'hi');
});

test('bad input: 400 naming what was wrong, 413 over 1 MiB, never a stack trace', async () => {
  const bad = async (init: Parameters<typeof call>[3], path = '/v1/runs', method = 'POST') => {
    const answer = await call(open, method, path, init);
    assert.equal(answer.status, 400, JSON.stringify(answer.body));
    assert.equal(errorOf(answer).code, 'bad_request');
    return errorOf(answer).message;
  };
  assert.match(
    await bad({ raw: '{"input": 1,', headers: { 'content-type': 'application/json' } }),
    /^body: malformed JSON/,
  );
  assert.equal(
    await bad({ body: { input: 1, runner: 7 } }),
    'body.runner: Invalid input: expected string, received number',
  );
  assert.equal(await bad({ body: { input: 1, colour: 'red' } }), 'body: unknown field "colour"');
  assert.equal(await bad({ body: { runner: 'approval' } }), 'body.input: required');
  assert.equal(await bad({ body: [1] }), 'body: Invalid input: expected object, received array');
  assert.equal(await bad({}), 'body: a JSON object is required');
  assert.match(await bad({ body: { input: 1, runId: 'not a run id' } }), /^invalid run ID "not a run id"/);
  assert.equal(await bad({ body: { input: 1, priority: 9 } }), 'body.priority: Too big: expected number to be <=5');
  // Budgets (issue 25): positive numbers, tokens whole.
  assert.equal(
    await bad({ body: { input: 1, maxCostUsd: -1 } }),
    'body.maxCostUsd: Too small: expected number to be >0',
  );
  assert.equal(
    await bad({ body: { input: 1, maxTokens: 1.5 } }),
    'body.maxTokens: Invalid input: expected int, received number',
  );
  assert.equal(
    await bad({ body: { maxCostUsd: 'lots' } }, '/v1/runs/some-run/resume'),
    'body.maxCostUsd: Invalid input: expected number, received string',
  );
  // Lookups: a run ID Temporal cannot hold.
  assert.match(await bad({}, `/v1/runs/${'x'.repeat(1001)}`, 'GET'), /^invalid run ID "x{40}…" \(1001 bytes\)/);
  assert.equal(
    await bad({}, '/v1/runs/x/result?wait=soon', 'GET'),
    'query.wait: Invalid input: expected number, received NaN',
  );
  assert.equal(await bad({}, '/v1/runs?state=lost', 'GET').then((m) => m.startsWith('query.state:')), true);
  assert.equal(await bad({}, '/v1/runs?colour=red', 'GET'), 'query: unknown field "colour"');
  assert.equal(await bad({ body: { name: 'go', when: 'now' } }, '/v1/runs/x/events'), 'body: unknown field "when"');
  assert.equal(
    await bad({ body: { fromStep: 'one' } }, '/v1/runs/x/fork'),
    'body.fromStep: Invalid input: expected number, received string',
  );
  const big = await call(open, 'POST', '/v1/runs', { body: { input: 'x'.repeat(1024 * 1024) } });
  assert.equal(big.status, 413);
  assert.equal(errorOf(big).code, 'payload_too_large');
  // The server is still there.
  assert.equal((await call(open, 'GET', '/healthz')).status, 200);
});

test('status, result with wait, events: 202, duplicate, 404, 409 closed', async () => {
  const runId = 'http-events-1';
  assert.equal(
    (await call(open, 'POST', '/v1/runs', { body: { input: null, runner: 'approval', runId } })).status,
    201,
  );
  await waitForState(open, runId, 'waiting');
  const status = await call(open, 'GET', `/v1/runs/${runId}`);
  assert.equal(status.status, 200);
  assert.deepEqual(status.body.waitingFor, ['approve']);
  assert.equal((await call(open, 'GET', '/v1/runs/no-such-run')).status, 404);
  // Still open: 202 with the status, at once and after waiting a second.
  const open0 = await call(open, 'GET', `/v1/runs/${runId}/result`);
  assert.equal(open0.status, 202);
  assert.equal(open0.body.state, 'waiting');
  const started = Date.now();
  const open1 = await call(open, 'GET', `/v1/runs/${runId}/result?wait=1`);
  assert.equal(open1.status, 202);
  assert.ok(Date.now() - started >= 900, 'waited about a second');
  // The result waits for the event it is sent meanwhile.
  const result = call(open, 'GET', `/v1/runs/${runId}/result?wait=30`);
  const sent = await call(open, 'POST', `/v1/runs/${runId}/events`, {
    body: { name: 'approve', data: 'ana', id: 'e-1' },
  });
  assert.equal(sent.status, 202);
  assert.deepEqual(sent.body, { runId, id: 'e-1', duplicate: false });
  const outcome = await result;
  assert.equal(outcome.status, 200);
  assert.equal(outcome.body.status, 'succeeded');
  assert.deepEqual(outcome.body.result, { approvedBy: 'ana' });
  // Closed: the same event again changes nothing (409, the run takes none); an unknown run is 404.
  const late = await call(open, 'POST', `/v1/runs/${runId}/events`, { body: { name: 'approve', id: 'e-2' } });
  assert.equal(late.status, 409);
  assert.deepEqual(errorOf(late), {
    code: 'run_closed',
    message: `run ${runId} is closed (succeeded): it takes no events`,
  });
  assert.equal((await call(open, 'POST', '/v1/runs/no-such-run/events', { body: { name: 'approve' } })).status, 404);
  assert.equal((await call(open, 'GET', `/v1/runs/${runId}/result`)).status, 200);
});

test('events: a duplicate id is 202 duplicate; a full inbox is 429', async () => {
  const runId = 'http-inbox-1';
  await call(open, 'POST', '/v1/runs', { body: { input: null, runner: 'waitsForever', runId } });
  await waitForState(open, runId, 'waiting');
  const data = 'd'.repeat(200 * 1024);
  const send = (id: string) => call(open, 'POST', `/v1/runs/${runId}/events`, { body: { name: 'extra', data, id } });
  assert.equal((await send('x-1')).status, 202);
  const duplicate = await send('x-1');
  assert.equal(duplicate.status, 202);
  assert.equal(duplicate.body.duplicate, true);
  assert.equal((await send('x-2')).status, 202);
  const full = await send('x-3');
  assert.equal(full.status, 429);
  assert.equal(errorOf(full).code, 'inbox_full');
  assert.match(errorOf(full).message, /refused event "extra".*unconsumed events would take more than/);
  assert.equal((await call(open, 'POST', `/v1/runs/${runId}/cancel`, { body: { reason: 'done' } })).status, 202);
});

test('cancel, retry, resume, fork: what each does, 404, 409', async () => {
  // cancel
  const waiting = 'http-cancel-1';
  await call(open, 'POST', '/v1/runs', { body: { input: null, runner: 'waitsForever', runId: waiting } });
  await waitForState(open, waiting, 'waiting');
  const cancelled = await call(open, 'POST', `/v1/runs/${waiting}/cancel`, { body: { reason: 'no longer needed' } });
  assert.equal(cancelled.status, 202);
  const outcome = await call(open, 'GET', `/v1/runs/${waiting}/result?wait=30`);
  assert.equal(outcome.body.status, 'cancelled');
  assert.equal(outcome.body.error, 'no longer needed');
  assert.equal((await call(open, 'POST', `/v1/runs/${waiting}/cancel`)).status, 409);
  assert.equal((await call(open, 'POST', '/v1/runs/no-such-run/cancel')).status, 404);

  // retry
  const failing = 'http-retry-1';
  await call(open, 'POST', '/v1/runs', { body: { input: null, runner: 'failsUntilRetried', runId: failing } });
  assert.equal((await call(open, 'GET', `/v1/runs/${failing}/result?wait=30`)).body.status, 'failed');
  retried.add(failing);
  const retry = await call(open, 'POST', `/v1/runs/${failing}/retry`);
  assert.equal(retry.status, 202);
  assert.deepEqual(retry.body, { runId: failing, step: 0 });
  await eventually(async () => (await call(open, 'GET', `/v1/runs/${failing}/result`)).body.result === 'second time');
  const again = await call(open, 'POST', `/v1/runs/${failing}/retry`);
  assert.equal(again.status, 409);
  assert.match(errorOf(again).message, /only a failed run can be retried/);
  assert.equal((await call(open, 'POST', '/v1/runs/no-such-run/retry')).status, 404);

  // resume
  const parked = 'http-park-1';
  await call(open, 'POST', '/v1/runs', { body: { input: {}, runner: 'parks', runId: parked, onExhausted: 'park' } });
  await waitForState(open, parked, 'parked');
  const resumed = await call(open, 'POST', `/v1/runs/${parked}/resume`, { body: { payload: { fixed: true } } });
  assert.equal(resumed.status, 202);
  assert.deepEqual(resumed.body, { runId: parked, step: 0 });
  assert.equal((await call(open, 'GET', `/v1/runs/${parked}/result?wait=30`)).body.result, 'fixed');
  const notParked = await call(open, 'POST', `/v1/runs/${parked}/resume`);
  assert.equal(notParked.status, 409);
  assert.match(errorOf(notParked).message, /only a parked run can be resumed/);
  assert.equal((await call(open, 'POST', '/v1/runs/no-such-run/resume')).status, 404);

  // fork
  const fork = await call(open, 'POST', `/v1/runs/${parked}/fork`, { body: { fromStep: 0, payload: { fixed: true } } });
  assert.equal(fork.status, 201);
  assert.deepEqual(fork.body, { runId: `${parked}-fork-1` });
  assert.equal((await call(open, 'GET', `/v1/runs/${parked}-fork-1/result?wait=30`)).body.result, 'fixed');
  assert.equal((await call(open, 'POST', '/v1/runs/no-such-run/fork', { body: { fromStep: 0 } })).status, 404);
  const beyond = await call(open, 'POST', `/v1/runs/${parked}/fork`, { body: { fromStep: 9 } });
  assert.equal(beyond.status, 400);
});

test('list: by state and runner, pages with a cursor', async () => {
  for (const n of [1, 2, 3]) {
    await call(open, 'POST', '/v1/runs', { body: { input: n, runId: `http-list-${n}` } });
    await call(open, 'GET', `/v1/runs/http-list-${n}/result?wait=30`);
  }
  type Page = { runs: Array<{ runId: string; state: string }>; nextCursor?: string };
  const mine = (page: Page) => page.runs.filter((r) => r.runId.startsWith('http-list-')).map((r) => r.runId);
  await eventually(async () => mine((await call<Page>(open, 'GET', '/v1/runs?state=succeeded')).body).length === 3);
  const byRunner = await call<Page>(open, 'GET', '/v1/runs?runner=default&state=succeeded');
  assert.ok(byRunner.body.runs.every((r) => r.state === 'succeeded'));
  assert.deepEqual(mine(byRunner.body), ['http-list-3', 'http-list-2', 'http-list-1']);
  assert.deepEqual(mine((await call<Page>(open, 'GET', '/v1/runs?runner=approval')).body), []);
  // One at a time, newest first, to the end.
  const seen: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await call<Page>(open, 'GET', `/v1/runs?runner=default&limit=1${cursor ? `&cursor=${cursor}` : ''}`);
    assert.ok(page.body.runs.length <= 1);
    seen.push(...page.body.runs.map((r) => r.runId));
    cursor = page.body.nextCursor;
  } while (cursor);
  assert.deepEqual(
    seen.filter((id) => id.startsWith('http-list-')),
    ['http-list-3', 'http-list-2', 'http-list-1'],
  );
  assert.equal((await call(open, 'GET', '/v1/runs?cursor=nonsense')).status, 400);
  // A parent's children.
  await call(open, 'POST', '/v1/runs', { body: { input: null, runner: 'family', runId: 'http-family' } });
  assert.deepEqual((await call(open, 'GET', '/v1/runs/http-family/result?wait=30')).body.result, [
    'succeeded',
    'succeeded',
  ]);
  await eventually(async () => (await call<Page>(open, 'GET', '/v1/runs?parent=http-family')).body.runs.length === 2);
  const children = (await call<Page>(open, 'GET', '/v1/runs?parent=http-family')).body.runs.map((r) => r.runId);
  assert.deepEqual(children.sort(), ['http-family-0-0', 'http-family-0-1']);
});

/** Reads Server-Sent Events until `until` holds for the events read, then aborts. */
async function readEvents(
  url: string,
  headers: Record<string, string>,
  until: (events: Array<{ event: string; id?: string; data: unknown }>) => boolean,
): Promise<Array<{ event: string; id?: string; data: unknown }>> {
  const abort = new AbortController();
  const response = await fetch(url, { headers, signal: abort.signal });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
  const events: Array<{ event: string; id?: string; data: unknown }> = [];
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for await (const chunk of response.body!) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const fields = Object.fromEntries(
          block
            .split('\n')
            .filter((line) => line && !line.startsWith(':'))
            .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trimStart()]),
        ) as Record<string, string>;
        if (fields.data === undefined) continue;
        events.push({
          event: fields.event ?? 'message',
          ...(fields.id ? { id: fields.id } : {}),
          data: JSON.parse(fields.data),
        });
      }
      if (until(events)) break;
    }
  } finally {
    abort.abort();
  }
  return events;
}

test('stream: Server-Sent Events with the offset as id; Last-Event-ID resumes; 400 for one that is no offset', async () => {
  const runId = 'http-stream-1';
  await call(open, 'POST', '/v1/runs', { body: { input: null, runner: 'chatty', runId } });
  const url = `${open}/v1/runs/${runId}/stream`;
  const first = await readEvents(url, {}, (events) => events.length >= 5);
  assert.deepEqual(
    first.map((e) => [e.event, e.id, (e.data as { data: unknown }).data]),
    [0, 1, 2, 3, 4].map((i) => ['chunk', String(i), `a${i}`]),
  );
  // Resumes after offset 2, follows step 1 and ends with the outcome.
  const rest = readEvents(url, { 'Last-Event-ID': '2' }, (events) => events.some((e) => e.event === 'closed'));
  await waitForState(open, runId, 'waiting');
  assert.equal((await call(open, 'POST', `/v1/runs/${runId}/events`, { body: { name: 'go' } })).status, 202);
  const resumed = await rest;
  assert.deepEqual(
    resumed.filter((e) => e.event === 'chunk').map((e) => [e.id, (e.data as { data: unknown }).data]),
    [
      ['3', 'a3'],
      ['4', 'a4'],
      ['5', 'b0'],
      ['6', 'b1'],
    ],
  );
  const closed = resumed.at(-1)!;
  assert.equal(closed.event, 'closed');
  assert.equal((closed.data as { outcome: { result: unknown } }).outcome.result, 'streamed');
  const badId = await call(open, 'GET', `/v1/runs/${runId}/stream`, { headers: { 'Last-Event-ID': 'three' } });
  assert.equal(badId.status, 400);
  assert.match(errorOf(badId).message, /^Last-Event-ID must be a stream offset/);
  assert.equal((await call(open, 'GET', '/v1/runs/no-such-run/stream')).status, 404);
});

test('API keys: 401 without or with a wrong key; a tenant key sets the tenant and sees only its runs', async () => {
  const noKey = await call(keyed, 'GET', '/v1/runs');
  assert.equal(noKey.status, 401);
  assert.equal(errorOf(noKey).code, 'unauthorized');
  assert.equal((await call(keyed, 'GET', '/v1/runs', { key: 'secret-acme-0123456788' })).status, 401);
  assert.equal((await call(keyed, 'GET', '/v1/runs', { headers: { authorization: ACME } })).status, 401);
  assert.equal((await call(keyed, 'GET', '/healthz')).status, 200);
  assert.equal((await call(keyed, 'GET', '/openapi.json')).status, 200);

  const acmeRun = 'http-tenant-acme';
  const globexRun = 'http-tenant-globex';
  const submitted = await call(keyed, 'POST', '/v1/runs', {
    key: ACME,
    body: { input: null, runner: 'approval', runId: acmeRun },
  });
  assert.equal(submitted.status, 201);
  await call(keyed, 'POST', '/v1/runs', { key: GLOBEX, body: { input: null, runner: 'approval', runId: globexRun } });
  const refused = await call(keyed, 'POST', '/v1/runs', {
    key: ACME,
    body: { input: null, headers: { tenant: 'globex' } },
  });
  assert.equal(refused.status, 400);
  await waitForState(keyed, acmeRun, 'waiting', ACME);
  await waitForState(keyed, globexRun, 'waiting', GLOBEX);

  // globex cannot see, touch or follow acme's run: 404 everywhere, as for an unknown run.
  const asGlobex = (method: string, path: string, body?: unknown) =>
    call(keyed, method, path, { key: GLOBEX, ...(body !== undefined ? { body } : {}) });
  for (const [method, path, body] of [
    ['GET', `/v1/runs/${acmeRun}`],
    ['GET', `/v1/runs/${acmeRun}/result`],
    ['GET', `/v1/runs/${acmeRun}/stream`],
    ['POST', `/v1/runs/${acmeRun}/events`, { name: 'approve' }],
    ['POST', `/v1/runs/${acmeRun}/cancel`, {}],
    ['POST', `/v1/runs/${acmeRun}/retry`, {}],
    ['POST', `/v1/runs/${acmeRun}/resume`, {}],
    ['POST', `/v1/runs/${acmeRun}/fork`, { fromStep: 0 }],
  ] as Array<[string, string, unknown?]>) {
    const answer = await asGlobex(method, path, body);
    assert.equal(answer.status, 404, `${method} ${path}`);
    assert.equal(errorOf(answer).message, `run ${acmeRun} not found`);
  }
  type Page = { runs: Array<{ runId: string }> };
  const ids = async (key: string) =>
    (await call<Page>(keyed, 'GET', '/v1/runs', { key })).body.runs.map((r) => r.runId);
  assert.ok((await ids(GLOBEX)).includes(globexRun));
  assert.ok(!(await ids(GLOBEX)).includes(acmeRun));
  assert.ok(!(await ids(ACME)).includes(globexRun));
  // A key without a tenant sees every run.
  const all = await ids(OPS);
  assert.ok(all.includes(acmeRun) && all.includes(globexRun) && all.includes('http-submit-1'));

  // acme's own run: it carries the tenant header and acme steers it.
  assert.equal((await asGlobex('GET', `/v1/runs/${globexRun}`)).status, 200);
  assert.equal(
    (await call(keyed, 'POST', `/v1/runs/${acmeRun}/events`, { key: ACME, body: { name: 'approve', data: 'acme' } }))
      .status,
    202,
  );
  const outcome = await call(keyed, 'GET', `/v1/runs/${acmeRun}/result?wait=30`, { key: ACME });
  assert.equal(outcome.status, 200);
  assert.deepEqual(outcome.body.headers, { tenant: 'acme' });
  assert.equal((await asGlobex('POST', `/v1/runs/${globexRun}/cancel`, {})).status, 202);
});

test('serve refuses a non-loopback host without keys and bad keys (exit 2); CORS only for --cors-origin', async () => {
  const refused = await exec(process.execPath, [BIN, 'serve', '--host', '0.0.0.0', '--port', '0'], {
    env: serveEnv(kit),
  }).then(
    () => ({ code: 0, stderr: '' }),
    (err: { code: number; stderr: string }) => err,
  );
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /^durable-runs: refusing to serve on 0\.0\.0\.0 without API keys/);
  const badKeys = await exec(process.execPath, [BIN, 'serve', '--port', '0'], {
    env: serveEnv(kit, { DURABLE_RUNS_API_KEYS: 'ops' }),
  }).then(
    () => ({ code: 0, stderr: '' }),
    (err: { code: number; stderr: string }) => err,
  );
  assert.equal(badKeys.code, 2);
  assert.equal(
    badKeys.stderr,
    'durable-runs: DURABLE_RUNS_API_KEYS: entry 1 must be name:secret[:tenant], got 3 characters\n',
  );
  const preflight = (base: string) =>
    fetch(`${base}/v1/runs`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
  const allowed = await preflight(open);
  assert.equal(allowed.headers.get('access-control-allow-origin'), 'http://app.example');
  const plain = await preflight(open2);
  assert.equal(plain.headers.get('access-control-allow-origin'), null);
  const other = await fetch(`${open}/healthz`, { headers: { origin: 'http://evil.example' } });
  assert.notEqual(other.headers.get('access-control-allow-origin'), 'http://evil.example');
});

test('a Python client with only urllib submits a run, sends it an event and reads its result', async () => {
  const { stdout } = await exec('python3', [join(__dirname, 'fixtures', 'http-client.py'), open, 'http-python-1']);
  const { submitted, event, outcome } = JSON.parse(stdout) as {
    submitted: unknown;
    event: { duplicate: boolean };
    outcome: { status: string; result: unknown };
  };
  assert.deepEqual(submitted, { runId: 'http-python-1', newlySubmitted: true });
  assert.equal(event.duplicate, false);
  assert.equal(outcome.status, 'succeeded');
  assert.deepEqual(outcome.result, { approvedBy: 'python' });
});

test('Temporal unreachable: 503 in the error shape, and the server answers again once it is back', async () => {
  const proxy = await startGrpcFaultProxy(kit.env.address);
  try {
    const through = await serve([], { TEMPORAL_ADDRESS: proxy.address });
    assert.equal((await call(through, 'GET', '/v1/runs/http-submit-1')).status, 200);
    proxy.refuse(['DescribeWorkflowExecution', 'GetWorkflowExecutionHistory', 'QueryWorkflow']);
    const down = await call(through, 'GET', '/v1/runs/http-submit-1');
    assert.equal(down.status, 503);
    assert.deepEqual(errorOf(down), {
      code: 'temporal_unavailable',
      message: 'Temporal did not answer (unavailable or busy): try again shortly',
    });
    proxy.refuse([]);
    assert.equal((await call(through, 'GET', '/v1/runs/http-submit-1')).status, 200);
  } finally {
    await proxy.close();
  }
});

test('two serve instances answer for the same run', async () => {
  const runId = 'http-two-1';
  assert.equal(
    (await call(open, 'POST', '/v1/runs', { body: { input: null, runner: 'approval', runId } })).status,
    201,
  );
  assert.equal(
    (await call(open2, 'POST', '/v1/runs', { body: { input: null, runner: 'approval', runId } })).status,
    200,
  );
  await waitForState(open2, runId, 'waiting');
  const result = call(open, 'GET', `/v1/runs/${runId}/result?wait=30`);
  assert.equal(
    (await call(open2, 'POST', `/v1/runs/${runId}/events`, { body: { name: 'approve', data: 'b' } })).status,
    202,
  );
  assert.deepEqual((await result).body.result, { approvedBy: 'b' });
  assert.equal((await call(open2, 'GET', `/v1/runs/${runId}`)).body.state, 'succeeded');
});
