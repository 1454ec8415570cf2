/** `durable-runs <args>` in a process of its own, against a test server. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const BIN = join(__dirname, '..', '..', 'bin', 'durable-runs.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * A function that runs the CLI with only PATH, HOME and `TEMPORAL_ADDRESS` (and the task queue,
 * when given) in its environment, and returns its exit code and output.
 */
export function durableRunsCli(
  target: () => { address: string; taskQueue?: string },
): (...args: string[]) => Promise<CliResult> {
  return async (...args) => {
    const { address, taskQueue } = target();
    try {
      const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], {
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '',
          TEMPORAL_ADDRESS: address,
          ...(taskQueue !== undefined ? { TEMPORAL_TASK_QUEUE: taskQueue } : {}),
        },
        timeout: 60_000,
      });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as CliResult;
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };
}
