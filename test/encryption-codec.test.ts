/**
 * The encryption codec, its keys and its wire format without Temporal, and the codec server over
 * loopback: round trips, rotation, tampering, configuration errors, token, CORS.
 */
import assert from 'node:assert/strict';
import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  ApplicationFailure,
  DefaultFailureConverter,
  type Payload,
  type SerializationContext,
  ValueError,
} from '@temporalio/common';
import { decodeFailure, encodeFailure } from '@temporalio/common/lib/internal-non-workflow';
import { temporal } from '@temporalio/proto';
import { type CodecServer, startCodecServer } from '../src/payloads/codec-server';
import { ConfigError } from '../src/common/config';
import { EncryptionCodec, EncryptionKeys, resolveEncryptionKeys } from '../src/payloads/encryption';
import { payloadFromBytes, payloadFromJson, payloadToBytes, payloadToJson } from '../src/payloads/payload-wire';
import { failureConverter as encryptingFailureConverter } from '../src/shared/encrypted-failure-converter';
import {
  DECRYPTION_ERROR,
  isUndecodable,
  lenientPayloadConverter,
  payloadConverter,
} from '../src/shared/payload-converter';

const key = () => randomBytes(32).toString('base64');
const OLD = key();
const NEW = key();
const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? []).toString('utf8');

const values: unknown[] = [
  { order: 'A-17', amount: 25, nested: { deep: [1, 'two', null] } },
  'héllo wörld ✓',
  new Uint8Array([0, 1, 2, 250]),
  { blob: new Uint8Array(70_000).fill(7) },
  null,
  undefined,
  0,
  '',
];

async function roundTrip(codec: EncryptionCodec, value: unknown): Promise<{ encrypted: Payload; back: unknown }> {
  const [encrypted] = await codec.encode([payloadConverter.toPayload(value)]);
  const [decrypted] = await codec.decode([encrypted!]);
  return { encrypted: encrypted!, back: payloadConverter.fromPayload(decrypted!) };
}

