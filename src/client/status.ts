/**
 * Where a run stands: the run's own `status` query while a worker answers it, else what the
 * server knows (its description, history and memo); closed runs need no worker.
 */
import { type Client, type WorkflowExecutionDescription, WorkflowNotFoundError } from '@temporalio/client';
// No public API converts a proto Timestamp; the SDK's own helper (internal path) does.
import { optionalTsToDate } from '@temporalio/common/lib/time';
import { statusQuery } from '../shared/definitions';
import { OUTCOME_MEMO_KEY, PARKED_MEMO_KEY } from '../shared/names';
import { progressOfHeartbeat } from '../shared/stream';
import type { RunStatus } from '../shared/types';
import { validateRunIdLookup } from '../shared/validate';
import { RunNotFound } from './errors';
import { runResult } from './outcome';
import {
  CLOSED_STATE,
  describeRun,
  failureMessage,
  firstInput,
  forkOrigin,
  fromRawPayload,
  type OutcomeMemo,
} from './read';

/** What a parked run holds in its Temporal memo (see {@link PARKED_MEMO_KEY}). */
type ParkedMemo = { step: number; attempt: number; lastError: string };

/** {@link RunsClient.status} */
export async function runStatus(temporal: Client, runId: string): Promise<RunStatus> {
  validateRunIdLookup(runId);
  const description = await describeRun(temporal, runId);
  const closed = CLOSED_STATE[description.status.name];
  if (!closed) {
    // A delayed start: the run exists, but its first workflow task waits for executionTime. Only
    // the run's first execution: one that continued-as-new may wait too (the server backs off a
    // run that continues-as-new within a second of its start), but the run is not `scheduled`.
    const info = description.raw.workflowExecutionInfo;
    const startsAt = optionalTsToDate(info?.executionTime);
    const firstExecution = !info?.firstRunId || info.firstRunId === description.runId;
    if (firstExecution && startsAt && startsAt.getTime() > Date.now() && (await notStartedYet(temporal, description))) {
      const input = await firstInput(temporal, runId).catch(() => undefined);
      return {
        runId,
        state: 'scheduled',
        step: 0,
        runner: input?.runner ?? 'default',
        startsAt: startsAt.toISOString(),
      };
    }
    try {
      const status = await temporal.workflow.getHandle(runId).query(statusQuery);
      const progress = await progressOf(temporal, description);
      return progress === undefined ? status : { ...status, progress };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new RunNotFound(runId);
      // No worker to answer the query (all down, or none yet): read what the server knows.
      return statusFromServer(temporal, runId, description);
    }
  }
  const memo = description.memo?.[OUTCOME_MEMO_KEY] as OutcomeMemo | undefined;
  const forkedFrom = await forkOrigin(temporal, runId);
  if (memo) {
    return {
      runId,
      state: memo.status,
      step: memo.finalStep,
      ...(memo.error ? { lastError: memo.error } : {}),
      runner: memo.runner ?? 'default',
      ...(forkedFrom ? { forkedFrom } : {}),
      ...(memo.usage ? { usage: memo.usage } : {}),
    };
  }
  const input = await firstInput(temporal, runId).catch(() => undefined);
  if (description.status.name === 'COMPLETED') {
    const outcome = await runResult(temporal, runId);
    return {
      runId,
      state: outcome.status,
      step: outcome.finalStep,
      runner: input?.runner ?? 'default',
      ...(forkedFrom ? { forkedFrom } : {}),
      ...(outcome.usage ? { usage: outcome.usage } : {}),
    };
  }
  return {
    runId,
    state: closed,
    step: 0,
    lastError: `workflow ${description.status.name.toLowerCase().replace('_', ' ')}`,
    runner: input?.runner ?? 'default',
  };
}

/**
 * Whether a delayed run still waits for its first workflow task. Signals sent meanwhile are
 * recorded but do not start it (measured on the dev server: its history is the start and the
 * signals, no workflow task); a signal-with-start does, and a workflow task follows its signal.
 * So the run has not started while its last event is its start or a signal.
 */
async function notStartedYet(temporal: Client, description: WorkflowExecutionDescription): Promise<boolean> {
  if ((description.historyLength ?? 0) <= 1) return true;
  let history;
  try {
    ({ history } = await temporal.workflowService.getWorkflowExecutionHistoryReverse({
      namespace: temporal.options.namespace,
      execution: { workflowId: description.workflowId, runId: description.runId },
      maximumPageSize: 1,
    }));
  } catch (err) {
    // The time-skipping test server has no reverse history: a started run has at least 3 events there.
    if ((err as { code?: number }).code === 12) return (description.historyLength ?? 0) <= 2;
    throw err;
  }
  const last = history?.events?.[0];
  return (
    last?.workflowExecutionSignaledEventAttributes != null || last?.workflowExecutionStartedEventAttributes != null
  );
}

/** The running step's latest heartbeat details: its progress. */
async function progressOf(temporal: Client, description: WorkflowExecutionDescription): Promise<unknown> {
  const pending = description.raw.pendingActivities?.find((a) => a.activityType?.name === 'runStep');
  const payload = pending?.heartbeatDetails?.payloads?.[0];
  if (!payload) return undefined;
  try {
    // A step that streams carries its window beside its progress (see shared/stream.ts).
    return progressOfHeartbeat(await fromRawPayload(temporal, payload));
  } catch {
    return undefined;
  }
}

/** Status of a running run from its history alone: the last scheduled step and its pending attempt. */
async function statusFromServer(
  temporal: Client,
  runId: string,
  description: WorkflowExecutionDescription,
): Promise<RunStatus> {
  const { history } = await temporal.workflowService.getWorkflowExecutionHistoryReverse({
    namespace: temporal.options.namespace,
    execution: { workflowId: runId, runId: description.runId },
    maximumPageSize: 50,
  });
  let step: { stepNumber?: number; runner?: string; attempt?: number } | undefined;
  for (const event of history?.events ?? []) {
    const scheduled = event.activityTaskScheduledEventAttributes;
    const payload = scheduled?.input?.payloads?.[0];
    if (scheduled?.activityType?.name === 'runStep' && payload) {
      step = await fromRawPayload(temporal, payload);
      break;
    }
  }
  const parked = description.memo?.[PARKED_MEMO_KEY] as ParkedMemo | null | undefined;
  if (parked) {
    const runner = step?.runner ?? (await firstInput(temporal, runId).catch(() => undefined))?.runner ?? 'default';
    return {
      runId,
      state: 'parked',
      step: parked.step,
      attempt: parked.attempt,
      lastError: parked.lastError,
      runner,
    };
  }
  const pending = description.raw.pendingActivities?.find((a) => a.activityType?.name === 'runStep');
  const lastError = await failureMessage(temporal, pending?.lastFailure);
  return {
    runId,
    state: 'running',
    step: step?.stepNumber ?? 0,
    attempt: step?.attempt ?? 1,
    ...(lastError ? { lastError } : {}),
    runner: step?.runner ?? (await firstInput(temporal, runId).catch(() => undefined))?.runner ?? 'default',
  };
}
