/** `durable-runs list`: runs, newest first, as a table or JSON. */
import { type Command, Option } from 'commander';
import type { ListState } from '../client/list';
import { act, EXIT, type JsonFlag, print, withClient } from './shared';

type ListFlags = {
  state?: ListState;
  limit: number;
  parent?: string;
} & JsonFlag;

export function addListCommand(program: Command): void {
  program
    .command('list')
    .description('list runs, newest first')
    .addOption(
      new Option(
        '--state <state>',
        'only runs in this state (parked: open runs waiting for resume; waiting, sleeping, cancelling and scheduled need the run-state search attributes)',
      ).choices([
        'running',
        'waiting',
        'sleeping',
        'parked',
        'cancelling',
        'scheduled',
        'succeeded',
        'failed',
        'cancelled',
      ]),
    )
    .option('--limit <n>', 'at most this many', (v) => Number(v), 50)
    .option('--parent <runId>', 'only the child runs of this run')
    .option('--json', 'machine-readable output')
    .action(
      act(async (opts: ListFlags) =>
        withClient(async (client) => {
          const runs = await client.list({
            ...(opts.state ? { state: opts.state } : {}),
            ...(opts.parent !== undefined ? { parent: opts.parent } : {}),
            limit: opts.limit,
          });
          print(opts.json, runs, () =>
            table([
              ['RUN ID', 'STATE', 'STARTED', 'CLOSED'],
              ...runs.map((r) => [r.runId, r.state, r.startTime.toISOString(), r.closeTime?.toISOString() ?? '']),
            ]),
          );
          return EXIT.ok;
        }),
      ),
    );
}

/** Left-aligned columns two spaces apart, no trailing spaces. */
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