describe('encryption codec', () => {
  test('round trip: every kind of value comes back equal; the stored form shows none of it', async () => {
    const codec = new EncryptionCodec(EncryptionKeys.parse(`k1:${OLD}`));
    for (const value of values) {
      const { encrypted, back } = await roundTrip(codec, value);
      assert.deepEqual(back, value);
      assert.equal(text(encrypted.metadata?.encoding), 'binary/encrypted');
      assert.equal(text(encrypted.metadata?.['encryption-key-id']), 'k1');
      assert.deepEqual(Object.keys(encrypted.metadata ?? {}).sort(), [
        'encoding',
        'encryption-binding',
        'encryption-key-id',
      ]);
    }
    const secret = 'the-plaintext-secret-4711';
    const { encrypted } = await roundTrip(codec, { secret });
    assert.ok(!Buffer.from(encrypted.data!).includes(secret));
    assert.ok(!Buffer.from(encrypted.data!).includes('json/plain'), 'the original metadata is encrypted too');
    // A fresh IV per payload: the same value never encrypts to the same bytes.
    const again = await roundTrip(codec, { secret });
    assert.notDeepEqual(Buffer.from(again.encrypted.data!), Buffer.from(encrypted.data!));
  });

  test('payloads that are not encrypted pass decode untouched', async () => {
    const codec = new EncryptionCodec(EncryptionKeys.parse(`k1:${OLD}`));
    const plain = payloadConverter.toPayload({ a: 1 });
    assert.deepEqual(await codec.decode([plain]), [plain]);
  });

  test('rotation: the first key encrypts, an old key still decrypts', async () => {
    const before = new EncryptionCodec(EncryptionKeys.parse(`old:${OLD}`));
    const rotated = new EncryptionCodec(EncryptionKeys.parse(`new:${NEW}, old:${OLD}`));
    const [fromBefore] = await before.encode([payloadConverter.toPayload({ v: 'written before rotation' })]);
    const [decoded] = await rotated.decode([fromBefore!]);
    assert.deepEqual(payloadConverter.fromPayload(decoded!), { v: 'written before rotation' });

    const [fromRotated] = await rotated.encode([payloadConverter.toPayload({ v: 'after' })]);
    assert.equal(text(fromRotated!.metadata?.['encryption-key-id']), 'new');
    // A process that never got the new key says which key it lacks.
    const [unreadable] = await before.decode([fromRotated!]);
    assert.equal(
      text(unreadable!.metadata?.[DECRYPTION_ERROR]),
      'payload encrypted with key "new", which is not among the keys of DURABLE_RUNS_ENCRYPTION_KEYS here',
    );
  });

  test('tampered or corrupt ciphertext is rejected, naming the key; decode itself never throws', async () => {
    const codec = new EncryptionCodec(EncryptionKeys.parse(`k1:${OLD},k2:${NEW}`));
    const [good] = await codec.encode([payloadConverter.toPayload({ amount: 25 })]);
    const data = Buffer.from(good!.data!);
    const flip = (at: number) => {
      const copy = Buffer.from(data);
      copy[at] = copy[at]! ^ 0x01;
      return copy;
    };
    const tampered: Array<[string, Payload]> = [
      ['a ciphertext bit', { ...good!, data: flip(20) }],
      ['an IV bit', { ...good!, data: flip(0) }],
      ['a tag bit', { ...good!, data: flip(data.length - 1) }],
      ['truncated', { ...good!, data: data.subarray(0, data.length - 3) }],
      ['another known key id', { ...good!, metadata: { ...good!.metadata, 'encryption-key-id': Buffer.from('k2') } }],
    ];
    for (const [what, payload] of tampered) {
      const [out] = await codec.decode([payload]);
      const reason = text(out!.metadata?.[DECRYPTION_ERROR]);
      assert.match(reason, /^payload encrypted with key "k[12]" failed authentication: .*tampered/, what);
      assert.equal(text(out!.metadata?.encoding), 'binary/encrypted', what);
      // The client's converter throws the reason; the worker's hands the workflow a marker with it.
      assert.throws(
        () => payloadConverter.fromPayload(out!),
        (e: unknown) => e instanceof ValueError && e.message === reason,
      );
      const marker = lenientPayloadConverter.fromPayload(out!);
      assert.ok(isUndecodable(marker));
      assert.equal(marker.reason, `payload with encoding "binary/encrypted" could not be decoded: ${reason}`);
    }
    const [short] = await codec.decode([{ ...good!, data: data.subarray(0, 10) }]);
    assert.match(text(short!.metadata?.[DECRYPTION_ERROR]), /key "k1" is too short to be ciphertext \(10 bytes\)/);
  });

  test('without keys, an encrypted payload is an error naming its key id', async () => {
    const [encrypted] = await new EncryptionCodec(EncryptionKeys.parse(`k9:${OLD}`)).encode([
      payloadConverter.toPayload(1),
    ]);
    assert.throws(() => payloadConverter.fromPayload(encrypted!), {
      message: 'payload encrypted with key "k9", and this process has no DURABLE_RUNS_ENCRYPTION_KEYS to decrypt it',
    });
  });

  test('pseudonyms (fairness keys): stable per key, different across keys, nothing of the text', () => {
    const a = new EncryptionCodec(EncryptionKeys.parse(`k1:${OLD}`));
    const b = new EncryptionCodec(EncryptionKeys.parse(`k2:${NEW},k1:${OLD}`));
    assert.equal(a.pseudonym('acme'), a.pseudonym('acme'));
    assert.match(a.pseudonym('acme'), /^h-[A-Za-z0-9_-]{22}$/);
    assert.notEqual(a.pseudonym('acme'), a.pseudonym('acme2'));
    assert.notEqual(a.pseudonym('acme'), b.pseudonym('acme'));
  });

  test('the pseudonym key is derived from the encrypting key (HKDF), not the encrypting key itself', () => {
    const codec = new EncryptionCodec(EncryptionKeys.parse(`k1:${OLD}`));
    const hmac = (key: Uint8Array) =>
      `h-${createHmac('sha256', key).update('durable-runs pseudonym\0acme').digest('base64url').slice(0, 22)}`;
    const raw = Buffer.from(OLD, 'base64');
    const derived = Buffer.from(hkdfSync('sha256', raw, new Uint8Array(0), 'durable-runs fairness pseudonym v1', 32));
    assert.notDeepEqual(derived, raw);
    assert.notEqual(codec.pseudonym('acme'), hmac(raw));
    assert.equal(codec.pseudonym('acme'), hmac(derived));
  });

  test('failure messages and stack traces travel encrypted', async () => {
    const codec = new EncryptionCodec(EncryptionKeys.parse(`k1:${OLD}`));
    const failure = encryptingFailureConverter.errorToFailure(
      ApplicationFailure.nonRetryable('card 4242 declined', 'Declined'),
      payloadConverter,
    );
    const stored = await encodeFailure([codec], failure);
    assert.equal(stored.message, 'Encoded failure');
    assert.equal(stored.stackTrace, '');
    assert.equal(stored.applicationFailureInfo?.type, 'Declined');
    assert.ok(!JSON.stringify(temporal.api.failure.v1.Failure.toObject(stored as never)).includes('4242'));
    assert.equal(text(stored.encodedAttributes?.metadata?.encoding), 'binary/encrypted');
    const read = new DefaultFailureConverter().failureToError(await decodeFailure([codec], stored), payloadConverter);
    assert.equal(read.message, 'card 4242 declined');
  });
});

