/**
 * `durable-runs dev` as a user runs it: a real dev server with a SQLite file and a worker in
 * child processes; the people CLI (`submit --wait`, `list`, `watch`) against it; Ctrl-C stops
 * everything; starting again resumes an unfinished run from the SQLite file.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { freePort } from '../src/local/dev-server';
import { resolveTemporalCli } from '../src/local/temporal-binaries';
import { eventually } from '../support/wait';

const BIN = join(__dirname, '..', 'bin', 'durable-runs.js');
const exec = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'dev-command-'));
const runnersFile = join(dir, 'runners.js');
writeFileSync(
  runnersFile,
  `const { StepOutcome } = require(${JSON.stringify(join(__dirname, '..', 'src'))});
module.exports = {
  default: async (s) => s.stepNumber === 0 ? StepOutcome.continueAfter('later', 8000) : StepOutcome.succeed(s.payload),
  quick: async () => StepOutcome.succeed({ ok: true }),
  fails: async () => StepOutcome.fail('nope'),
  cancels: async () => StepOutcome.cancel('changed my mind'),
};`,
);

let port: number;
let uiPort: number;
let httpPort: number;
let dev: ChildProcess | undefined;
let output = '';

const baseEnv = () => {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.TEMPORAL_ADDRESS;
  return env;
};

async function startDev(): Promise<void> {
  output = '';
  dev = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      BIN,
      'dev',
      '--runners',
      runnersFile,
      '--data-dir',
      join(dir, 'data'),
      '--port',
      String(port),
      '--ui-port',
      String(uiPort),
      '--http-port',
      String(httpPort),
    ],
    { env: baseEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  dev.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  dev.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  await eventually(() => output.includes('durable-runs worker:'), 90_000, 'dev prints that the worker runs').catch(
    (err: Error) => {
      throw new Error(`${err.message}\n--- dev output ---\n${output.slice(-3000)}`);
    },
  );
}

async function stopDev(): Promise<number | null> {
  const child = dev!;
  // 'close': the process has exited and its output has all been read.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  child.kill('SIGINT');
  return exited;
}

async function cli(...args: string[]): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await exec(process.execPath, [BIN, ...args], {
      env: { ...baseEnv(), TEMPORAL_ADDRESS: `127.0.0.1:${port}` },
      timeout: 60_000,
    });
    return { code: 0, stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string };
    return { code: e.code, stdout: e.stdout };
  }
}

function serverRunning(): boolean {
  try {
    process.kill(Number(serverPid), 0);
    return true;
  } catch {
    return false;
  }
}
let serverPid: string | undefined;

before(async () => {
  port = await freePort();
  uiPort = await freePort();
  httpPort = await freePort();
});
after(async () => {
  if (dev && dev.exitCode === null) await stopDev();
});

/** The Temporal SDK's INFO log ("Worker state changed", …), which `dev` keeps out of its output. */
const SDK_INFO_LOG = /\[INFO\]|Worker state changed/;

test('dev brings up the server, the UI, the HTTP API and a worker, and prints how to use them', async () => {
  await startDev();
  assert.match(output, new RegExp(`^Temporal UI: http://localhost:${uiPort}$`, 'm'));
  assert.match(output, /^Submit a run: {2}npx durable-runs submit .* --wait$/m);
  assert.match(output, /^ +then: npx durable-runs send <runId> approve /m);
  assert.match(output, /^durable-runs worker: 4 runner\(s\) \[default, quick, fails, cancels\]/m);
  const ui = await fetch(`http://127.0.0.1:${uiPort}/`);
  assert.equal(ui.status, 200);
  // The HTTP API, on loopback.
  assert.match(output, new RegExp(`^HTTP API: http://127\\.0\\.0\\.1:${httpPort} `, 'm'));
  const health = await fetch(`http://127.0.0.1:${httpPort}/healthz`);
  assert.deepEqual(await health.json(), { status: 'ok' });
  const { stdout } = await exec('pgrep', ['-f', `start-dev .*--port ${port}`]).catch(() => ({ stdout: '' }));
  serverPid = stdout.trim().split('\n')[0];
  assert.ok(serverPid, 'a dev server process runs');
});

test('submit --wait, watch and list, with exit codes per status', async () => {
  const ok = await cli('submit', '{"a":1}', '--runner', 'quick', '--run-id', 'cli-ok', '--wait');
  assert.equal(ok.code, 0);
  assert.match(ok.stdout, /cli-ok succeeded after step 0: \{"ok":true\}/);
  const failed = await cli('submit', '1', '--runner', 'fails', '--wait', '--json');
  assert.equal(failed.code, 1);
  const last = JSON.parse(failed.stdout.trim().split('\n').at(-1)!) as { status: string; error: string };
  assert.deepEqual([last.status, last.error], ['failed', 'nope']);
  const cancelled = await cli('submit', '1', '--runner', 'cancels', '--run-id', 'cli-cancelled');
  assert.equal(cancelled.code, 0);
  assert.equal((await cli('watch', 'cli-cancelled')).code, 3);
  await eventually(async () => (await cli('list', '--json')).stdout.includes('cli-cancelled'));
  const table = await cli('list', '--state', 'succeeded');
  assert.match(table.stdout, /^RUN ID\s+STATE\s+STARTED\s+CLOSED/);
  assert.match(table.stdout, /cli-ok\s+succeeded/);
  assert.equal((await cli('status', 'no-such-run')).code, 4);
  // dev registered the run-state search attributes, and runs start with them.
  await eventually(async () => {
    const { stdout } = await exec(resolveTemporalCli()!, [
      'workflow',
      'list',
      '--address',
      `127.0.0.1:${port}`,
      '--query',
      'DurableRunsRunner="quick"',
      '--output',
      'json',
    ]);
    return (JSON.parse(stdout) as { execution: { workflowId: string } }[]).some(
      (w) => w.execution.workflowId === 'cli-ok',
    );
  }, 30_000);
});

test('Ctrl-C stops the worker and the server; starting again resumes an unfinished run', async () => {
  const submitted = await cli('submit', '"resume me"', '--run-id', 'resumed');
  assert.equal(submitted.code, 0);
  await eventually(async () => (await cli('status', 'resumed', '--json')).stdout.includes('"sleeping"'));
  assert.equal(await stopDev(), 0);
  // The whole session so far (start, runs, Ctrl-C): the start-up lines and no SDK INFO log.
  assert.doesNotMatch(output, SDK_INFO_LOG, output);
  await eventually(() => !serverRunning(), 15_000, 'the dev server exits with the command');
  await startDev();
  const result = await cli('result', 'resumed', '--json');
  assert.equal(result.code, 0);
  const outcome = JSON.parse(result.stdout) as { status: string; result: string; finalStep: number };
  assert.deepEqual([outcome.status, outcome.result, outcome.finalStep], ['succeeded', 'later', 1]);
});
