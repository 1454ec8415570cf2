/**
 * Imported first by `durable-runs/testing`: its servers come from `@temporalio/testing`, an
 * optional peer dependency that an app installs only for its tests. Without it, the import says
 * which package is missing and how to install it, instead of Node's bare MODULE_NOT_FOUND.
 */
const PEER = '@temporalio/testing';

try {
  require.resolve(PEER);
} catch (err) {
  if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err;
  throw Object.assign(
    new Error(
      `durable-runs/testing needs the package ${PEER}, which is not installed (an optional peer dependency): ` +
        `npm install --save-dev ${PEER}`,
      { cause: err },
    ),
    { code: 'MODULE_NOT_FOUND' },
  );
}

export {};
