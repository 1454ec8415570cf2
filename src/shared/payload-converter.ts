/**
 * The payload converter of durable-runs: Temporal's default, except that JSON payloads carry
 * `Uint8Array`s anywhere inside a value as `{"$bytes": "<base64>"}` instead of an object of numbers.
 * The encoding stays `json/plain`, so the Temporal CLI and UI read (and write) these payloads.
 * Used by the worker (workflow sandbox and activities) and the client alike.
 */
import {
  BinaryPayloadConverter,
  CompositePayloadConverter,
  type Payload,
  type PayloadConverterWithEncoding,
  UndefinedPayloadConverter,
  ValueError,
} from '@temporalio/common';
import { decode, encode } from '@temporalio/common/lib/encoding';

const BYTES_KEY = '$bytes';
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const LOOKUP = new Map([...ALPHABET].map((c, i) => [c, i]));

/** Base64 without `Buffer` or `btoa`, neither of which the workflow sandbox offers. */
export function toBase64(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i] ?? 0;
    const b = bytes[i + 1];
    const c = bytes[i + 2];
    const n = (a << 16) | ((b ?? 0) << 8) | (c ?? 0);
    out += ALPHABET[(n >> 18) & 63]! + ALPHABET[(n >> 12) & 63]!;
    out += b === undefined ? '=' : ALPHABET[(n >> 6) & 63]!;
    out += c === undefined ? '=' : ALPHABET[n & 63]!;
  }
  return out;
}

export function fromBase64(text: string): Uint8Array {
  const clean = text.replace(/=+$/, '');
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0;
  let acc = 0;
  let j = 0;
  for (const ch of clean) {
    const v = LOOKUP.get(ch);
    if (v === undefined) throw new ValueError(`invalid base64 in ${BYTES_KEY}`);
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[j++] = (acc >> bits) & 0xff;
    }
  }
  return out.subarray(0, j);
}

function replacer(this: unknown, _key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? { [BYTES_KEY]: toBase64(value) } : value;
}

function reviver(_key: string, value: unknown): unknown {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const keys = Object.keys(value);
    const b = (value as Record<string, unknown>)[BYTES_KEY];
    if (keys.length === 1 && typeof b === 'string') return fromBase64(b);
  }
  return value;
}

export class BytesAwareJsonPayloadConverter implements PayloadConverterWithEncoding {
  readonly encodingType = 'json/plain';

  toPayload(value: unknown): Payload | undefined {
    if (value === undefined) return undefined;
    let json: string;
    try {
      json = JSON.stringify(value, replacer);
    } catch {
      return undefined;
    }
    return { metadata: { encoding: encode('json/plain') }, data: encode(json) };
  }

  fromPayload<T>(payload: Payload): T {
    if (payload.data === undefined || payload.data === null) throw new ValueError('Got payload with no data');
    return JSON.parse(decode(payload.data), reviver) as T;
  }
}

export const payloadConverter = new CompositePayloadConverter(
  new UndefinedPayloadConverter(),
  new BinaryPayloadConverter(),
  new BytesAwareJsonPayloadConverter(),
);
