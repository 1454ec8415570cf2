/**
 * The SSRF guard: which addresses are refused, which URLs are rejected, and real attempts against
 * a server on loopback (the only place these tests ever send anything).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Dispatcher } from 'undici';
import { classify, describeError } from '../src/activities/webhook/classify';
import {
  createGuardedDispatcher,
  forbiddenRange,
  isAddressRefusal,
  parseCallbackUrl,
  WebhookUrlError,
} from '../src/activities/webhook/guard';
import { buildWebhookRequest, sendWebhookAttempt } from '../src/activities/webhook/request';

describe('forbiddenRange', () => {
  const table: Array<[string, string | undefined]> = [
    // IPv4
    ['8.8.8.8', undefined],
    ['1.1.1.1', undefined],
    ['93.184.216.34', undefined],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['169.254.169.254', 'linkLocal'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['192.0.2.1', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['240.0.0.1', 'reserved'],
    ['192.88.99.1', 'reserved'],
    // IPv6
    ['2606:4700:4700::1111', undefined],
    ['2a00:1450:4001:80b::200e', undefined],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'linkLocal'],
    ['fe80::1%eth0', 'linkLocal'],
    ['fc00::1', 'uniqueLocal'],
    ['fd00:ec2::254', 'uniqueLocal'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'reserved'],
    ['fec0::1', 'deprecatedSiteLocal'],
    ['100::1', 'discard'],
    ['::7f00:1', 'reserved'],
    ['4000::1', 'reserved'],
    // IPv4 inside IPv6
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:a9fe:a9fe', 'linkLocal'],
    ['::ffff:8.8.8.8', undefined],
    ['64:ff9b::7f00:1', 'loopback'],
    ['64:ff9b::192.168.0.1', 'private'],
    ['64:ff9b::8.8.8.8', undefined],
    ['64:ff9b:1::808:808', 'rfc6052'],
    ['2002:808:808::1', '6to4'],
    ['2002:7f00:1::1', '6to4'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'teredo'],
    ['::ffff:0:7f00:1', 'rfc6145'],
    // Not an address
    ['localhost', 'invalid'],
    ['', 'invalid'],
    ['1.2.3.4.5', 'invalid'],
  ];
  for (const [address, range] of table) {
    test(`${JSON.stringify(address)} → ${range ?? 'allowed'}`, () => {
      assert.equal(forbiddenRange(address), range);
    });
  }
});

describe('parseCallbackUrl', () => {
  test('accepts http and https URLs', () => {
    assert.equal(parseCallbackUrl('https://hooks.example.com/run?x=1').href, 'https://hooks.example.com/run?x=1');
    assert.equal(parseCallbackUrl('HTTP://Hooks.Example.com:8080/a').href, 'http://hooks.example.com:8080/a');
  });

  const table: Array<[string, string]> = [
    ['not a url', 'callback URL is not a valid absolute URL: "not a url"'],
    ['', 'callback URL is not a valid absolute URL: ""'],
    ['/relative/path', 'callback URL is not a valid absolute URL: "/relative/path"'],
    ['http://', 'callback URL is not a valid absolute URL: "http://"'],
    ['ftp://files.example.com/hook', 'callback URL must use http: or https:, not ftp:'],
    ['file:///etc/passwd', 'callback URL must use http: or https:, not file:'],
    ['gopher://example.com:70/', 'callback URL must use http: or https:, not gopher:'],
    ['javascript:alert(1)', 'callback URL must use http: or https:, not javascript:'],
    ['https://user:secret@hooks.example.com/', 'callback URL must not embed credentials (user:password@)'],
    ['https://user@hooks.example.com/', 'callback URL must not embed credentials (user:password@)'],
    ['https://:secret@hooks.example.com/', 'callback URL must not embed credentials (user:password@)'],
  ];
  for (const [raw, message] of table) {
    test(`rejects ${JSON.stringify(raw)}`, () => {
      assert.throws(
        () => parseCallbackUrl(raw),
        (err: unknown) => {
          assert.ok(err instanceof WebhookUrlError);
          assert.equal(err.name, 'WebhookUrlError');
          assert.equal(err.message, message);
          return true;
        },
      );
    });
  }
});

describe('guarded attempts on loopback', () => {
  const servers: Server[] = [];
  let received = 0;
  let port = 0;
  let ipv6 = false;
  const open: Dispatcher[] = [];

  const listen = (server: Server, host: string, p: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(p, host, () => {
        server.off('error', reject);
        resolve();
      });
    });

  before(async () => {
    const handler = (_req: unknown, res: { end(): void }) => {
      received++;
      res.end();
    };
    const v4 = createServer(handler);
    await listen(v4, '127.0.0.1', 0);
    servers.push(v4);
    port = (v4.address() as AddressInfo).port;
    // The same port on ::1, so `localhost` and `[::1]` reach us whichever family wins.
    const v6 = createServer(handler);
    try {
      await listen(v6, '::1', port);
      servers.push(v6);
      ipv6 = true;
    } catch {
      ipv6 = false;
    }
  });
  after(async () => {
    await Promise.all(open.map((d) => d.close()));
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  });

  const request = buildWebhookRequest({
    outcome: { runId: 'run-g', status: 'succeeded', result: 'hi', headers: {}, finalStep: 0 },
    webhookId: 'msg_g',
    timestamp: new Date(),
    userAgent: 'durable-runs-test',
  });
  function dispatcher(allowPrivate: boolean) {
    const d = createGuardedDispatcher({ allowPrivate, timeoutMs: 2000 });
    open.push(d);
    return d;
  }
  const hosts = (): Array<[string, string, boolean]> => [
    ['127.0.0.1', 'webhook address refused: 127.0.0.1 is in the loopback range', true],
    ['[::1]', 'webhook address refused: ::1 is in the loopback range', ipv6],
    ['[::ffff:127.0.0.1]', 'webhook address refused: ::ffff:7f00:1 is in the loopback range', true],
    ['localhost', 'webhook address refused: localhost resolves to ', true],
  ];

  for (const [index, [host, prefix]] of hosts().entries()) {
    test(`guard on: http://${host}:<port>/ is refused before anything is sent`, async (t) => {
      const [, , available] = hosts()[index] ?? [];
      if (!available) return t.skip('no IPv6 loopback here');
      const before = received;
      const result = await sendWebhookAttempt({
        url: parseCallbackUrl(`http://${host}:${port}/`),
        request,
        timeoutMs: 2000,
        dispatcher: dispatcher(false),
      });
      assert.equal(result.status, undefined);
      assert.equal(isAddressRefusal(result.error), true, String(result.error));
      const reason = describeError(result.error);
      assert.ok(reason.startsWith(prefix), reason);
      assert.match(reason, /loopback range \(allowPrivate turns this guard off for development\)$/);
      assert.deepEqual(classify(result, 1, { baseDelayMs: 500, maxDelayMs: 30_000 }), { kind: 'give-up', reason });
      assert.equal(received, before, 'the server received nothing');
    });

    test(`guard off: http://${host}:<port>/ is delivered once`, async (t) => {
      const [, , available] = hosts()[index] ?? [];
      if (!available) return t.skip('no IPv6 loopback here');
      const before = received;
      const result = await sendWebhookAttempt({
        url: parseCallbackUrl(`http://${host}:${port}/`),
        request,
        timeoutMs: 2000,
        dispatcher: dispatcher(true),
      });
      assert.equal(result.error, undefined);
      assert.equal(result.status, 200);
      assert.deepEqual(classify(result, 1, { baseDelayMs: 500, maxDelayMs: 30_000 }), { kind: 'delivered' });
      assert.equal(received, before + 1);
    });
  }

  test('isAddressRefusal is false for other errors', () => {
    assert.equal(isAddressRefusal(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })), false);
    assert.equal(isAddressRefusal(new Error('wrapped', { cause: new Error('inner') })), false);
    assert.equal(isAddressRefusal('ERR_WEBHOOK_ADDRESS_REFUSED'), false);
    assert.equal(isAddressRefusal(undefined), false);
  });
});
