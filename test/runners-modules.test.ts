/**
 * Runners modules as users write them — CommonJS, ESM with top-level await, ESM `.js` in a
 * `"type": "module"` package, TypeScript — loaded by `durable-runs worker` and serving a run, both
 * from the sources and from a compiled copy of the package (`npm run build`'s lib/). The compiled
 * copy also runs `durable-runs dev` with the example runners (what `npm start` does after a
 * build), and the bin runs the sources instead of a lib/ older than them.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { RunsClient } from '../src/client';
import { resolveTemporalCli } from '../src/local/temporal-binaries';
import { type DevServer, startDevServer } from '../src/local/dev-server';
import { freePort } from '../src/local/dev-server';
import { eventually } from '../support/wait';

const exec = promisify(execFile);
const ROOT = join(__dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'runners-modules-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

/** The modules, each with a runner `kind` that succeeds with the name of its kind. */
const modules: Record<string, { file: string; source: string }> = {
  commonjs: {
    file: 'runners.cjs',
    source: `module.exports = { kind: async (step) => ({ kind: 'succeed', result: 'commonjs:' + step.payload }) };`,
  },
  'esm with top-level await': {
    file: 'runners.mjs',
    source: `const tag = await new Promise((resolve) => setTimeout(() => resolve('esm-tla'), 10));
export default { kind: async (step) => ({ kind: 'succeed', result: tag + ':' + step.payload }) };`,
  },
  'esm .js in a "type": "module" package': {
    file: 'esm-package/runners.js',
    source: `export default { kind: async (step) => ({ kind: 'succeed', result: 'esm-js:' + step.payload }) };`,
  },
  typescript: {
    file: 'runners.ts',
    source: `interface Step { payload: string }
const tag: string = 'typescript';
const runners = { kind: async (step: Step) => ({ kind: 'succeed' as const, result: \`\${tag}:\${step.payload}\` }) };
export default runners;`,
  },
};
const expected: Record<string, string> = {
  commonjs: 'commonjs:x',
  'esm with top-level await': 'esm-tla:x',
  'esm .js in a "type": "module" package': 'esm-js:x',
  typescript: 'typescript:x',
};

mkdirSync(join(work, 'modules', 'esm-package'), { recursive: true });
writeFileSync(join(work, 'modules', 'esm-package', 'package.json'), '{ "type": "module" }');
for (const { file, source } of Object.values(modules)) writeFileSync(join(work, 'modules', file), source);
writeFileSync(join(work, 'modules', 'throws.mjs'), `throw new Error('no API key in this module');`);
writeFileSync(join(work, 'modules', 'syntax.ts'), `export default { kind: async ( => 1 };`);

let server: DevServer;
before(async () => {
  server = await startDevServer({ dbFile: false });
});
after(async () => {
  await server?.stop();
});

const temporalCli = resolveTemporalCli();
const childEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '',
  ...(temporalCli ? { TEMPORAL_CLI_PATH: temporalCli } : {}),
  ...extra,
});

