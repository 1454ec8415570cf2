/**
 * Acting on many runs at once (contract v3, "Day two"): every run a visibility query selects.
 * Cancelling is Temporal's batch operation (server-side and resumable: it goes on if the client
 * goes away), sending each run the `cancel` signal (and a signal-with-start to runs in their start
 * delay, which Temporal would hold a plain signal for); retrying resets each failed run from the
 * client, as a reset point differs per run and a batch reset takes one for all.
 */
import { randomUUID } from 'node:crypto';
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { encodeToPayloads } from '@temporalio/common/lib/internal-non-workflow';
import { WORKFLOW_TYPE } from '../shared/names';
import { ValidationError } from '../shared/validate';
import type { CancelRequest } from '../shared/definitions';
import { cancelDelayed, isDelayed } from './outcome';
import { retryRun, type RetryAnswer } from './retry';

/** What a bulk action matched, and (unless a dry run) what it did. */
export interface BulkCancel {
  /** Running runs the query matched. */
  matched: number;
  /** The batch job sending them `cancel` (absent for a dry run or when nothing matched). */
  jobId?: string;
  /**
   * Matched runs in their start delay, woken with a signal-with-start so that they cancel now
   * (Temporal holds the batch's plain signal until the delay ends).
   */
  woken?: number;
}

export interface BulkRetry {
  /** Failed runs the query matched (each run once, however many executions it has). */
  matched: number;
  /** Per run: the step it runs again from, or why not (absent for a dry run). */
  results?: Array<{ runId: string } & RetryAnswer>;
}

/** The user's query, narrowed to durableRun runs; a malformed one is refused by the server, with its reason. */
function narrowed(query: string, status: string): string {
  if (typeof query !== 'string' || query.trim() === '') throw new ValidationError('--query must be a visibility query');
  return `WorkflowType = '${WORKFLOW_TYPE}' AND ${status} AND (${query})`;
}

/** Runs `fn`; a query the server cannot parse becomes a ValidationError naming it. */
async function asked<T>(query: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    // A gRPC INVALID_ARGUMENT, as it is or wrapped by the SDK (`Failed to list workflows`).
    const e = err as { code?: number; details?: string; message?: string; cause?: unknown };
    const grpc = (e.code === undefined ? e.cause : e) as typeof e | undefined;
    if (grpc?.code === 3) {
      throw new ValidationError(`invalid visibility query ${JSON.stringify(query)}: ${grpc.details ?? grpc.message}`);
    }
    throw err;
  }
}

/** Sends `cancel` (with `reason`) to every running run `query` selects, through a batch job. */
export async function cancelMatching(
  temporal: Client,
  query: string,
  options: { reason?: string; dryRun?: boolean } = {},
): Promise<BulkCancel> {
  if (options.reason !== undefined && typeof options.reason !== 'string') {
    throw new ValidationError('cancel reason must be a string');
  }
  const visibilityQuery = narrowed(query, `ExecutionStatus = 'Running'`);
  const { count } = await asked(query, () =>
    temporal.workflowService.countWorkflowExecutions({ namespace: temporal.options.namespace, query: visibilityQuery }),
  );
  const matched = Number(count ?? 0);
  if (options.dryRun || matched === 0) return { matched };
  const request: CancelRequest = options.reason === undefined ? {} : { reason: options.reason };
  // Encoded without a run's context: with encryption on, one payload goes to every run.
  const payloads = await encodeToPayloads(temporal.options.loadedDataConverter, request);
  const jobId = `durable-runs-cancel-${randomUUID()}`;
  await asked(query, () =>
    temporal.workflowService.startBatchOperation({
      namespace: temporal.options.namespace,
      jobId,
      visibilityQuery,
      reason: `durable-runs cancel --query${options.reason ? `: ${options.reason}` : ''}`,
      signalOperation: { signal: 'cancel', input: { payloads }, identity: temporal.options.identity },
    }),
  );
  return { matched, jobId, woken: await wakeDelayed(temporal, visibilityQuery, request) };
}

/** The most delayed runs one bulk cancel wakes itself (each costs a history read and a signal). */
const MAX_WOKEN = 10_000;

/** Sends `cancel` with a signal-with-start to the runs `query` selects that are in their start delay. */
async function wakeDelayed(temporal: Client, query: string, request: CancelRequest): Promise<number> {
  let woken = 0;
  const delayed = temporal.workflow.list({ query: `(${query}) AND ExecutionTime > '${new Date().toISOString()}'` });
  for await (const execution of delayed) {
    if (woken >= MAX_WOKEN) break;
    if (!isDelayed(execution)) continue;
    try {
      await cancelDelayed(temporal, execution, request);
      woken++;
    } catch (err) {
      // Closed meanwhile: nothing to wake.
      if (!(err instanceof WorkflowExecutionAlreadyStartedError || err instanceof WorkflowNotFoundError)) throw err;
    }
  }
  return woken;
}

/** How a batch job stands: `running`, `completed` or `failed`, with its counts. */
export async function batchProgress(
  temporal: Client,
  jobId: string,
): Promise<{ state: string; total: number; completed: number; failed: number }> {
  const job = await temporal.workflowService.describeBatchOperation({ namespace: temporal.options.namespace, jobId });
  const states = ['unspecified', 'running', 'completed', 'failed'];
  return {
    state: states[Number(job.state ?? 0)] ?? 'unspecified',
    total: Number(job.totalOperationCount ?? 0),
    completed: Number(job.completeOperationCount ?? 0),
    failed: Number(job.failureOperationCount ?? 0),
  };
}

/** Retries every failed run `query` selects (see {@link retryRun}), one after another. */
export async function retryMatching(
  temporal: Client,
  query: string,
  options: { dryRun?: boolean } = {},
): Promise<BulkRetry> {
  const visibilityQuery = narrowed(query, `ExecutionStatus IN ('Failed', 'Terminated', 'TimedOut')`);
  // Visibility lists executions: a run reset after it failed still has its failed execution there.
  const runIds = await asked(query, async () => {
    const ids = new Set<string>();
    for await (const execution of temporal.workflow.list({ query: visibilityQuery })) ids.add(execution.workflowId);
    return [...ids];
  });
  if (options.dryRun) return { matched: runIds.length };
  const results: BulkRetry['results'] = [];
  for (const runId of runIds) results.push({ runId, ...(await retryRun(temporal, runId)) });
  return { matched: runIds.length, results };
}
