import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { resolveTemporalCli } from '../../src/local/temporal-binaries';

const exec = promisify(execFile);

/** The real `temporal` binary aimed at one server, and `workflow start` of a durableRun. */
export function temporalCli(address: () => string) {
  const temporal = async (...args: string[]): Promise<string> => {
    const cli = resolveTemporalCli();
    assert.ok(cli, 'the Temporal CLI is installed');
    const { stdout } = await exec(cli, [...args, '--address', address(), '--namespace', 'default'], {
      timeout: 60_000,
    });
    return stdout;
  };
  /** `temporal workflow start --type durableRun --task-queue durable-runs --workflow-id <id> --input <json> [flags…]` */
  const startRun = (id: string, input: string, ...flags: string[]) =>
    temporal(
      'workflow',
      'start',
      '--type',
      'durableRun',
      '--task-queue',
      'durable-runs',
      '--workflow-id',
      id,
      '--input',
      input,
      ...flags,
    );
  return { temporal, startRun };
}
