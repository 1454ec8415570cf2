/**
 * Payloads as bytes and as JSON, the two forms the encryption codec and the codec server need.
 *
 * Bytes: protobuf's wire format of `temporal.api.common.v1.Payload` (metadata map = field 1,
 * data = field 2), what other SDKs' encryption samples encrypt, written here because
 * `@temporalio/proto` is not a runtime dependency of this package. JSON: the codec-server
 * protocol's proto3 JSON, `{ metadata: { key: base64 }, data: base64 }`.
 */
import type { Payload } from '@temporalio/common';

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

function varintLength(n: number): number {
  let length = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    length++;
  }
  return length;
}

function writeVarint(out: Uint8Array, at: number, n: number): number {
  while (n >= 0x80) {
    out[at++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  out[at++] = n;
  return at;
}

/** Length of a length-delimited field (tag, length, bytes) holding `size` bytes. */
const fieldLength = (size: number) => 1 + varintLength(size) + size;

/** A Payload in protobuf's binary form. */
export function payloadToBytes(payload: Payload): Uint8Array {
  const entries = Object.entries(payload.metadata ?? {}).map(([key, value]) => {
    const k = textEncoder.encode(key);
    const v = value ?? new Uint8Array(0);
    return { k, v, size: fieldLength(k.length) + fieldLength(v.length) };
  });
  const data = payload.data ?? new Uint8Array(0);
  let total = data.length > 0 ? fieldLength(data.length) : 0;
  for (const e of entries) total += fieldLength(e.size);
  const out = new Uint8Array(total);
  let at = 0;
  for (const e of entries) {
    out[at++] = 0x0a; // field 1, length-delimited: a map entry
    at = writeVarint(out, at, e.size);
    out[at++] = 0x0a; // entry field 1: key
    at = writeVarint(out, at, e.k.length);
    out.set(e.k, at);
    at += e.k.length;
    out[at++] = 0x12; // entry field 2: value
    at = writeVarint(out, at, e.v.length);
    out.set(e.v, at);
    at += e.v.length;
  }
  if (data.length > 0) {
    out[at++] = 0x12; // field 2, length-delimited: data
    at = writeVarint(out, at, data.length);
    out.set(data, at);
  }
  return out;
}

/** Reads protobuf fields; unknown fields are skipped, anything malformed throws. */
class Reader {
  at = 0;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly end = bytes.length,
  ) {}

  done(): boolean {
    return this.at >= this.end;
  }

  varint(): number {
    let n = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (this.at >= this.end) throw new Error('truncated varint');
      const b = this.bytes[this.at++]!;
      n += (b & 0x7f) * scale;
      if (b < 0x80) return n;
      scale *= 128;
    }
    throw new Error('varint too long');
  }

  /** The next field: its number and, for length-delimited fields, its bytes. */
  field(): { number: number; bytes?: Uint8Array } {
    const tag = this.varint();
    const number = Math.floor(tag / 8);
    switch (tag % 8) {
      case 0:
        this.varint();
        return { number };
      case 1:
        return this.skip(8, number);
      case 5:
        return this.skip(4, number);
      case 2: {
        const length = this.varint();
        if (this.at + length > this.end) throw new Error('truncated field');
        const bytes = this.bytes.subarray(this.at, this.at + length);
        this.at += length;
        return { number, bytes };
      }
      default:
        throw new Error(`unsupported wire type ${tag % 8}`);
    }
  }

  private skip(n: number, number: number): { number: number } {
    if (this.at + n > this.end) throw new Error('truncated field');
    this.at += n;
    return { number };
  }
}

/** The inverse of {@link payloadToBytes}; throws on bytes that are not a Payload. */
export function payloadFromBytes(bytes: Uint8Array): Payload {
  const metadata: Record<string, Uint8Array> = {};
  let data = new Uint8Array(0);
  const reader = new Reader(bytes);
  while (!reader.done()) {
    const field = reader.field();
    if (field.number === 1 && field.bytes) {
      const entry = new Reader(field.bytes);
      let key = '';
      let value = new Uint8Array(0);
      while (!entry.done()) {
        const f = entry.field();
        if (f.number === 1 && f.bytes) key = textDecoder.decode(f.bytes);
        else if (f.number === 2 && f.bytes) value = Uint8Array.from(f.bytes);
      }
      metadata[key] = value;
    } else if (field.number === 2 && field.bytes) {
      data = Uint8Array.from(field.bytes);
    }
  }
  return { metadata, data };
}

/** A payload in the codec-server protocol (proto3 JSON: bytes as base64). */
export interface JsonPayload {
  metadata?: Record<string, string> | null;
  data?: string | null;
}

/** Proto3 JSON accepts standard and URL-safe base64, padded or not; `Buffer` reads both. */
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

function bytesFromBase64(text: unknown, what: string): Uint8Array {
  if (typeof text !== 'string' || !BASE64.test(text) || text.replace(/=+$/, '').length % 4 === 1) {
    throw new TypeError(`${what} must be a base64 string`);
  }
  return new Uint8Array(Buffer.from(text, 'base64'));
}

export function payloadFromJson(json: unknown, what = 'payload'): Payload {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new TypeError(`${what} must be an object`);
  const { metadata, data } = json as JsonPayload;
  const out: Payload = { metadata: {} };
  if (metadata !== undefined && metadata !== null) {
    if (typeof metadata !== 'object' || Array.isArray(metadata))
      throw new TypeError(`${what}.metadata must be an object`);
    for (const [key, value] of Object.entries(metadata)) {
      out.metadata![key] = bytesFromBase64(value, `${what}.metadata[${JSON.stringify(key)}]`);
    }
  }
  if (data !== undefined && data !== null) out.data = bytesFromBase64(data, `${what}.data`);
  return out;
}

export function payloadToJson(payload: Payload): JsonPayload {
  const base64 = (bytes: Uint8Array) =>
    Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  return {
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, base64(v ?? new Uint8Array(0))]),
    ),
    ...(payload.data && payload.data.length > 0 ? { data: base64(payload.data) } : {}),
  };
}