describe('payloads bound to their run', () => {
  const codec = new EncryptionCodec(EncryptionKeys.parse(`k1:${OLD}`));
  const run = (workflowId: string, namespace = 'default'): SerializationContext => ({
    type: 'workflow',
    namespace,
    workflowId,
  });
  const activityOf = (workflowId: string): SerializationContext => ({
    type: 'activity',
    namespace: 'default',
    workflowId,
    activityId: '1',
    isLocal: false,
  });
  const sealed = async (context?: SerializationContext) =>
    (await codec.encode([payloadConverter.toPayload({ amount: 25 })], context))[0]!;
  const opened = async (payload: Payload, context?: SerializationContext) => {
    const [out] = await codec.decode([payload], context);
    const error = out!.metadata?.[DECRYPTION_ERROR];
    return error ? { error: text(error) } : { value: payloadConverter.fromPayload(out!) };
  };

  test('the binding names the namespace, the run and the scope, in metadata a reader without context sees', async () => {
    assert.deepEqual(JSON.parse(text((await sealed(run('run-A'))).metadata?.['encryption-binding'])), {
      v: 1,
      namespace: 'default',
      workflowId: 'run-A',
      scope: 'workflow',
    });
    assert.deepEqual(JSON.parse(text((await sealed(activityOf('run-A'))).metadata?.['encryption-binding'])), {
      v: 1,
      namespace: 'default',
      workflowId: 'run-A',
      scope: 'activity',
    });
    // The codec server and any other encoder without a context bind nothing.
    assert.deepEqual(JSON.parse(text((await sealed()).metadata?.['encryption-binding'])), { v: 1 });
  });

  test('a payload opens in its own run and without a context; elsewhere it is refused, naming both', async () => {
    const forA = await sealed(run('run-A'));
    assert.deepEqual(await opened(forA, run('run-A')), { value: { amount: 25 } });
    assert.deepEqual(await opened(forA), { value: { amount: 25 } }, 'the codec server and raw-history readers');
    assert.deepEqual(await opened(forA, run('run-B')), {
      error:
        'payload encrypted with key "k1" belongs to run "run-A", not to run "run-B": an encrypted payload cannot be moved to another run',
    });
    assert.deepEqual(await opened(forA, run('run-A', 'other')), {
      error:
        'payload encrypted with key "k1" belongs to run "run-A" in namespace "default", not to run "run-A" in namespace "other": an encrypted payload cannot be moved to another run',
    });
    assert.deepEqual(await opened(forA, activityOf('run-A')), {
      error:
        'payload encrypted with key "k1" belongs to run "run-A", not to an activity of run "run-A": an encrypted payload cannot be moved between a run and its activities\' payloads',
    });
    const stepOfA = await sealed(activityOf('run-A'));
    assert.deepEqual(await opened(stepOfA, activityOf('run-A')), { value: { amount: 25 } });
    assert.match(
      (await opened(stepOfA, activityOf('run-B'))).error!,
      /belongs to an activity of run "run-A", not to an activity of run "run-B"/,
    );
    // Bound to nothing (the codec server's), it opens anywhere.
    assert.deepEqual(await opened(await sealed(), run('run-B')), { value: { amount: 25 } });
  });

  test("a schedule's runs share its binding: its input and each run's last result open in every run it starts", async () => {
    const action = await sealed(run('nightly'));
    assert.deepEqual(await opened(action, run('nightly-2026-12-04T14:09:48Z')), { value: { amount: 25 } });
    const lastResult = await sealed(run('nightly-2026-12-04T14:09:48Z'));
    assert.deepEqual(await opened(lastResult, run('nightly-2026-12-05T14:09:48Z')), { value: { amount: 25 } });
    for (const other of ['nightly2-2026-12-04T14:09:48Z', 'nightly-extra', 'nightly-2026-12-04', 'x-nightly']) {
      assert.match((await opened(action, run(other))).error!, /cannot be moved to another run/, other);
    }
  });

  test('the binding is authenticated: altered, swapped or removed, the payload fails authentication', async () => {
    const forA = await sealed(run('run-A'));
    const forB = await sealed(run('run-B'));
    const variants: Array<[string, Payload]> = [
      [
        'altered',
        {
          ...forA,
          metadata: {
            ...forA.metadata,
            'encryption-binding': Buffer.from('{"v":1,"namespace":"default","workflowId":"run-B","scope":"workflow"}'),
          },
        },
      ],
      [
        'swapped',
        { ...forA, metadata: { ...forA.metadata, 'encryption-binding': forB.metadata!['encryption-binding']! } },
      ],
      ['unbound', { ...forA, metadata: { ...forA.metadata, 'encryption-binding': Buffer.from('{"v":1}') } }],
      [
        'removed (read as a payload of before bindings)',
        {
          ...forA,
          metadata: { encoding: forA.metadata!.encoding!, 'encryption-key-id': forA.metadata!['encryption-key-id']! },
        },
      ],
    ];
    for (const [what, payload] of variants) {
      for (const context of [run('run-B'), undefined]) {
        assert.match(
          (await opened(payload, context)).error ?? '(opened)',
          /^payload encrypted with key "k1" failed authentication: the ciphertext or its encryption-binding is corrupt or was tampered with/,
          what,
        );
      }
    }
    const unreadable: Array<[string, RegExp]> = [
      ['not json', /its encryption-binding is not JSON$/],
      ['{"v":2}', /its encryption-binding has version 2, which this version of durable-runs cannot read$/],
      ['{"v":1,"workflowId":7}', /its encryption-binding has a workflow ID that is not a string$/],
    ];
    for (const [binding, message] of unreadable) {
      const payload = { ...forA, metadata: { ...forA.metadata, 'encryption-binding': Buffer.from(binding) } };
      assert.match((await opened(payload, run('run-A'))).error!, message, binding);
    }
  });

  test('payloads encrypted before bindings (no associated data) still open, in any run: bytes from that version', async () => {
    // Written by the codec of commit 9e0f3e5 with key id "legacy" = 32 bytes of 0x07.
    const legacy: Payload = {
      metadata: { encoding: Buffer.from('binary/encrypted'), 'encryption-key-id': Buffer.from('legacy') },
      data: Buffer.from(
        'hhNCaeB6p9rRQDK8glB7O1w390j0IVTxweP3apKqviJLCEC+F0qLvMMsQqLcqXFVu5GJiEApWwAiC2JHmVlQ64M3977AV8js8ve9HxTJ3XjT6I3MnTrieAr7IHpa6E8=',
        'base64',
      ),
    };
    const rotated = new EncryptionCodec(
      EncryptionKeys.parse(`k1:${OLD},legacy:${Buffer.alloc(32, 7).toString('base64')}`),
    );
    for (const context of [run('run-A'), activityOf('run-B'), undefined]) {
      const [out] = await rotated.decode([legacy], context);
      assert.equal(out!.metadata?.[DECRYPTION_ERROR], undefined);
      assert.deepEqual(payloadConverter.fromPayload(out!), { order: 'A-17', amount: 25 });
      assert.equal(text(out!.metadata?.['x-empty']), '');
    }
  });
});

