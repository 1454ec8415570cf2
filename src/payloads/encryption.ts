/**
 * Payload encryption: with `DURABLE_RUNS_ENCRYPTION_KEYS` set, every payload a worker, client, CLI
 * or testing kit writes (inputs, results, headers, signals, memos, heartbeats, error messages) is
 * stored in Temporal as AES-256-GCM ciphertext. Runs outside the workflow sandbox: the SDK applies
 * codecs in the worker's main thread, before payloads reach the workflow and after they leave it.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import type { DataConverter, Payload, PayloadCodec, SerializationContext } from '@temporalio/common';
import { ConfigError } from '../common/config';
import { payloadFromBytes, payloadToBytes } from './payload-wire';
import { DECRYPTION_ERROR, ENCRYPTED_ENCODING, ENCRYPTION_KEY_ID } from '../shared/payload-converter';

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

/** Metadata of an encrypted payload naming the run it was encrypted for (see {@link EncryptionCodec}). */
export const ENCRYPTION_BINDING = 'encryption-binding';
/** Prefixed to the binding's bytes to make the associated data: a label and its version. */
const BINDING_AAD_LABEL = 'durable-runs payload binding v1\0';
/** The info of the HKDF that derives the pseudonym key from the encrypting key. */
const PSEUDONYM_INFO = 'durable-runs fairness pseudonym v1';

/**
 * What a payload is bound to: the run (namespace and workflow ID) and whether it belongs to the
 * workflow itself or to one of its activities. A field left out is not bound (a payload encoded
 * without a serialization context, e.g. by the codec server, is bound to nothing).
 */
export interface PayloadBinding {
  v: 1;
  namespace?: string;
  workflowId?: string;
  scope?: 'workflow' | 'activity';
}

/** The binding of a payload encoded in `context`. */
export function bindingOf(context: SerializationContext | undefined): PayloadBinding {
  if (!context) return { v: 1 };
  return {
    v: 1,
    namespace: context.namespace,
    ...(context.workflowId !== undefined ? { workflowId: context.workflowId } : {}),
    scope: context.type,
  };
}

/**
 * Temporal names the runs a schedule starts `<schedule's workflow ID>-<RFC 3339 time>`; the
 * schedule encodes their input once, for its own workflow ID, and each run gets the result of the
 * one before as its last completion result. They count as one run here.
 */
const SCHEDULED_SUFFIX = /-\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const scheduleFamily = (workflowId: string) => workflowId.replace(SCHEDULED_SUFFIX, '');

/** Why a payload bound to `bound` may not be read in `context` (`belongs to …`), or `undefined` when it may. */
export function bindingMismatch(bound: PayloadBinding, context: SerializationContext | undefined): string | undefined {
  if (!context) return undefined;
  const here = bindingOf(context);
  const where = (b: PayloadBinding, withNamespace: boolean) =>
    `${b.scope === 'activity' ? 'an activity of ' : ''}run ${JSON.stringify(b.workflowId ?? '(unknown)')}${withNamespace ? ` in namespace ${JSON.stringify(b.namespace)}` : ''}`;
  const otherNamespace = bound.namespace !== undefined && bound.namespace !== here.namespace;
  const otherRun =
    bound.workflowId !== undefined &&
    here.workflowId !== undefined &&
    scheduleFamily(bound.workflowId) !== scheduleFamily(here.workflowId);
  const otherScope = bound.scope !== undefined && bound.scope !== here.scope;
  if (!otherNamespace && !otherRun && !otherScope) return undefined;
  const why =
    otherNamespace || otherRun
      ? 'an encrypted payload cannot be moved to another run'
      : "an encrypted payload cannot be moved between a run and its activities' payloads";
  return `belongs to ${where(bound, otherNamespace)}, not to ${where(here, otherNamespace)}: ${why}`;
}

function parseBinding(bytes: Uint8Array): PayloadBinding | string {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return 'is not JSON';
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return 'is not an object';
  const { v, namespace, workflowId, scope } = json as Record<string, unknown>;
  if (v !== 1) return `has version ${JSON.stringify(v)}, which this version of durable-runs cannot read`;
  if (namespace !== undefined && typeof namespace !== 'string') return 'has a namespace that is not a string';
  if (workflowId !== undefined && typeof workflowId !== 'string') return 'has a workflow ID that is not a string';
  if (scope !== undefined && scope !== 'workflow' && scope !== 'activity') return 'has an unknown scope';
  return json as PayloadBinding;
}

/**
 * AES-256-GCM, one random 96-bit IV per payload. An encrypted payload has metadata
 * `encoding: binary/encrypted`, `encryption-key-id: <id>` and `encryption-binding: <JSON>`, and
 * data `IV ‖ ciphertext ‖ tag`, where the plaintext is the whole original payload (its metadata
 * too) in protobuf form.
 *
 * The binding names what the SDK's serialization context says the payload belongs to: the
 * namespace, the run's workflow ID, and whether it is the workflow's own payload (input, result,
 * signal, update, query, memo, failure) or one of its activities' (step input and result,
 * heartbeat). Its bytes, after a versioned label, are GCM's associated data, so they cannot be
 * altered or removed, and a decoder without a context (the codec server behind the Temporal UI and
 * CLI, the client reading raw history) still decrypts, with the AAD from the metadata. A decoder
 * with a context refuses a payload bound to another run or scope. A payload crosses runs only after
 * being decrypted and encrypted again for its new place (a child's input and result, a signal to a
 * child, the webhook delivery's input), which the SDK does with the target's context. What no
 * context says, and so is not bound: which field of a run a payload is (a run's input could be sent
 * to that same run as a signal), and which execution of a workflow ID (continue-as-new, retries, an
 * ID reused after its run closed). The runs of one schedule share a binding (see {@link
 * scheduleFamily}).
 *
 * Payloads without `encryption-binding` were encrypted by versions before it, with no associated
 * data; they still decrypt, bound to nothing, so that runs in flight go on.
 *
 * `decode` never throws: a payload it cannot decrypt (unknown key ID, corrupt or tampered
 * ciphertext, bound elsewhere) comes back as it was, plus a `decryption-error` metadata entry
 * saying why, naming the key ID. The payload converters turn that into an error (client) or into
 * an `UndecodablePayload` the workflow fails the run with (worker), so a bad payload never fails
 * workflow tasks forever.
 */
