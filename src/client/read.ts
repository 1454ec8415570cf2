/**
 * What every part of the client reads a run by: its description, the input its current execution
 * started with, and raw payloads and failures decoded through the client's data converter.
 */
import { type Client, type WorkflowExecutionDescription, WorkflowNotFoundError } from '@temporalio/client';
import type { Payload, ProtoFailure } from '@temporalio/common';
// SDK internals, as no public API decodes a raw payload or failure (from a history or a description)
// through the data converter's codecs.
import {
  decodeOptionalFailureToOptionalError,
  decodeOptionalSinglePayload,
} from '@temporalio/common/lib/internal-non-workflow';
import type { ForkOrigin, RunOutcome, RunStatusKind } from '../shared/types';
import { type NormalizedRunSpec, type RunCarry, validateRunSpec } from '../shared/validate';
import { RunNotFound } from './errors';

/** The Temporal client and task queue a `RunsClient` works on. */
export interface ClientContext {
  readonly temporal: Client;
  readonly taskQueue: string;
}

/** The state a run reads as, by its close status (Terminated and TimedOut runs read as failed). */
export const CLOSED_STATE: Record<string, RunStatusKind | undefined> = {
  COMPLETED: 'succeeded',
  FAILED: 'failed',
  CANCELLED: 'cancelled',
  TERMINATED: 'failed',
  TIMED_OUT: 'failed',
};

/** What a closed run holds in its Temporal memo (see `OUTCOME_MEMO_KEY`). */
export type OutcomeMemo = Omit<RunOutcome, 'result'> & { runner?: string };

/** A payload read from a raw history or description: decrypted when it is encrypted, then converted. */
export async function fromRawPayload<T>(temporal: Client, payload: Payload): Promise<T> {
  return (await decodeOptionalSinglePayload<T>(temporal.options.loadedDataConverter, payload)) as T;
}

/** A raw failure's message, decrypted when it is encrypted. */
export async function failureMessage(
  temporal: Client,
  failure: ProtoFailure | null | undefined,
): Promise<string | undefined> {
  if (!failure) return undefined;
  try {
    return (await decodeOptionalFailureToOptionalError(temporal.options.loadedDataConverter, failure))?.message;
  } catch (err) {
    return `${failure.message ?? 'failure'} (${(err as Error).message})`;
  }
}

/** The run's description. @throws RunNotFound for an unknown run */
export async function describeRun(temporal: Client, runId: string): Promise<WorkflowExecutionDescription> {
  try {
    return await temporal.workflow.getHandle(runId).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new RunNotFound(runId);
    throw err;
  }
}

/** The input of the run's current execution (what it was started or continued with). */
export async function firstInput(temporal: Client, runId: string): Promise<NormalizedRunSpec> {
  return validateRunSpec(await startInput(temporal, runId));
}

/** Where a closed run was forked from: its current execution's carry says (a running run's status query does). */
export async function forkOrigin(temporal: Client, runId: string): Promise<ForkOrigin | undefined> {
  const carry = await startInput<RunCarry | undefined>(temporal, runId, 1).catch(() => undefined);
  const origin = carry?.forkedFrom;
  return origin && typeof origin.runId === 'string' && typeof origin.step === 'number' ? origin : undefined;
}

/** The first (or the `index`th) argument of a workflow's current execution, read from its first history event. */
export async function startInput<T>(temporal: Client, workflowId: string, index = 0): Promise<T> {
  let history;
  try {
    ({ history } = await temporal.workflowService.getWorkflowExecutionHistory({
      namespace: temporal.options.namespace,
      execution: { workflowId },
      maximumPageSize: 1,
    }));
  } catch (err) {
    if ((err as { code?: number }).code === 5) throw new RunNotFound(workflowId);
    throw err;
  }
  const payload = history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[index];
  if (!payload) {
    if (index > 0 && history?.events?.length) return undefined as T;
    throw new RunNotFound(workflowId);
  }
  return fromRawPayload<T>(temporal, payload);
}
