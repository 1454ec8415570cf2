/**
 * The webhook request: body and headers per outcome, Standard Webhooks signatures, and single
 * attempts against a real HTTP server on loopback.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import type { Dispatcher } from 'undici';
import { classify, describeError } from '../src/activities/webhook/classify';
import { createGuardedDispatcher } from '../src/activities/webhook/guard';
import { buildWebhookRequest, sendWebhookAttempt } from '../src/activities/webhook/request';
import type { RunOutcome } from '../src/shared/types';

const secret = `whsec_${randomBytes(24).toString('base64')}`;
const userAgent = 'durable-runs-test/1.0';
const timestamp = new Date(Math.floor(Date.now() / 1000) * 1000);

function outcome(fields: Partial<RunOutcome>): RunOutcome {
  return { runId: 'run-1', status: 'succeeded', headers: {}, finalStep: 2, ...fields };
}
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');

describe('buildWebhookRequest', () => {
  const table: Array<[string, Partial<RunOutcome>, string, Uint8Array]> = [
    ['bytes', { result: new Uint8Array([0, 1, 2, 0xff]) }, 'application/octet-stream', new Uint8Array([0, 1, 2, 0xff])],
    ['a string', { result: 'héllo ✓' }, 'text/plain; charset=utf-8', Buffer.from('héllo ✓')],
    ['an empty string', { result: '' }, 'text/plain; charset=utf-8', new Uint8Array()],
    ['an object', { result: { a: [1, 'b'], c: null } }, 'application/json', Buffer.from('{"a":[1,"b"],"c":null}')],
    ['a number', { result: 42 }, 'application/json', Buffer.from('42')],
    ['null', { result: null }, 'application/json', Buffer.from('null')],
    ['undefined', {}, 'application/json', Buffer.from('null')],
    [
      'a failure',
      { status: 'failed', error: 'card declined' },
      'text/plain; charset=utf-8',
      Buffer.from('card declined'),
    ],
    [
      'a cancel with a reason',
      { status: 'cancelled', error: 'user: stop ✋' },
      'text/plain; charset=utf-8',
      Buffer.from('user: stop ✋'),
    ],
    ['a cancel without a reason', { status: 'cancelled', error: null }, 'text/plain; charset=utf-8', new Uint8Array()],
  ];
  for (const [what, fields, contentType, body] of table) {
    test(`${what}: body, headers and a signature the receiver accepts`, () => {
      const run = outcome(fields);
      const request = buildWebhookRequest({ outcome: run, webhookId: 'msg_1', timestamp, secret, userAgent });
      assert.deepEqual(Buffer.from(request.body), Buffer.from(body));
      const { 'webhook-signature': signature, ...rest } = request.headers;
      assert.deepEqual(rest, {
        'content-type': contentType,
        'user-agent': userAgent,
        'workflow-run-id': 'run-1',
        'workflow-run-status': run.status,
        'webhook-id': 'msg_1',
        'webhook-timestamp': String(timestamp.getTime() / 1000),
      });
      assert.match(signature ?? '', /^v1,[A-Za-z0-9+/]{43}=$/);
      // What a receiver does with the raw body, as a Buffer and as a string; `verify` JSON-parses
      // unless told not to, which non-JSON bodies need.
      const raw = { jsonParse: false };
      assert.equal(new Webhook(secret).verify(Buffer.from(request.body), request.headers, raw), undefined);
      assert.equal(new Webhook(secret).verify(text(request.body), request.headers, raw), undefined);
    });
  }

  test('the result bytes are sent as they are, not copied into another encoding', () => {
    const result = new Uint8Array([1, 2, 3]);
    assert.equal(
      buildWebhookRequest({ outcome: outcome({ result }), webhookId: 'm', timestamp, userAgent }).body,
      result,
    );
  });

  test('a tampered body, id or timestamp fails verification', () => {
    const request = buildWebhookRequest({
      outcome: outcome({ result: { amount: 100 } }),
      webhookId: 'msg_2',
      timestamp,
      secret,
      userAgent,
    });
    const wh = new Webhook(secret);
    assert.deepEqual(wh.verify(Buffer.from(request.body), request.headers), { amount: 100 });
    const noMatch = { name: 'WebhookVerificationError', message: 'No matching signature found' };
    assert.throws(() => wh.verify('{"amount":900}', request.headers), noMatch);
    assert.throws(() => wh.verify(Buffer.from(request.body), { ...request.headers, 'webhook-id': 'msg_3' }), noMatch);
    const later = String(timestamp.getTime() / 1000 + 1);
    assert.throws(
      () => wh.verify(Buffer.from(request.body), { ...request.headers, 'webhook-timestamp': later }),
      noMatch,
    );
    assert.throws(
      () =>
        new Webhook(`whsec_${randomBytes(24).toString('base64')}`).verify(Buffer.from(request.body), request.headers),
      noMatch,
    );
  });

  test('a tampered binary body fails verification', () => {
    const request = buildWebhookRequest({
      outcome: outcome({ result: Buffer.from('binary ✓ payload') }),
      webhookId: 'm',
      timestamp,
      secret,
      userAgent,
    });
    const tampered = Buffer.from(request.body);
    tampered[0] = 0x42;
    assert.throws(() => new Webhook(secret).verify(tampered, request.headers, { jsonParse: false }), {
      name: 'WebhookVerificationError',
    });
  });

  test('bytes that are not UTF-8 are signed as the library reads them on both ends (see buildWebhookRequest)', () => {
    const request = buildWebhookRequest({
      outcome: outcome({ result: new Uint8Array([0x80, 0x41]) }),
      webhookId: 'm',
      timestamp,
      secret,
      userAgent,
    });
    const raw = { jsonParse: false };
    assert.equal(new Webhook(secret).verify(Buffer.from(request.body), request.headers, raw), undefined);
    // The library's lossy decoding: another invalid byte in the same place verifies too.
    assert.equal(new Webhook(secret).verify(Buffer.from([0xff, 0x41]), request.headers, raw), undefined);
  });

  test('without a secret there is no signature', () => {
    const request = buildWebhookRequest({ outcome: outcome({ result: 'x' }), webhookId: 'm', timestamp, userAgent });
    assert.equal('webhook-signature' in request.headers, false);
  });

  test('the timestamp header is in whole seconds', () => {
    const request = buildWebhookRequest({
      outcome: outcome({}),
      webhookId: 'm',
      timestamp: new Date(1_700_000_000_999),
      userAgent,
    });
    assert.equal(request.headers['webhook-timestamp'], '1700000000');
  });
});

describe('sendWebhookAttempt on loopback', () => {
  interface Received {
    method?: string;
    url?: string;
    headers: IncomingHttpHeaders;
    body: Buffer;
  }
  const received: Received[] = [];
  /** What the server does with the next request. */
  let respond: (res: ServerResponse) => void = (res) => res.end();
  let server: Server;
  let base: string;
  let dispatcher: Dispatcher;

  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks) });
        respond(res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    dispatcher = createGuardedDispatcher({ allowPrivate: true, timeoutMs: 2000 });
  });
  after(async () => {
    await dispatcher.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const request = buildWebhookRequest({
    outcome: outcome({ result: { ok: true } }),
    webhookId: 'msg_9',
    timestamp,
    secret,
    userAgent,
  });
  const send = (path: string, timeoutMs = 2000) =>
    sendWebhookAttempt({ url: new URL(path, base), request, timeoutMs, dispatcher });

  test('one POST with the headers and body; the receiver verifies it', async () => {
    received.length = 0;
    respond = (res) => res.writeHead(204).end();
    const result = await send('/hook?x=1');
    assert.equal(result.status, 204);
    assert.equal(received.length, 1);
    const [got] = received;
    assert.equal(got?.method, 'POST');
    assert.equal(got?.url, '/hook?x=1');
    assert.deepEqual(got?.body, Buffer.from('{"ok":true}'));
    for (const [name, value] of Object.entries(request.headers)) assert.equal(got?.headers[name], value, name);
    assert.equal(got?.headers['content-length'], '11');
    assert.deepEqual(new Webhook(secret).verify(got?.body ?? '', got?.headers as Record<string, string>), { ok: true });
    assert.deepEqual(classify(result, 1, { baseDelayMs: 500, maxDelayMs: 30_000 }), { kind: 'delivered' });
  });

  test('a redirect is reported, not followed', async () => {
    received.length = 0;
    respond = (res) => res.writeHead(302, { location: `${base}/elsewhere` }).end();
    const result = await send('/hook');
    assert.equal(result.status, 302);
    assert.equal(received.length, 1);
    assert.deepEqual(classify(result, 1, { baseDelayMs: 500, maxDelayMs: 30_000 }), {
      kind: 'give-up',
      reason: `HTTP 302 Found: redirects are not followed (Location: ${base}/elsewhere)`,
    });
  });

  test('a 503 with Retry-After comes back with its headers', async () => {
    received.length = 0;
    respond = (res) => res.writeHead(503, { 'retry-after': '4' }).end('busy');
    const result = await send('/hook');
    assert.equal(result.status, 503);
    assert.equal(result.headers?.['retry-after'], '4');
    assert.equal(result.body, 'busy');
    assert.deepEqual(classify(result, 1, { baseDelayMs: 500, maxDelayMs: 30_000 }), {
      kind: 'retry',
      delayMs: 4000,
      reason: 'HTTP 503 Service Unavailable',
    });
  });

  test('at most 64 KiB of a large body is read', async () => {
    respond = (res) => {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end('e'.repeat(1024 * 1024));
    };
    const result = await send('/hook');
    assert.equal(result.status, 400);
    assert.equal(result.body?.length, 64 * 1024);
  });

  test('a server that never answers is a timeout, returned and not thrown', async () => {
    received.length = 0;
    respond = () => {};
    const started = Date.now();
    const result = await send('/hook', 300);
    assert.equal(result.status, undefined);
    assert.equal(describeError(result.error), 'timed out after 300 ms');
    assert.ok(Date.now() - started < 2000);
    assert.equal(received.length, 1);
    const verdict = classify(result, 1, { baseDelayMs: 500, maxDelayMs: 30_000 }, undefined, () => 0.5);
    assert.deepEqual(verdict, { kind: 'retry', delayMs: 500, reason: 'timed out after 300 ms' });
  });

  test('a closed port is a network error, returned and not thrown', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const result = await sendWebhookAttempt({
      url: new URL(`http://127.0.0.1:${port}/`),
      request,
      timeoutMs: 2000,
      dispatcher,
    });
    assert.equal(result.status, undefined);
    assert.equal(describeError(result.error), 'connection refused (ECONNREFUSED)');
  });
});
