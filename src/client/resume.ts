/**
 * Resuming a parked run (contract v3, "Day two"): the run's own `durableRuns.resume` update runs
 * the parked step again from attempt 1; its validator refuses a run that is not parked.
 */
import {
  type Client,
  type WorkflowExecutionDescription,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { resumeUpdate } from '../shared/definitions';
import { validateRunIdLookup } from '../shared/validate';
import { budgetValue } from '../shared/usage';
import { serverBusy } from './errors';
import { isDelayed } from './outcome';
import { CLOSED_STATE } from './read';

/** What a resume may change: the step's payload, and the run's budgets (to let a run parked on one go on). */
export interface ResumeOptions {
  payload?: unknown;
  /** The run's new cost budget in US dollars; it must be above what the run has spent. */
  maxCostUsd?: number;
  /** The run's new token budget; it must be above the tokens the run has used. */
  maxTokens?: number;
}

/** What {@link RunsClient.resumeRun} answers. */
export type ResumeAnswer = { resumed: true; step: number } | { resumed: false; reason: string };

/** How long `resume` waits for the run's answer (it answers through a worker). */
export const RESUME_TIMEOUT_MS = 30_000;

/** {@link RunsClient.resumeRun} */
export async function resumeRun(temporal: Client, runId: string, options: ResumeOptions): Promise<ResumeAnswer> {
  validateRunIdLookup(runId);
  // Checked before anything is sent: a bad budget changes no run.
  const budget = {
    ...(options.maxCostUsd !== undefined ? { maxCostUsd: budgetValue('maxCostUsd', options.maxCostUsd) } : {}),
    ...(options.maxTokens !== undefined ? { maxTokens: budgetValue('maxTokens', options.maxTokens) } : {}),
  };
  const handle = temporal.workflow.getHandle(runId);
  let description: WorkflowExecutionDescription;
  try {
    description = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return { resumed: false, reason: `run ${runId} is unknown` };
    throw err;
  }
  const closed = CLOSED_STATE[description.status.name];
  if (closed) return { resumed: false, reason: `run ${runId} is closed ${closed}: only a parked run can be resumed` };
  // An update would wake a run in its start delay at once: it cannot be parked yet anyway.
  if (isDelayed(description)) {
    return {
      resumed: false,
      reason: `run ${runId} is scheduled (it starts at ${description.executionTime!.toISOString()}): only a parked run can be resumed`,
    };
  }
  const request = { ...(Object.hasOwn(options, 'payload') ? { payload: options.payload ?? null } : {}), ...budget };
  try {
    const { step } = await temporal.withDeadline(Date.now() + RESUME_TIMEOUT_MS, () =>
      handle.executeUpdate(resumeUpdate, { args: [request] }),
    );
    return { resumed: true, step };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return { resumed: false, reason: `run ${runId} is closed` };
    if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || serverBusy(err)) {
      throw new Error(
        `run ${runId} did not answer within ${RESUME_TIMEOUT_MS} ms: is a worker polling its task queue? It may still resume: see its status`,
        { cause: err },
      );
    }
    const cause = err instanceof WorkflowUpdateFailedError ? err.cause : undefined;
    // The run's refusal (not parked), or a worker of a version without resume.
    if (cause instanceof ApplicationFailure) return { resumed: false, reason: cause.message };
    throw err;
  }
}
