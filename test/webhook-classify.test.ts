/**
 * The webhook retry decision as a table: statuses, Retry-After, network errors, and the
 * exponential backoff's jitter and cap.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  backoffDelay,
  classify,
  describeError,
  parseRetryAfter,
  type AttemptResult,
} from '../src/activities/webhook/classify';

const options = { baseDelayMs: 500, maxDelayMs: 30_000 };
const NOW = Date.parse('2025-01-01T00:00:00Z');
/** Jitter draw 0.5 is the nominal delay exactly. */
const middle = () => 0.5;

/** Mulberry32: a small seeded PRNG, so jitter tests are reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('classify: status table', () => {
  const table: Array<[number, 'delivered' | 'retry' | 'give-up', string?]> = [
    [200, 'delivered'],
    [201, 'delivered'],
    [202, 'delivered'],
    [204, 'delivered'],
    [299, 'delivered'],
    [301, 'give-up', 'HTTP 301 Moved Permanently: redirects are not followed'],
    [302, 'give-up', 'HTTP 302 Found: redirects are not followed'],
    [304, 'give-up', 'HTTP 304 Not Modified: redirects are not followed'],
    [307, 'give-up', 'HTTP 307 Temporary Redirect: redirects are not followed'],
    [308, 'give-up', 'HTTP 308 Permanent Redirect: redirects are not followed'],
    [400, 'give-up', 'HTTP 400 Bad Request'],
    [401, 'give-up', 'HTTP 401 Unauthorized'],
    [403, 'give-up', 'HTTP 403 Forbidden'],
    [404, 'give-up', 'HTTP 404 Not Found'],
    [408, 'retry', 'HTTP 408 Request Timeout'],
    [409, 'give-up', 'HTTP 409 Conflict'],
    [410, 'give-up', 'HTTP 410 Gone'],
    [413, 'give-up', 'HTTP 413 Payload Too Large'],
    [422, 'give-up', 'HTTP 422 Unprocessable Entity'],
    [429, 'retry', 'HTTP 429 Too Many Requests'],
    [499, 'give-up', 'HTTP 499'],
    [500, 'retry', 'HTTP 500 Internal Server Error'],
    [501, 'retry', 'HTTP 501 Not Implemented'],
    [502, 'retry', 'HTTP 502 Bad Gateway'],
    [503, 'retry', 'HTTP 503 Service Unavailable'],
    [504, 'retry', 'HTTP 504 Gateway Timeout'],
    [599, 'retry', 'HTTP 599'],
  ];
  for (const [status, kind, reason] of table) {
    test(`${status} → ${kind}`, () => {
      const verdict = classify({ status, headers: {} }, 1, options, NOW, middle);
      assert.equal(verdict.kind, kind);
      if (verdict.kind === 'retry') assert.deepEqual(verdict, { kind, delayMs: 500, reason });
      if (verdict.kind === 'give-up') assert.deepEqual(verdict, { kind, reason });
    });
  }

  test('a redirect names its Location', () => {
    assert.deepEqual(
      classify({ status: 302, headers: { location: 'https://elsewhere.example/hook' } }, 1, options, NOW),
      {
        kind: 'give-up',
        reason: 'HTTP 302 Found: redirects are not followed (Location: https://elsewhere.example/hook)',
      },
    );
  });

  test('a 4xx quotes the start of the body, on one line', () => {
    const body = `bad\n  signature ${'x'.repeat(500)}`;
    const verdict = classify({ status: 400, headers: {}, body }, 1, options, NOW);
    assert.deepEqual(verdict, { kind: 'give-up', reason: `HTTP 400 Bad Request: bad signature ${'x'.repeat(186)}…` });
  });

  test('the delay grows with the attempt', () => {
    const delays = [1, 2, 3, 4].map((attempt) => classify({ status: 500 }, attempt, options, NOW, middle));
    assert.deepEqual(
      delays.map((v) => v.kind === 'retry' && v.delayMs),
      [500, 1000, 2000, 4000],
    );
  });
});

describe('classify: no response', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
  const table: Array<[string, unknown, string]> = [
    ['a refused connection', refused, 'connection refused (ECONNREFUSED)'],
    [
      'a refused connection wrapped by fetch',
      new TypeError('fetch failed', { cause: refused }),
      'connection refused (ECONNREFUSED)',
    ],
    [
      'a DNS failure',
      Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.invalid'), { code: 'ENOTFOUND' }),
      'host not found (ENOTFOUND)',
    ],
    ['a reset', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), 'connection reset (ECONNRESET)'],
    [
      'an undici socket error',
      Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }),
      'connection closed by the receiver (UND_ERR_SOCKET)',
    ],
    [
      'our timeout',
      Object.assign(new Error('timed out after 10000 ms'), { code: 'ERR_WEBHOOK_TIMEOUT' }),
      'timed out after 10000 ms',
    ],
    [
      'a TLS error with an unlisted code',
      Object.assign(new Error('certificate has expired'), { code: 'CERT_HAS_EXPIRED' }),
      'certificate has expired (CERT_HAS_EXPIRED)',
    ],
    [
      'happy eyeballs giving up on every address',
      Object.assign(new AggregateError([refused, refused]), { code: 'ECONNREFUSED' }),
      'connection refused (ECONNREFUSED)',
    ],
    ['an error without a code', new Error('something odd'), 'something odd'],
    ['not an Error', 'plain string', 'plain string'],
  ];
  for (const [what, error, reason] of table) {
    test(`${what} → retry: ${reason}`, () => {
      assert.deepEqual(classify({ error }, 2, options, NOW, middle), { kind: 'retry', delayMs: 1000, reason });
      assert.equal(describeError(error), reason);
    });
  }

  test('an address refusal is not retried', () => {
    const message =
      'webhook address refused: 127.0.0.1 is in the loopback range (allowPrivate turns this guard off for development)';
    const error = new Error('request failed', {
      cause: Object.assign(new Error(message), { code: 'ERR_WEBHOOK_ADDRESS_REFUSED' }),
    });
    assert.deepEqual(classify({ error }, 1, options, NOW), { kind: 'give-up', reason: message });
  });
});

describe('Retry-After', () => {
  const retryAfter = (status: number, value: string | string[], attempt = 1, opts = options) =>
    classify({ status, headers: { 'retry-after': value } } satisfies AttemptResult, attempt, opts, NOW, middle);

  test('delta-seconds set the delay on 429 and 503', () => {
    assert.deepEqual(retryAfter(429, '7'), { kind: 'retry', delayMs: 7000, reason: 'HTTP 429 Too Many Requests' });
    assert.deepEqual(retryAfter(503, ' 12 '), {
      kind: 'retry',
      delayMs: 12_000,
      reason: 'HTTP 503 Service Unavailable',
    });
  });

  test('an HTTP-date sets the delay', () => {
    assert.deepEqual(retryAfter(503, 'Wed, 01 Jan 2025 00:00:20 GMT'), {
      kind: 'retry',
      delayMs: 20_000,
      reason: 'HTTP 503 Service Unavailable',
    });
    assert.equal(parseRetryAfter('Wednesday, 01-Jan-25 00:00:03 GMT', NOW), 3000);
    assert.equal(parseRetryAfter('Wed Jan  1 00:00:04 2025', NOW), 4000);
  });

  test('a date in the past and zero give 1 ms', () => {
    assert.deepEqual(retryAfter(429, 'Tue, 31 Dec 2024 23:00:00 GMT'), {
      kind: 'retry',
      delayMs: 1,
      reason: 'HTTP 429 Too Many Requests',
    });
    assert.deepEqual(retryAfter(429, '0'), { kind: 'retry', delayMs: 1, reason: 'HTTP 429 Too Many Requests' });
  });

  test('it is capped at the max delay, not jittered, whatever the attempt', () => {
    assert.deepEqual(retryAfter(503, '3600'), {
      kind: 'retry',
      delayMs: 30_000,
      reason: 'HTTP 503 Service Unavailable',
    });
    assert.deepEqual(retryAfter(429, 'Thu, 01 Jan 2026 00:00:00 GMT'), {
      kind: 'retry',
      delayMs: 30_000,
      reason: 'HTTP 429 Too Many Requests',
    });
    for (const random of [() => 0, () => 0.999]) {
      assert.deepEqual(classify({ status: 429, headers: { 'retry-after': '5' } }, 9, options, NOW, random), {
        kind: 'retry',
        delayMs: 5000,
        reason: 'HTTP 429 Too Many Requests',
      });
    }
  });

  test('the first of repeated headers counts, and the name is matched without case', () => {
    assert.deepEqual(retryAfter(429, ['2', '9']), {
      kind: 'retry',
      delayMs: 2000,
      reason: 'HTTP 429 Too Many Requests',
    });
    assert.deepEqual(classify({ status: 429, headers: { 'Retry-After': '3' } }, 1, options, NOW), {
      kind: 'retry',
      delayMs: 3000,
      reason: 'HTTP 429 Too Many Requests',
    });
  });

  test('garbage falls back to the backoff', () => {
    for (const value of [
      'soon',
      '',
      '-5',
      '1.5',
      '10s',
      '0x10',
      '1e3',
      'Wed, 01 Jan 2025 00:00:20',
      'Wed, 32 Foo 2025 00:00:20 GMT',
    ]) {
      assert.deepEqual(
        retryAfter(503, value, 3),
        { kind: 'retry', delayMs: 2000, reason: 'HTTP 503 Service Unavailable' },
        value,
      );
    }
    for (const value of ['soon', '', '-5', '1.5', '1 2', 'Wed, 01 Jan 2025 00:00:20']) {
      assert.equal(parseRetryAfter(value, NOW), undefined, value);
    }
    assert.equal(parseRetryAfter(undefined, NOW), undefined);
  });

  test('it is ignored on other statuses', () => {
    for (const status of [500, 502, 504, 408]) {
      const verdict = retryAfter(status, '60', 2);
      assert.equal(verdict.kind === 'retry' && verdict.delayMs, 1000, String(status));
    }
  });
});

describe('backoffDelay', () => {
  test('10,000 draws per attempt stay within ±25 % of nominal, under the cap and at least 1 ms', () => {
    const random = seeded(42);
    for (let attempt = 1; attempt <= 12; attempt++) {
      const nominal = options.baseDelayMs * 2 ** (attempt - 1);
      let min = Infinity;
      let max = -Infinity;
      for (let i = 0; i < 10_000; i++) {
        const delay = backoffDelay(attempt, options, random);
        assert.ok(Number.isInteger(delay), `${delay} is not whole ms`);
        assert.ok(delay >= 1 && delay <= options.maxDelayMs, `attempt ${attempt}: ${delay}`);
        if (nominal * 1.25 <= options.maxDelayMs) {
          assert.ok(
            delay >= nominal * 0.75 && delay <= nominal * 1.25,
            `attempt ${attempt}: ${delay} vs nominal ${nominal}`,
          );
        }
        min = Math.min(min, delay);
        max = Math.max(max, delay);
      }
      if (nominal * 0.75 >= options.maxDelayMs) {
        assert.equal(min, options.maxDelayMs, `attempt ${attempt} is always at the cap`);
      } else {
        assert.ok(max > min, `attempt ${attempt} is jittered`);
      }
    }
  });

  test('the cap is strict even when jitter straddles it', () => {
    const opts = { baseDelayMs: 1000, maxDelayMs: 4500 };
    assert.equal(
      backoffDelay(3, opts, () => 0),
      3000,
    );
    assert.equal(
      backoffDelay(3, opts, () => 0.999),
      4500,
    );
    assert.equal(
      backoffDelay(1000, opts, () => 0.5),
      4500,
    );
  });

  test('never below 1 ms', () => {
    assert.equal(
      backoffDelay(1, { baseDelayMs: 0, maxDelayMs: 10 }, () => 0),
      1,
    );
    assert.equal(
      backoffDelay(1, { baseDelayMs: 1, maxDelayMs: 10 }, () => 0),
      1,
    );
    assert.equal(
      backoffDelay(3, { baseDelayMs: 100, maxDelayMs: 0 }, () => 0.5),
      1,
    );
  });

  test('is deterministic with a seeded random', () => {
    const draw = (seed: number) => Array.from({ length: 12 }, (_, i) => backoffDelay(i + 1, options, seeded(seed)));
    assert.deepEqual(draw(7), draw(7));
    assert.notDeepEqual(draw(7), draw(8));
    assert.deepEqual(
      [1, 2, 3].map((a) => backoffDelay(a, options, () => 0)),
      [375, 750, 1500],
    );
  });

  test('rejects attempts that are not positive integers', () => {
    for (const attempt of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => backoffDelay(attempt, options), {
        name: 'RangeError',
        message: `attempt must be a positive integer, got ${attempt}`,
      });
    }
  });
});
