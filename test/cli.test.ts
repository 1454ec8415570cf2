/**
 * The `durable-runs` command without a server: start-up validation, usage errors, help.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
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
    [
      { TEMPORAL_TLS_CLIENT_CERT_PATH: '/no/such/cert.pem' },
      /^durable-runs: TEMPORAL_TLS_CLIENT_KEY_PATH: mTLS needs both/m,
    ],
    // An earlier name still works, with a warning naming Temporal's.
    [
      { TEMPORAL_TLS_CERT: '/no/such/cert.pem' },
      /TEMPORAL_TLS_CERT is deprecated .* use TEMPORAL_TLS_CLIENT_CERT_PATH/,
    ],
    [{ TEMPORAL_PROFILE: 'nope' }, /^durable-runs: TEMPORAL_PROFILE: Profile 'nope' not found/m],
    [
      { DURABLE_RUNS_ENCRYPTION_KEYS: 'hunter2' },
      /^durable-runs: DURABLE_RUNS_ENCRYPTION_KEYS: entry 1 is not id:base64key$/m,
    ],
    [
      { DURABLE_RUNS_ENCRYPTION_KEYS: `k1:${Buffer.from('hunter2').toString('base64')}` },
      /^durable-runs: DURABLE_RUNS_ENCRYPTION_KEYS: key "k1" is 7 bytes; AES-256 needs 32/m,
    ],
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
    'resume',
    'serve',
    'codec-server',
  ]) {
    const help = cli([command, '--help']);
    assert.equal(help.code, 0, command);
    assert.match(help.stdout, new RegExp(`Usage: durable-runs ${command}`));
    assert.match(help.stdout, /--json/);
  }
});

test('client commands refuse a bad DURABLE_RUNS_ENCRYPTION_KEYS before connecting', () => {
  const key = randomBytes(32).toString('base64');
  const { code, stderr } = cli(['status', 'run-1'], { DURABLE_RUNS_ENCRYPTION_KEYS: `k1:${key},k1:${key}` });
  assert.equal(code, 2);
  assert.equal(stderr, 'durable-runs: DURABLE_RUNS_ENCRYPTION_KEYS: key id "k1" appears twice\n');
});

test('codec-server: keys, token and origins are checked at start-up, naming the variable or flag', () => {
  const keys = { DURABLE_RUNS_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}` };
  const token = randomBytes(24).toString('base64url');
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [
      [],
      { DURABLE_RUNS_CODEC_TOKEN: token },
      /^durable-runs: DURABLE_RUNS_ENCRYPTION_KEYS: the codec server needs the keys/,
    ],
    [[], keys, /^durable-runs: DURABLE_RUNS_CODEC_TOKEN: a codec server needs a token/],
    [['--token', 'short'], keys, /^durable-runs: --token: the token must be 16–512 characters/],
    [
      [],
      { ...keys, DURABLE_RUNS_CODEC_TOKEN: 'has spaces in it, sixteen+' },
      /^durable-runs: DURABLE_RUNS_CODEC_TOKEN: the token/,
    ],
    [
      ['--token', token, '--cors-origin', 'localhost:8233'],
      keys,
      /^durable-runs: --cors-origin: "localhost:8233" is not an origin/,
    ],
    [
      [],
      { ...keys, DURABLE_RUNS_CODEC_TOKEN: token, DURABLE_RUNS_CODEC_CORS_ORIGINS: 'http://a.example/path' },
      /^durable-runs: DURABLE_RUNS_CODEC_CORS_ORIGINS: "http:\/\/a.example\/path" is not an origin/,
    ],
    [['--token', token, '--port', 'x'], keys, /^durable-runs: --port: "x" is not a port/],
  ];
  for (const [args, env, message] of cases) {
    const { code, stderr } = cli(['codec-server', ...args], env);
    assert.equal(code, 2, `${args.join(' ')} ${JSON.stringify(env)}`);
    assert.match(stderr, message);
    assert.ok(!stderr.includes(token), 'the token is not echoed');
  }
});

/** Starts `codec-server --port 0 --json` with `args` and `env`: its start-up line, what it wrote to stderr, and a stop. */
async function serveCodec(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [BIN, 'codec-server', '--port', '0', '--json', ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(out.split('\n')[0]!);
      });
      child.once('exit', (code) => reject(new Error(`codec-server exited with ${code}: ${stderr}`)));
    });
    return {
      info: JSON.parse(line) as { url: string; corsOrigins: string[]; keyIds: string[] },
      stderr: () => stderr,
      stop: async () => {
        child.kill('SIGTERM');
        return exited;
      },
    };
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
}

