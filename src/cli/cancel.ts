/** `durable-runs cancel`: exit 1 when there is nothing to cancel. */
import type { Command } from 'commander';
import { act, EXIT, type JsonFlag, print, withClient } from './shared';

export function addCancelCommand(program: Command): void {
  program
    .command('cancel')
    .description('cancel a run; exit 1 if it is unknown or already closed')
    .argument('<runId>')
    .option('--reason <text>', 'why (ends up in the outcome)')
    .option('--json', 'machine-readable output')
    .action(
      act(async (runId: string, opts: { reason?: string } & JsonFlag) =>
        withClient(async (client) => {
          const cancelled = await client.cancel(runId, opts.reason);
          print(opts.json, { runId, cancelled }, () =>
            cancelled ? `${runId}: cancel requested` : `${runId}: not running (unknown or already closed)`,
          );
          return cancelled ? EXIT.ok : EXIT.failed;
        }),
      ),
    );
}
