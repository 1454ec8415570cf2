/** Public names operators and outside tests rely on (see DESIGN.md). */
export const WORKFLOW_TYPE = 'durableRun';
export const WEBHOOK_WORKFLOW_TYPE = 'webhookDelivery';
export const DEFAULT_TASK_QUEUE = 'durable-runs';
export const DEFAULT_RUNNER = 'default';
export const RESERVED_HEADER_PREFIX = 'workflow.';
/**
 * Temporal memo key a parked run holds `{ step, attempt, lastError }` under (removed when it is
 * resumed): `list --state parked` reads it from the visibility listing of running runs, and
 * `status()` from the run's description when no worker answers.
 */
export const PARKED_MEMO_KEY = 'durableRunsParked';
/** Memo key under which a closed run records its outcome (without the result). */
export const OUTCOME_MEMO_KEY = 'durableRunOutcome';

/** `ApplicationFailure.type` names; workflows branch on these, never on `instanceof`. */
export const ErrorType = {
  /** The runner threw `StepError.transient` or any other error: retry the step. */
  StepTransient: 'StepTransientError',
  /** The runner threw `StepError.permanent`: fail the run. */
  StepPermanent: 'StepPermanentError',
  /**
   * The step's worker shut down while it ran (its grace time passed): the step did not finish,
   * whatever its runner returned after the abort. Retryable for Temporal, not a step error: the
   * activity runs again on another worker with the same input, so at the same attempt number.
   */
  StepInterrupted: 'StepInterrupted',
  /** The runner returned something that is not a step outcome, or too large to record. */
  InvalidOutcome: 'InvalidStepOutcome',
  /** The worker could not decode the step's input. */
  InvalidStepInput: 'InvalidStepInput',
  /** The run names a runner the worker does not have. */
  UnknownRunner: 'UnknownRunner',
  /** The workflow input is malformed. */
  InvalidRunSpec: 'InvalidRunSpec',
  /** The run ended with `StepOutcome.fail`, a permanent error or a spent retry budget. */
  RunFailed: 'RunFailed',
  /** A webhook attempt failed in a way that must not be retried. */
  WebhookGiveUp: 'WebhookGiveUp',
  /**
   * The run's webhook delivery could not be started and the run gave up trying (an error no retry
   * mends, or the give-up time passed): recorded as the terminal-hooks local activity's failure.
   */
  WebhookNotStarted: 'WebhookNotStarted',
  /** A webhook attempt failed and will be retried. */
  WebhookRetry: 'WebhookRetry',
  /** The `event` update refused an event: the run already keeps its limit of unconsumed events. */
  EventRefused: 'EventRefused',
  /** The `event` update refused a malformed event. */
  InvalidEvent: 'InvalidEvent',
  /** The `event` update refused an event whose ID the run has already received. */
  DuplicateEvent: 'DuplicateEvent',
  /** The `event` update refused an event because the run is closing. */
  RunClosing: 'RunClosing',
  /** The memo update refused a record: wrong or missing step token, or not the current step. */
  MemoRefused: 'MemoRefused',
  /** The resume update refused: the run is not parked, or the request is malformed. */
  ResumeRefused: 'ResumeRefused',
} as const;

export function webhookWorkflowId(runId: string): string {
  return `${runId}.webhook`;
}
