/** `durable-runs retry`: a failed run runs again from the step that ended it; exit 1 with the reason when it cannot. */
import type { Command } from 'commander';
import { act, EXIT, type JsonFlag, print, withClient } from './shared';

export function addRetryCommand(program: Command): void {
  program
    .command('retry')
    .description('run a failed run again from the step that ended it, at attempt 1 (same run ID); exit 1 if it cannot')
    .argument('<runId>')
    .option('--json', 'machine-readable output')
    .action(
      act(async (runId: string, opts: JsonFlag) =>
        withClient(async (client) => {
          const answer = await client.retryRun(runId);
          print(opts.json, { runId, ...answer }, () =>
            answer.retried
              ? `${runId}: runs again from step ${answer.step}`
              : `${runId}: not retried: ${answer.reason}`,
          );
          return answer.retried ? EXIT.ok : EXIT.failed;
        }),
      ),
    );
}
