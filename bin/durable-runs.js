#!/usr/bin/env node
'use strict';
// Runs the compiled CLI (lib/) when it is there and up to date, else the TypeScript sources
// through tsx: in a checkout, an edit to src/ after `npm run build` is never hidden by a stale lib/.
const { existsSync, readdirSync, statSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const compiled = join(root, 'lib', 'cli', 'index.js');
const sources = join(root, 'src');

/** The newest modification time of the .ts files under `dir`. */
function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function canRunSources() {
  try {
    require.resolve('tsx/cjs');
    return existsSync(join(sources, 'cli', 'index.ts'));
  } catch {
    return false;
  }
}

let useCompiled = existsSync(compiled);
if (useCompiled && existsSync(sources) && newestSource(sources) > statSync(compiled).mtimeMs) {
  if (canRunSources()) useCompiled = false;
  else process.stderr.write('durable-runs: warning: lib/ is older than src/; run `npm run build`\n');
}
if (!useCompiled) require('tsx/cjs');
const { main } = require(useCompiled ? compiled : join(sources, 'cli', 'index.ts'));
main(process.argv).then((code) => {
  process.exitCode = code;
});