describe('encryption keys', () => {
  test('every malformed DURABLE_RUNS_ENCRYPTION_KEYS is a ConfigError naming the variable and the problem', () => {
    const cases: Array<[string, string]> = [
      [' , ', 'no keys: give id:base64key[,id:base64key…]'],
      [`k1:${OLD},${NEW}`, 'entry 2 is not id:base64key'],
      [`k 1:${OLD}`, 'entry 1: the key id must be 1–64 characters of [A-Za-z0-9._-]'],
      [`:${OLD}`, 'entry 1: the key id must be 1–64 characters of [A-Za-z0-9._-]'],
      [`${'x'.repeat(65)}:${OLD}`, 'entry 1: the key id must be 1–64 characters of [A-Za-z0-9._-]'],
      ['k1:not*base64!', 'key "k1" is not base64'],
      ['k1:abcde', 'key "k1" is not base64'],
      [
        `k1:${randomBytes(16).toString('base64')}`,
        'key "k1" is 16 bytes; AES-256 needs 32 (node -e "console.log(require(\'crypto\').randomBytes(32).toString(\'base64\'))")',
      ],
      [`k1:${OLD},k1:${NEW}`, 'key id "k1" appears twice'],
    ];
    for (const [value, problem] of cases) {
      assert.throws(
        () => EncryptionKeys.parse(value),
        (e: unknown) => e instanceof ConfigError && e.message === `DURABLE_RUNS_ENCRYPTION_KEYS: ${problem}`,
        value,
      );
    }
    // Key material is never echoed, even when it sits where the id should be.
    assert.throws(
      () => EncryptionKeys.parse(`${OLD}:k1`),
      (e: unknown) => e instanceof ConfigError && !e.message.includes(OLD.slice(0, 10)),
    );
  });

  test('the first key encrypts; URL-safe and unpadded base64 are accepted; empty means off', () => {
    const urlSafe = Buffer.from(NEW, 'base64').toString('base64url');
    const keys = EncryptionKeys.parse(` b.2:${urlSafe} , a_1:${OLD} `);
    assert.equal(keys.encryptingKeyId, 'b.2');
    assert.deepEqual(keys.ids, ['b.2', 'a_1']);
    assert.deepEqual(keys.key('b.2'), Buffer.from(NEW, 'base64'));
    assert.equal(EncryptionKeys.fromEnv({}), undefined);
    assert.equal(EncryptionKeys.fromEnv({ DURABLE_RUNS_ENCRYPTION_KEYS: '  ' }), undefined);
    assert.equal(EncryptionKeys.fromEnv({ DURABLE_RUNS_ENCRYPTION_KEYS: `k:${OLD}` })?.encryptingKeyId, 'k');
    assert.equal(resolveEncryptionKeys(false, { DURABLE_RUNS_ENCRYPTION_KEYS: `k:${OLD}` }), undefined);
    assert.throws(() => resolveEncryptionKeys('k1:short'), { message: /^encryptionKeys: key "k1" is not base64/ });
  });
});

