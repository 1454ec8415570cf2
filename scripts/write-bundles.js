#!/usr/bin/env node
'use strict';
// `npm run build`, after tsc: writes the prebuilt workflow bundles beside the compiled code, so a
// worker starts without webpack (see src/worker/workflow-bundle.ts).
const { writeWorkflowBundles } = require('../lib/worker/workflow-bundle');

writeWorkflowBundles().then(
  (paths) =>
    process.stdout.write(
      `workflow bundles: ${paths.map((p) => require('node:path').relative(process.cwd(), p)).join(', ')}\n`,
    ),
  (err) => {
    process.stderr.write(`cannot write the workflow bundles: ${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
  },
);
