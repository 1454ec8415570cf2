import { existsSync } from 'node:fs';
import { join } from 'node:path';
const root = join(__dirname, '..');
export function resolveTestServer(): string | undefined {
  const p = process.env.TEMPORAL_TEST_SERVER_PATH ?? join(root, '.temporal/bin/temporal-test-server');
  return existsSync(p) ? p : undefined;
}
export function resolveTemporalCli(): string | undefined {
  const p = process.env.TEMPORAL_CLI_PATH ?? join(root, '.temporal/bin/temporal');
  return existsSync(p) ? p : undefined;
}
export function testServerExecutable() {
  const path = resolveTestServer();
  return path ? ({ type: 'existing-path', path } as const) : ({ type: 'cached-download' } as const);
}
export function devServerExecutable() {
  const path = resolveTemporalCli();
  return path ? ({ type: 'existing-path', path } as const) : ({ type: 'cached-download' } as const);
}
