/**
 * The encryption codec, its keys and its wire format without Temporal, and the codec server over
 * loopback: round trips, rotation, tampering, configuration errors, token, CORS.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ApplicationFailure, DefaultFailureConverter, type Payload, ValueError } from '@temporalio/common';
import { decodeFailure, encodeFailure } from '@temporalio/common/lib/internal-non-workflow';
import { temporal } from '@temporalio/proto';
import { type CodecServer, startCodecServer } from '../src/codec-server';
import { ConfigError } from '../src/config';
import { EncryptionCodec, EncryptionKeys, resolveEncryptionKeys } from '../src/encryption';
import { payloadFromBytes, payloadFromJson, payloadToBytes, payloadToJson } from '../src/payload-wire';
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
      assert.deepEqual(Object.keys(encrypted.metadata ?? {}).sort(), ['encoding', 'encryption-key-id']);
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
      'payload encrypted with key "new", which is not among the keys of DURABLE_RUNS_ENCRYPTION_KEYS here (old)',
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
