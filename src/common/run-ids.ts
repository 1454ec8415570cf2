/** Run IDs made from another workflow ID (children, forks), node-side: they hash with node:crypto. */
import { createHash } from 'node:crypto';

/**
 * `<base><suffix>` when that is a valid run ID; else the base's characters outside the rule become
 * `_`, it is shortened, and a hash of the whole base keeps different bases apart (a schedule's run
 * `nightly-2026-12-04T14:09:48Z`, or a base too long for 128 characters).
 */
export function derivedRunId(base: string, suffix: string): string {
  const id = `${base}${suffix}`;
  if (id.length <= 128 && /^[A-Za-z0-9_-]+$/.test(base)) return id;
  const hash = createHash('sha256').update(base).digest('hex').slice(0, 12);
  const safe = base.replace(/[^A-Za-z0-9_-]/g, '_');
  return `${safe.slice(0, 128 - suffix.length - hash.length - 1)}-${hash}${suffix}`;
}
