/** `durable-runs status`: where a run stands, closed runs too. */
import type { Command } from 'commander';
import { act, describeStatus, EXIT, type JsonFlag, print, withClient } from './shared';

export function addStatusCommand(program: Command): void {
  program
    .command('status')
    .description('where a run stands (answers for closed runs too)')
    .argument('<runId>')
    .option('--json', 'machine-readable output')
    .action(
      act(async (runId: string, opts: JsonFlag) =>
        withClient(async (client) => {
          const status = await client.status(runId);
          print(opts.json, status, () => describeStatus(status));
          return EXIT.ok;
        }),
      ),
    );
}
