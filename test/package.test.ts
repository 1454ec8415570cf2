/**
 * The package as users get it: `npm pack` (its prepack builds lib/), installed from the tarball
 * into a project outside the repository, then used only through its public entry points — the
 * bin, `durable-runs` and `durable-runs/testing`, from ESM and from CommonJS — and one run on the
 * testing kit. npm installs from its cache only (`--offline`): no request leaves this machine.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { promisify } from 'node:util';
import { testServerExecutable } from '../src/local/temporal-binaries';

const exec = promisify(execFile);
const ROOT = join(__dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'package-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const app = join(work, 'app');
const testServer = testServerExecutable();
assert.ok(testServer.type === 'existing-path', 'the time-skipping server is installed (npm run temporal:install)');
const testServerPath = testServer.path;

const npm = (args: string[], cwd: string) =>
  exec('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd,
    timeout: 300_000,
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });

/** Runs `node` in the app with only the environment a user's shell would have. */
const node = (args: string[]) =>
  exec(process.execPath, args, {
    cwd: app,
    timeout: 300_000,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      // The time-skipping server binary this checkout installed, instead of the SDK's download.
      TEMPORAL_TEST_SERVER_PATH: testServerPath,
    },
  });

interface LockEntry {
  version?: string;
  dev?: boolean;
  devOptional?: boolean;
  peer?: boolean;
  optional?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

/**
 * The lock paths a set of packages needs: each name resolved the way Node does from where it is
 * required (nested node_modules first, then upwards), with everything those require in turn.
 */
function closure(packages: Record<string, LockEntry>, names: readonly string[]): Set<string> {
  const found = new Set<string>();
  const resolve = (from: string, name: string): string | undefined => {
    for (let dir = from; ;) {
      const candidate = `${dir ? `${dir}/` : ''}node_modules/${name}`;
      if (packages[candidate]) return candidate;
      if (!dir) return undefined;
      const at = dir.lastIndexOf('node_modules/');
      dir = at <= 0 ? '' : dir.slice(0, at - 1);
    }
  };
  const visit = (from: string, name: string) => {
    const path = resolve(from, name);
    if (!path || found.has(path)) return;
    found.add(path);
    const entry = packages[path]!;
    for (const dep of Object.keys({
      ...entry.dependencies,
      ...entry.optionalDependencies,
      ...entry.peerDependencies,
    })) {
      visit(path, dep);
    }
  };
  for (const name of names) visit('', name);
  return found;
}

/**
 * The app's package.json and lock, as a team's app that already uses Temporal has them: the
 * Temporal SDK packages durable-runs takes as peer dependencies (`@temporalio/testing` too, for
 * `durable-runs/testing`), and `durable-runs` from the tarball; below them the versions this
 * checkout's lock resolves for those and for the package's own dependencies. With a lock,
 * `npm ci --offline` takes exactly what npm's cache holds, instead of resolving the newest
 * versions, which the cache may not have.
 */
function writeAppLock(tarball: string): void {
  const spec = `file:../${tarball}`;
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    version: string;
    dependencies: Record<string, string>;
    peerDependencies: Record<string, string>;
    peerDependenciesMeta?: Record<string, { optional?: boolean }>;
    bin: Record<string, string>;
    engines: Record<string, string>;
  };
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  const needed = closure(lock.packages, [
    ...Object.keys(manifest.dependencies),
    ...Object.keys(manifest.peerDependencies),
  ]);
  const production = [...needed].map((path) => {
    const { dev: _dev, devOptional: _devOptional, peer: _peer, ...entry } = lock.packages[path]!;
    return [path, entry] as const;
  });
  const appDependencies = { ...manifest.peerDependencies, 'durable-runs': spec };
  const app = { name: 'app', version: '1.0.0', private: true, dependencies: appDependencies };
  writeFileSync(join(work, 'app', 'package.json'), JSON.stringify(app, null, 2));
  const packages = {
    '': { name: 'app', version: '1.0.0', dependencies: appDependencies },
    'node_modules/durable-runs': {
      version: manifest.version,
      resolved: spec,
      license: 'MIT',
      dependencies: manifest.dependencies,
      peerDependencies: manifest.peerDependencies,
      ...(manifest.peerDependenciesMeta ? { peerDependenciesMeta: manifest.peerDependenciesMeta } : {}),
      bin: manifest.bin,
      engines: manifest.engines,
    },
    ...Object.fromEntries(production),
  };
  writeFileSync(
    join(work, 'app', 'package-lock.json'),
    JSON.stringify({ name: 'app', version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 2),
  );
}

before(async () => {
  // Pack a copy, so the repository's own tree (lib/ included) is left as it was.
  const pkg = join(work, 'pkg');
  mkdirSync(pkg);
  for (const entry of ['bin', 'src', 'scripts', 'package.json', 'README.md', 'tsconfig.json', 'tsconfig.build.json']) {
    cpSync(join(ROOT, entry), join(pkg, entry), { recursive: true });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(pkg, 'node_modules'), 'dir');
  await npm(['pack', '--pack-destination', work], pkg);
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
  assert.ok(tarball, 'npm pack wrote a tarball');
  mkdirSync(app);
  writeAppLock(tarball);
  await npm(['ci', '--offline'], app);
});

test('the tarball holds the compiled library', async () => {
  const { stdout } = await exec('tar', [
    '-tzf',
    join(
      work,
      readdirSync(work).find((f) => f.endsWith('.tgz'))!,
    ),
  ]);
  for (const file of [
    'package/lib/index.js',
    'package/lib/index.d.ts',
    'package/lib/testing.js',
    'package/lib/bundles/workflows.js',
    'package/lib/bundles/workflows-encrypted.js',
    'package/bin/durable-runs.js',
  ]) {
    assert.ok(stdout.split('\n').includes(file), `${file} is packed`);
  }
  assert.ok(!stdout.includes('package/test/'), 'tests are not packed');
});

test('npx durable-runs --help, from the installed bin', async () => {
  const { stdout } = await exec('npx', ['--offline', 'durable-runs', '--help'], { cwd: app, timeout: 120_000 });
  assert.match(stdout, /Usage: durable-runs/);
  for (const command of ['dev', 'worker', 'submit', 'status', 'cancel', 'result', 'list', 'watch', 'redeliver']) {
    assert.match(stdout, new RegExp(`^\\s+${command}\\b`, 'm'), command);
  }
});

const exportsCheck = `
  if (typeof api.StepOutcome?.succeed !== 'function') throw new Error('StepOutcome');
  if (typeof api.StepError?.transient !== 'function') throw new Error('StepError');
  if (typeof api.RunsClient?.connect !== 'function') throw new Error('RunsClient');
  if (typeof api.createWorker !== 'function') throw new Error('createWorker');
  if (typeof testing.createTestKit !== 'function') throw new Error('createTestKit');
  console.log(JSON.stringify(api.StepOutcome.succeed(42)));
`;

test('durable-runs and durable-runs/testing import from ESM', async () => {
  writeFileSync(
    join(app, 'esm.mjs'),
    `import * as api from 'durable-runs';\nimport * as testing from 'durable-runs/testing';\n${exportsCheck}`,
  );
  const { stdout } = await node(['esm.mjs']);
  assert.deepEqual(JSON.parse(stdout), { kind: 'succeed', result: 42 });
});

test('durable-runs and durable-runs/testing require from CommonJS', async () => {
  writeFileSync(
    join(app, 'cjs.cjs'),
    `const api = require('durable-runs');\nconst testing = require('durable-runs/testing');\n${exportsCheck}`,
  );
  const { stdout } = await node(['cjs.cjs']);
  assert.deepEqual(JSON.parse(stdout), { kind: 'succeed', result: 42 });
});

test('one run on the testing kit, from the installed package', async () => {
  writeFileSync(
    join(app, 'kit.mjs'),
    `import { StepOutcome } from 'durable-runs';
import { createTestKit } from 'durable-runs/testing';
const kit = await createTestKit({
  runners: { default: async (step) => (step.stepNumber < 2 ? StepOutcome.continue(step.payload + 1) : StepOutcome.succeed(step.payload * 2)) },
});
try {
  const { runId } = await kit.client.submit({ input: 19 });
  console.log(JSON.stringify(await kit.client.result(runId)));
} finally {
  await kit.teardown();
}`,
  );
  const { stdout } = await node(['kit.mjs']);
  const outcome = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
    status: string;
    result: unknown;
    finalStep: number;
  };
  assert.deepEqual(
    { status: outcome.status, result: outcome.result, finalStep: outcome.finalStep },
    {
      status: 'succeeded',
      result: 42,
      finalStep: 2,
    },
  );
});

