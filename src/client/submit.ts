/** Submitting a run: checked at the door, started once, and the same submission again returns it. */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { ulid } from 'ulid';
import { parseCallbackUrl } from '../activities/webhook/guard';
import { supportsEagerStart } from '../common/eager-start';
import { tenantFairnessKey } from '../common/fairness';
import { WORKFLOW_TYPE } from '../shared/names';
import { toBase64 } from '../shared/payload-converter';
import type { RunSpec } from '../shared/types';
import {
  parseDelay,
  type RunScheduling,
  runSpecTooLarge,
  ValidationError,
  validatePriority,
  validateRunId,
  validateRunSpec,
  valueTooDeep,
} from '../shared/validate';
import { InputMismatch } from './errors';
import { type ClientContext, firstInput } from './read';
import { startStory } from './state-attributes';

export interface SubmitOptions extends RunSpec, RunScheduling {
  /** 1–128 characters of `[A-Za-z0-9_-]`. @default a new ULID */
  runId?: string;
  /** Start the run this much later (ms or `'10m'`): Temporal's start delay; `status()` says `scheduled` until then. */
  startDelay?: number | string;
}

export interface Submission {
  runId: string;
  /** `false` when the run already existed with the same input and headers. */
  newlySubmitted: boolean;
  /**
   * The server handed the run's first workflow task straight to a worker in this process (eager
   * start: a client on a worker's `NativeConnection`, that worker serving the task queue).
   */
  eagerlyStarted?: boolean;
}

/** A stable text for comparing submissions (key order ignored, bytes compared by content). */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Uint8Array) return { $bytes: toBase64(v) };
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)));
    }
    return v;
  });
}

/** {@link RunsClient.submit}; `webhookUrlHeader` names the header whose callback URL is checked. */
export async function submitRun(
  { temporal, taskQueue }: ClientContext,
  webhookUrlHeader: string,
  options: SubmitOptions,
): Promise<Submission> {
  const { runId: given, startDelay, priority, fairnessKey, fairnessWeight, ...rest } = options;
  const runId = given === undefined ? ulid() : validateRunId(given);
  const spec = validateRunSpec(rest);
  const tooDeep = valueTooDeep('input', spec.input);
  if (tooDeep) throw new ValidationError(tooDeep);
  const tooLarge = runSpecTooLarge(spec);
  if (tooLarge) throw new ValidationError(tooLarge);
  const delayMs = startDelay === undefined ? undefined : parseDelay(startDelay, 'startDelay');
  // The deadline counts from submission: one that ends before the start would fail the run as it starts.
  if (delayMs !== undefined && spec.deadlineMs !== undefined && spec.deadlineMs <= delayMs) {
    throw new ValidationError(
      `deadline (${String(rest.deadline ?? spec.deadlineMs)}) ends before startDelay (${String(startDelay)}) does: the deadline counts from submission, so the run would fail as it starts; give a deadline longer than the delay`,
    );
  }
  const taskPriority = validatePriority(
    { priority, fairnessKey: fairnessKey ?? tenantFairnessKey(temporal, spec.headers), fairnessWeight },
    spec.headers,
  );
  const callback = spec.headers[webhookUrlHeader];
  if (callback !== undefined) {
    try {
      parseCallbackUrl(callback);
    } catch (err) {
      throw new ValidationError(`header "${webhookUrlHeader}": ${(err as Error).message}`);
    }
  }
  const story = await startStory(temporal, rest, { scheduled: delayMs !== undefined && delayMs > 0, webhookUrlHeader });
  try {
    const handle = await temporal.workflow.start(WORKFLOW_TYPE, {
      workflowId: runId,
      taskQueue,
      args: [rest],
      ...story,
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      workflowIdConflictPolicy: 'FAIL',
      ...(delayMs ? { startDelay: delayMs } : {}),
      ...(taskPriority ? { priority: taskPriority } : {}),
      // Eager start: the server hands the first workflow task straight back to a worker in this
      // process (when one serves the task queue with a free slot), saving a matching round trip.
      ...(!delayMs && supportsEagerStart(temporal) ? { requestEagerStart: true } : {}),
    });
    return { runId, newlySubmitted: true, ...(handle.eagerlyStarted ? { eagerlyStarted: true } : {}) };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  const existing = await firstInput(temporal, runId);
  if (canonical([existing.input, existing.headers]) !== canonical([spec.input, spec.headers])) {
    throw new InputMismatch(runId);
  }
  return { runId, newlySubmitted: false };
}
