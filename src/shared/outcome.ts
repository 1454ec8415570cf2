import type { RunValue, StepOutcomeData } from './types';

/** Builders for what a step runner returns. */
export const StepOutcome = {
  /** Run the next step at once with `payload`. */
  continue: (payload: RunValue): StepOutcomeData => ({ kind: 'continue', payload }),
  /**
   * Run the next step after a durable timer that survives restarts and holds no worker slot.
   * @param delay milliseconds, or a duration string such as `'5m'` or `'1 hour'`
   */
  continueAfter: (payload: RunValue, delay: number | string): StepOutcomeData => ({
    kind: 'continueAfter',
    payload,
    delay,
  }),
  /** End the run as succeeded (workflow Completed) with `result`. */
  succeed: (result?: RunValue): StepOutcomeData => ({ kind: 'succeed', result }),
  /** End the run as failed (workflow Failed) with `reason`. */
  fail: (reason: string): StepOutcomeData => ({ kind: 'fail', reason }),
  /** End the run as cancelled (workflow Canceled) with `reason`. */
  cancel: (reason: string): StepOutcomeData => ({ kind: 'cancel', reason }),
} as const;

/** An error a runner throws to say whether the step is worth retrying. */
export class StepError extends Error {
  constructor(
    message: string,
    /** `false` fails the run at once. */
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'StepError';
  }

  /** Retried with exponential backoff until the step's attempt budget is spent. */
  static transient(message: string): StepError {
    return new StepError(message, true);
  }

  /** Not retried: the run ends failed with this message. */
  static permanent(message: string): StepError {
    return new StepError(message, false);
  }
}
