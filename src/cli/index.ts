/**
 * The `durable-runs` command: `dev`, `worker`, `submit`, `status`, `cancel`, `send`, `result`,
 * `list`, `watch`, `redeliver`, `retry`, `resume`, `fork`, `schedule`, `limits`, `serve`,
 * `codec-server`, one module each in this folder. Every sub-command takes `--json`; errors print
 * one line and exit non-zero.
 *
 * Exit codes: 0 ok / run succeeded, 1 run failed, 2 usage, configuration or connection error,
 * 3 run cancelled, 4 run, schedule or limit group not found.
 */
import { Command } from 'commander';
import { addCancelCommand } from './cancel';
import { addCodecServerCommand } from './codec-server';
import { addDevCommand } from './dev';
import { addForkCommand } from './fork';
import { addLimitsCommands } from './limits';
import { addListCommand } from './list';
import { addRedeliverCommand } from './redeliver';
import { addResultCommand } from './result';
import { addResumeCommand } from './resume';
import { addRetryCommand } from './retry';
import { addScheduleCommands } from './schedule';
import { addSendCommand } from './send';
import { addServeCommand } from './serve';
import { actionExitCode, reportError } from './shared';
import { addStatusCommand } from './status';
import { addSubmitCommand } from './submit';
import { addWatchCommand } from './watch';
import { addWorkerCommand } from './worker';

export { loadRunners } from './worker';

/** The commands in the order `--help` lists them. */
const COMMANDS: ReadonlyArray<(program: Command) => void> = [
  addDevCommand,
  addWorkerCommand,
  addSubmitCommand,
  addStatusCommand,
  addCancelCommand,
  addSendCommand,
  addResultCommand,
  addListCommand,
  addWatchCommand,
  addRedeliverCommand,
  addRetryCommand,
  addForkCommand,
  addResumeCommand,
  addScheduleCommands,
  addLimitsCommands,
  addServeCommand,
  addCodecServerCommand,
];

export function buildProgram(): Command {
  const program = new Command('durable-runs')
    .description('Durable multi-step runs on Temporal')
    .showHelpAfterError()
    .exitOverride();
  for (const add of COMMANDS) add(program);
  return program;
}

/** Runs the command line `argv` and resolves with the exit code. */
export async function main(argv: string[] = process.argv): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return actionExitCode();
  } catch (err) {
    return reportError(err);
  }
}

if (require.main === module) {
  // A reader that stopped reading (`watch --stream | head`) is not an error: stop quietly.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(process.exitCode ?? 0);
  });
  void main().then((code) => {
    process.exitCode = code;
  });
}
