/** `durable-runs redeliver`: sends a run's terminal webhook again, with the same webhook-id. */
import type { Command } from 'commander';
import { act, EXIT, type JsonFlag, print, withClient } from './shared';

export function addRedeliverCommand(program: Command): void {
  program
    .command('redeliver')
    .description("send a run's terminal webhook again (same webhook-id)")
    .argument('<runId>')
    .option('--json', 'machine-readable output')
    .action(
      act(async (runId: string, opts: JsonFlag) =>
        withClient(async (client) => {
          await client.redeliver(runId);
          print(opts.json, { runId, redelivering: true }, () => `${runId}: webhook redelivery started`);
          return EXIT.ok;
        }),
      ),
    );
}
