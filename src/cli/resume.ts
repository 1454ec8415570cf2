/** `durable-runs resume`: a parked run runs its step again from attempt 1 (exit 1 with the reason when it is not parked). */
import { type Command, Option } from 'commander';
import { act, budgetFlags, EXIT, type JsonFlag, parseJsonArg, print, withClient } from './shared';

type ResumeFlags = { payload?: string; maxCostUsd?: number; maxTokens?: number } & JsonFlag;

export function addResumeCommand(program: Command): void {
  program
    .command('resume')
    .description(
      "run a parked run's step again from attempt 1, with --payload or its own (exit 1 with the reason if the run is not parked)",
    )
    .argument('<runId>')
    .option('--payload <json>', "the step's new payload, as JSON (default: its own; its memos stay either way)")
    .addOption(
      new Option('--max-cost-usd <n>', "raise the run's cost budget (a run parked on it goes on)").argParser((v) =>
        Number(v),
      ),
    )
    .addOption(new Option('--max-tokens <n>', "raise the run's token budget").argParser((v) => Number(v)))
    .option('--json', 'machine-readable output')
    .action(
      act(async (runId: string, opts: ResumeFlags) => {
        // Checked before anything is sent: a payload that is not JSON changes no run.
        const options = {
          ...(opts.payload === undefined ? {} : { payload: parseJsonArg('--payload', opts.payload) }),
          ...budgetFlags(opts),
        };
        return withClient(async (client) => {
          const answer = await client.resumeRun(runId, options);
          print(opts.json, { runId, ...answer }, () =>
            answer.resumed
              ? `${runId}: step ${answer.step} runs again from attempt 1`
              : `${runId}: not resumed: ${answer.reason}`,
          );
          return answer.resumed ? EXIT.ok : EXIT.failed;
        });
      }),
    );
}
