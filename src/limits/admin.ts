/**
 * `runs.limits`: the rates of limit groups, kept by the Temporal server on each group's activity
 * task queue (`UpdateTaskQueueConfig`, `DescribeTaskQueue`): cluster-wide, no restart, no state of
 * our own. The server keeps no list of queues, so the groups are those that workers name in their
 * identity on the run task queue (`identityWithGroups`).
 */
import type { Client } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { ValidationError } from '../shared/validation-error';
import { groupNameProblem, groupsOfIdentity, limitQueue } from './groups';
import { parseRate, type RateInput } from './rates';

type TaskQueueConfig = proto.api.taskqueue.v1.ITaskQueueConfig;
type RateLimitConfig = proto.api.taskqueue.v1.IRateLimitConfig;

const ACTIVITY = proto.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY;

/** What `runs.limits.set` changes; a setting left out stays as it is. */
export interface LimitSettings {
  /** The group's rate across the cluster: `'20/s'`, `'120/m'`, a number per second; `'off'` or `null` lifts it. */
  rate?: RateInput;
  /**
   * Each tenant's rate within the group (the run's `tenant` header is its fairness key): Temporal's
   * default fairness-key rate limit on the group's queue. Same forms as `rate`.
   */
  perTenant?: RateInput;
}

/** A limit group as the server holds it. */
export interface LimitGroupInfo {
  group: string;
  /** The group's activity task queue, `<taskQueue>.limit.<group>`. */
  taskQueue: string;
  /** Steps per second the server dispatches for the whole group; `null`: no limit set. */
  rate: number | null;
  /** Steps per second for each tenant; `null`: no limit set. */
  perTenant: number | null;
  /** Workers polling the group's queue lately, as the server saw them. */
  workers: number;
}

/** A limit group no worker serves and nothing is set on: `limits` changed nothing. */
export class UnknownLimitGroup extends Error {
  constructor(readonly group: string) {
    super(
      `limit group "${group}" is unknown: no worker serves it and it has no limits set; register a runner with limited(runner, '${group}') and start a worker with it (limits list names the groups workers serve)`,
    );
    this.name = 'UnknownLimitGroup';
  }
}

const SETTINGS: ReadonlyArray<keyof LimitSettings> = ['rate', 'perTenant'];
const REASON = 'durable-runs limits set';

/** `runs.limits`: set, read and list the server-side rates of limit groups. */
export class RunLimits {
  constructor(
    private readonly temporal: Client,
    private readonly taskQueue: string,
  ) {}

  /**
   * Sets the group's rate and/or per-tenant rate on the server, for every worker at once; the ones
   * not given stay. Everything is checked before the server is asked.
   * @returns the group after the change
   * @throws ValidationError for a bad group name or rate; UnknownLimitGroup for a group no worker
   * serves and nothing is set on; an `Error` saying what failed when the server refuses.
   */
  async set(group: string, settings: LimitSettings): Promise<LimitGroupInfo> {
    checkGroup(group);
    const { rate, perTenant } = checkSettings(settings);
    const described = await this.describeGroup(group);
    await this.assertKnown(group, described);
    const taskQueue = limitQueue(this.taskQueue, group);
    const { config } = await this.ask(`setting the limits of group "${group}" (task queue ${taskQueue})`, () =>
      this.temporal.workflowService.updateTaskQueueConfig({
        namespace: this.temporal.options.namespace,
        identity: this.temporal.options.identity,
        taskQueue,
        taskQueueType: ACTIVITY,
        ...(rate !== undefined ? { updateQueueRateLimit: rateUpdate(rate) } : {}),
        ...(perTenant !== undefined ? { updateFairnessKeyRateLimitDefault: rateUpdate(perTenant) } : {}),
      }),
    );
    return infoOf(group, taskQueue, config, described.workers);
  }

  /**
   * The group's rates and workers.
   * @throws ValidationError for a bad name; UnknownLimitGroup for a group no worker serves and
   * nothing is set on.
   */
  async get(group: string): Promise<LimitGroupInfo> {
    checkGroup(group);
    const described = await this.describeGroup(group);
    await this.assertKnown(group, described);
    return described;
  }

