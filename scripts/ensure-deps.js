#!/usr/bin/env node
'use strict';
/**
 * Installs the npm packages when node_modules is missing or does not match package-lock.json, so
 * that `npm start` and `npm test` work on a fresh clone with no command before them. It runs
 * `npm ci`, which refuses a lock file out of sync with package.json: a stale lock fails loudly.
 * Uses nothing but Node itself (it runs before any package is installed).
 */
const { spawnSync } = require('node:child_process');
const { existsSync, readFileSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Why node_modules needs installing, or undefined when it matches the lock. */
function whyInstall() {
  const lock = readJson(join(root, 'package-lock.json'));
  if (!lock) return 'package-lock.json is missing';
  // npm records what it installed in node_modules/.package-lock.json.
  const installed = readJson(join(root, 'node_modules', '.package-lock.json'));
  if (!installed) return 'node_modules is not installed';
  for (const [path, entry] of Object.entries(lock.packages ?? {})) {
    // Optional packages (other platforms' binaries) are absent by design.
    if (path === '' || entry.optional || entry.link) continue;
    const have = installed.packages?.[path];
    if (!have || have.version !== entry.version) {
      return `${path.replace(/^.*node_modules\//, '')}@${entry.version} is ${have ? `at ${have.version}` : 'missing'}`;
    }
  }
  return undefined;
}

const reason = whyInstall();
if (reason === undefined) process.exit(0);
const npm = process.env.npm_execpath;
const useLock = existsSync(join(root, 'package-lock.json'));
const args = [useLock ? 'ci' : 'install', '--no-audit', '--no-fund'];
process.stderr.write(`durable-runs: installing npm packages (${reason}): npm ${args.join(' ')}\n`);
// Inside `npm start`/`npm test`, npm_execpath is npm's own CLI script; otherwise use `npm` on PATH.
const result = npm
  ? spawnSync(process.execPath, [npm, ...args], { cwd: root, stdio: 'inherit' })
  : spawnSync('npm', args, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
if (result.status !== 0) {
  process.stderr.write(
    `durable-runs: npm ${args[0]} failed${useLock ? ' (is package-lock.json in sync with package.json? run `npm install` and commit the lock)' : ''}\n`,
  );
  process.exit(result.status ?? 1);
}
