/**
 * Reading a run's past from its history, for the day-two operations (retry, fork): the step
 * activities it scheduled, newest first, across its chain of continue-as-new executions.
 */
import type { Client } from '@temporalio/client';
import type { temporal as proto } from '@temporalio/proto';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import type { RunStepInput } from '../activities/run-step';

type HistoryEvent = proto.api.history.v1.IHistoryEvent;

/** One scheduled attempt of a step (an activity), and where in the run it was scheduled. */
export interface StepActivity {
  /** The Temporal run ID of the execution that scheduled it. */
  execution: string;
  /** The `WorkflowTaskCompleted` event whose commands scheduled it: the point a reset goes back to. */
  scheduledBy: number;
  /** What the step got: its number, attempt and payload (decoded, through the client's codec). */
  input: RunStepInput;
}

/** A chain longer than this is not walked (a run continues-as-new every 10,000 events by default). */
const MAX_EXECUTIONS = 100_000;

/**
 * The step activities of the workflow `runId`, newest first, from its current execution back
 * through the executions it continued from. Stop iterating to stop reading histories.
 */
export async function* stepActivities(temporal: Client, runId: string): AsyncGenerator<StepActivity> {
  let execution: string | undefined = (await temporal.workflow.getHandle(runId).describe()).runId;
  for (let i = 0; execution && i < MAX_EXECUTIONS; i++) {
    const history: { events?: HistoryEvent[] | null } = await temporal.workflow
      .getHandle(runId, execution)
      .fetchHistory();
    const events = history.events ?? [];
    for (let j = events.length - 1; j >= 0; j--) {
      const scheduled = events[j]!.activityTaskScheduledEventAttributes;
      if (scheduled?.activityType?.name !== 'runStep') continue;
      const input = await decodeFromPayloadsAtIndex<RunStepInput>(
        temporal.options.loadedDataConverter,
        0,
        scheduled.input?.payloads,
      );
      yield { execution, scheduledBy: Number(scheduled.workflowTaskCompletedEventId), input };
    }
    execution = events[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
  }
}
