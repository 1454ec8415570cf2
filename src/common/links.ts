/**
 * Approval links (contract v3): `step.eventUrl` signs a token that names a run, an event, optional
 * data, an expiry and a random nonce; `durable-runs serve` checks it at `/v1/links/<token>` and sends
 * the event with the nonce as its `id`, so a link is used once. The token is the payload's JSON in
 * base64url, a dot, and the HMAC-SHA256 of that text under `DURABLE_RUNS_LINK_SECRET` in base64url.
 * Pure (no I/O): the worker signs with it, the server verifies with it.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { msToNumber } from '@temporalio/common/lib/time';
import { MAX_NAME_LENGTH } from '../shared/events';

export const LINK_SECRET_VARIABLE = 'DURABLE_RUNS_LINK_SECRET';
export const PUBLIC_URL_VARIABLE = 'DURABLE_RUNS_PUBLIC_URL';

/** How long a link works when `expiresIn` is not given: 7 days. */
export const DEFAULT_LINK_TTL_MS = 7 * 24 * 60 * 60 * 1000;
/** The shortest secret taken (bytes of UTF-8): a short one could be guessed offline from any link. */
export const MIN_LINK_SECRET_LENGTH = 16;
/** The most JSON a link's `data` may take: it travels in the URL. */
export const MAX_LINK_DATA_BYTES = 2048;

/** What a link carries. */
export interface LinkClaims {
  /** The run the event goes to. */
  runId: string;
  /** The event's name. */
  event: string;
  /** The event's data (absent: none). */
  data?: unknown;
  /** When the link stops working, in milliseconds since the epoch. */
  expiresAt: number;
  /** Random, unique per link: the event's `id`, so a second use changes nothing. */
  nonce: string;
}

export interface LinkOptions {
  /** Milliseconds, or a duration string such as `'2d'` or `'30m'`. @default 7 days */
  expiresIn?: number | string;
  /** The event's data (JSON), at most 2 KiB. */
  data?: unknown;
}

/** Why a token does not verify: `malformed` (not a token), `signature` (tampered, or another secret), `expired`. */
export type LinkRejection = 'malformed' | 'signature' | 'expired';

export type LinkVerdict = { ok: true; claims: LinkClaims } | { ok: false; reason: LinkRejection };

/** A secret's problem, or `undefined` when it can sign. */
export function linkSecretProblem(secret: string | undefined): string | undefined {
  if (secret === undefined || secret === '') return `${LINK_SECRET_VARIABLE} is not set`;
  if (Buffer.byteLength(secret) < MIN_LINK_SECRET_LENGTH) {
    return `${LINK_SECRET_VARIABLE} must be at least ${MIN_LINK_SECRET_LENGTH} characters (a random one: openssl rand -base64 32)`;
  }
  return undefined;
}

/** A duration in milliseconds from `expiresIn`; throws a `TypeError` naming it. */
export function linkTtlMs(expiresIn: number | string | undefined): number {
  if (expiresIn === undefined) return DEFAULT_LINK_TTL_MS;
  let ms: number;
  try {
    ms = typeof expiresIn === 'number' ? expiresIn : msToNumber(expiresIn.trim() as never);
  } catch {
    ms = NaN;
  }
  if (!Number.isFinite(ms) || ms <= 0) {
    throw new TypeError(
      `expiresIn must be a positive number of milliseconds or a duration such as '2d', got ${JSON.stringify(expiresIn)}`,
    );
  }
  return ms;
}

const sign = (payload: string, secret: string): Buffer => createHmac('sha256', secret).update(payload).digest();

/** Signs the claims: `base64url(JSON) + '.' + base64url(HMAC-SHA256)`. */
export function signLink(claims: LinkClaims, secret: string): string {
  const problem = linkSecretProblem(secret);
  if (problem) throw new TypeError(problem);
  const payload = Buffer.from(
    JSON.stringify({
      r: claims.runId,
      e: claims.event,
      ...(claims.data !== undefined ? { d: claims.data } : {}),
      x: claims.expiresAt,
      n: claims.nonce,
    }),
  ).toString('base64url');
  return `${payload}.${sign(payload, secret).toString('base64url')}`;
}

/** Builds the claims of a new link: a fresh nonce, the expiry from `now`; throws a `TypeError` for bad options. */
export function newLinkClaims(runId: string, event: string, options: LinkOptions = {}, now = Date.now()): LinkClaims {
  if (typeof event !== 'string' || event === '' || event.length > MAX_NAME_LENGTH) {
    throw new TypeError(`the event name must be a string of 1–${MAX_NAME_LENGTH} characters`);
  }
  if (options.data !== undefined) {
    let json: string | undefined;
    try {
      json = JSON.stringify(options.data);
    } catch (err) {
      throw new TypeError(`data cannot be serialized: ${(err as Error).message}`, { cause: err });
    }
    if (json === undefined) throw new TypeError('data must be a JSON value');
    if (Buffer.byteLength(json) > MAX_LINK_DATA_BYTES) {
      throw new TypeError(
        `data is ${Buffer.byteLength(json)} bytes as JSON, above the ${MAX_LINK_DATA_BYTES} a link carries in its URL: pass a reference`,
      );
    }
  }
  return {
    runId,
    event,
    ...(options.data !== undefined ? { data: options.data } : {}),
    expiresAt: now + linkTtlMs(options.expiresIn),
    nonce: `link-${randomBytes(16).toString('base64url')}`,
  };
}

/** Checks a token's signature (in constant time) and expiry. */
export function verifyLink(token: string, secret: string, now = Date.now()): LinkVerdict {
  const parts = token.split('.');
  if (parts.length !== 2 || !/^[A-Za-z0-9_-]+$/.test(parts[0]!) || !/^[A-Za-z0-9_-]+$/.test(parts[1]!)) {
    return { ok: false, reason: 'malformed' };
  }
  const [payload, signature] = parts as [string, string];
  const expected = sign(payload, secret);
  const given = Buffer.from(signature, 'base64url');
  // The signature is checked before the payload is read; a re-encoding of the same bytes is refused too.
  if (
    given.length !== expected.length ||
    !timingSafeEqual(given, expected) ||
    given.toString('base64url') !== signature
  ) {
    return { ok: false, reason: 'signature' };
  }
  let claims: LinkClaims;
  try {
    const raw = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    const { r, e, d, x, n } = raw;
    if (typeof r !== 'string' || typeof e !== 'string' || typeof x !== 'number' || typeof n !== 'string') {
      return { ok: false, reason: 'malformed' };
    }
    claims = { runId: r, event: e, ...(d !== undefined ? { data: d } : {}), expiresAt: x, nonce: n };
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (now >= claims.expiresAt) return { ok: false, reason: 'expired' };
  return { ok: true, claims };
}

/** The link's address: `<public URL>/v1/links/<token>`. */
export function linkUrl(publicUrl: string, token: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/v1/links/${token}`;
}
