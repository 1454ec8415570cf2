/**
 * Retry in place (contract v3, "Day two"): a run that closed failed runs again from the step that
 * ended it, under the same run ID, at attempt 1, and the steps before it do not run again. It is
 * Temporal's reset to the workflow task that scheduled that step's first attempt, so the UI shows
 * what happened, and an operator may do the same by hand with `temporal workflow reset`.
 */
import { randomUUID } from 'node:crypto';
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import Long from 'long';
import { OUTCOME_MEMO_KEY } from '../shared/names';
import type { RunOutcome } from '../shared/types';
import { stepActivities } from './run-history';

/** How a retry went: the run runs again from `step`, or why it cannot. */
export type RetryAnswer = { retried: true; step: number } | { retried: false; reason: string };

/** The close statuses a retry takes: a run that reads as failed (status() counts all three as failed). */
const RETRYABLE = new Set(['FAILED', 'TERMINATED', 'TIMED_OUT']);

export async function retryRun(temporal: Client, runId: string): Promise<RetryAnswer> {
  let description;
  try {
    description = await temporal.workflow.getHandle(runId).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return { retried: false, reason: `run ${runId} is unknown` };
    throw err;
  }
  const status = description.status.name;
  if (!RETRYABLE.has(status)) {
    const state = status === 'RUNNING' ? 'still running' : `closed ${status.toLowerCase()}`;
    return { retried: false, reason: `run ${runId} is ${state}: only a failed run can be retried` };
  }
  // The step that ended it: from the outcome the run recorded, or (a run Temporal ended itself)
  // the last step it scheduled.
  const memo = description.memo?.[OUTCOME_MEMO_KEY] as Pick<RunOutcome, 'finalStep' | 'error'> | undefined;
  let step = memo?.finalStep;
  for await (const activity of stepActivities(temporal, runId)) {
    step ??= activity.input.stepNumber;
    if (activity.input.stepNumber < step) break;
    if (activity.input.stepNumber !== step || activity.input.attempt !== 1) continue;
    await temporal.workflowService.resetWorkflowExecution({
      namespace: temporal.options.namespace,
      workflowExecution: { workflowId: runId, runId: activity.execution },
      reason: `durable-runs retry: step ${step} again from attempt 1`,
      workflowTaskFinishEventId: Long.fromNumber(activity.scheduledBy),
      requestId: randomUUID(),
    });
    return { retried: true, step };
  }
  if (step === undefined) return { retried: false, reason: `run ${runId} never ran a step: there is nothing to retry` };
  return {
    retried: false,
    reason:
      `step ${step} of run ${runId} has no attempt of its own to go back to` +
      ` (it failed before the step was scheduled${memo?.error ? `: ${memo.error}` : ''}, or it ran inside a chain of fast steps)`,
  };
}