test('codec-server serves until SIGTERM: with the token it decodes, without it 401', async () => {
  const token = randomBytes(24).toString('base64url');
  const server = await serveCodec([], {
    DURABLE_RUNS_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    DURABLE_RUNS_CODEC_TOKEN: token,
  });
  try {
    const { info } = server;
    assert.match(info.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.deepEqual([info.corsOrigins, info.keyIds], [['http://localhost:8233'], ['k1']]);
    const payload = { metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: 'MQ==' };
    const post = (path: string, headers: Record<string, string>) =>
      fetch(`${info.url}${path}`, { method: 'POST', headers, body: JSON.stringify({ payloads: [payload] }) });
    const encoded = await post('/encode', { Authorization: `Bearer ${token}` });
    assert.equal(encoded.status, 200);
    const decoded = await fetch(`${info.url}/decode`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}` },
      body: await encoded.text(),
    });
    assert.deepEqual(await decoded.json(), { payloads: [payload] });
    assert.equal((await post('/decode', {})).status, 401);
  } finally {
    assert.equal(await server.stop(), 0);
  }
  assert.equal(server.stderr(), '', 'the token from the environment needs no warning');
});

test('codec-server --token still works, and warns that the process list shows it; --help says to prefer the variable', async () => {
  const token = randomBytes(24).toString('base64url');
  const server = await serveCodec(['--token', token], {
    DURABLE_RUNS_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
  });
  try {
    const res = await fetch(`${server.info.url}/decode`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}` },
      body: JSON.stringify({ payloads: [] }),
    });
    assert.equal(res.status, 200);
  } finally {
    assert.equal(await server.stop(), 0);
  }
  assert.equal(
    server.stderr(),
    'durable-runs: warning: --token is visible to every user of this machine in the process list (ps); set DURABLE_RUNS_CODEC_TOKEN instead\n',
  );
  assert.ok(!server.stderr().includes(token));
  assert.match(
    cli(['codec-server', '--help']).stdout,
    /--token <token> +token every request needs; prefer\s+DURABLE_RUNS_CODEC_TOKEN: a command-line argument\s+shows in the process list \(ps\)/,
  );
});

test('the log level of dev and worker: a bad --log-level or DURABLE_RUNS_LOG_LEVEL exits 2 naming it', () => {
  const flag = cli(['worker', '--runners', 'examples/runners.ts', '--log-level', 'loud']);
  assert.equal(flag.code, 2);
  assert.equal(flag.stderr, 'durable-runs: --log-level: must be one of TRACE, DEBUG, INFO, WARN, ERROR (got "loud")\n');
  // `dev` checks it before it starts a dev server.
  const env = cli(['dev', '--port', '1', '--data-dir', join(mkdtempSync(join(tmpdir(), 'dev-')), 'data')], {
    DURABLE_RUNS_LOG_LEVEL: 'verbose',
  });
  assert.equal(env.code, 2);
  assert.equal(
    env.stderr,
    'durable-runs: DURABLE_RUNS_LOG_LEVEL: must be one of TRACE, DEBUG, INFO, WARN, ERROR (got "verbose")\n',
  );
  assert.match(cli(['dev', '--help']).stdout, /--log-level <level> .*\n.*DURABLE_RUNS_LOG_LEVEL, else WARN\)/);
  assert.match(cli(['worker', '--help']).stdout, /--log-level <level> .*\n.*DURABLE_RUNS_LOG_LEVEL, else INFO\)/);
});
