/** How a run ends from outside: cancel it, or wait for its outcome, whatever its close status. */
import {
  type Client,
  WorkflowFailedError,
  type WorkflowExecutionInfo,
  WorkflowNotFoundError,
} from '@temporalio/client';
import {
  ApplicationFailure,
  CancelledFailure,
  TerminatedFailure,
  TimeoutFailure,
  WorkflowExecutionAlreadyStartedError,
} from '@temporalio/common';
import { type CancelRequest, cancelSignal } from '../shared/definitions';
import { OUTCOME_MEMO_KEY } from '../shared/names';
import type { RunOutcome, RunSpec } from '../shared/types';
import { ValidationError, validateRunIdLookup } from '../shared/validate';
import { RunNotFound } from './errors';
import { firstInput, type OutcomeMemo } from './read';

/** {@link RunsClient.cancel} */
export async function cancelRun(temporal: Client, runId: string, reason?: string): Promise<boolean> {
  validateRunIdLookup(runId);
  if (reason !== undefined && typeof reason !== 'string') throw new ValidationError('cancel reason must be a string');
  try {
    const description = await temporal.workflow.getHandle(runId).describe();
    if (description.status.name !== 'RUNNING') return false;
    const request = reason === undefined ? {} : { reason };
    if (isDelayed(description)) await cancelDelayed(temporal, description, request);
    else await temporal.workflow.getHandle(runId).signal(cancelSignal, request);
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError || err instanceof WorkflowExecutionAlreadyStartedError) return false;
    throw err;
  }
}

/**
 * Whether a run's start delay (`startDelay`) has not passed yet: no workflow task has run. A run
 * without one has its execution time at its start time, whatever the clocks say (a server's clock
 * may be ahead of ours, as the time-skipping server's is).
 */
export const isDelayed = (execution: Pick<WorkflowExecutionInfo, 'startTime' | 'executionTime'>): boolean =>
  execution.executionTime !== undefined &&
  execution.executionTime.getTime() > execution.startTime.getTime() &&
  execution.executionTime.getTime() > Date.now();

/**
 * Sends `cancel` to a run in its start delay. Temporal holds a plain signal until the delay ends;
 * a signal-with-start wakes the run at once. It signals this run and never starts one: the run is
 * open, and a closed one with this ID refuses a new start (then it throws
 * WorkflowExecutionAlreadyStartedError).
 */
export async function cancelDelayed(
  temporal: Client,
  execution: Pick<WorkflowExecutionInfo, 'workflowId' | 'type' | 'taskQueue'>,
  request: CancelRequest,
): Promise<void> {
  await temporal.workflow.signalWithStart(execution.type, {
    workflowId: execution.workflowId,
    taskQueue: execution.taskQueue,
    args: [await firstInput(temporal, execution.workflowId)],
    signal: cancelSignal,
    signalArgs: [request],
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
}

/** {@link RunsClient.result} */
export async function runResult(temporal: Client, runId: string): Promise<RunOutcome> {
  validateRunIdLookup(runId);
  const handle = temporal.workflow.getHandle<(spec: RunSpec) => Promise<RunOutcome>>(runId);
  try {
    return await handle.result();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new RunNotFound(runId);
    if (!(err instanceof WorkflowFailedError)) throw err;
    const description = await handle.describe();
    const memo = description.memo?.[OUTCOME_MEMO_KEY] as OutcomeMemo | undefined;
    if (memo) {
      const { runner: _runner, ...outcome } = memo;
      return outcome;
    }
    const cause = err.cause;
    const headers = (await firstInput(temporal, runId).catch(() => undefined))?.headers ?? {};
    const base = { runId, headers, finalStep: 0 };
    if (cause instanceof CancelledFailure) return { ...base, status: 'cancelled', error: null };
    const error =
      cause instanceof TerminatedFailure
        ? `terminated${cause.message ? `: ${cause.message}` : ''}`
        : cause instanceof TimeoutFailure
          ? 'workflow timed out'
          : cause instanceof ApplicationFailure
            ? cause.message
            : (cause?.message ?? err.message);
    return { ...base, status: 'failed', error };
  }
}
