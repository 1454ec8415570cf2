/** `durable-runs submit`: submits a run, prints its run ID; with `--wait`, watches it close. */
import { type Command, Option } from 'commander';
import type { SubmitOptions } from '../client';
import {
  act,
  budgetFlags,
  collectHeader,
  describeOutcome,
  EXIT,
  exitCodeFor,
  type JsonFlag,
  parseJsonArg,
  print,
  withClient,
} from './shared';
import { watchRun } from './watch';

type SubmitFlags = {
  runner: string;
  runId?: string;
  header: Record<string, string>;
  maxAttempts?: number;
  maxSteps?: number;
  deadline?: string;
  onExhausted?: 'fail' | 'park';
  maxCostUsd?: number;
  maxTokens?: number;
  delay?: string;
  priority?: number;
  fairnessKey?: string;
  fairnessWeight?: number;
  wait?: boolean;
} & JsonFlag;

export function addSubmitCommand(program: Command): void {
  program
    .command('submit')
    .description('submit a run; prints its run ID')
    .argument('<input>', 'the first step\'s payload, as JSON (e.g. \'{"doc":"a.pdf"}\' or \'"hello"\')')
    .option('--runner <name>', 'registered runner name', 'default')
    .option('--run-id <id>', 'run ID (default: a new ULID)')
    .option('--header <name=value>', 'a run header (repeatable), e.g. callback_url=https://…', collectHeader, {})
    .addOption(new Option('--max-attempts <n>', 'attempts per step').argParser((v) => Number(v)))
    .addOption(
      new Option('--max-steps <n>', 'step budget: the run fails rather than start step n').argParser((v) => Number(v)),
    )
    .option('--deadline <duration>', "time budget from now, e.g. '2h': the run fails when it passes")
    .addOption(
      new Option(
        '--on-exhausted <fail|park>',
        "when a step's retries are spent or it throws a permanent error: fail the run (default), or park it until `resume`",
      ).choices(['fail', 'park']),
    )
    .addOption(
      new Option(
        '--max-cost-usd <n>',
        'cost budget in US dollars (step.usage): the run fails, or parks with --on-exhausted park, once it passes',
      ).argParser((v) => Number(v)),
    )
    .addOption(
      new Option('--max-tokens <n>', 'token budget (input and output tokens, step.usage), as --max-cost-usd').argParser(
        (v) => Number(v),
      ),
    )
    .option('--delay <duration>', "start the run later, e.g. '10m' (status says scheduled until then)")
    .addOption(
      new Option('--priority <1-5>', 'task priority, 1 first … 5 last (default 3)').argParser((v) => Number(v)),
    )
    .option('--fairness-key <key>', 'fairness key (default: the tenant header)')
    .addOption(
      new Option('--fairness-weight <w>', 'share of this key relative to others (default 1)').argParser((v) =>
        Number(v),
      ),
    )
    .option('--wait', 'watch the run until it closes; exit code per status')
    .option('--json', 'machine-readable output')
    .action(
      act(async (input: string, opts: SubmitFlags) => {
        const spec: SubmitOptions = {
          input: parseJsonArg('input', input),
          runner: opts.runner,
          headers: opts.header,
          ...(opts.runId !== undefined ? { runId: opts.runId } : {}),
          ...(opts.maxAttempts !== undefined ? { maxAttemptsPerStep: opts.maxAttempts } : {}),
          ...(opts.maxSteps !== undefined ? { maxSteps: opts.maxSteps } : {}),
          ...(opts.deadline !== undefined ? { deadline: opts.deadline } : {}),
          ...(opts.onExhausted !== undefined ? { onExhausted: opts.onExhausted } : {}),
          ...budgetFlags(opts),
          ...(opts.delay !== undefined ? { startDelay: opts.delay } : {}),
          ...(opts.priority !== undefined ? { priority: opts.priority } : {}),
          ...(opts.fairnessKey !== undefined ? { fairnessKey: opts.fairnessKey } : {}),
          ...(opts.fairnessWeight !== undefined ? { fairnessWeight: opts.fairnessWeight } : {}),
        };
        return withClient(async (client) => {
          const submission = await client.submit(spec);
          print(
            opts.json,
            submission,
            () => `${submission.runId}${submission.newlySubmitted ? '' : ' (already submitted)'}`,
          );
          if (!opts.wait) return EXIT.ok;
          const outcome = await watchRun(client, submission.runId, opts.json);
          print(opts.json, outcome, () => describeOutcome(outcome));
          return exitCodeFor(outcome.status);
        });
      }),
    );
}
