/** `durable-runs watch`, and the live progress `submit --wait` shows. */
import type { Command } from 'commander';
import type { RunsClient } from '../client';
import type { RunOutcome } from '../shared/types';
import { act, describeOutcome, describeStatus, exitCodeFor, type JsonFlag, print, withClient } from './shared';

/** Polls a run's status until it closes, printing each change; resolves with its outcome. */
export async function watchRun(client: RunsClient, runId: string, json: boolean | undefined): Promise<RunOutcome> {
  let last = '';
  for (;;) {
    const status = await client.status(runId);
    const line = describeStatus(status);
    if (line !== last) {
      print(json, status, () => line);
      last = line;
    }
    if (status.state === 'succeeded' || status.state === 'failed' || status.state === 'cancelled') {
      return client.result(runId);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

export function addWatchCommand(program: Command): void {
  program
    .command('watch')
    .description('show live progress until the run closes; exit code per status')
    .argument('<runId>')
    .option('--json', 'machine-readable output (one JSON object per change)')
    .action(
      act(async (runId: string, opts: JsonFlag) =>
        withClient(async (client) => {
          const outcome = await watchRun(client, runId, opts.json);
          print(opts.json, outcome, () => describeOutcome(outcome));
          return exitCodeFor(outcome.status);
        }),
      ),
    );
}
