/**
 * Schedules of runs, on Temporal Schedules (the UI's "Schedules" page): each firing starts an
 * ordinary `durableRun` — webhooks, status, cancel and list work as for any run. Its run ID is
 * `<scheduleId>-<time>` (Temporal appends the scheduled time to the workflow ID).
 */
import {
  type Client,
  type ScheduleDescription,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type ScheduleSummary,
} from '@temporalio/client';
import { tenantFairnessKey } from '../common/fairness';
import { WORKFLOW_TYPE } from '../shared/names';
import type { RunSpec } from '../shared/types';
import { valueTooDeep, parseDelay, validateRunId, validateRunSpec, ValidationError } from '../shared/validate';
import { startStory } from './state-attributes';

/** What happens when a run is due while the previous one still runs. */
export type OverlapPolicy = 'skip' | 'buffer-one' | 'buffer-all' | 'cancel-other' | 'terminate-other' | 'allow-all';
export const OVERLAP_POLICIES: readonly OverlapPolicy[] = [
  'skip',
  'buffer-one',
  'buffer-all',
  'cancel-other',
  'terminate-other',
  'allow-all',
];
/** Temporal's own defaults, said here so that the CLI can print them. */
export const DEFAULT_OVERLAP: OverlapPolicy = 'skip';
export const DEFAULT_CATCHUP_WINDOW = '1 year';

export interface ScheduleOptions {
  /** Same rules as a run ID. */
  scheduleId: string;
  /** A cron expression (`'0 3 * * *'`), or… */
  cron?: string;
  /** …an interval (ms or `'15m'`). */
  every?: number | string;
  /** The runs it starts. */
  run: RunSpec;
  /** @default 'skip' (Temporal's default) */
  overlap?: OverlapPolicy;
  /** How late a missed run may still start after an outage (ms or `'10m'`). @default 1 year (Temporal's default) */
  catchupWindow?: number | string;
  /** Start paused. */
  paused?: boolean;
}

export interface ScheduleInfo {
  scheduleId: string;
  paused: boolean;
  /** What the schedule is: its cron expressions and intervals, as Temporal describes them. */
  spec: { cron: string[]; every: string[] };
  /** Run IDs of recent runs it started, newest last. */
  recentRuns: string[];
  /** When the next runs are due (ISO times). */
  nextRuns: string[];
  /** How many runs it has started. */
  runsStarted: number;
  note?: string;
}

const OVERLAP: Record<OverlapPolicy, (typeof ScheduleOverlapPolicy)[keyof typeof ScheduleOverlapPolicy]> = {
  skip: ScheduleOverlapPolicy.SKIP,
  'buffer-one': ScheduleOverlapPolicy.BUFFER_ONE,
  'buffer-all': ScheduleOverlapPolicy.BUFFER_ALL,
  'cancel-other': ScheduleOverlapPolicy.CANCEL_OTHER,
  'terminate-other': ScheduleOverlapPolicy.TERMINATE_OTHER,
  'allow-all': ScheduleOverlapPolicy.ALLOW_ALL,
};

/** `runs.schedules`: create, list, describe, pause, unpause, trigger and delete schedules of runs. */
export class RunSchedules {
  constructor(
    private readonly temporal: Client,
    private readonly taskQueue: string,
  ) {}

