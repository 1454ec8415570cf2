/**
 * Types shared by the workflow sandbox, the activities, the worker and the client.
 * Sandbox-safe: no Node builtins, no runtime imports beyond other shared modules.
 */
import type { RunUsage, UsageBudget, UsageRecord } from './usage';

export type { RunUsage, UsageBudget, UsageFigures, UsageRecord } from './usage';

/** JSON-like value a run carries between steps; `Uint8Array` travels as bytes. */
export type RunValue = unknown;

/** Headers that thread through every step and reach terminal hooks. */
export type RunHeaders = Record<string, string>;

/** The argument of the `event` signal. */
export interface EventSignal {
  name: string;
  data?: unknown;
  /** Duplicates of an ID the run has received are ignored. @default a fresh ID per send */
  id?: string;
}

/** An event as the step after a wait sees it (`step.event`). */
export interface RunEvent {
  name: string;
  data: unknown;
  id: string;
  /** ISO time the run received it. */
  receivedAt: string;
}

/** The single argument of the `durableRun` workflow. */
export interface RunSpec {
  /** Step 0's payload. Any JSON value; a `Uint8Array` travels as bytes. */
  input: RunValue;
  /** String→string headers; the `workflow.` prefix is reserved. @default {} */
  headers?: RunHeaders;
  /** Name of a runner registered on the worker. @default "default" */
  runner?: string;
  /**
   * Attempts per step for errors the runner throws (transient errors), counting the first.
   * Three attempts absorb a flaky dependency without hiding a broken one.
   * @default 3
   */
  maxAttemptsPerStep?: number;
  /**
   * How long a step may go without a heartbeat before Temporal declares its worker dead and
   * runs the step again. The step wrapper heartbeats on the runner's behalf, so this only bounds
   * how fast a crashed worker (and a cancel) is noticed.
   * @default 30000
   */
  heartbeatTimeoutMs?: number;
  /**
   * Upper bound on one step attempt's wall time.
   * @default 86400000 (24 h: agent steps that call models and tools can be slow)
   */
  stepTimeoutMs?: number;
  /**
   * History length past which the run continues-as-new at the next step boundary (it also does
   * when Temporal suggests it). Keeps replay cheap for runs of any length.
   * @default 10000
   */
  maxHistoryEvents?: number;
  /** Step budget: a run that would start step `maxSteps` ends **failed** ("step budget of N steps used up"). */
  maxSteps?: number;
  /**
   * Time budget from submission (ms or a duration such as `'2h'`): when it passes, the running
   * step is cancelled and the run ends **failed** ("deadline exceeded").
   */
  deadline?: number | string;
  /**
   * What a step whose retries are spent, or that threw a permanent error, does to the run:
   * `'fail'` ends it **failed**; `'park'` keeps it open in state `parked` (holding no worker) until
   * `resume` runs the step again from attempt 1, a cancel, or its deadline. A runner's own
   * `StepOutcome.fail` always fails the run: it is a verdict, not an exhaustion.
   * @default 'fail' (a run ends, and its submitter hears of it, unless it asked to wait for an operator)
   */
  onExhausted?: 'fail' | 'park';
  /**
   * Cost budget in US dollars, from what the steps report with `step.usage`: once the run's total
   * passes it after a step, the run ends **failed** ("cost budget of $N used up"), or parks with
   * `onExhausted: 'park'` (`resume` with a higher `maxCostUsd` lets it go on).
   */
  maxCostUsd?: number;
  /** Token budget (input and output tokens together), as `maxCostUsd` is for cost. */
  maxTokens?: number;
}

export type RunStatusKind = 'succeeded' | 'failed' | 'cancelled';

export type RunState = 'scheduled' | 'running' | 'sleeping' | 'waiting' | 'parked' | 'cancelling' | RunStatusKind;

