/** `durable-runs watch`, and the live progress `submit --wait` shows. */
import { type Command, InvalidArgumentError } from 'commander';
import type { RunsClient } from '../client';
import type { RunOutcome } from '../shared/types';
import {
  act,
  CliError,
  describeOutcome,
  describeStatus,
  exitCodeFor,
  type JsonFlag,
  print,
  withClient,
} from './shared';

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

/**
 * Prints a run's stream as it comes, until the run closes; resolves with its outcome. Text: each
 * string chunk as it is (no newline added, as a model's tokens), other chunks as JSON lines, and
 * retracts and gaps as notes on stderr. `--json`: one stream event per line.
 */
export async function watchStream(
  client: RunsClient,
  runId: string,
  json: boolean | undefined,
  from: number | undefined,
): Promise<RunOutcome> {
  let atLineStart = true;
  const write = (text: string) => {
    process.stdout.write(text);
    if (text.length > 0) atLineStart = text.endsWith('\n');
  };
  const note = (text: string) => {
    if (!atLineStart) write('\n');
    process.stderr.write(`${text}\n`);
  };
  for await (const event of client.stream(runId, from === undefined ? {} : { from })) {
    if (json) {
      write(`${JSON.stringify(event)}\n`);
      if (event.type === 'closed') return event.outcome;
      continue;
    }
    switch (event.type) {
      case 'chunk':
        write(typeof event.data === 'string' ? event.data : `${JSON.stringify(event.data)}\n`);
        break;
      case 'retract':
        note(`[step ${event.step} attempt ${event.attempt} did not finish: drop what it streamed above]`);
        break;
      case 'gap':
        note(`[chunks ${event.from}–${event.to} are no longer kept]`);
        break;
      case 'closed':
        if (!atLineStart) write('\n');
        return event.outcome;
    }
  }
  throw new Error(`the stream of run ${runId} ended before the run closed`);
}

/** `--from <offset>`: a whole number from 0. */
function offsetOption(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError(`an offset is a whole number from 0, not "${value}"`);
  }
  return n;
}

export function addWatchCommand(program: Command): void {
  program
    .command('watch')
    .description(
      "show live progress (or, with --stream, the run's live stream) until the run closes; exit code per status",
    )
    .argument('<runId>')
    .option('--stream', "print the run's stream (what its steps give step.stream) as it comes")
    .option('--from <offset>', 'with --stream: resume right after this offset', offsetOption)
    .option('--json', 'machine-readable output (one JSON object per change, or per stream event)')
    .action(
      act(async (runId: string, opts: JsonFlag & { stream?: boolean; from?: number }) =>
        withClient(async (client) => {
          if (opts.from !== undefined && !opts.stream) throw new CliError('--from goes with --stream');
          const outcome = opts.stream
            ? await watchStream(client, runId, opts.json, opts.from)
            : await watchRun(client, runId, opts.json);
          if (!opts.stream || !opts.json) print(opts.json, outcome, () => describeOutcome(outcome));
          return exitCodeFor(outcome.status);
        }),
      ),
    );
}
