/**
 * API keys (`DURABLE_RUNS_API_KEYS=name:secret[:tenant][,…]`) and where the server may listen
 * without them. A request's secret is compared with every key's in constant time (SHA-256 digests
 * of equal length, `timingSafeEqual`), so the time an answer takes tells nothing about a secret.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import ipaddr from 'ipaddr.js';

export interface ApiKey {
  /** Names the key in logs and errors; never the secret. */
  name: string;
  /** A key bound to a tenant submits runs with that `tenant` header and sees only that tenant's runs. */
  tenant?: string;
  readonly digest: Buffer;
}

const digest = (secret: string): Buffer => createHash('sha256').update(secret, 'utf8').digest();

/** Parses `name:secret[:tenant][,…]`; a malformed entry or a repeated name or secret is refused, naming it. */
export function parseApiKeys(text: string | undefined, variable = 'DURABLE_RUNS_API_KEYS'): ApiKey[] {
  if (!text?.trim()) return [];
  const keys: ApiKey[] = [];
  for (const [index, raw] of text.split(',').entries()) {
    const entry = raw.trim();
    const [name, secret, tenant, ...rest] = entry.split(':');
    if (!name || !secret || rest.length > 0 || tenant === '') {
      throw new Error(`${variable}: entry ${index + 1} must be name:secret[:tenant], got ${entry.length} characters`);
    }
    if (keys.some((key) => key.name === name)) throw new Error(`${variable}: the name "${name}" is used twice`);
    const key: ApiKey = { name, digest: digest(secret), ...(tenant !== undefined ? { tenant } : {}) };
    if (keys.some((other) => timingSafeEqual(other.digest, key.digest))) {
      throw new Error(`${variable}: the key "${name}" has the secret of another key`);
    }
    keys.push(key);
  }
  return keys;
}

/** The key whose secret the `Authorization: Bearer <secret>` header holds; every key is compared. */
export function keyOf(keys: readonly ApiKey[], authorization: string | undefined): ApiKey | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!match) return undefined;
  const given = digest(match[1]!);
  let found: ApiKey | undefined;
  for (const key of keys) if (timingSafeEqual(key.digest, given) && !found) found = key;
  return found;
}

/** Whether `host` is a loopback address or `localhost`: what a server without keys may listen on. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (!ipaddr.isValid(bare)) return false;
  const address = ipaddr.process(bare);
  return address.range() === 'loopback';
}
