/**
 * A run's terminal webhook seen from the client: how its latest delivery went, and sending it
 * again. Each delivery is the `<runId>.webhook` workflow.
 */
import {
  type Client,
  WorkflowExecutionAlreadyStartedError,
  type WorkflowExecutionDescription,
  WorkflowFailedError,
  type WorkflowHandle,
  WorkflowNotFoundError,
} from '@temporalio/client';
import { ApplicationFailure, type ProtoFailure } from '@temporalio/common';
import { ErrorType, WEBHOOK_WORKFLOW_TYPE, webhookWorkflowId } from '../shared/names';
import { ValidationError, validateRunIdLookup } from '../shared/validate';
import { CLOSE_MEMO_KEY, type WebhookDeliveryInput, type WebhookDeliveryStatus } from '../shared/webhook';
import { RunNotFound } from './errors';
import { type ClientContext, failureMessage, startInput } from './read';

/** {@link RunsClient.redeliver} */
export async function redeliverWebhook({ temporal, taskQueue }: ClientContext, runId: string): Promise<void> {
  validateRunIdLookup(runId);
  const workflowId = webhookWorkflowId(runId);
  const input = await startInput<WebhookDeliveryInput>(temporal, workflowId).catch((err: unknown) => {
    if (err instanceof RunNotFound) throw new RunNotFound(runId, `run ${runId} has no terminal webhook to redeliver`);
    throw err;
  });
  // The latest close's delivery, again: its memo names that close, so that a terminal hook of
  // the same close that runs late still finds it.
  const { memo } = await temporal.workflow.getHandle(workflowId).describe();
  try {
    await temporal.workflow.start(WEBHOOK_WORKFLOW_TYPE, {
      workflowId,
      taskQueue,
      args: [input],
      ...(memo?.[CLOSE_MEMO_KEY] !== undefined ? { memo: { [CLOSE_MEMO_KEY]: memo[CLOSE_MEMO_KEY] } } : {}),
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      workflowIdConflictPolicy: 'FAIL',
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw new ValidationError(`the webhook of run ${runId} is still being delivered`);
    }
    throw err;
  }
}

/** {@link RunsClient.webhookStatus} */
export async function webhookStatus(temporal: Client, runId: string): Promise<WebhookDeliveryStatus | undefined> {
  validateRunIdLookup(runId);
  const handle = temporal.workflow.getHandle(webhookWorkflowId(runId));
  let description: WorkflowExecutionDescription;
  try {
    description = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return deliveryNotStarted(temporal, runId);
    throw err;
  }
  if (description.status.name === 'RUNNING') {
    const pending = description.raw.pendingActivities?.[0];
    // The first attempt of a delivery is a local activity (a marker in its short history): with
    // no pending activity it is running, or it failed and the delivery waits out the backoff;
    // the activity's attempts come after it.
    const local = await localAttempt(handle);
    const attempts = pending ? (pending.attempt ?? 1) + (local.ran ? 1 : 0) : 1;
    const lastError = await failureMessage(temporal, pending?.lastFailure ?? local.failure);
    return { runId, state: 'pending', attempts, ...(lastError ? { lastError } : {}) };
  }
  try {
    const done = (await handle.result()) as { attempts: number; lastStatus?: number };
    return {
      runId,
      state: 'delivered',
      attempts: done.attempts,
      ...(done.lastStatus !== undefined ? { lastStatus: done.lastStatus } : {}),
    };
  } catch (err) {
    const failure = err instanceof WorkflowFailedError ? err.cause : undefined;
    const details = (failure instanceof ApplicationFailure ? failure.details?.[0] : undefined) as
      { attempts?: number; lastStatus?: number; lastError?: string } | undefined;
    return {
      runId,
      state: 'failed',
      attempts: details?.attempts ?? 0,
      ...(details?.lastStatus !== undefined ? { lastStatus: details.lastStatus } : {}),
      lastError: details?.lastError ?? failure?.message ?? `delivery ${description.status.name.toLowerCase()}`,
    };
  }
}

/** Whether a delivery's first attempt ran as a local activity, and its failure if it failed. */
async function localAttempt(handle: WorkflowHandle): Promise<{ ran: boolean; failure?: ProtoFailure }> {
  const events = (await handle.fetchHistory()).events ?? [];
  const marker = events.find(
    (e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity',
  )?.markerRecordedEventAttributes;
  return { ran: marker !== undefined, ...(marker?.failure ? { failure: marker.failure as ProtoFailure } : {}) };
}

/**
 * A run that gave up starting its delivery (no `<runId>.webhook` workflow exists): the
 * terminal-hooks local activity's failure of type `WebhookNotStarted`, in the run's history.
 */
async function deliveryNotStarted(temporal: Client, runId: string): Promise<WebhookDeliveryStatus | undefined> {
  let events;
  try {
    events = (await temporal.workflow.getHandle(runId).fetchHistory()).events ?? [];
  } catch (err) {
    if (err instanceof WorkflowNotFoundError || (err as { code?: number }).code === 5) return undefined;
    throw err;
  }
  for (const event of events) {
    const marker = event.markerRecordedEventAttributes;
    if (marker?.markerName !== 'core_local_activity' || !marker.failure) continue;
    let failure: ProtoFailure | null | undefined = marker.failure as ProtoFailure;
    while (failure && failure.applicationFailureInfo?.type !== ErrorType.WebhookNotStarted) failure = failure.cause;
    if (!failure) continue;
    const error = await failureMessage(temporal, failure);
    return { runId, state: 'failed', attempts: 0, lastError: error ?? 'the webhook delivery could not be started' };
  }
  return undefined;
}
