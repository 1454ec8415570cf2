/** `durable-runs result`: waits for a run to close; exit code per status. */
import type { Command } from 'commander';
import { act, describeOutcome, exitCodeFor, type JsonFlag, print, withClient } from './shared';

export function addResultCommand(program: Command): void {
  program
    .command('result')
    .description('wait for a run to close and print its outcome; exit code per status')
    .argument('<runId>')
    .option('--json', 'machine-readable output')
    .action(
      act(async (runId: string, opts: JsonFlag) =>
        withClient(async (client) => {
          const outcome = await client.result(runId);
          print(opts.json, outcome, () => describeOutcome(outcome));
          return exitCodeFor(outcome.status);
        }),
      ),
    );
}
