/** `durable-runs schedule create|list|describe|pause|unpause|trigger|delete`: Temporal Schedules of runs. */
import { type Command, Option } from 'commander';
import type { RunsClient } from '../client';
import {
  DEFAULT_CATCHUP_WINDOW,
  DEFAULT_OVERLAP,
  OVERLAP_POLICIES,
  type OverlapPolicy,
  type ScheduleInfo,
} from '../client/schedules';
import { act, collectHeader, type JsonFlag, parseJsonArg, print, withClient } from './shared';

type CreateFlags = {
  cron?: string;
  every?: string;
  runner: string;
  header: Record<string, string>;
  overlap: OverlapPolicy;
  catchupWindow: string;
  paused?: boolean;
} & JsonFlag;

function describeSchedule(s: ScheduleInfo): string {
  const when = [...s.spec.cron.map((c) => `cron "${c}"`), ...s.spec.every.map((e) => `every ${e}`)].join(', ');
  return [
    `${s.scheduleId}  ${s.paused ? 'paused' : 'active'}  ${when}  runs started ${s.runsStarted}`,
    ...(s.nextRuns.length ? [`  next: ${s.nextRuns.slice(0, 3).join(', ')}`] : []),
    ...(s.recentRuns.length ? [`  recent runs: ${s.recentRuns.slice(-3).join(', ')}`] : []),
    ...(s.note ? [`  note: ${s.note}`] : []),
  ].join('\n');
}

const DONE: Record<string, string> = { pause: 'paused', unpause: 'unpaused', trigger: 'triggered', delete: 'deleted' };

/** The sub-commands that take a schedule ID and nothing else. */
const SIMPLE: Array<[string, string, (client: RunsClient, id: string) => Promise<unknown>]> = [
  ['describe', 'show a schedule: its timing, state, next and recent runs', (c, id) => c.schedules.describe(id)],
  ['pause', 'pause a schedule', (c, id) => c.schedules.pause(id)],
  ['unpause', 'unpause a schedule', (c, id) => c.schedules.unpause(id)],
  ['trigger', 'start a run now (a paused schedule too)', (c, id) => c.schedules.trigger(id)],
  ['delete', 'delete a schedule (its runs go on)', (c, id) => c.schedules.delete(id)],
];

export function addScheduleCommands(program: Command): void {
  const schedule = program
    .command('schedule')
    .description('schedules of runs (Temporal Schedules): create, list, describe, pause, unpause, trigger, delete');
  schedule
    .command('create')
    .description('create a schedule that starts a run by cron expression or at an interval')
    .argument('<scheduleId>')
    .argument('<input>', "the runs' first step payload, as JSON")
    .option('--cron <expr>', "cron expression, e.g. '0 3 * * *'")
    .option('--every <duration>', "interval, e.g. '15m'")
    .option('--runner <name>', 'registered runner name', 'default')
    .option('--header <name=value>', 'a run header (repeatable)', collectHeader, {})
    .addOption(
      new Option('--overlap <policy>', 'when a run is due while the last one still runs')
        .choices([...OVERLAP_POLICIES])
        .default(DEFAULT_OVERLAP),
    )
    .option(
      '--catchup-window <duration>',
      'how late a missed run may still start after an outage',
      DEFAULT_CATCHUP_WINDOW,
    )
    .option('--paused', 'create it paused')
    .option('--json', 'machine-readable output')
    .action(
      act(async (scheduleId: string, input: string, opts: CreateFlags) => {
        const run = { input: parseJsonArg('input', input), runner: opts.runner, headers: opts.header };
        return withClient(async (client) => {
          const info = await client.schedules.create({
            scheduleId,
            run,
            ...(opts.cron !== undefined ? { cron: opts.cron } : {}),
            ...(opts.every !== undefined ? { every: opts.every } : {}),
            overlap: opts.overlap,
            ...(opts.catchupWindow !== DEFAULT_CATCHUP_WINDOW ? { catchupWindow: opts.catchupWindow } : {}),
            ...(opts.paused ? { paused: true } : {}),
          });
          print(opts.json, info, () => describeSchedule(info));
        });
      }),
    );
  schedule
    .command('list')
    .description('list the schedules of runs')
    .option('--json', 'machine-readable output')
    .action(
      act(async (opts: JsonFlag) =>
        withClient(async (client) => {
          const all = await client.schedules.list();
          print(opts.json, all, () => (all.length ? all.map(describeSchedule).join('\n') : 'no schedules'));
        }),
      ),
    );
  for (const [name, description, fn] of SIMPLE) {
    schedule
      .command(name)
      .description(description)
      .argument('<scheduleId>')
      .option('--json', 'machine-readable output')
      .action(
        act(async (scheduleId: string, opts: JsonFlag) =>
          withClient(async (client) => {
            const result = await fn(client, scheduleId);
            const info = name === 'describe' ? (result as ScheduleInfo) : undefined;
            print(opts.json, info ?? { scheduleId, done: name }, () =>
              info ? describeSchedule(info) : `${scheduleId}: ${DONE[name] ?? name}`,
            );
          }),
        ),
      );
  }
}