test("one copy of the Temporal SDK: the app's; the worker side never loads @temporalio/testing", async () => {
  // The SDK packages are peer dependencies: npm gives durable-runs the app's copies, none of its own.
  for (const name of ['client', 'worker', 'workflow', 'common', 'activity', 'testing']) {
    assert.ok(
      !existsSync(join(app, 'node_modules', 'durable-runs', 'node_modules', '@temporalio', name)),
      `no second @temporalio/${name} under durable-runs`,
    );
  }
  writeFileSync(
    join(app, 'loaded.cjs'),
    `const api = require('durable-runs');
const { Worker } = require('@temporalio/worker');
if (typeof api.createWorker !== 'function' || typeof api.DurableRunsPlugin !== 'function') throw new Error('exports');
const loaded = Object.keys(require.cache);
console.log(JSON.stringify({
  testing: loaded.filter((p) => p.includes('@temporalio/testing')).length,
  workers: new Set(loaded.filter((p) => p.endsWith('/@temporalio/worker/lib/worker.js'))).size,
  sameWorker: require.resolve('@temporalio/worker') === require.resolve('@temporalio/worker', { paths: [require.resolve('durable-runs')] }),
  hasWorker: typeof Worker.create === 'function',
}));`,
  );
  const { stdout } = await node(['loaded.cjs']);
  assert.deepEqual(JSON.parse(stdout.trim().split('\n').at(-1)!), {
    testing: 0,
    workers: 1,
    sameWorker: true,
    hasWorker: true,
  });
});

test('without @temporalio/testing, durable-runs/testing names the package and its install command', async () => {
  // The app has durable-runs and the rest of the SDK, but not the optional peer the testing kit needs.
  const installed = join(app, 'node_modules', '@temporalio', 'testing');
  const away = join(work, 'temporalio-testing-away');
  renameSync(installed, away);
  try {
    writeFileSync(join(app, 'no-testing.cjs'), `require('durable-runs');\nrequire('durable-runs/testing');\n`);
    writeFileSync(join(app, 'no-testing.mjs'), `import 'durable-runs';\nimport 'durable-runs/testing';\n`);
    for (const file of ['no-testing.cjs', 'no-testing.mjs']) {
      await assert.rejects(node([file]), (err: { stderr: string }) => {
        assert.match(
          err.stderr,
          /durable-runs\/testing needs the package @temporalio\/testing, which is not installed .*: npm install --save-dev @temporalio\/testing/,
          file,
        );
        return true;
      });
    }
    // The main entry does not need it.
    writeFileSync(join(app, 'main-only.cjs'), `console.log(typeof require('durable-runs').createWorker);\n`);
    assert.equal((await node(['main-only.cjs'])).stdout.trim(), 'function');
  } finally {
    renameSync(away, installed);
  }
});