/** What the `status` query (and `RunsClient.status`) returns. */
export interface RunStatus {
  runId: string;
  state: RunState;
  /** Current (or final) 0-based step number. */
  step: number;
  /** Attempt of the current step, 1 on first try; while `parked`, the attempt that failed last. */
  attempt?: number;
  /**
   * Last error the current step (or the run) saw, or why a signal was ignored; while `parked`, why
   * the step parked (what the run would have failed with).
   */
  lastError?: string;
  runner: string;
  /** While `waiting`: the event names that end the wait. */
  waitingFor?: string[];
  /** While `waiting` with a timeout: when it fires (ISO time). */
  waitDeadline?: string;
  /**
   * Events received and not consumed by a wait yet (shown when there are any, or while waiting).
   * Duplicates are recognised by event ID against the last 10,000 IDs the run received
   * (`MAX_REMEMBERED_EVENT_IDS`); an older ID is forgotten and counts as a new event.
   */
  pendingEvents?: number;
  /** While waiting for child runs: how many there are and how many have closed. */
  children?: { total: number; closed: number };
  /** While `scheduled` (a delayed start): when the run starts (ISO time). */
  startsAt?: string;
  /** The running step's latest `step.progress(…)`/`step.heartbeat(…)` details (from `RunsClient.status`). */
  progress?: unknown;
  /** A fork: the run and step it was forked from (`runs.fork`). */
  forkedFrom?: ForkOrigin;
  /** What the steps reported with `step.usage` so far, in total and per model (once any did). */
  usage?: RunUsage;
  /** The run's budgets, when it has any (a `resume` may have raised them). */
  budget?: UsageBudget;
}

/** Where a fork came from: the original run, and the step the fork started at. */
export interface ForkOrigin {
  runId: string;
  step: number;
}

/** How a run ended: the result of a Completed run and what terminal hooks receive. */
export interface RunOutcome {
  runId: string;
  status: RunStatusKind;
  /** The `succeed` result (succeeded runs only). */
  result?: RunValue;
  /** The reason for failed and cancelled runs; `null` for an outside cancel without a reason. */
  error?: string | null;
  headers: RunHeaders;
  /** The last step that ran (or was running when the run was cancelled). */
  finalStep: number;
  /** Who cancelled a cancelled run: the `cancel` signal, Temporal's own cancel, the runner, or its parent run. */
  cancelledBy?: CancelOrigin;
  /** What the run's steps reported with `step.usage`, in total and per model (when any did). */
  usage?: RunUsage;
}

export type CancelOrigin = 'signal' | 'temporal' | 'runner' | 'parent';

/** A child run that a step starts with `StepOutcome.runChildren`. */
export interface ChildRunSpec {
  input: RunValue;
  /** @default "default", as for any run */
  runner?: string;
  /** Merged over the parent's headers (which the child inherits, except the callback URL header). */
  headers?: RunHeaders;
  /** @default `<parentRunId>-<step>-<index>` */
  runId?: string;
  maxAttemptsPerStep?: number;
}

/** What a step runner receives. */
export interface Step<P = RunValue> {
  runId: string;
  stepNumber: number;
  payload: P;
  headers: RunHeaders;
  /** 1 on the first try of this step. */
  attempt: number;
  /** Aborted when the run is cancelled while this step runs. */
  signal: AbortSignal;
  /**
   * Records the step's latest progress: `status().progress`, `durable-runs watch` and the UI's
   * pending activity show it. Adds no history events. The wrapper already heartbeats for liveness.
   */
  heartbeat(details?: unknown): void;
  /** Same as `heartbeat`. */
  progress(details?: unknown): void;
  /**
   * Appends `chunk` (a string or JSON value, at most 64 KiB as JSON) to the run's live stream and
   * returns at once: readers of `runs.stream(runId)` get it within about a tenth of a second. No
   * history event per chunk: the latest chunks ride on the step's heartbeat, and the step's result
   * keeps them (the last 1 MiB) when it ends. A chunk it cannot take fails the step for good. If
   * this attempt fails, readers get a `retract` of its chunks before the next attempt's. Not in
   * fast steps (it throws there).
   */
  stream(chunk: unknown): void;
  /**
   * Journals a side effect: the first call runs `fn` and records its result (JSON or bytes) in the
   * run durably before returning it; every later attempt of this step — after a thrown error, a
   * worker crash, a heartbeat timeout — gets the recorded value and `fn` is not called. A throwing
   * `fn` records nothing. Keys are per step.
   */
  memo<T>(key: string, fn: () => Promise<T> | T): Promise<T>;
  /**
   * An approval link: a signed, single-use URL, `${DURABLE_RUNS_PUBLIC_URL}/v1/links/<token>`,
   * that sends this run the event `name` (with `data`) when a person opens it and presses the
   * button of its confirm page (`durable-runs serve` answers it; opening it changes nothing). Make
   * it before returning `waitForEvent` for that event, and mail it. It works until `expiresIn`
   * (milliseconds or a duration such as `'2d'`; 7 days by default). Signed with HMAC-SHA256 under
   * `DURABLE_RUNS_LINK_SECRET`: without that variable or `DURABLE_RUNS_PUBLIC_URL` on the worker it
   * throws (the step fails for good). Not in fast steps (it throws there).
   */
  eventUrl(name: string, options?: { expiresIn?: number | string; data?: unknown }): string;
  /**
   * Reports what a model call used: it adds to the run's totals (`status().usage`,
   * `RunOutcome.usage`, in total and per `model`) and to the worker's metrics
   * `durable_runs_tokens_total` and `durable_runs_cost_usd_total`. Usage of an attempt that later
   * fails still counts. Figures must be numbers ≥ 0 (tokens whole): anything else throws, and the
   * step fails for good with a message naming the field; nothing is added.
   */
  usage(record: UsageRecord): void;
  /** The event that ended the previous step's `waitForEvent`. */
  event?: RunEvent;
  /** `true` when the previous step's `waitForEvent` timed out (and `event` is absent). */
  timedOut?: boolean;
  /** The outcomes of the children the previous step started with `runChildren`, in the order given. */
  children?: RunOutcome[];
}

