/** Unit tests for the pure pieces: validation, payload conversion, configuration, step backoff, the UI's labels. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ConfigError, loadConnectionConfig, loadVersioningConfig, loadWebhookOptions } from '../src/common/config';
import {
  fromBase64,
  isUndecodable,
  lenientPayloadConverter,
  payloadConverter,
  toBase64,
} from '../src/shared/payload-converter';
import { stepBackoffMs, webhookRetryPolicy } from '../src/shared/retry';
import { utf8Length } from '../src/shared/limits';
import {
  CHILD_LABELS_BYTES,
  childStory,
  clipBytes,
  MAX_DETAILS_BYTES,
  runDetails,
  runSummary,
  waitLabel,
} from '../src/shared/run-story';
import {
  parseDelay,
  validateCarry,
  validateHeaders,
  validateOutcome,
  validateRunId,
  validateRunSpec,
  ValidationError,
} from '../src/shared/validate';

describe('validation', () => {
  test('run IDs', () => {
    for (const ok of ['a', 'x'.repeat(128), 'A-b_9', '01M82C0CRTD8NXHN3W6T4SQWHM']) assert.equal(validateRunId(ok), ok);
    for (const bad of ['', 'x'.repeat(129), 'a/b', 'a b', 'é', 'a.b']) {
      assert.throws(
        () => validateRunId(bad),
        (e: unknown) => e instanceof ValidationError && /invalid run ID/.test(e.message),
      );
    }
    assert.throws(() => validateRunId(42), {
      message: 'invalid run ID number 42: use 1–128 characters of [A-Za-z0-9_-]',
    });
  });

  test('headers', () => {
    assert.deepEqual(validateHeaders(undefined), {});
    assert.deepEqual(validateHeaders({ a: 'b' }), { a: 'b' });
    assert.throws(() => validateHeaders(['a']), { message: 'headers must be an object of string→string' });
    assert.throws(() => validateHeaders({ n: 1 }), { message: 'header "n" must be a string, got number 1' });
    assert.throws(() => validateHeaders({ 'workflow.x': 'y' }), {
      message: 'header "workflow.x" uses the reserved prefix "workflow."',
    });
    assert.throws(() => validateHeaders({ callback_url: 'http://a/\r\nX-Evil: 1' }), {
      message: 'header "callback_url" contains CR, LF or NUL',
    });
  });

  test('run specs: defaults and every refusal names the field', () => {
    assert.deepEqual(validateRunSpec({ input: 1 }), {
      input: 1,
      headers: {},
      runner: 'default',
      maxAttemptsPerStep: 3,
      heartbeatTimeoutMs: 30_000,
      stepTimeoutMs: 86_400_000,
      maxHistoryEvents: 10_000,
    });
    const cases: Array<[unknown, RegExp]> = [
      ['text', /workflow input must be an object .* got the string "text"/],
      [[1], /got an array/],
      [null, /got null/],
      [{}, /no "input" field/],
      [{ input: 1, extra: true }, /unknown field "extra"/],
      [{ input: 1, runner: 5 }, /runner must be a non-empty string, got number 5/],
      [{ input: 1, maxAttemptsPerStep: 0 }, /maxAttemptsPerStep must be an integer from 1 to 1000, got 0/],
      [{ input: 1, maxAttemptsPerStep: -1 }, /maxAttemptsPerStep .* got -1/],
      [{ input: 1, maxAttemptsPerStep: 1e9 }, /maxAttemptsPerStep .* got 1000000000/],
      [{ input: 1, maxAttemptsPerStep: '3' }, /maxAttemptsPerStep .* got "3"/],
      // Below an execution's first task (3 events) a run would hand over for ever.
      [{ input: 1, maxHistoryEvents: 4 }, /maxHistoryEvents must be an integer from 5 to 50000, got 4/],
    ];
    for (const [spec, message] of cases) assert.throws(() => validateRunSpec(spec), message);
  });

  test('continueAfter delays', () => {
    assert.equal(parseDelay(5000), 5000);
    assert.equal(parseDelay('5m'), 300_000);
    assert.equal(parseDelay('1 hour'), 3_600_000);
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, 'soon', {}, '-5s']) {
      assert.throws(() => parseDelay(bad), ValidationError);
    }
  });

  test('step outcomes', () => {
    assert.deepEqual(validateOutcome({ kind: 'continueAfter', payload: 1, delay: '2s' }), {
      kind: 'continueAfter',
      payload: 1,
      delay: '2s',
      delayMs: 2000,
    });
    assert.deepEqual(validateOutcome({ kind: 'succeed', result: 'r' }), { kind: 'succeed', result: 'r' });
    assert.throws(() => validateOutcome(null), /runner returned null, not a step outcome/);
    assert.throws(() => validateOutcome(42), /runner returned number 42, not a step outcome/);
    assert.throws(() => validateOutcome({ kind: 'x' }), /unknown kind "x"/);
    assert.throws(() => validateOutcome({ kind: 'fail' }), /fail outcome needs a string reason, got undefined/);
  });
});

describe('payload converter', () => {
  test('base64 matches Node for every length up to 300', () => {
    for (let n = 0; n <= 300; n++) {
      const bytes = new Uint8Array(n).map((_, i) => (i * 37 + n) & 0xff);
      const expected = Buffer.from(bytes).toString('base64');
      assert.equal(toBase64(bytes), expected);
      assert.deepEqual(fromBase64(expected), bytes);
    }
  });

  test('bytes anywhere in a value survive as bytes; JSON stays JSON', () => {
    const value = { a: new Uint8Array([1, 2]), list: [new Uint8Array([3])], n: 1, $bytes: 'kept', x: null };
    const payload = payloadConverter.toPayload(value);
    assert.equal(Buffer.from(payload.metadata!.encoding!).toString(), 'json/plain');
    assert.deepEqual(JSON.parse(Buffer.from(payload.data!).toString()).a, { $bytes: 'AQI=' });
    assert.deepEqual(payloadConverter.fromPayload(payload), value);
    const top = payloadConverter.toPayload(new Uint8Array([9]));
    assert.equal(Buffer.from(top.metadata!.encoding!).toString(), 'binary/plain');
  });
});

describe('reading payloads never wedges a workflow', () => {
  const json = (text: string) => ({ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(text) });

  test('{"$bytes": …} is bytes only for valid base64; anything else stays a plain object', () => {
    assert.deepEqual(payloadConverter.fromPayload(json('{"$bytes":"AQI="}')), new Uint8Array([1, 2]));
    assert.deepEqual(payloadConverter.fromPayload(json('{"$bytes":"AQI"}')), new Uint8Array([1, 2]));
    for (const text of [
      '{"$bytes":"%%%"}',
      '{"$bytes":"A"}',
      '{"$bytes":"AQ=I"}',
      '{"$bytes":1}',
      '{"$bytes":"AQI=","x":1}',
    ]) {
      assert.deepEqual(payloadConverter.fromPayload(json(text)), JSON.parse(text), text);
    }
  });

  test('the strict converter throws on what is not JSON; the lenient one returns a marker naming why', () => {
    const cases = [
      { metadata: { encoding: Buffer.from('json/protobuf') }, data: Buffer.from('{}') },
      json('{not json'),
      { metadata: {}, data: Buffer.from('1') },
      json('['.repeat(100_000) + ']'.repeat(100_000)),
    ];
    for (const payload of cases) {
      assert.throws(() => payloadConverter.fromPayload(payload));
      const value = lenientPayloadConverter.fromPayload(payload);
      assert.ok(isUndecodable(value));
      assert.match(value.reason, /^payload with (encoding "[^"]*"|no encoding) could not be decoded: ./);
    }
    assert.match((lenientPayloadConverter.fromPayload(cases[0]!) as { reason: string }).reason, /"json\/protobuf"/);
    assert.deepEqual(lenientPayloadConverter.fromPayload(json('{"a":[1]}')), { a: [1] });
    assert.equal(isUndecodable({ reason: 'looks alike' }), false);
  });

  test('a marker as run input or carry is a ValidationError naming the argument', () => {
    const marker = lenientPayloadConverter.fromPayload(json('{'));
    assert.throws(
      () => validateRunSpec(marker),
      /^ValidationError: workflow input: payload with encoding "json\/plain" could not be decoded/,
    );
    assert.throws(() => validateCarry(marker), /continue-as-new carry: payload/);
  });

  test('continue-as-new carry', () => {
    assert.equal(validateCarry(undefined), undefined);
    assert.equal(validateCarry(null), undefined);
    assert.deepEqual(validateCarry({ step: 3, payload: { a: 1 } }), { step: 3, payload: { a: 1 } });
    assert.deepEqual(validateCarry({ step: 0 }), { step: 0, payload: null });
    assert.deepEqual(validateCarry({ step: 2, payload: 1, cancel: { reason: null } }), {
      step: 2,
      payload: 1,
      cancel: { reason: null },
    });
    assert.deepEqual(validateCarry({ step: 2, payload: 1, cancel: {} }), {
      step: 2,
      payload: 1,
      cancel: { reason: null },
    });
    assert.throws(() => validateCarry('x'), /carry must be an object/);
    assert.throws(() => validateCarry({ step: -1 }), /step must be a whole number ≥ 0, got number -1/);
    assert.throws(() => validateCarry({ step: '1' }), /step must be a whole number/);
    assert.throws(() => validateCarry({ step: 1, cancel: 'now' }), /cancel must be/);
    assert.throws(() => validateCarry({ step: 1, cancel: { reason: 5 } }), /cancel must be/);
  });

  test('a header named __proto__ stays a header', () => {
    const headers = validateHeaders(JSON.parse('{"__proto__": "x", "tenant": "acme"}'));
    assert.deepEqual(Object.entries(headers), [
      ['__proto__', 'x'],
      ['tenant', 'acme'],
    ]);
  });
});

describe('configuration', () => {
  test('defaults', () => {
    assert.deepEqual({ ...loadConnectionConfig({}) }, { namespace: 'default', taskQueue: 'durable-runs' });
    assert.deepEqual(
      { ...loadWebhookOptions({}) },
      {
        urlHeader: 'callback_url',
        maxRetries: 3,
        baseDelayMs: 500,
        maxDelayMs: 30_000,
        timeoutMs: 10_000,
        allowPrivate: false,
        startGiveUpMs: 300_000,
      },
    );
  });

  test('each bad variable is named', () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ TEMPORAL_ADDRESS: 'nope' }, 'TEMPORAL_ADDRESS'],
      [{ DURABLE_RUNS_WEBHOOK_MAX_RETRIES: '-1' }, 'DURABLE_RUNS_WEBHOOK_MAX_RETRIES'],
      [{ DURABLE_RUNS_WEBHOOK_MAX_RETRIES: 'abc' }, 'DURABLE_RUNS_WEBHOOK_MAX_RETRIES'],
      [{ DURABLE_RUNS_WEBHOOK_BASE_DELAY_MS: '0' }, 'DURABLE_RUNS_WEBHOOK_BASE_DELAY_MS'],
      [
        { DURABLE_RUNS_WEBHOOK_MAX_DELAY_MS: '100', DURABLE_RUNS_WEBHOOK_BASE_DELAY_MS: '500' },
        'DURABLE_RUNS_WEBHOOK_MAX_DELAY_MS',
      ],
      [{ DURABLE_RUNS_WEBHOOK_TIMEOUT_MS: 'x' }, 'DURABLE_RUNS_WEBHOOK_TIMEOUT_MS'],
      [{ DURABLE_RUNS_WEBHOOK_SECRET: 'abc' }, 'DURABLE_RUNS_WEBHOOK_SECRET'],
      [{ DURABLE_RUNS_WEBHOOK_ALLOW_PRIVATE: 'maybe' }, 'DURABLE_RUNS_WEBHOOK_ALLOW_PRIVATE'],
      [{ TEMPORAL_TLS_CLIENT_CERT_PATH: '/x.pem' }, 'TEMPORAL_TLS_CLIENT_KEY_PATH'],
      [{ TEMPORAL_TLS_SERVER_CA_CERT_PATH: '/no/such/ca.pem' }, 'TEMPORAL_TLS_SERVER_CA_CERT_PATH'],
      // The name a user set is the one named, old or new.
      [{ TEMPORAL_TLS_CA: '/no/such/ca.pem' }, 'TEMPORAL_TLS_CA'],
      [{ TEMPORAL_TLS: 'maybe' }, 'TEMPORAL_TLS'],
      [{ TEMPORAL_CONFIG_FILE: '/no/such/temporal.toml' }, 'TEMPORAL_CONFIG_FILE'],
    ];
    for (const [env, name] of cases) {
      assert.throws(
        () => (name.startsWith('DURABLE') ? loadWebhookOptions(env) : loadConnectionConfig(env)),
        (e: unknown) => e instanceof ConfigError && e.message.startsWith(`${name}: `),
        name,
      );
    }
  });

  test('an API key turns TLS on; mTLS files are read', () => {
    assert.equal(loadConnectionConfig({ TEMPORAL_API_KEY: 'k' }).tls, true);
    const dir = mkdtempSync(join(tmpdir(), 'tls-'));
    writeFileSync(join(dir, 'c.pem'), 'CERT');
    writeFileSync(join(dir, 'k.pem'), 'KEY');
    const tls = loadConnectionConfig({
      TEMPORAL_TLS_CLIENT_CERT_PATH: join(dir, 'c.pem'),
      TEMPORAL_TLS_CLIENT_KEY_PATH: join(dir, 'k.pem'),
    }).tls;
    assert.ok(tls && tls !== true);
    assert.equal(tls.clientCertPair?.crt.toString(), 'CERT');
    assert.equal(tls.clientCertPair?.key.toString(), 'KEY');
    // TEMPORAL_TLS=0 turns TLS off even with an API key.
    assert.equal(loadConnectionConfig({ TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: '0' }).tls, false);
  });

  test("the old TLS names still work for one release, with a warning naming Temporal's", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tls-'));
    writeFileSync(join(dir, 'c.pem'), 'OLD-CERT');
    writeFileSync(join(dir, 'k.pem'), 'OLD-KEY');
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const tls = loadConnectionConfig({
        TEMPORAL_TLS_CERT: join(dir, 'c.pem'),
        TEMPORAL_TLS_KEY: join(dir, 'k.pem'),
      }).tls;
      assert.ok(tls && tls !== true);
      assert.equal(tls.clientCertPair?.crt.toString(), 'OLD-CERT');
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    assert.ok(
      warnings.some((w) => w.includes('TEMPORAL_TLS_CERT') && w.includes('TEMPORAL_TLS_CLIENT_CERT_PATH')),
      warnings.join('; '),
    );
  });

  test('a temporal.toml profile selects address and namespace; the environment overrides it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'profile-'));
    const file = join(dir, 'temporal.toml');
    writeFileSync(
      file,
      [
        '[profile.default]',
        'address = "127.0.0.1:7233"',
        '',
        '[profile.staging]',
        'address = "staging.example.internal:7233"',
        'namespace = "agents-staging"',
        'api_key = "secret-key"',
        '',
        '[profile.staging.grpc_meta]',
        'team = "agents"',
      ].join('\n'),
    );
    const def = loadConnectionConfig({ TEMPORAL_CONFIG_FILE: file });
    assert.equal(def.address, '127.0.0.1:7233');
    assert.equal(def.namespace, 'default');
    const staging = loadConnectionConfig({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'staging' });
    assert.equal(staging.address, 'staging.example.internal:7233');
    assert.equal(staging.namespace, 'agents-staging');
    assert.equal(staging.apiKey, 'secret-key');
    assert.equal(staging.tls, true, 'an API key turns TLS on');
    assert.deepEqual(staging.metadata, { team: 'agents' });
    const overridden = loadConnectionConfig({
      TEMPORAL_CONFIG_FILE: file,
      TEMPORAL_PROFILE: 'staging',
      TEMPORAL_NAMESPACE: 'other',
    });
    assert.equal(overridden.namespace, 'other');
    assert.throws(
      () => loadConnectionConfig({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'nope' }),
      (e: unknown) =>
        e instanceof ConfigError && e.message.startsWith('TEMPORAL_PROFILE: ') && e.message.includes('nope'),
    );
    writeFileSync(file, '[profile.default]\naddress = "no port here"\n');
    assert.throws(
      () => loadConnectionConfig({ TEMPORAL_CONFIG_FILE: file }),
      (e: unknown) => e instanceof ConfigError && e.message.includes('host:port'),
    );
    writeFileSync(file, 'this is = = not toml');
    assert.throws(
      () => loadConnectionConfig({ TEMPORAL_CONFIG_FILE: file }),
      (e: unknown) => e instanceof ConfigError && e.message.startsWith('TEMPORAL_CONFIG_FILE: '),
    );
  });

  test('versioned workers: deployment and build ID together, auto-upgrade by default', () => {
    assert.equal(loadVersioningConfig({}), undefined);
    assert.deepEqual(
      { ...loadVersioningConfig({ DURABLE_RUNS_DEPLOYMENT: 'runs', DURABLE_RUNS_BUILD_ID: 'b7' }) },
      { deploymentName: 'runs', buildId: 'b7', behavior: 'auto-upgrade' },
    );
    assert.equal(
      loadVersioningConfig({
        DURABLE_RUNS_DEPLOYMENT: 'runs',
        DURABLE_RUNS_BUILD_ID: 'b7',
        DURABLE_RUNS_VERSIONING_BEHAVIOR: 'Pinned',
      })?.behavior,
      'pinned',
    );
    for (const [env, name] of [
      [{ DURABLE_RUNS_DEPLOYMENT: 'runs' }, 'DURABLE_RUNS_BUILD_ID'],
      [{ DURABLE_RUNS_BUILD_ID: 'b7' }, 'DURABLE_RUNS_DEPLOYMENT'],
      [{ DURABLE_RUNS_DEPLOYMENT: 'a.b', DURABLE_RUNS_BUILD_ID: 'b7' }, 'DURABLE_RUNS_DEPLOYMENT'],
      [
        { DURABLE_RUNS_DEPLOYMENT: 'runs', DURABLE_RUNS_BUILD_ID: 'b7', DURABLE_RUNS_VERSIONING_BEHAVIOR: 'sticky' },
        'DURABLE_RUNS_VERSIONING_BEHAVIOR',
      ],
      [{ DURABLE_RUNS_VERSIONING_BEHAVIOR: 'pinned' }, 'DURABLE_RUNS_VERSIONING_BEHAVIOR'],
    ] as const) {
      assert.throws(
        () => loadVersioningConfig(env),
        (e: unknown) => e instanceof ConfigError && e.message.startsWith(`${name}: `),
        JSON.stringify(env),
      );
    }
  });
});

test('step backoff: 1 s, ×2, capped at 5 min; webhook policy maps the settings', () => {
  assert.deepEqual([1, 2, 3, 4].map(stepBackoffMs), [1000, 2000, 4000, 8000]);
  assert.equal(stepBackoffMs(20), 300_000);
  assert.deepEqual(webhookRetryPolicy({ maxRetries: 0, baseDelayMs: 500, maxDelayMs: 30_000 }), {
    initialInterval: 500,
    backoffCoefficient: 2,
    maximumInterval: 30_000,
    maximumAttempts: 1,
    nonRetryableErrorTypes: ['WebhookGiveUp'],
  });
});

describe("the UI's labels stay within their bytes", () => {
  test('clipBytes cuts by UTF-8 bytes, marks the cut, and never splits a character', () => {
    assert.equal(clipBytes('short', 10), 'short');
    assert.equal(clipBytes('abcdefghij', 10), 'abcdefghij');
    assert.equal(clipBytes('abcdefghijk', 10), 'abcdefg…');
    assert.equal(clipBytes('abc', 2), '');
    // 'é' is 2 bytes, '😀' is a surrogate pair of 4: a cut inside either drops the whole character.
    assert.equal(clipBytes('ééééé', 8), 'éé…');
    assert.equal(clipBytes('a😀😀', 7), 'a…');
    assert.equal(clipBytes('a😀😀', 8), 'a😀…');
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), fc.integer({ min: 0, max: 400 }), (text, max) => {
        const cut = clipBytes(text, max);
        assert.ok(utf8Length(cut) <= max, `${utf8Length(cut)} bytes > ${max}`);
        if (utf8Length(text) <= max) assert.equal(cut, text);
        else if (max >= 3) {
          assert.ok(cut.endsWith('…'));
          assert.ok(text.startsWith(cut.slice(0, -1)), 'the kept part is a prefix of the text');
          // No lone high surrogate where the text was cut.
          assert.ok(!/[\uD800-\uDBFF]$/.test(cut.slice(0, -1)));
        }
      }),
      { numRuns: 500 },
    );
  });

  test('a summary, details and a wait label are bounded whatever the runner, input and headers', () => {
    const headers = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`x-header-${'n'.repeat(80)}-${i}`, 'v']));
    const spec = {
      runner: 'ŕ'.repeat(200),
      input: { q: '😀'.repeat(5000) },
      headers: { ...headers, tenant: 'é'.repeat(500) },
    };
    assert.ok(utf8Length(runSummary(spec)) <= 640);
    const details = runDetails({ ...spec, deadline: '1h', maxSteps: 3 });
    assert.ok(utf8Length(details) <= MAX_DETAILS_BYTES, `${utf8Length(details)} bytes`);
    assert.match(details, /^\*\*runner\*\* ŕ/);
    assert.ok(utf8Length(waitLabel(Array.from({ length: 100 }, (_, i) => `event-${'e'.repeat(100)}-${i}`))) <= 640);
    assert.equal(waitLabel(['approve', 'reject']), 'wait for approve | reject');
  });

  test("a step's children share CHILD_LABELS_BYTES, each within its share", () => {
    const headers = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`x-${'h'.repeat(200)}-${i}`, 'v']));
    const spec = {
      runner: 'r'.repeat(200),
      input: 'ü'.repeat(10_000),
      headers: { ...headers, tenant: 't'.repeat(2000) },
    };
    const labelBytes = (story: ReturnType<typeof childStory>) =>
      utf8Length(story.staticSummary) +
      utf8Length(story.staticDetails) +
      (story.typedSearchAttributes ?? []).reduce(
        (n, pair) => n + (typeof pair.value === 'string' ? utf8Length(pair.value) : 0),
        0,
      );
    for (const count of [1, 10, 100, 1000, 5000]) {
      let total = 0;
      for (let index = 0; index < count; index++) {
        const story = childStory(spec, index, { parentRunId: 'p'.repeat(128), count, attributes: true });
        total += labelBytes(story);
        if (index === 0) {
          assert.match(story.staticSummary, count <= 1000 ? /^child 0 · r+…$/ : /^child 0 .*…$/);
          assert.ok(utf8Length(story.staticDetails) <= MAX_DETAILS_BYTES);
        }
      }
      assert.ok(total <= CHILD_LABELS_BYTES, `${count} children carry ${total} bytes of labels`);
    }
    // A small fan-out keeps its labels whole: the runner, the origin and the tenant.
    const few = childStory({ runner: 'agent', input: 'hi', headers: { tenant: 'acme' } }, 2, {
      parentRunId: 'run-1',
      count: 3,
      attributes: true,
    });
    assert.equal(few.staticSummary, 'child 2 · agent: hi');
    assert.match(few.staticDetails, /\*\*from\*\* child 2 of run-1/);
    assert.deepEqual(
      few.typedSearchAttributes?.map((pair) => [pair.key.name, pair.value]),
      [
        ['DurableRunsState', 'running'],
        ['DurableRunsRunner', 'agent'],
        ['DurableRunsTenant', 'acme'],
        ['DurableRunsStep', 0],
      ],
    );
    assert.equal(
      childStory({ runner: 'agent', input: 1 }, 0, { parentRunId: 'p', count: 1, attributes: false })
        .typedSearchAttributes,
      undefined,
    );
  });
});
