/**
 * Fork from a step (contract v3, "Day two"): a new run that starts at step `k` of another, with
 * the payload step `k` had (or one given), the same runner, headers and options. The original is
 * only read, running or closed. The fork starts with a continue-as-new carry of its own (step,
 * payload, what ended the wait before step `k`, and `forkedFrom`); memos are not carried.
 */
import { type Client, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { derivedRunId } from '../common/run-ids';
import { OUTCOME_MEMO_KEY, WORKFLOW_TYPE } from '../shared/names';
import type { RunOutcome } from '../shared/types';
import { describeType, type RunCarry, ValidationError, validateRunId, validateRunIdLookup } from '../shared/validate';
import { runSummary } from '../shared/run-story';
import { type ClientContext, describeRun, firstInput } from './read';
import { startStory } from './state-attributes';
import { stepActivities } from './run-history';

export interface ForkOptions {
  /** The step the fork starts at (0-based): at most the original's last step. */
  fromStep: number;
  /** The fork's payload for that step. @default the payload that step had in the original */
  payload?: unknown;
  /** The fork's run ID. @default `<runId>-fork-<n>`, the first one free */
  runId?: string;
}

/** `<runId>-fork-<n>` is tried for n up to this; past it a fork needs a run ID of its own. */
const MAX_FORKS = 1000;

/** {@link RunsClient.fork} */
export async function forkRun(
  { temporal, taskQueue }: ClientContext,
  runId: string,
  options: ForkOptions,
): Promise<{ runId: string }> {
  validateRunIdLookup(runId);
  if (options.runId !== undefined) validateRunId(options.runId);
  const description = await describeRun(temporal, runId);
  const carry = await forkCarry(temporal, runId, options);
  const spec = await firstInput(temporal, runId);
  const priority = description.raw.workflowExecutionInfo?.priority;
  const ids =
    options.runId !== undefined
      ? [options.runId]
      : Array.from({ length: MAX_FORKS }, (_, i) => derivedRunId(runId, `-fork-${i + 1}`));
  const story = await startStory(temporal, spec, {
    step: options.fromStep,
    origin: `fork of ${runId} from step ${options.fromStep}`,
  });
  for (const id of ids) {
    try {
      await temporal.workflow.start(WORKFLOW_TYPE, {
        workflowId: id,
        taskQueue,
        args: [spec, carry],
        ...story,
        staticSummary: runSummary(
          { runner: spec.runner, input: carry.payload },
          `fork of ${runId} from step ${options.fromStep} · `,
        ),
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        workflowIdConflictPolicy: 'FAIL',
        ...(priority
          ? {
              priority: {
                ...(priority.priorityKey ? { priorityKey: priority.priorityKey } : {}),
                ...(priority.fairnessKey ? { fairnessKey: priority.fairnessKey } : {}),
                ...(priority.fairnessWeight ? { fairnessWeight: priority.fairnessWeight } : {}),
              },
            }
          : {}),
      });
      return { runId: id };
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  }
  throw new ValidationError(
    options.runId !== undefined
      ? `fork: run ID ${options.runId} is taken`
      : `fork: run ${runId} has ${MAX_FORKS} forks already; give the fork a run ID`,
  );
}

/** The carry a fork of `runId` starts with, read from the original's history. */
async function forkCarry(temporal: Client, runId: string, options: ForkOptions): Promise<RunCarry> {
  const { fromStep } = options;
  if (typeof fromStep !== 'number' || !Number.isSafeInteger(fromStep) || fromStep < 0) {
    throw new ValidationError(`fork: fromStep must be a whole number ≥ 0, got ${describeType(fromStep)}`);
  }
  const given = options.payload !== undefined;
  const description = await temporal.workflow.getHandle(runId).describe();
  const memo = description.memo?.[OUTCOME_MEMO_KEY] as Pick<RunOutcome, 'finalStep'> | undefined;
  let last = memo?.finalStep;
  for await (const { input } of stepActivities(temporal, runId)) {
    last = Math.max(last ?? 0, input.stepNumber);
    if (input.stepNumber < fromStep) break;
    if (input.stepNumber > fromStep) continue;
    return {
      step: fromStep,
      payload: given ? options.payload : input.payload,
      // What ended the wait before step k: the step sees the same event (or timeout, or children).
      ...(input.event
        ? { delivered: { event: input.event } }
        : input.timedOut
          ? { delivered: { timedOut: true } }
          : input.children
            ? { delivered: { children: input.children } }
            : {}),
      forkedFrom: { runId, step: fromStep },
    };
  }
  if (last === undefined || fromStep > last) {
    throw new ValidationError(
      `fork: step ${fromStep} is beyond the last step of run ${runId} (${last === undefined ? 'it ran none' : `step ${last}`})`,
    );
  }
  if (!given) {
    throw new ValidationError(
      `fork: step ${fromStep} of run ${runId} has no input of its own in the history (it ran inside a chain of fast steps, or never started): give the payload`,
    );
  }
  return { step: fromStep, payload: options.payload, forkedFrom: { runId, step: fromStep } };
}
