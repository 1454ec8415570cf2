/**
 * Limit groups (DESIGN.md, "Flow control and usage for model calls"): a runner registered as
 * `limited(runner, group)` runs its steps on the activity task queue `<taskQueue>.limit.<group>`,
 * which the same workers serve, and whose rate the server keeps (`durable-runs limits set`).
 */
import { ConfigError } from '../common/config';
import type { StepRunner } from '../shared/types';

import { groupNameProblem, limitQueue } from '../shared/limit-groups';

export { groupNameProblem, limitQueue };

const LIMITED = Symbol.for('durable-runs.limited');

/**
 * Registers a runner in a **limit group**: its steps run on the activity task queue
 * `<taskQueue>.limit.<group>`, served by the same workers, where the server holds them to the
 * group's rate (`durable-runs limits set <group> --rate 20/s [--per-tenant 2/s]`, cluster-wide, no
 * restart) and each worker to the group's concurrency (`DURABLE_RUNS_LIMITS='<group>=concurrency:4'`).
 * Runners that call one provider share a group: one group per rate-limited API key.
 *
 * ```ts
 * createWorker({ runners: { summarize: limited(summarize, 'openai'), draft: limited(draft, 'openai') } })
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function limited<P = any>(runner: StepRunner<P>, group: string): StepRunner<P> {
  if (typeof runner !== 'function') throw new TypeError('limited() takes a step runner function');
  const problem = groupNameProblem(group);
  if (problem) throw new TypeError(`limited(): ${problem}`);
  if ((runner as unknown as Record<symbol, unknown>)[Symbol.for('durable-runs.fastSteps')] === true) {
    throw new TypeError(
      `limited(…, "${group}"): a runner registered with fastSteps() runs its steps as local activities in the workflow's worker, which no task queue limits: register it without fastSteps()`,
    );
  }
  const marked = ((step) => runner(step)) as StepRunner<P>;
  Object.defineProperty(marked, LIMITED, { value: group });
  Object.defineProperty(marked, 'name', { value: runner.name });
  return marked;
}

/** The limit group a runner was registered in with {@link limited}, if any. */
export function limitGroupOf(runner: unknown): string | undefined {
  if (typeof runner !== 'function') return undefined;
  const group = (runner as unknown as Record<symbol, unknown>)[LIMITED];
  return typeof group === 'string' ? group : undefined;
}

/** The limit groups of a worker's runners, sorted, each once. */
export function groupsOf(runners: Readonly<Record<string, StepRunner>>): string[] {
  const groups = new Set<string>();
  for (const runner of Object.values(runners)) {
    const group = limitGroupOf(runner);
    if (group !== undefined) groups.add(group);
  }
  return [...groups].sort();
}

/**
 * A worker tells which groups it serves in its identity on the run task queue, where
 * `limits list` finds them (DescribeTaskQueue's pollers): the server keeps no list of queues.
 */
const IDENTITY_MARK = ' durable-runs-limit-groups=';

export function identityWithGroups(base: string, groups: readonly string[]): string {
  return groups.length === 0 ? base : `${base}${IDENTITY_MARK}${groups.join(',')}`;
}

export function groupsOfIdentity(identity: string | null | undefined): string[] {
  const at = identity?.lastIndexOf(IDENTITY_MARK) ?? -1;
  if (!identity || at < 0) return [];
  return identity
    .slice(at + IDENTITY_MARK.length)
    .split(',')
    .filter((g) => groupNameProblem(g) === undefined);
}

/** `DURABLE_RUNS_LIMITS`: per worker, at most `concurrency` steps of each group at once. */
export const LIMITS_VARIABLE = 'DURABLE_RUNS_LIMITS';

export interface GroupWorkerLimits {
  /** At most this many of the group's steps run at once on one worker. */
  concurrency?: number;
}

/**
 * Parses `DURABLE_RUNS_LIMITS='<group>=concurrency:<n>[,<group>=concurrency:<n>…]'`; a bad entry
 * throws a `ConfigError` that names it.
 */
export function parseWorkerLimits(value: string | undefined): Readonly<Record<string, GroupWorkerLimits>> {
  const limits: Record<string, GroupWorkerLimits> = {};
  if (value === undefined || value.trim() === '') return limits;
  for (const raw of value.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const eq = entry.indexOf('=');
    const bad = (why: string) =>
      new ConfigError(`${LIMITS_VARIABLE}: ${JSON.stringify(entry)}: ${why} (expected <group>=concurrency:<n>)`);
    if (eq <= 0) throw bad('no group');
    const group = entry.slice(0, eq).trim();
    const problem = groupNameProblem(group);
    if (problem) throw bad(problem);
    if (Object.hasOwn(limits, group)) throw bad(`group "${group}" is given twice`);
    const setting = /^concurrency:(\d+)$/.exec(entry.slice(eq + 1).trim());
    if (!setting) throw bad('the only setting is concurrency:<n>');
    const n = Number(setting[1]);
    if (!Number.isSafeInteger(n) || n < 1 || n > 10_000)
      throw bad('concurrency must be a whole number from 1 to 10000');
    limits[group] = { concurrency: n };
  }
  return Object.freeze(limits);
}

export function loadWorkerLimits(env: Record<string, string | undefined> = process.env) {
  return parseWorkerLimits(env[LIMITS_VARIABLE]);
}