  /** The groups live workers serve, sorted by name, with their rates. */
  async list(): Promise<LimitGroupInfo[]> {
    const groups = await this.servedGroups();
    return Promise.all(groups.map((group) => this.describeGroup(group)));
  }

  /** The groups that workers polling the run task queue name in their identity. */
  private async servedGroups(): Promise<string[]> {
    const { pollers } = await this.ask(`listing the workers of task queue ${this.taskQueue}`, () =>
      this.temporal.workflowService.describeTaskQueue({
        namespace: this.temporal.options.namespace,
        taskQueue: { name: this.taskQueue },
        taskQueueType: ACTIVITY,
      }),
    );
    return [...new Set(pollers.flatMap((poller) => groupsOfIdentity(poller.identity)))].sort();
  }

  private async describeGroup(group: string): Promise<LimitGroupInfo> {
    const taskQueue = limitQueue(this.taskQueue, group);
    const { config, pollers } = await this.ask(`reading the limits of group "${group}" (task queue ${taskQueue})`, () =>
      this.temporal.workflowService.describeTaskQueue({
        namespace: this.temporal.options.namespace,
        taskQueue: { name: taskQueue },
        taskQueueType: ACTIVITY,
        reportConfig: true,
      }),
    );
    return infoOf(group, taskQueue, config, pollers.length);
  }

  /** A group is known when a worker polls its queue, a limit is set on it, or a worker names it. */
  private async assertKnown(group: string, described: LimitGroupInfo): Promise<void> {
    if (described.workers > 0 || described.rate !== null || described.perTenant !== null) return;
    if ((await this.servedGroups()).includes(group)) return;
    throw new UnknownLimitGroup(group);
  }

  /** Runs one server call; a failure is rethrown saying what failed, with the server's error as its cause. */
  private async ask<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      const e = err as { details?: unknown; message?: unknown };
      const detail = typeof e.details === 'string' && e.details ? e.details : String(e.message ?? err);
      throw new Error(`limits: ${what} failed: ${detail}`, { cause: err });
    }
  }
}

function checkGroup(group: unknown): asserts group is string {
  const problem = groupNameProblem(group);
  if (problem) throw new ValidationError(problem);
}

function checkSettings(settings: unknown): { rate?: number | null; perTenant?: number | null } {
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) {
    throw new ValidationError('limits.set takes { rate?, perTenant? }');
  }
  const unknown = Object.keys(settings).filter((key) => !(SETTINGS as readonly string[]).includes(key));
  if (unknown.length) {
    throw new ValidationError(
      `limits.set: unknown setting ${unknown.join(', ')} (the settings are rate and perTenant)`,
    );
  }
  const { rate, perTenant } = settings as LimitSettings;
  if (rate === undefined && perTenant === undefined) {
    throw new ValidationError('limits.set: give rate, perTenant or both (off lifts a limit)');
  }
  return {
    ...(rate !== undefined ? { rate: parseRate(rate, 'rate') } : {}),
    ...(perTenant !== undefined ? { perTenant: parseRate(perTenant, 'perTenant') } : {}),
  };
}

/** The server lifts a limit when the update has no `rateLimit`. */
function rateUpdate(perSecond: number | null) {
  return { reason: REASON, ...(perSecond !== null ? { rateLimit: { requestsPerSecond: perSecond } } : {}) };
}

/** A limit the server holds: a config whose `rateLimit` is gone was lifted (its metadata stays). */
function rateOf(config: RateLimitConfig | null | undefined): number | null {
  const limit = config?.rateLimit;
  return limit ? (limit.requestsPerSecond ?? 0) : null;
}

function infoOf(
  group: string,
  taskQueue: string,
  config: TaskQueueConfig | null | undefined,
  workers: number,
): LimitGroupInfo {
  return {
    group,
    taskQueue,
    rate: rateOf(config?.queueRateLimit),
    perTenant: rateOf(config?.fairnessKeysRateLimitDefault),
    workers,
  };
}
