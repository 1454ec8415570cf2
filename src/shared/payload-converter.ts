/**
 * The payload converter of durable-runs: Temporal's default, except that JSON payloads carry
 * `Uint8Array`s anywhere inside a value as `{"$bytes": "<base64>"}` instead of an object of numbers.
 * The encoding stays `json/plain`, so the Temporal CLI and UI read (and write) these payloads.
 *
 * Reading is total for any JSON text: an object whose only key is `$bytes` becomes bytes when its
 * value is valid base64, and stays a plain object otherwise (it never throws, so no JSON value a
 * user sends can wedge a workflow task). The client uses the strict `payloadConverter`; the worker
 * uses `lenientPayloadConverter` (see ./worker-payload-converter), which turns a payload that is
 * not JSON at all into an `UndecodablePayload` marker the workflow fails or ignores cleanly.
 *
 * Both directions refuse JSON nested deeper than `MAX_JSON_DEPTH` levels of arrays and objects,
 * with a `ValueError` naming the limit. Without the bound, how deep a value may be would depend
 * on the stack of the thread that converts it (the worker's main thread and its workflow threads
 * differ), and whether a step can be scheduled or its outcome read would not be deterministic.
 */
import {
  BinaryPayloadConverter,
  CompositePayloadConverter,
  type Payload,
  type PayloadConverter,
  type PayloadConverterWithEncoding,
  UndefinedPayloadConverter,
  ValueError,
} from '@temporalio/common';
// SDK internals, as no public API exports them: UTF-8 encode/decode that also work in the workflow sandbox.
import { decode, encode } from '@temporalio/common/lib/encoding';
import { BYTES_KEY, fromBase64, toBase64 } from './base64';
import { jsonDeeperThan, MAX_JSON_DEPTH } from './limits';

export { fromBase64, toBase64 };

function replacer(this: unknown, _key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? { [BYTES_KEY]: toBase64(value) } : value;
}

/** Standard base64 with optional padding; anything else under `$bytes` is left as it is. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

function reviver(_key: string, value: unknown): unknown {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const b = (value as Record<string, unknown>)[BYTES_KEY];
    if (typeof b === 'string' && BASE64.test(b) && Object.keys(value).length === 1) return fromBase64(b);
  }
  return value;
}

function isStackOverflow(err: unknown): boolean {
  // By name: JSON.stringify in the workflow sandbox throws that realm's RangeError.
  return (err as Error)?.name === 'RangeError' && /call stack/i.test((err as Error).message);
}

function tooDeep(what: 'value' | 'JSON'): ValueError {
  return new ValueError(
    `${what} nested deeper than ${MAX_JSON_DEPTH} levels of arrays and objects (the MAX_JSON_DEPTH limit)`,
  );
}

export class BytesAwareJsonPayloadConverter implements PayloadConverterWithEncoding {
  readonly encodingType = 'json/plain';

  toPayload(value: unknown): Payload | undefined {
    if (value === undefined) return undefined;
    let json: string | undefined;
    try {
      json = JSON.stringify(value, replacer);
    } catch (err) {
      // The stack ran out: far deeper than the bound, which a thread's stack always holds.
      if (isStackOverflow(err)) throw tooDeep('value');
      return undefined;
    }
    if (json === undefined) return undefined;
    if (jsonDeeperThan(json, MAX_JSON_DEPTH)) throw tooDeep('value');
    return { metadata: { encoding: encode('json/plain') }, data: encode(json) };
  }

  fromPayload<T>(payload: Payload): T {
    if (payload.data === undefined || payload.data === null) throw new ValueError('Got payload with no data');
    const json = decode(payload.data);
    if (jsonDeeperThan(json, MAX_JSON_DEPTH)) throw tooDeep('JSON');
    return JSON.parse(json, reviver) as T;
  }
}

/** Metadata of a payload the encryption codec wrote (see src/payloads/encryption.ts). */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const ENCRYPTION_KEY_ID = 'encryption-key-id';
/** Set by the codec on an encrypted payload it could not decrypt, saying why. */
export const DECRYPTION_ERROR = 'decryption-error';

/** A metadata value as text for a message, without trusting its bytes. */
function metadataText(payload: Payload, key: string): string | undefined {
  const raw = payload.metadata?.[key];
  if (!raw) return undefined;
  try {
    return decode(raw).slice(0, 300);
  } catch {
    return '(unreadable)';
  }
}

/**
 * Reads nothing: an encrypted payload reaches a converter only when it was not decrypted, so this
 * throws the reason (the codec's, or "no keys"), naming the key ID, instead of "Unknown encoding".
 */
export class EncryptedPayloadConverter implements PayloadConverterWithEncoding {
  readonly encodingType = ENCRYPTED_ENCODING;

  toPayload(): undefined {
    return undefined;
  }

  fromPayload<T>(payload: Payload): T {
    const reason = metadataText(payload, DECRYPTION_ERROR);
    if (reason) throw new ValueError(reason);
    const keyId = metadataText(payload, ENCRYPTION_KEY_ID) ?? '(none)';
    throw new ValueError(
      `payload encrypted with key ${JSON.stringify(keyId)}, and this process has no DURABLE_RUNS_ENCRYPTION_KEYS to decrypt it`,
    );
  }
}

export const payloadConverter = new CompositePayloadConverter(
  new UndefinedPayloadConverter(),
  new BinaryPayloadConverter(),
  new BytesAwareJsonPayloadConverter(),
  new EncryptedPayloadConverter(),
);

const UNDECODABLE = Symbol.for('durable-runs.undecodable-payload');

/** What the worker's converter returns for a payload it cannot read, instead of throwing. */
export interface UndecodablePayload {
  readonly [UNDECODABLE]: true;
  /** Why, e.g. `payload encoding "json/protobuf" is not supported`. */
  readonly reason: string;
}

export function isUndecodable(value: unknown): value is UndecodablePayload {
  return typeof value === 'object' && value !== null && (value as Partial<UndecodablePayload>)[UNDECODABLE] === true;
}

/** Names a payload's encoding for an error message, without trusting its bytes. */
function encodingOf(payload: Payload): string {
  const raw = payload.metadata?.encoding;
  if (!raw) return 'no encoding';
  try {
    return `encoding ${JSON.stringify(decode(raw).slice(0, 60))}`;
  } catch {
    return 'an unreadable encoding';
  }
}

/**
 * The strict converter, except that reading never throws: a payload it cannot decode comes back as
 * an `UndecodablePayload`. The SDK decodes workflow arguments, signal and query arguments and memos
 * before any workflow code runs, and a throw there fails the workflow task on every retry; with
 * this converter the workflow sees the marker and fails the run, or ignores the signal, by name.
 */
export class LenientPayloadConverter implements PayloadConverter {
  constructor(private readonly inner: PayloadConverter) {}

  toPayload<T>(value: T): Payload {
    return this.inner.toPayload(value);
  }

  fromPayload<T>(payload: Payload): T {
    try {
      return this.inner.fromPayload<T>(payload);
    } catch (err) {
      const reason = `payload with ${encodingOf(payload)} could not be decoded: ${(err as Error)?.message ?? String(err)}`;
      return { [UNDECODABLE]: true, reason } satisfies UndecodablePayload as T;
    }
  }
}

export const lenientPayloadConverter = new LenientPayloadConverter(payloadConverter);
