/** `durable-runs retry`: a failed run runs again from the step that ended it (exit 1 with the reason when it cannot), or every failed run a `--query` selects. */
import type { Command } from 'commander';
import type { RunsClient } from '../client';
import { act, type BulkFlags, bulkTarget, EXIT, type JsonFlag, print, withClient } from './shared';

type RetryFlags = BulkFlags & JsonFlag;

export function addRetryCommand(program: Command): void {
  program
    .command('retry')
    .description(
      'run a failed run again from the step that ended it, at attempt 1 (same run ID; exit 1 if it cannot), or every failed run a --query selects',
    )
    .argument('[runId]')
    .option('--query <visibility query>', 'retry every failed run this selects')
    .option('--yes', 'with --query: do it (without it nothing happens)')
    .option('--dry-run', 'with --query: only print how many runs match')
    .option('--json', 'machine-readable output')
    .action(
      act(async (runId: string | undefined, opts: RetryFlags) =>
        withClient(async (client) => {
          const query = bulkTarget('retry', runId, opts);
          if (query !== undefined) return retryMany(client, query, opts);
          const answer = await client.retryRun(runId!);
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

async function retryMany(client: RunsClient, query: string, opts: RetryFlags): Promise<number> {
  const dryRun = opts.dryRun || !opts.yes;
  const { matched, results = [] } = await client.retryMatching(query, { dryRun });
  if (dryRun) {
    print(opts.json, { query, matched, retried: 0 }, () =>
      opts.dryRun
        ? `${matched} failed run${matched === 1 ? '' : 's'} match`
        : `nothing done: ${matched} failed run${matched === 1 ? '' : 's'} match; add --yes to retry them`,
    );
    return opts.dryRun ? EXIT.ok : EXIT.usage;
  }
  const retried = results.filter((r) => r.retried).length;
  print(opts.json, { query, matched, retried, results }, () =>
    [
      `retried ${retried} of ${matched} failed run${matched === 1 ? '' : 's'}`,
      ...results.map((r) =>
        r.retried ? `  ${r.runId}: from step ${r.step}` : `  ${r.runId}: not retried: ${r.reason}`,
      ),
    ].join('\n'),
  );
  return retried === matched ? EXIT.ok : EXIT.failed;
}
