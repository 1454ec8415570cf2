/** Approval-link tokens (src/common/links.ts): signing, verifying, tampering, expiry, options. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DEFAULT_LINK_TTL_MS,
  linkSecretProblem,
  linkTtlMs,
  linkUrl,
  newLinkClaims,
  signLink,
  verifyLink,
} from '../src/common/links';

const SECRET = 'a-link-secret-0123456789';
const NOW = 1_800_000_000_000;

/** The token with one character at `index` changed to another base64url character. */
function flip(token: string, index: number): string {
  const ch = token[index]!;
  return token.slice(0, index) + (ch === 'A' ? 'B' : 'A') + token.slice(index + 1);
}

test('a signed link verifies to its claims; the nonce is fresh per link', () => {
  const claims = newLinkClaims('run-1', 'approve', { data: { by: 'ana' }, expiresIn: '2d' }, NOW);
  assert.equal(claims.expiresAt, NOW + 2 * 24 * 3600 * 1000);
  assert.match(claims.nonce, /^link-[A-Za-z0-9_-]{22}$/);
  assert.notEqual(newLinkClaims('run-1', 'approve', {}, NOW).nonce, claims.nonce);
  const token = signLink(claims, SECRET);
  assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
  assert.deepEqual(verifyLink(token, SECRET, NOW), { ok: true, claims });
  assert.equal(newLinkClaims('r', 'e', {}, NOW).expiresAt, NOW + DEFAULT_LINK_TTL_MS);
  assert.equal(newLinkClaims('r', 'e', { expiresIn: 5000 }, NOW).expiresAt, NOW + 5000);
});

test('a changed byte of the payload or the signature, another secret, or a malformed token does not verify', () => {
  const token = signLink(newLinkClaims('run-1', 'approve', { data: 1 }, NOW), SECRET);
  const dot = token.indexOf('.');
  for (const index of [0, 5, dot - 1, dot + 1, dot + 20, token.length - 1]) {
    assert.deepEqual(verifyLink(flip(token, index), SECRET, NOW), { ok: false, reason: 'signature' }, `index ${index}`);
  }
  assert.deepEqual(verifyLink(token, 'another-secret-0123456789', NOW), { ok: false, reason: 'signature' });
  // A payload made up by someone without the secret, signed with nothing right.
  const forged = Buffer.from(JSON.stringify({ r: 'run-1', e: 'approve', x: NOW + 1e9, n: 'x' })).toString('base64url');
  assert.deepEqual(verifyLink(`${forged}.${token.slice(dot + 1)}`, SECRET, NOW), { ok: false, reason: 'signature' });
  for (const bad of ['', 'abc', 'a.b.c', `${token}=`, `${token.slice(0, dot)}.`, 'é.é', `${forged}.x`]) {
    const verdict = verifyLink(bad, SECRET, NOW);
    assert.equal(verdict.ok, false, bad);
    assert.ok(!verdict.ok && ['malformed', 'signature'].includes(verdict.reason), bad);
  }
});

test('an expired link does not verify, from its expiry on', () => {
  const claims = newLinkClaims('run-1', 'approve', { expiresIn: 1 }, NOW);
  const token = signLink(claims, SECRET);
  assert.equal(verifyLink(token, SECRET, NOW).ok, true);
  assert.deepEqual(verifyLink(token, SECRET, NOW + 1), { ok: false, reason: 'expired' });
  assert.deepEqual(verifyLink(token, SECRET, NOW + 10_000), { ok: false, reason: 'expired' });
});

test('bad options and secrets are refused, naming what is wrong', () => {
  assert.throws(() => linkTtlMs(0), /expiresIn must be a positive/);
  assert.throws(() => linkTtlMs('soon'), /expiresIn must be a positive .* got "soon"/);
  assert.throws(() => linkTtlMs(Number.NaN), /expiresIn/);
  assert.equal(linkTtlMs('30m'), 30 * 60 * 1000);
  assert.throws(() => newLinkClaims('r', '', {}), /event name must be a string of 1–200/);
  assert.throws(() => newLinkClaims('r', 'x'.repeat(201), {}), /event name/);
  assert.throws(() => newLinkClaims('r', 'e', { data: 'x'.repeat(3000) }), /above the 2048 a link carries/);
  assert.throws(() => newLinkClaims('r', 'e', { data: () => 1 }), /JSON value/);
  assert.match(linkSecretProblem(undefined)!, /DURABLE_RUNS_LINK_SECRET is not set/);
  assert.match(linkSecretProblem('short')!, /at least 16/);
  assert.equal(linkSecretProblem(SECRET), undefined);
  assert.throws(() => signLink(newLinkClaims('r', 'e'), 'short'), /at least 16/);
  assert.equal(linkUrl('https://runs.example.com/', 'a.b'), 'https://runs.example.com/v1/links/a.b');
});