describe('payload wire format', () => {
  const samples: Payload[] = [
    payloadConverter.toPayload({ a: 'b' }),
    payloadConverter.toPayload(new Uint8Array(300).fill(1)),
    payloadConverter.toPayload(undefined),
    { metadata: { encoding: Buffer.from('json/plain'), 'x-ünïcode': new Uint8Array(0) }, data: Buffer.from('1') },
    { metadata: {}, data: new Uint8Array(200_000).fill(9) },
  ];
  const normalize = (p: Payload) => ({
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? [])])),
    data: Buffer.from(p.data ?? []),
  });

  test("bytes: protobuf's Payload, read and written the same as @temporalio/proto", () => {
    const Proto = temporal.api.common.v1.Payload;
    for (const p of samples) {
      assert.deepEqual(normalize(payloadFromBytes(payloadToBytes(p))), normalize(p));
      assert.deepEqual(normalize(Proto.decode(payloadToBytes(p))), normalize(p));
      assert.deepEqual(normalize(payloadFromBytes(Proto.encode(p).finish())), normalize(p));
    }
    assert.throws(() => payloadFromBytes(new Uint8Array([0x0a, 0x05, 0x01])), /index out of range/);
  });

  test('the same bytes as the hand-written encoding before @temporalio/proto, both ways (stored payloads stay readable)', () => {
    // payloadToBytes of commit 9e0f3e5, for these two payloads.
    const fixed: Array<[Payload, string]> = [
      [
        {
          metadata: { encoding: Buffer.from('json/plain'), 'x-empty': new Uint8Array(0) },
          data: Buffer.from('{"order":"A-17","amount":25}'),
        },
        '0a160a08656e636f64696e67120a6a736f6e2f706c61696e0a0b0a07782d656d7074791200121c7b226f72646572223a22412d3137222c22616d6f756e74223a32357d',
      ],
      [{ metadata: { encoding: Buffer.from('binary/null') } }, '0a170a08656e636f64696e67120b62696e6172792f6e756c6c'],
    ];
    for (const [payload, hex] of fixed) {
      assert.equal(Buffer.from(payloadToBytes(payload)).toString('hex'), hex);
      assert.deepEqual(normalize(payloadFromBytes(Buffer.from(hex, 'hex'))), normalize(payload));
    }
  });

  test('every field of a Payload survives, not only metadata and data (the codec encrypts the whole message)', async () => {
    // protobufjs takes a number where its types say Long.
    const externalPayloads = [{ sizeBytes: 1234 }] as unknown as NonNullable<Payload['externalPayloads']>;
    const payload: Payload = { ...payloadConverter.toPayload('big'), externalPayloads };
    const back = payloadFromBytes(payloadToBytes(payload));
    assert.deepEqual(
      back.externalPayloads?.map((e) => Number(e.sizeBytes)),
      [1234],
    );
    const codec = new EncryptionCodec(EncryptionKeys.parse(`k1:${OLD}`));
    const [decrypted] = await codec.decode(await codec.encode([payload]));
    assert.deepEqual(
      decrypted!.externalPayloads?.map((e) => Number(e.sizeBytes)),
      [1234],
    );
  });

  test('JSON: the codec-server protocol form', () => {
    for (const p of samples) assert.deepEqual(normalize(payloadFromJson(payloadToJson(p))), normalize(p));
    assert.deepEqual(payloadToJson({ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('{}') }), {
      metadata: { encoding: 'anNvbi9wbGFpbg==' },
      data: 'e30=',
    });
    assert.throws(() => payloadFromJson({ data: 'not base64!' }, 'payloads[0]'), {
      message: 'payloads[0].data must be a base64 string',
    });
    assert.throws(() => payloadFromJson([], 'payloads[1]'), { message: 'payloads[1] must be an object' });
  });
});

