#!/usr/bin/env node
'use strict';
// Runs the compiled CLI when the package is built (lib/), else the TypeScript sources through tsx.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const compiled = join(__dirname, '..', 'lib', 'cli.js');
if (!existsSync(compiled)) require('tsx/cjs');
const { main } = require(existsSync(compiled) ? compiled : join(__dirname, '..', 'src', 'cli.ts'));
main(process.argv).then((code) => {
  process.exitCode = code;
});
