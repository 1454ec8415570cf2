/** `durable-runs send`: an event for a run's `waitForEvent`; exit 1 when the run is unknown or closed, or refuses it. */
import type { Command } from 'commander';
import { act, EXIT, type JsonFlag, parseJsonArg, print, withClient } from './shared';

export function addSendCommand(program: Command): void {
  program
    .command('send')
    .description(
      'send an event to a run (update "event") and wait for its answer; a waitForEvent naming it takes it; exit 1 if the run is unknown or closed, refuses the event, or no worker answers in time',
    )
    .argument('<runId>')
    .argument('<name>', 'event name, e.g. approve')
    .argument('[data]', 'event data, as JSON (e.g. \'{"by":"ana"}\')')
    .option('--id <id>', 'event ID: a second event with the same ID is not taken (default: a new one)')
    .option('--timeout <duration>', 'how long to wait for the run to answer (e.g. 30s, 2m)', '30s')
    .option('--json', 'machine-readable output')
    .action(
      act(
        async (
          runId: string,
          name: string,
          data: string | undefined,
          opts: { id?: string; timeout: string } & JsonFlag,
        ) => {
          const value = data === undefined ? undefined : parseJsonArg('data', data);
          return withClient(async (client) => {
            const answer = await client.deliverEvent(runId, name, value, {
              timeout: opts.timeout,
              ...(opts.id !== undefined ? { id: opts.id } : {}),
            });
            print(opts.json, { runId, name, sent: answer !== 'not-running', result: answer }, () =>
              answer === 'duplicate'
                ? `${runId}: the run already has an event with id ${opts.id}; nothing changed`
                : answer === 'accepted'
                  ? `${runId}: event "${name}" taken by the run`
                  : `${runId}: not running (unknown or already closed)`,
            );
            return answer === 'not-running' ? EXIT.failed : EXIT.ok;
          });
        },
      ),
    );
}
