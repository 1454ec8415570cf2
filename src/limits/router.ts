/**
 * Where a limited runner's step runs. A step on the group's own queue pays a task queue hop (the
 * server dispatches a run's activities eagerly only on the run's own queue): measured with
 * `npm run bench`, a limited runner on its queue ran at 0.76× the steps/s of a plain one. So a
 * group's steps go to its queue only while the group has a limit to keep: a rate the server holds
 * (`limits set`, which this worker reads at most every {@link CONFIG_TTL_MS}), or a concurrency on
 * this worker (`DURABLE_RUNS_LIMITS`). Until then they run where the run sent them, at full speed.
 */
import type { Context } from '@temporalio/activity';
import { temporal } from '@temporalio/proto';
import { limitQueue } from '../shared/limit-groups';

/** How long a worker trusts what it read of a group's limits: a new limit applies within this. */
export const CONFIG_TTL_MS = 5_000;

interface Known {
  limited: boolean;
  at: number;
}

/** Whether a group's steps go to its queue; one per worker, shared by its steps. */
export class GroupRouter {
  private readonly known = new Map<string, Known>();
  private readonly reading = new Map<string, Promise<boolean>>();

  constructor(
    /** The groups this worker holds to a concurrency (DURABLE_RUNS_LIMITS): always on their queue. */
    private readonly withConcurrency: ReadonlySet<string>,
    private readonly ttlMs = CONFIG_TTL_MS,
  ) {}

  /** Whether this step of `group`'s runner, called on the run's own queue, goes to the group's queue. */
  async toGroupQueue(ctx: Context, group: string): Promise<boolean> {
    if (this.withConcurrency.has(group)) return true;
    const queue = limitQueue(ctx.info.taskQueue, group);
    const known = this.known.get(queue);
    if (known && Date.now() - known.at < this.ttlMs) return known.limited;
    let reading = this.reading.get(queue);
    if (!reading) {
      reading = this.read(ctx, queue).finally(() => this.reading.delete(queue));
      this.reading.set(queue, reading);
    }
    return reading;
  }

  /** Reads the group queue's limits from the server; when it cannot tell, the queue (the safe side). */
  private async read(ctx: Context, queue: string): Promise<boolean> {
    let limited = true;
    try {
      const { config } = await ctx.client.workflowService.describeTaskQueue({
        namespace: ctx.info.workflowNamespace,
        taskQueue: { name: queue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
        taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
        reportConfig: true,
      });
      const set = (limit: { rateLimit?: { requestsPerSecond?: number | null } | null } | null | undefined) =>
        typeof limit?.rateLimit?.requestsPerSecond === 'number';
      limited = set(config?.queueRateLimit) || set(config?.fairnessKeysRateLimitDefault);
    } catch (err) {
      ctx.log.warn('could not read a limit group’s limits; its step goes to its queue', {
        taskQueue: queue,
        error: (err as Error).message,
      });
    }
    this.known.set(queue, { limited, at: Date.now() });
    return limited;
  }
}