  async create(options: ScheduleOptions): Promise<ScheduleInfo> {
    const scheduleId = validateRunId(options.scheduleId);
    if ((options.cron === undefined) === (options.every === undefined)) {
      throw new ValidationError('a schedule needs exactly one of cron or every');
    }
    const spec = validateRunSpec(options.run);
    const tooDeep = valueTooDeep('input', spec.input);
    if (tooDeep) throw new ValidationError(tooDeep);
    // As submit does: the `tenant` header is the run's fairness key (hashed with encryption on).
    const fairnessKey = tenantFairnessKey(this.temporal, spec.headers);
    const overlap = options.overlap ?? DEFAULT_OVERLAP;
    if (!OVERLAP_POLICIES.includes(overlap)) {
      throw new ValidationError(
        `overlap must be one of ${OVERLAP_POLICIES.join(', ')}, got ${JSON.stringify(overlap)}`,
      );
    }
    const every = options.every === undefined ? undefined : parseDelay(options.every, 'every');
    if (every !== undefined && every < 1000) throw new ValidationError('every must be at least 1 second');
    const catchupWindow =
      options.catchupWindow === undefined ? undefined : parseDelay(options.catchupWindow, 'catchupWindow');
    await this.temporal.schedule.create({
      scheduleId,
      spec: options.cron !== undefined ? { cronExpressions: [options.cron] } : { intervals: [{ every: every! }] },
      action: {
        type: 'startWorkflow',
        workflowType: WORKFLOW_TYPE,
        workflowId: scheduleId,
        taskQueue: this.taskQueue,
        args: [options.run],
        ...(await startStory(this.temporal, options.run, { origin: `schedule ${scheduleId}` })),
        ...(fairnessKey !== undefined ? { priority: { fairnessKey } } : {}),
      },
      policies: { overlap: OVERLAP[overlap], ...(catchupWindow !== undefined ? { catchupWindow } : {}) },
      ...(options.paused ? { state: { paused: true } } : {}),
    });
    return this.describe(scheduleId);
  }

  async list(): Promise<ScheduleInfo[]> {
    const out: ScheduleInfo[] = [];
    for await (const summary of this.temporal.schedule.list()) {
      if (summary.action?.type === 'startWorkflow' && summary.action.workflowType === WORKFLOW_TYPE) {
        out.push(fromSummary(summary));
      }
    }
    return out;
  }

  async describe(scheduleId: string): Promise<ScheduleInfo> {
    return fromDescription(await this.handle(scheduleId).describe().catch(notFound(scheduleId)));
  }

  async pause(scheduleId: string, note?: string): Promise<void> {
    await this.handle(scheduleId).pause(note).catch(notFound(scheduleId));
  }

  async unpause(scheduleId: string, note?: string): Promise<void> {
    await this.handle(scheduleId).unpause(note).catch(notFound(scheduleId));
  }

  /** Starts a run now, whatever the schedule's timing (a paused schedule too). */
  async trigger(scheduleId: string): Promise<void> {
    await this.handle(scheduleId).trigger(ScheduleOverlapPolicy.ALLOW_ALL).catch(notFound(scheduleId));
  }

  async delete(scheduleId: string): Promise<void> {
    await this.handle(scheduleId).delete().catch(notFound(scheduleId));
  }

  private handle(scheduleId: string) {
    return this.temporal.schedule.getHandle(validateRunId(scheduleId));
  }
}

/** A schedule that does not exist. */
export class ScheduleNotFound extends Error {
  constructor(readonly scheduleId: string) {
    super(`schedule ${scheduleId} not found`);
    this.name = 'ScheduleNotFound';
  }
}

const notFound = (scheduleId: string) => (err: unknown) => {
  if (err instanceof ScheduleNotFoundError) throw new ScheduleNotFound(scheduleId);
  throw err;
};

function specOf(spec: ScheduleDescription['spec'] | ScheduleSummary['spec']): ScheduleInfo['spec'] {
  const s = spec as { cronExpressions?: string[]; calendars?: unknown[]; intervals?: Array<{ every: unknown }> };
  return {
    cron: s.cronExpressions ?? [],
    every: (s.intervals ?? []).map((i) => (typeof i.every === 'number' ? `${i.every}ms` : String(i.every))),
  };
}

function fromDescription(d: ScheduleDescription): ScheduleInfo {
  return {
    scheduleId: d.scheduleId,
    paused: d.state.paused,
    spec: specOf(d.spec),
    recentRuns: d.info.recentActions.map((a) => a.action.workflow.workflowId),
    nextRuns: d.info.nextActionTimes.map((t) => t.toISOString()),
    runsStarted: d.info.numActionsTaken,
    ...(d.state.note ? { note: d.state.note } : {}),
  };
}

function fromSummary(s: ScheduleSummary): ScheduleInfo {
  return {
    scheduleId: s.scheduleId,
    paused: s.state.paused,
    spec: specOf(s.spec ?? {}),
    recentRuns: s.info.recentActions.map((a) => a.action.workflow.workflowId),
    nextRuns: s.info.nextActionTimes.map((t) => t.toISOString()),
    runsStarted: s.info.recentActions.length,
    ...(s.state.note ? { note: s.state.note } : {}),
  };
}
