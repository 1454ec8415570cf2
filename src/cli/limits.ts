/** `durable-runs limits set|get|list`: the server-side rates of limit groups. */
import type { Command } from 'commander';
import type { LimitGroupInfo } from '../limits/admin';
import { groupNameProblem } from '../limits/groups';
import { formatRate, parseRate } from '../limits/rates';
import { act, CliError, type JsonFlag, print, withClient } from './shared';

type SetFlags = { rate?: string; perTenant?: string } & JsonFlag;

function describeGroup(g: LimitGroupInfo): string {
  return `${g.group}  rate ${formatRate(g.rate)}  per tenant ${formatRate(g.perTenant)}  workers ${g.workers}  (task queue ${g.taskQueue})`;
}

/** A group's name, checked before anything is asked of the server. */
function checkGroup(group: string): string {
  const problem = groupNameProblem(group);
  if (problem) throw new CliError(problem);
  return group;
}

/** A rate flag, checked before anything is asked of the server. */
function checkRate(flag: string, value: string | undefined): number | null | undefined {
  if (value === undefined) return undefined;
  try {
    return parseRate(value, flag);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

export function addLimitsCommands(program: Command): void {
  const limits = program
    .command('limits')
    .description("the rates of limit groups (runners registered with limited(runner, '<group>')): set, get, list");
  limits
    .command('set')
    .description("set a group's rate and/or per-tenant rate, cluster-wide (kept by the Temporal server, no restart)")
    .argument('<group>')
    .option('--rate <rate>', "the group's rate: 20/s, 120/m, 0.5/s, or off to lift it")
    .option('--per-tenant <rate>', "each tenant's rate within the group (the run's tenant header), same forms")
    .option('--json', 'machine-readable output')
    .action(
      act(async (group: string, opts: SetFlags) => {
        checkGroup(group);
        const rate = checkRate('--rate', opts.rate);
        const perTenant = checkRate('--per-tenant', opts.perTenant);
        if (rate === undefined && perTenant === undefined) {
          throw new CliError('limits set: give --rate, --per-tenant or both (off lifts a limit)');
        }
        return withClient(async (client) => {
          const info = await client.limits.set(group, {
            ...(rate !== undefined ? { rate } : {}),
            ...(perTenant !== undefined ? { perTenant } : {}),
          });
          print(opts.json, info, () => describeGroup(info));
        });
      }),
    );
  limits
    .command('get')
    .description("show a group's rate, per-tenant rate and workers")
    .argument('<group>')
    .option('--json', 'machine-readable output')
    .action(
      act(async (group: string, opts: JsonFlag) => {
        checkGroup(group);
        return withClient(async (client) => {
          const info = await client.limits.get(group);
          print(opts.json, info, () => describeGroup(info));
        });
      }),
    );
  limits
    .command('list')
    .description('list the groups that live workers serve, with their rates')
    .option('--json', 'machine-readable output')
    .action(
      act(async (opts: JsonFlag) =>
        withClient(async (client) => {
          const all = await client.limits.list();
          print(opts.json, all, () =>
            all.length ? all.map(describeGroup).join('\n') : 'no limit groups (no live worker serves one)',
          );
        }),
      ),
    );
}
