/** `durable-runs send`: an event for a run's `waitForEvent`; exit 1 when the run is unknown or closed. */
import type { Command } from 'commander';
import { act, EXIT, type JsonFlag, parseJsonArg, print, withClient } from './shared';

export function addSendCommand(program: Command): void {
  program
    .command('send')
    .description(
      'send an event to a run (signal "event"); a waitForEvent naming it takes it; exit 1 if the run is unknown or closed',
    )
    .argument('<runId>')
    .argument('<name>', 'event name, e.g. approve')
    .argument('[data]', 'event data, as JSON (e.g. \'{"by":"ana"}\')')
    .option('--id <id>', 'event ID: a second event with the same ID is ignored (default: a new one)')
    .option('--json', 'machine-readable output')
    .action(
      act(async (runId: string, name: string, data: string | undefined, opts: { id?: string } & JsonFlag) => {
        const value = data === undefined ? undefined : parseJsonArg('data', data);
        return withClient(async (client) => {
          const sent = await client.sendEvent(runId, name, value, opts.id !== undefined ? { id: opts.id } : {});
          print(opts.json, { runId, name, sent }, () =>
            sent ? `${runId}: event "${name}" sent` : `${runId}: not running (unknown or already closed)`,
          );
          return sent ? EXIT.ok : EXIT.failed;
        });
      }),
    );
}
