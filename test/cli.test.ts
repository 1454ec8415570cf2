/**
 * The `durable-runs` command without a server: start-up validation, usage errors, help.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const BIN = join(__dirname, '..', 'bin', 'durable-runs.js');

function cli(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('a bad configuration variable stops the worker at start-up, naming the variable', () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ TEMPORAL_ADDRESS: 'not an address' }, /^durable-runs: TEMPORAL_ADDRESS: must be host:port/m],
    [{ DURABLE_RUNS_WEBHOOK_MAX_RETRIES: '-1' }, /^durable-runs: DURABLE_RUNS_WEBHOOK_MAX_RETRIES: /m],
    [
      { DURABLE_RUNS_WEBHOOK_SECRET: 'hunter2' },
      /^durable-runs: DURABLE_RUNS_WEBHOOK_SECRET: must be a Standard Webhooks secret/m,
    ],
    [{ TEMPORAL_TLS_CERT: '/no/such/cert.pem' }, /^durable-runs: TEMPORAL_TLS_KEY: mTLS needs both/m],
  ];
  for (const [env, message] of cases) {
    const { code, stderr } = cli(['worker', '--runners', 'examples/runners.ts'], env);
    assert.equal(code, 2, JSON.stringify(env));
    assert.match(stderr, message);
    assert.ok(!stderr.includes('hunter2'), 'the secret is not echoed');
  }
});

test('a runners module that is missing or malformed is a clear error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'runners-'));
  writeFileSync(join(dir, 'bad.js'), 'module.exports = { default: { a: 42 } };');
  assert.match(
    cli(['worker', '--runners', join(dir, 'missing.js')]).stderr,
    /cannot load runners module .*missing\.js/,
  );
  const bad = cli(['worker', '--runners', join(dir, 'bad.js')]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /"a" is not a function/);
  assert.match(cli(['worker']).stderr, /worker needs --runners <module>/);
});

test('usage errors exit 2 with one line; --help exits 0', () => {
  const notJson = cli(['submit', 'not json']);
  assert.equal(notJson.code, 2);
  assert.match(notJson.stderr, /input must be JSON/);
  assert.equal(cli(['submit', '1', '--header', 'novalue']).code, 2);
  const badData = cli(['send', 'run-1', 'approve', '{nope']);
  assert.equal(badData.code, 2);
  assert.match(badData.stderr, /data must be JSON/);
  assert.equal(cli(['list', '--state', 'weird']).code, 2);
  for (const command of [
    'dev',
    'worker',
    'submit',
    'status',
    'cancel',
    'send',
    'result',
    'list',
    'watch',
    'redeliver',
  ]) {
    const help = cli([command, '--help']);
    assert.equal(help.code, 0, command);
    assert.match(help.stdout, new RegExp(`Usage: durable-runs ${command}`));
    assert.match(help.stdout, /--json/);
  }
});
