/**
 * Payload encryption: with `DURABLE_RUNS_ENCRYPTION_KEYS` set, every payload a worker, client, CLI
 * or testing kit writes (inputs, results, headers, signals, memos, heartbeats, error messages) is
 * stored in Temporal as AES-256-GCM ciphertext. Runs outside the workflow sandbox: the SDK applies
 * codecs in the worker's main thread, before payloads reach the workflow and after they leave it.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import { ConfigError } from './config';
import { payloadFromBytes, payloadToBytes } from './payload-wire';
import { DECRYPTION_ERROR, ENCRYPTED_ENCODING, ENCRYPTION_KEY_ID } from './shared/payload-converter';

export const ENCRYPTION_KEYS_VARIABLE = 'DURABLE_RUNS_ENCRYPTION_KEYS';

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
/** Standard or URL-safe base64, padding optional (`Buffer` reads both). */
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;
const KEY_BYTES = 32;
/** GCM's recommended nonce length: random per payload. */
const IV_BYTES = 12;
const TAG_BYTES = 16;

const utf8 = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'));
const asBuffer = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** The keys of `DURABLE_RUNS_ENCRYPTION_KEYS`: the first encrypts, every one decrypts. */
export class EncryptionKeys {
  private constructor(
    /** The ID of the key new payloads are encrypted with. */
    readonly encryptingKeyId: string,
    private readonly keys: ReadonlyMap<string, Buffer>,
  ) {}

  /** Every key ID, the encrypting one first. */
  get ids(): string[] {
    return [...this.keys.keys()];
  }

  key(id: string): Buffer | undefined {
    return this.keys.get(id);
  }

  /**
   * Parses `id:base64key[,id:base64key…]` (32-byte keys). Throws a `ConfigError` naming `variable`
   * and what is wrong; key material never appears in a message.
   */
  static parse(text: string, variable = ENCRYPTION_KEYS_VARIABLE): EncryptionKeys {
    const fail = (what: string) => new ConfigError(`${variable}: ${what}`);
    const keys = new Map<string, Buffer>();
    const entries = text.split(',').map((e) => e.trim());
    if (entries.every((e) => e === '')) throw fail('no keys: give id:base64key[,id:base64key…]');
    for (const [i, entry] of entries.entries()) {
      const at = entry.indexOf(':');
      if (at < 0) throw fail(`entry ${i + 1} is not id:base64key`);
      const id = entry.slice(0, at).trim();
      const material = entry.slice(at + 1).trim();
      if (!KEY_ID.test(id)) throw fail(`entry ${i + 1}: the key id must be 1–64 characters of [A-Za-z0-9._-]`);
      if (keys.has(id)) throw fail(`key id "${id}" appears twice`);
      if (!BASE64.test(material) || material.replace(/=+$/, '').length % 4 === 1) {
        throw fail(`key "${id}" is not base64`);
      }
      const key = Buffer.from(material, 'base64');
      if (key.length !== KEY_BYTES) {
        throw fail(
          `key "${id}" is ${key.length} bytes; AES-256 needs ${KEY_BYTES} (node -e "console.log(require('crypto').randomBytes(32).toString('base64'))")`,
        );
      }
      keys.set(id, key);
    }
    return new EncryptionKeys(keys.keys().next().value!, keys);
  }

  /** The keys of `DURABLE_RUNS_ENCRYPTION_KEYS`, or `undefined` when it is unset or empty. */
  static fromEnv(env: Record<string, string | undefined> = process.env): EncryptionKeys | undefined {
    const text = env[ENCRYPTION_KEYS_VARIABLE];
    return text === undefined || text.trim() === '' ? undefined : EncryptionKeys.parse(text);
  }
}

/**
 * How a worker, client or testing kit is told about encryption: keys, or their text in the
 * variable's format, or `false` for none. `undefined` reads `DURABLE_RUNS_ENCRYPTION_KEYS`.
 */
export type EncryptionOption = EncryptionKeys | string | false | undefined;

export function resolveEncryptionKeys(
  option: EncryptionOption,
  env: Record<string, string | undefined> = process.env,
): EncryptionKeys | undefined {
  if (option === false) return undefined;
  if (option instanceof EncryptionKeys) return option;
  if (typeof option === 'string') return EncryptionKeys.parse(option, 'encryptionKeys');
  return EncryptionKeys.fromEnv(env);
}

