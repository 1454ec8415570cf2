/** `durable-runs fork`: a new run from step k of another, with that step's payload or a given one. */
import type { Command } from 'commander';
import { act, CliError, EXIT, type JsonFlag, parseJsonArg, print, withClient } from './shared';

type ForkFlags = { fromStep: string; payload?: string; runId?: string } & JsonFlag;

export function addForkCommand(program: Command): void {
  program
    .command('fork')
    .description(
      "start a new run at step k of a run, with that step's payload (or --payload), runner, headers and options",
    )
    .argument('<runId>')
    .requiredOption('--from-step <k>', 'the step the fork starts at (0-based)')
    .option('--payload <json>', "the fork's payload for that step (JSON)")
    .option('--run-id <id>', "the fork's run ID (default <runId>-fork-<n>)")
    .option('--json', 'machine-readable output')
    .action(
      act(async (runId: string, opts: ForkFlags) => {
        if (!/^\d+$/.test(opts.fromStep)) {
          throw new CliError(`--from-step must be a whole number ≥ 0, got ${JSON.stringify(opts.fromStep)}`);
        }
        const fromStep = Number(opts.fromStep);
        const payload = opts.payload === undefined ? undefined : parseJsonArg('--payload', opts.payload);
        return withClient(async (client) => {
          const fork = await client.fork(runId, {
            fromStep,
            ...(payload !== undefined ? { payload } : {}),
            ...(opts.runId !== undefined ? { runId: opts.runId } : {}),
          });
          print(
            opts.json,
            { runId: fork.runId, forkedFrom: { runId, step: fromStep } },
            () => `${fork.runId}: forked from ${runId} at step ${fromStep}`,
          );
          return EXIT.ok;
        });
      }),
    );
}