/** Starts `durable-runs worker --runners <module>` and resolves once it serves its task queue. */
async function startWorker(bin: string, module: string, taskQueue: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [bin, 'worker', '--runners', module], {
    env: childEnv({ TEMPORAL_ADDRESS: server.address, TEMPORAL_TASK_QUEUE: taskQueue }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await eventually(
    () => {
      if (child.exitCode !== null) throw new assert.AssertionError({ message: `worker exited: ${stderr}` });
      return stderr.includes('durable-runs worker: ');
    },
    120_000,
    `worker for ${module}`,
  ).catch((err: Error) => {
    child.kill('SIGKILL');
    throw new Error(`${err.message}\n${stderr}`);
  });
  return child;
}

async function stopChild(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGINT');
  return exited;
}

let queue = 0;
/** Each kind of module, loaded by the worker at `bin`, serves a run with its own runner. */
async function assertEveryKindServes(bin: string): Promise<void> {
  const client = await RunsClient.connect({ address: server.address, taskQueue: 'unused' });
  try {
    for (const [kind, { file }] of Object.entries(modules)) {
      const taskQueue = `runners-modules-${process.pid}-${++queue}`;
      const worker = await startWorker(bin, join(work, 'modules', file), taskQueue);
      try {
        const runs = RunsClient.fromClient(client.temporal, taskQueue);
        const { runId } = await runs.submit({ input: 'x', runner: 'kind' });
        const outcome = await runs.result(runId);
        assert.deepEqual(
          { status: outcome.status, result: outcome.result },
          { status: 'succeeded', result: expected[kind] },
          kind,
        );
      } finally {
        assert.equal(await stopChild(worker), 0, `${kind}: the worker stops cleanly on SIGINT`);
      }
    }
  } finally {
    await client.close();
  }
}

/** A module that cannot load stops the worker with exit code 2 and one line naming it and the cause. */
async function assertLoadErrorsNamed(bin: string): Promise<void> {
  const cases: Array<[string, RegExp]> = [
    ['throws.mjs', /^durable-runs: cannot load runners module .*throws\.mjs: no API key in this module$/m],
    ['syntax.ts', /^durable-runs: cannot load runners module .*syntax\.ts: .*(SyntaxError|Transform failed|Expected)/m],
    ['missing.mjs', /^durable-runs: cannot load runners module .*missing\.mjs: no such file/m],
  ];
  for (const [file, message] of cases) {
    const result = await exec(process.execPath, [bin, 'worker', '--runners', join(work, 'modules', file)], {
      env: childEnv({ TEMPORAL_ADDRESS: server.address }),
      timeout: 60_000,
    }).then(
      () => assert.fail(`${file}: the worker must not start`),
      (err: { code: number; stderr: string }) => err,
    );
    assert.equal(result.code, 2, file);
    assert.match(result.stderr, message);
  }
}

describe('from the sources', () => {
  const bin = join(ROOT, 'bin', 'durable-runs.js');
  test('CommonJS, ESM with top-level await, ESM .js and TypeScript runners modules each serve a run', () =>
    assertEveryKindServes(bin));
  test('a runners module that throws, does not parse or is missing: exit 2, naming it and the cause', () =>
    assertLoadErrorsNamed(bin));
});

describe('after a build (a copy of the package with lib/)', () => {
  const pkg = join(work, 'package');
  const bin = join(pkg, 'bin', 'durable-runs.js');
  before(async () => {
    mkdirSync(pkg);
    for (const entry of ['bin', 'src', 'scripts', 'examples', 'package.json', 'tsconfig.json', 'tsconfig.build.json']) {
      cpSync(join(ROOT, entry), join(pkg, entry), { recursive: true });
    }
    symlinkSync(join(ROOT, 'node_modules'), join(pkg, 'node_modules'), 'dir');
    // What `npm run build` runs.
    await exec(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(pkg, 'tsconfig.build.json')], {
      timeout: 300_000,
    });
  });

  test('the compiled CLI loads every kind of runners module', () => assertEveryKindServes(bin));
  test('the compiled CLI names a runners module that cannot load', () => assertLoadErrorsNamed(bin));

  test('`durable-runs dev` (npm start) with the example TypeScript runners serves a run', async () => {
    const [port, uiPort] = [await freePort(), await freePort()];
    const dev = spawn(
      process.execPath,
      [bin, 'dev', '--data-dir', join(work, 'data'), '--port', String(port), '--ui-port', String(uiPort)],
      { cwd: pkg, env: childEnv({}), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    dev.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    dev.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      await eventually(
        () => {
          if (dev.exitCode !== null) throw new assert.AssertionError({ message: `dev exited: ${output}` });
          return output.includes('durable-runs worker: ');
        },
        180_000,
        'dev is up',
      );
      const { stdout } = await exec(
        process.execPath,
        [bin, 'submit', '"What is 6 times 7?"', '--runner', 'agent', '--wait', '--json'],
        { env: childEnv({ TEMPORAL_ADDRESS: `127.0.0.1:${port}` }), timeout: 120_000 },
      );
      const last = JSON.parse(stdout.trim().split('\n').at(-1)!) as { status: string; result: unknown };
      assert.deepEqual(
        { status: last.status, result: last.result },
        { status: 'succeeded', result: 'The answer is 42.' },
      );
    } finally {
      assert.ok([0, 130].includes((await stopChild(dev)) ?? -1), `dev stops on Ctrl-C: ${output}`);
    }
  });

  test('the bin runs lib/ when it is current, and the sources when lib/ is older than them', async () => {
    const help = async () => (await exec(process.execPath, [bin, '--help'], { env: childEnv({}) })).stdout;
    const libCli = join(pkg, 'lib', 'cli', 'index.js');
    writeFileSync(libCli, readFileSync(libCli, 'utf8').replace('Durable multi-step runs on Temporal', 'FROM-LIB'));
    assert.match(await help(), /FROM-LIB/);
    const srcCli = join(pkg, 'src', 'cli', 'index.ts');
    writeFileSync(srcCli, readFileSync(srcCli, 'utf8').replace('Durable multi-step runs on Temporal', 'FROM-SRC'));
    const text = await help();
    assert.match(text, /FROM-SRC/);
    assert.doesNotMatch(text, /FROM-LIB/);
  });
});