describe('codec server over loopback', () => {
  const TOKEN = randomBytes(24).toString('base64url');
  const ORIGIN = 'http://localhost:8233';
  const keys = EncryptionKeys.parse(`new:${NEW},old:${OLD}`);
  let server: CodecServer;

  before(async () => {
    server = await startCodecServer({ keys, token: TOKEN, port: 0, corsOrigins: [ORIGIN] });
  });
  after(() => server?.close());

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const auth = { Authorization: `Bearer ${TOKEN}` };

  test('encode then decode gives back the payloads; encode encrypts with the first key', async () => {
    const plain = [payloadConverter.toPayload({ order: 'A-17' }), payloadConverter.toPayload('hi')].map(payloadToJson);
    const encoded = await post('/encode', { payloads: plain }, auth);
    assert.equal(encoded.status, 200);
    assert.equal(encoded.headers.get('content-type'), 'application/json');
    const { payloads: encrypted } = (await encoded.json()) as { payloads: Array<{ metadata: Record<string, string> }> };
    assert.equal(encrypted.length, 2);
    for (const p of encrypted) {
      assert.equal(Buffer.from(p.metadata.encoding!, 'base64').toString(), 'binary/encrypted');
      assert.equal(Buffer.from(p.metadata['encryption-key-id']!, 'base64').toString(), 'new');
    }
    const decoded = await post('/decode', { payloads: encrypted }, auth);
    assert.equal(decoded.status, 200);
    assert.deepEqual(await decoded.json(), { payloads: plain });
    // What a worker with an old key wrote decodes too.
    const [old] = await new EncryptionCodec(EncryptionKeys.parse(`old:${OLD}`)).encode([
      payloadConverter.toPayload(42),
    ]);
    const fromOld = await post('/decode', { payloads: [payloadToJson(old!)] }, auth);
    assert.deepEqual(await fromOld.json(), { payloads: [payloadToJson(payloadConverter.toPayload(42))] });
    // What a worker wrote for a run (bound to it) decodes without knowing the run.
    const [bound] = await new EncryptionCodec(keys).encode([payloadConverter.toPayload(7)], {
      type: 'workflow',
      namespace: 'default',
      workflowId: 'run-A',
    });
    const fromRun = await post('/decode', { payloads: [payloadToJson(bound!)] }, auth);
    assert.deepEqual(await fromRun.json(), { payloads: [payloadToJson(payloadConverter.toPayload(7))] });
  });

  test('without the token, or with a wrong one, 401; the token may also be a path segment (the UI)', async () => {
    const body = { payloads: [] };
    const attempts: Array<Record<string, string>> = [
      {},
      { Authorization: 'Bearer wrong-token-wrong-token' },
      { Authorization: TOKEN },
    ];
    for (const headers of attempts) {
      const res = await post('/decode', body, headers);
      assert.equal(res.status, 401, JSON.stringify(headers));
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="durable-runs codec"');
    }
    assert.equal((await post('/wrong-token-wrong-token/decode', body)).status, 401);
    assert.equal((await post(`/${TOKEN}/decode`, body)).status, 200);
    assert.equal((await post(`/${TOKEN}/x/decode`, body)).status, 200);
    assert.equal(server.uiEndpoint, `${server.url}/${TOKEN}`);
    assert.equal((await post('/prefix/encode', body, auth)).status, 200, 'only the last segment names the operation');
  });

  test('CORS: a preflight from the UI origin gets the headers the UI sends; other origins get none', async () => {
    const preflight = await fetch(`${server.url}/${TOKEN}/decode`, {
      method: 'OPTIONS',
      headers: {
        Origin: ORIGIN,
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type,x-namespace,authorization',
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), ORIGIN);
    assert.equal(preflight.headers.get('access-control-allow-credentials'), 'true');
    assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /\bPOST\b/);
    const allowed = (preflight.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(/,\s*/);
    for (const h of ['content-type', 'x-namespace', 'authorization']) assert.ok(allowed.includes(h), h);

    const actual = await post('/decode', { payloads: [] }, { ...auth, Origin: ORIGIN });
    assert.equal(actual.headers.get('access-control-allow-origin'), ORIGIN);

    const foreign = await fetch(`${server.url}/decode`, {
      method: 'OPTIONS',
      headers: { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'POST' },
    });
    assert.equal(foreign.status, 403);
    assert.equal(foreign.headers.get('access-control-allow-origin'), null);
    const foreignPost = await post('/decode', { payloads: [] }, { ...auth, Origin: 'http://evil.example' });
    assert.equal(foreignPost.headers.get('access-control-allow-origin'), null);
  });

  test('bad requests are refused with a reason', async () => {
    const bad = async (res: Response, status: number, message: RegExp) => {
      assert.equal(res.status, status);
      assert.match(await res.text(), message);
    };
    await bad(await post('/decode', 'not json', auth), 400, /body must be JSON/);
    await bad(await post('/decode', { nope: 1 }, auth), 400, /body must be \{"payloads": \[\.\.\.\]\}/);
    await bad(
      await post('/decode', { payloads: [{ data: '%%%' }] }, auth),
      400,
      /payloads\[0\]\.data must be a base64/,
    );
    await bad(await post('/other', {}, auth), 404, /POST \/encode or \/decode/);
    await bad(await fetch(`${server.url}/decode`, { headers: auth }), 405, /GET not allowed/);
  });

  test('a payload it cannot decrypt comes back as it is, saying why', async () => {
    const [foreign] = await new EncryptionCodec(EncryptionKeys.parse(`other:${key()}`)).encode([
      payloadConverter.toPayload('x'),
    ]);
    const res = await post('/decode', { payloads: [payloadToJson(foreign!)] }, auth);
    const { payloads } = (await res.json()) as { payloads: Array<{ metadata: Record<string, string>; data: string }> };
    assert.equal(payloads[0]!.data, payloadToJson(foreign!).data);
    assert.match(Buffer.from(payloads[0]!.metadata[DECRYPTION_ERROR]!, 'base64').toString(), /key "other"/);
  });
});
