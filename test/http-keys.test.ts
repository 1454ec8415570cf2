/** API keys and the loopback rule of the HTTP API, without a server: parsing, lookup, hosts. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isLoopback, keyOf, parseApiKeys } from '../src/http/keys';

test('DURABLE_RUNS_API_KEYS: name:secret[:tenant], comma-separated; bad entries name the variable, never the secret', () => {
  assert.deepEqual(parseApiKeys(undefined), []);
  assert.deepEqual(parseApiKeys(' '), []);
  const keys = parseApiKeys('ops:s3cret-ops, acme:s3cret-acme:acme');
  assert.deepEqual(
    keys.map(({ name, tenant }) => ({ name, tenant })),
    [
      { name: 'ops', tenant: undefined },
      { name: 'acme', tenant: 'acme' },
    ],
  );
  assert.throws(() => parseApiKeys('ops'), {
    message: 'DURABLE_RUNS_API_KEYS: entry 1 must be name:secret[:tenant], got 3 characters',
  });
  assert.throws(() => parseApiKeys('a:s1,b:s2:t:extra'), { message: /entry 2 must be name:secret\[:tenant\]/ });
  assert.throws(() => parseApiKeys('a:s1:'), { message: /entry 1 must be/ });
  assert.throws(() => parseApiKeys('a:s1,a:s2'), { message: 'DURABLE_RUNS_API_KEYS: the name "a" is used twice' });
  assert.throws(() => parseApiKeys('a:same,b:same'), {
    message: 'DURABLE_RUNS_API_KEYS: the key "b" has the secret of another key',
  });
});

test('Authorization: Bearer <secret> finds its key; anything else finds none', () => {
  const keys = parseApiKeys('ops:s3cret-ops,acme:s3cret-acme:acme');
  assert.equal(keyOf(keys, 'Bearer s3cret-acme')?.name, 'acme');
  assert.equal(keyOf(keys, 'bearer s3cret-ops')?.name, 'ops');
  for (const header of [
    undefined,
    '',
    's3cret-ops',
    'Bearer',
    'Bearer s3cret-op',
    'Bearer s3cret-opsx',
    'Basic s3cret-ops',
  ]) {
    assert.equal(keyOf(keys, header), undefined, String(header));
  }
});

test('loopback hosts: what a server without keys may listen on', () => {
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) {
    assert.equal(isLoopback(host), true, host);
  }
  for (const host of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', 'example.com', '']) {
    assert.equal(isLoopback(host), false, host);
  }
});
