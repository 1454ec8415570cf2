/** `durable-runs cancel`: one run (exit 1 when there is nothing to cancel), or every run a `--query` selects. */
import type { Command } from 'commander';
import type { RunsClient } from '../client';
import { act, type BulkFlags, bulkTarget, EXIT, type JsonFlag, print, withClient } from './shared';

type CancelFlags = { reason?: string } & BulkFlags & JsonFlag;

/** How long `cancel --query` follows its batch job before it leaves it to the server. */
const FOLLOW_MS = 60_000;

export function addCancelCommand(program: Command): void {
  program
    .command('cancel')
    .description('cancel a run (exit 1 if it is unknown or already closed), or every running run a --query selects')
    .argument('[runId]')
    .option('--reason <text>', 'why (ends up in the outcome)')
    .option(
      '--query <visibility query>',
      'cancel every running run this selects, e.g. "StartTime < \'2026-12-01T00:00:00Z\'"',
    )
    .option('--yes', 'with --query: do it (without it nothing happens)')
    .option('--dry-run', 'with --query: only print how many runs match')
    .option('--json', 'machine-readable output')
    .action(
      act(async (runId: string | undefined, opts: CancelFlags) =>
        withClient(async (client) => {
          const query = bulkTarget('cancel', runId, opts);
          if (query !== undefined) return cancelMany(client, query, opts);
          const cancelled = await client.cancel(runId!, opts.reason);
          print(opts.json, { runId, cancelled }, () =>
            cancelled ? `${runId}: cancel requested` : `${runId}: not running (unknown or already closed)`,
          );
          return cancelled ? EXIT.ok : EXIT.failed;
        }),
      ),
    );
}

async function cancelMany(client: RunsClient, query: string, opts: CancelFlags): Promise<number> {
  const dryRun = opts.dryRun || !opts.yes;
  const {
    matched,
    jobId,
    woken = 0,
  } = await client.cancelMatching(query, {
    dryRun,
    ...(opts.reason !== undefined ? { reason: opts.reason } : {}),
  });
  if (dryRun) {
    print(opts.json, { query, matched, cancelled: false }, () =>
      opts.dryRun
        ? `${matched} running run${matched === 1 ? '' : 's'} match`
        : `nothing done: ${matched} running run${matched === 1 ? '' : 's'} match; add --yes to cancel them`,
    );
    return opts.dryRun ? EXIT.ok : EXIT.usage;
  }
  if (!jobId) {
    print(opts.json, { query, matched: 0, cancelled: false }, () => 'no running run matches');
    return EXIT.ok;
  }
  let progress = await client.batchProgress(jobId);
  for (const until = Date.now() + FOLLOW_MS; progress.state === 'running' && Date.now() < until;) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    progress = await client.batchProgress(jobId);
  }
  const delayed = woken > 0 ? `; ${woken} in their start delay woken to cancel now` : '';
  print(opts.json, { query, matched, jobId, woken, ...progress }, () =>
    progress.state === 'running'
      ? `cancel sent to ${progress.completed} of ${matched} runs so far; batch job ${jobId} goes on on the server${delayed}`
      : `cancel sent to ${progress.completed} of ${matched} runs (batch job ${jobId}${progress.failed ? `, ${progress.failed} failed` : ''})${delayed}`,
  );
  return progress.failed > 0 ? EXIT.failed : EXIT.ok;
}
