/**
 * Reading what a run showed the Temporal UI (issue 27) out of its history: the run-state upserts,
 * the patches it recorded, and the failed workflow tasks of all its executions.
 */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { STATE_KEYS } from '../../src/shared/run-story';

export type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** The events of the run's current execution. */
export const historyOf = async (client: Client, runId: string): Promise<HistoryEvent[]> =>
  (await client.workflow.getHandle(runId).fetchHistory()).events ?? [];

/** Every execution of the run, first to current (following continue-as-new), as event lists. */
export async function executionsOf(client: Client, runId: string): Promise<HistoryEvent[][]> {
  const description = await client.workflow.getHandle(runId).describe();
  const executions: HistoryEvent[][] = [];
  let current = description.raw.workflowExecutionInfo?.firstRunId ?? undefined;
  for (let i = 0; current && i < 100; i++) {
    const events = (await client.workflow.getHandle(runId, current).fetchHistory()).events ?? [];
    executions.push(events);
    current = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return executions;
}

/** The upserts of the run's own attributes (Temporal's TemporalChangeVersion, which each patch marker upserts, aside). */
export const upserts = (events: HistoryEvent[]): HistoryEvent[] =>
  events.filter((e) =>
    Object.keys(e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {}).some((k) =>
      k.startsWith('DurableRuns'),
    ),
  );

/** The patches the run recorded (its `core_patch` markers). */
export const patches = (events: HistoryEvent[]): string[] =>
  events.flatMap((e) => {
    const data = e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0]?.data;
    return e.markerRecordedEventAttributes?.markerName === 'core_patch' && data
      ? [(JSON.parse(Buffer.from(data).toString()) as { id: string }).id]
      : [];
  });

/** The DurableRunsState values the run upserted, in order. */
export const statesUpserted = (events: HistoryEvent[]): string[] =>
  upserts(events).flatMap((e) => {
    const field = e.upsertWorkflowSearchAttributesEventAttributes!.searchAttributes?.indexedFields?.DurableRunsState;
    return field?.data ? [JSON.parse(Buffer.from(field.data).toString()) as string] : [];
  });

/** The run's DurableRunsState as the server has it now. */
export const stateOf = async (client: Client, runId: string): Promise<string | undefined> =>
  (await client.workflow.getHandle(runId).describe()).typedSearchAttributes.get(STATE_KEYS.state);

/** The causes of the workflow tasks that failed, in all of `executions`. */
export const failedTasks = (executions: HistoryEvent[][]): string[] =>
  executions.flatMap((events) =>
    events
      .filter((e) => e.workflowTaskFailedEventAttributes)
      .map(
        (e) =>
          temporal.api.enums.v1.WorkflowTaskFailedCause[e.workflowTaskFailedEventAttributes!.cause ?? 0] ??
          String(e.workflowTaskFailedEventAttributes!.cause),
      ),
  );