export class EncryptionCodec implements PayloadCodec {
  private readonly keyIdBytes: Uint8Array;
  private readonly encoding = utf8(ENCRYPTED_ENCODING);
  /** The HMAC key of {@link pseudonym}: derived from the encrypting key, never the key itself. */
  private readonly pseudonymKey: Buffer;

  constructor(private readonly keys: EncryptionKeys) {
    this.keyIdBytes = utf8(keys.encryptingKeyId);
    const key = keys.key(keys.encryptingKeyId)!;
    this.pseudonymKey = Buffer.from(hkdfSync('sha256', key, new Uint8Array(0), PSEUDONYM_INFO, KEY_BYTES));
  }

  async encode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    return payloads.map((p) => this.encrypt(p, context));
  }

  async decode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    return payloads.map((p) => this.decrypt(p, context));
  }

  /** Encrypts `payload`, bound to what `context` names (to nothing without one). */
  encrypt(payload: Payload, context?: SerializationContext): Payload {
    const binding = utf8(JSON.stringify(bindingOf(context)));
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.keys.key(this.keys.encryptingKeyId)!, iv);
    cipher.setAAD(associatedData(binding));
    const head = cipher.update(payloadToBytes(payload));
    const tail = cipher.final();
    const data = Buffer.concat([iv, head, tail, cipher.getAuthTag()]);
    return {
      metadata: { encoding: this.encoding, [ENCRYPTION_KEY_ID]: this.keyIdBytes, [ENCRYPTION_BINDING]: binding },
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    };
  }

  /**
   * Decrypts `payload`; with a `context`, only if it is bound to what the context names. Anything
   * not encrypted comes back as it is.
   */
  decrypt(payload: Payload, context?: SerializationContext): Payload {
    const encoding = payload.metadata?.encoding;
    if (!encoding || asBuffer(encoding).toString('utf8') !== ENCRYPTED_ENCODING) return payload;
    const rawId = payload.metadata?.[ENCRYPTION_KEY_ID];
    if (!rawId) return this.undecryptable(payload, `encrypted payload without an ${ENCRYPTION_KEY_ID}`);
    const id = asBuffer(rawId).toString('utf8').slice(0, 64);
    const named = `payload encrypted with key ${JSON.stringify(id)}`;
    const key = this.keys.key(id);
    if (!key) {
      return this.undecryptable(payload, `${named}, which is not among the keys of ${ENCRYPTION_KEYS_VARIABLE} here`);
    }
    const rawBinding = payload.metadata?.[ENCRYPTION_BINDING];
    const binding = rawBinding ? parseBinding(rawBinding) : undefined;
    if (typeof binding === 'string')
      return this.undecryptable(payload, `${named}: its ${ENCRYPTION_BINDING} ${binding}`);
    const data = asBuffer(payload.data ?? new Uint8Array(0));
    if (data.length < IV_BYTES + TAG_BYTES) {
      return this.undecryptable(payload, `${named} is too short to be ciphertext (${data.length} bytes)`);
    }
    let plaintext: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      if (rawBinding) decipher.setAAD(associatedData(rawBinding));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      plaintext = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    } catch {
      return this.undecryptable(
        payload,
        `${named} failed authentication: the ciphertext or its ${ENCRYPTION_BINDING} is corrupt or was tampered with, or key ${JSON.stringify(id)} here is not the key it was encrypted with`,
      );
    }
    // Checked once authenticated: the binding is then the one it was encrypted with.
    const mismatch = binding && bindingMismatch(binding, context);
    if (mismatch) return this.undecryptable(payload, `${named} ${mismatch}`);
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
   * text and encrypting key, and says nothing about the text without the key. Its HMAC key is
   * derived from the encrypting key (HKDF-SHA256), so the encryption key serves one purpose only.
   */
  pseudonym(text: string): string {
    const hmac = createHmac('sha256', this.pseudonymKey);
    return `h-${hmac.update(`durable-runs pseudonym\0${text}`).digest('base64url').slice(0, 22)}`;
  }

  private undecryptable(payload: Payload, reason: string): Payload {
    return { ...payload, metadata: { ...payload.metadata, [DECRYPTION_ERROR]: utf8(reason) } };
  }
}

/** GCM's associated data for a binding's bytes as stored. */
function associatedData(binding: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(BINDING_AAD_LABEL, 'utf8'), binding]);
}

/** Loaded by path by workers (and bundled into their workflow code) and clients. */
export const encryptedFailureConverterPath = require.resolve('../shared/encrypted-failure-converter');

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
