import {
  type ChildRunSpec,
  FAST_STEPS,
  type FastStep,
  type FastStepRunner,
  type RunValue,
  type Step,
  type StepOutcomeData,
  type StepRunner,
} from './types';
import { parseDelay, ValidationError } from './validate';
import { MAX_RETRY_AFTER_MS } from './retry';

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
  /**
   * Run the next step when an event named in `events` arrives (signal `event`, `sendEvent`,
   * `durable-runs send`), or when `timeout` passes; no worker is held meanwhile. The next step gets
   * `payload` and `step.event`, or `step.timedOut === true`. Events that arrived earlier are kept
   * and count. No timeout waits forever.
   * @param timeout milliseconds, or a duration string such as `'24h'`
   */
  waitForEvent: (
    payload: RunValue,
    options: { events: string | readonly string[]; timeout?: number | string },
  ): StepOutcomeData => ({
    kind: 'waitForEvent',
    payload,
    events: typeof options.events === 'string' ? options.events : [...options.events],
    ...(options.timeout !== undefined ? { timeout: options.timeout } : {}),
  }),
  /**
   * Start each child as a full run (a `durableRun` child workflow: its own steps, status, cancel
   * and webhook) and run the next step with `payload` once all have closed; it gets
   * `step.children`, their outcomes in the order given, whatever their status. At most 1,000.
   * @param options.maxConcurrent how many children run at once. @default all
   */
  runChildren: (
    payload: RunValue,
    children: readonly ChildRunSpec[],
    options: { maxConcurrent?: number } = {},
  ): StepOutcomeData => ({
    kind: 'runChildren',
    payload,
    children: [...children],
    ...(options.maxConcurrent !== undefined ? { maxConcurrent: options.maxConcurrent } : {}),
  }),
  /** End the run as succeeded (workflow Completed) with `result`. */
  succeed: (result?: RunValue): StepOutcomeData => ({ kind: 'succeed', result }),
  /** End the run as failed (workflow Failed) with `reason`. */
  fail: (reason: string): StepOutcomeData => ({ kind: 'fail', reason }),
  /** End the run as cancelled (workflow Canceled) with `reason`. */
  cancel: (reason: string): StepOutcomeData => ({ kind: 'cancel', reason }),
} as const;

export { MAX_RETRY_AFTER_MS };

/** An error a runner throws to say whether the step is worth retrying. */
export class StepError extends Error {
  constructor(
    message: string,
    /** `false` fails the run at once. */
    readonly retryable: boolean,
    /** For {@link StepError.retryAfter}: the next attempt starts after this many milliseconds. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'StepError';
  }

  /**
   * Retried, but after exactly `delay` instead of the backoff (no jitter): for a provider that
   * said when to come back (a 429 or 503 with `Retry-After`). The attempt counts toward the step's
   * attempt budget like any failed one.
   * @param delay milliseconds, a duration string such as `'30s'`, or the `Date` to retry at; at
   * most 1 hour (a longer one waits 1 hour). A delay that is none of these (negative, `'soon'`)
   * makes a permanent error that names it: the step fails for good.
   */
  static retryAfter(delay: number | string | Date, message: string): StepError {
    let ms: number;
    try {
      if (delay instanceof Date) {
        ms = delay.getTime() - Date.now();
        if (Number.isNaN(ms)) throw new ValidationError('StepError.retryAfter delay is an invalid Date');
        ms = Math.max(0, ms);
      } else {
        ms = parseDelay(delay, 'StepError.retryAfter delay');
      }
    } catch (err) {
      return new StepError(`${(err as Error).message} (the step failed with: ${message})`, false);
    }
    return new StepError(message, true, Math.min(Math.round(ms), MAX_RETRY_AFTER_MS));
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

/**
 * Registers a runner for **fast steps**: its steps run as local activities in the worker that runs
 * the workflow, with no task-queue round trip and one history marker a step instead of an
 * activity's three events. For short steps (seconds at most): a worker crash re-runs the steps
 * since the run's last completed workflow task, `step.memo`, `step.progress`, `step.stream` and
 * `step.eventUrl` are not available (a runner written inside `fastSteps(…)` that calls one does not
 * compile; called anyway, each fails the step with a message saying so: see FastStep), and cancel,
 * status and continue-as-new are served between chains of steps at most half a second of step time
 * long.
 *
 * ```ts
 * createWorker({ runners: { classify: fastSteps(classifyRunner) } })
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function fastSteps<P = any>(runner: FastStepRunner<P>): StepRunner<P> {
  if (typeof runner !== 'function') throw new TypeError('fastSteps() takes a step runner function');
  const group: unknown = (runner as unknown as Record<symbol, unknown>)[Symbol.for('durable-runs.limited')];
  if (typeof group === 'string') {
    throw new TypeError(
      `fastSteps(): the runner is in limit group "${group}" (limited()), whose steps run on its group's task queue; fastSteps runs them as local activities, which no queue limits: use one or the other`,
    );
  }
  // A fast step's `progress`, `stream`, `memo` and `eventUrl` throw when called (see FastStep).
  const marked = ((step: Step<P>) => runner(step as unknown as FastStep<P>)) as StepRunner<P>;
  Object.defineProperty(marked, FAST_STEPS, { value: true });
  Object.defineProperty(marked, 'name', { value: runner.name });
  return marked;
}

/** Whether a runner was registered with {@link fastSteps}. */
export function isFastRunner(runner: unknown): boolean {
  return typeof runner === 'function' && (runner as unknown as Record<symbol, unknown>)[FAST_STEPS] === true;
}