/**
 * What a runner registered with `fastSteps()` receives: a {@link Step} without `progress`,
 * `heartbeat`, `stream`, `memo` and `eventUrl`. A fast step runs as a local activity: it has no
 * heartbeat to carry progress or a stream, and cannot journal a memo or sign a link durably before
 * it returns. They are typed `never`, so that calling one in a runner written inside `fastSteps(…)`
 * fails to compile at that registration ("This expression is not callable"), and a `StepRunner`
 * declared elsewhere still registers; called anyway (from JavaScript, or through such a runner),
 * each fails the step for good with a message naming it, never silently doing less.
 */
export type FastStep<P = RunValue> = Omit<Step<P>, NotInFastSteps> & Record<NotInFastSteps, never>;
type NotInFastSteps = 'heartbeat' | 'progress' | 'stream' | 'memo' | 'eventUrl';

/** A runner for `fastSteps()`: see {@link FastStep}. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type FastStepRunner<P = any> = (step: FastStep<P>) => Promise<StepOutcomeData> | StepOutcomeData;

/** Serializable step outcome, as built by `StepOutcome.*`. */
export type StepOutcomeData =
  | { kind: 'continue'; payload: RunValue }
  | { kind: 'continueAfter'; payload: RunValue; delay: number | string }
  | { kind: 'waitForEvent'; payload: RunValue; events: string | string[]; timeout?: number | string }
  | { kind: 'runChildren'; payload: RunValue; children: ChildRunSpec[]; maxConcurrent?: number }
  | { kind: 'succeed'; result: RunValue }
  | { kind: 'fail'; reason: string }
  | { kind: 'cancel'; reason: string };

/** A user's step runner. Must be idempotent per `(runId, stepNumber)`: steps are at-least-once. */
// `any` by default so that runners typed for their own payload fit a `Record<string, StepRunner>`.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type StepRunner<P = any> = (step: Step<P>) => Promise<StepOutcomeData> | StepOutcomeData;

/** Marks a runner registered with `fastSteps()`: its steps run as local activities. */
export const FAST_STEPS = Symbol.for('durable-runs.fastSteps');

/** Runs once a run's outcome is known, at-least-once, in an activity. Errors are logged only. */
export interface TerminalHook {
  /** Shown in logs when the hook fails. */
  readonly name?: string;
  onTermination(outcome: RunOutcome): Promise<void> | void;
}

/** Terminal webhook settings (worker side), already validated. */
export interface WebhookOptions {
  /** Header of a run that holds the callback URL. @default "callback_url" */
  urlHeader: string;
  /** Retries after the first attempt; 0 = exactly one attempt. @default 3 */
  maxRetries: number;
  /** First retry delay. @default 500 */
  baseDelayMs: number;
  /** Strict cap on any retry delay, `Retry-After` included. @default 30000 */
  maxDelayMs: number;
  /** Per-attempt timeout. @default 10000 */
  timeoutMs: number;
  /** Standard Webhooks secret (`whsec_…`); unset = unsigned. Never leaves the worker. */
  secret?: string;
  /** Turns the address guard off (development only). @default false */
  allowPrivate: boolean;
  /**
   * How long a run keeps trying to start its webhook delivery while Temporal refuses it with an
   * error that does not heal by itself (PERMISSION_DENIED, UNAUTHENTICATED, NOT_FOUND,
   * FAILED_PRECONDITION: a worker's key that may not start workflows, a missing namespace); then
   * it gives up, closes, and the delivery shows as failed. Time for an operator to fix the key,
   * short enough that the run does not stay open for good. Other errors (UNAVAILABLE and the
   * like) are retried for up to 24 hours.
   * @default 300000 (5 min)
   */
  startGiveUpMs?: number;
}
