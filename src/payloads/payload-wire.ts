/**
 * Payloads as bytes and as JSON, the two forms the encryption codec and the codec server need.
 *
 * Bytes: protobuf's wire format of `temporal.api.common.v1.Payload`, what other SDKs' encryption
 * samples encrypt, written and read by `@temporalio/proto` (the SDK's own generated code). JSON:
 * the codec-server protocol's proto3 JSON, `{ metadata: { key: base64 }, data: base64 }`.
 */
import type { Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

const ProtoPayload = temporal.api.common.v1.Payload;

/** A Payload in protobuf's binary form; every field of the message, not only metadata and data. */
export function payloadToBytes(payload: Payload): Uint8Array {
  const metadata: Record<string, Uint8Array> = {};
  for (const [key, value] of Object.entries(payload.metadata ?? {})) metadata[key] = value ?? new Uint8Array(0);
  return ProtoPayload.encode({ ...payload, metadata }).finish();
}

/** A view of `bytes` as a plain `Uint8Array` (protobufjs hands out Buffers on Node). */
const plain = (bytes: Uint8Array) => new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** The inverse of {@link payloadToBytes}; throws on bytes that are not a Payload. */
export function payloadFromBytes(bytes: Uint8Array): Payload {
  const message = ProtoPayload.decode(bytes);
  const metadata: Record<string, Uint8Array> = {};
  for (const [key, value] of Object.entries(message.metadata)) metadata[key] = plain(value);
  return {
    metadata,
    data: message.data.length > 0 ? plain(message.data) : new Uint8Array(0),
    ...(message.externalPayloads.length > 0 ? { externalPayloads: message.externalPayloads } : {}),
  };
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