/**
 * AES-256-GCM, one random 96-bit IV per payload. An encrypted payload has metadata
 * `encoding: binary/encrypted` and `encryption-key-id: <id>`, and data `IV ‖ ciphertext ‖ tag`,
 * where the plaintext is the whole original payload (its metadata too) in protobuf form.
 *
 * `decode` never throws: a payload it cannot decrypt (unknown key ID, corrupt or tampered
 * ciphertext) comes back as it was, plus a `decryption-error` metadata entry saying why, naming the
 * key ID. The payload converters turn that into an error (client) or into an `UndecodablePayload`
 * the workflow fails the run with (worker), so a bad payload never fails workflow tasks forever.
 */
export class EncryptionCodec implements PayloadCodec {
  private readonly keyIdBytes: Uint8Array;
  private readonly encoding = utf8(ENCRYPTED_ENCODING);

  constructor(private readonly keys: EncryptionKeys) {
    this.keyIdBytes = utf8(keys.encryptingKeyId);
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => this.encrypt(p));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => this.decrypt(p));
  }

  encrypt(payload: Payload): Payload {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.keys.key(this.keys.encryptingKeyId)!, iv);
    const head = cipher.update(payloadToBytes(payload));
    const tail = cipher.final();
    const data = Buffer.concat([iv, head, tail, cipher.getAuthTag()]);
    return {
      metadata: { encoding: this.encoding, [ENCRYPTION_KEY_ID]: this.keyIdBytes },
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    };
  }

  decrypt(payload: Payload): Payload {
    const encoding = payload.metadata?.encoding;
    if (!encoding || asBuffer(encoding).toString('utf8') !== ENCRYPTED_ENCODING) return payload;
    const rawId = payload.metadata?.[ENCRYPTION_KEY_ID];
    if (!rawId) return this.undecryptable(payload, `encrypted payload without an ${ENCRYPTION_KEY_ID}`);
    const id = asBuffer(rawId).toString('utf8').slice(0, 64);
    const named = `payload encrypted with key ${JSON.stringify(id)}`;
    const key = this.keys.key(id);
    if (!key) {
      return this.undecryptable(
        payload,
        `${named}, which is not among the keys of ${ENCRYPTION_KEYS_VARIABLE} here (${this.keys.ids.join(', ')})`,
      );
    }
    const data = asBuffer(payload.data ?? new Uint8Array(0));
    if (data.length < IV_BYTES + TAG_BYTES) {
      return this.undecryptable(payload, `${named} is too short to be ciphertext (${data.length} bytes)`);
    }
    let plaintext: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      plaintext = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    } catch {
      return this.undecryptable(
        payload,
        `${named} failed authentication: the ciphertext is corrupt or was tampered with, or key ${JSON.stringify(id)} here is not the key it was encrypted with`,
      );
    }
    try {
      return payloadFromBytes(plaintext);
    } catch (err) {
      return this.undecryptable(
        payload,
        `${named} decrypted to bytes that are not a payload (${(err as Error).message})`,
      );
    }
  }

  /**
   * A stand-in for `text` where Temporal keeps plain text (fairness keys): the same for the same
   * text and encrypting key, and says nothing about the text without the key.
   */
  pseudonym(text: string): string {
    const hmac = createHmac('sha256', this.keys.key(this.keys.encryptingKeyId)!);
    return `h-${hmac.update(`durable-runs pseudonym\0${text}`).digest('base64url').slice(0, 22)}`;
  }

  private undecryptable(payload: Payload, reason: string): Payload {
    return { ...payload, metadata: { ...payload.metadata, [DECRYPTION_ERROR]: utf8(reason) } };
  }
}

/** Loaded by path by workers (and bundled into their workflow code) and clients. */
export const encryptedFailureConverterPath = require.resolve('./shared/encrypted-failure-converter');

/**
 * What encryption adds to a data converter: the codec, and a failure converter that moves error
 * messages into an encrypted payload. Nothing without keys.
 */
export function encryptionDataConverter(
  keys: EncryptionKeys | undefined,
): Pick<DataConverter, 'payloadCodecs' | 'failureConverterPath'> {
  return keys
    ? { payloadCodecs: [new EncryptionCodec(keys)], failureConverterPath: encryptedFailureConverterPath }
    : {};
}
