import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  ChildWorkflowCancellationType,
  ChildWorkflowFailure,
  type ChildWorkflowOptions,
  condition,
  getExternalWorkflowHandle,
  ParentClosePolicy,
  startChild,
  TerminatedFailure,
  ContinueAsNew,
  continueAsNew,
  patched,
  proxyLocalActivities,
  isCancellation,
  log,
  proxyActivities,
  proxySinks,
  setHandler,
  setCurrentDetails,
  sleep,
  TemporalFailure,
  TimeoutFailure,
  upsertMemo,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities, ResolvedChild, RunStepInput, StepResult } from '../activities';
import {
  cancelSignal,
  eventSignal,
  eventUpdate,
  memoSignal,
  memosQuery,
  memoUpdate,
  PARENT_TOKEN_MEMO_KEY,
  resumeUpdate,
  statusQuery,
  type CancelRequest,
  type ResumeRequest,
  type EventAck,
  type MemoRequest,
} from '../shared/definitions';
import type { Receipt } from '../shared/events';
import { HISTORY_CEILING, isTerminal, RunModel } from '../shared/run-model';
import { MAX_COMMAND_BYTES, overflow } from '../shared/limits';
import type { RunMetricsSinks } from '../shared/metrics';
import { childStory, STATE_KEYS, waitLabel } from '../shared/run-story';
import { ErrorType, OUTCOME_MEMO_KEY, PARKED_MEMO_KEY } from '../shared/names';
import { STEP_INFRA_RETRY, stepBackoffMs } from '../shared/retry';
import type { RunOutcome, RunSpec, RunStatusKind } from '../shared/types';
import { isUndecodable } from '../shared/payload-converter';
import { stepResultProblem } from '../shared/step-result';
import { groupNameProblem, limitQueue } from '../shared/limit-groups';
import { MAX_RETRY_AFTER_MS } from '../shared/retry';
import {
  type CarriedWait,
  type NormalizedRunSpec,
  type RunCarry,
  runSpecTooLarge,
  validateCarry,
  validateRunSpec,
} from '../shared/validate';

export type { RunCarry };

type Activities = ReturnType<typeof createActivities>;

/**
 * `patched()` IDs: each marks a change to the commands this workflow emits, so that runs started
 * by an earlier version replay (see README, "Upgrading"). Never remove one while such runs may
 * still be open.
 */
const Patch = {
  /** A step whose activity cannot even be scheduled fails the run at once instead of being retried. */
  FailUnschedulableStep: 'fail-unschedulable-step',
  /**
   * The first fast-steps version (2026-11-25) asked once per execution, in a local activity,
   * whether the runner is registered with fastSteps(). Later versions learn it from the first
   * step's result and never record this marker; it stays for the runs that did.
   */
  RunnerMode: 'runner-mode',
  /**
   * A fast runner's later steps run in chains of local activities, and a fast run whose worker
   * has no terminal hook for it closes without the hooks local activity. Asked only when a step
   * result says its runner is fast, so regular runs record no marker. The result comes from the
   * activity's worker; the marker records that the worker running the workflow acted on it.
   */
  FastChains: 'fast-chains',
  /** A step in backoff keeps its attempt (and last error) across continue-as-new. */
  CarryAttempt: 'carry-attempt',
  /**
   * A run continues-as-new while it waits (an event, a `continueAfter` sleep, a retry backoff),
   * handing the wait over; it carries a step's memos with its attempt; and past HISTORY_CEILING
   * events during a step or its children it fails instead of meeting Temporal's hard limit. Asked
   * only when one of these happens, so runs that never meet them record no marker.
   */
  ContinueAsNewWhileWaiting: 'continue-as-new-while-waiting',
  /**
   * Internal messages carry proof: a step activity's input holds a token its attempts present to
   * record a memo (the memo update), and a child run starts with a token in its Temporal memo
   * that its parent sends along with its cancel. Asked when the first step activity (or child) of
   * an execution is scheduled, so it costs one marker per execution; runs that never schedule one
   * (fast chains) record none.
   */
  VerifiedMessages: 'verified-messages',
  /**
   * A `cancel` that says `by: "parent"` without the parent's token counts as an ordinary cancel.
   * Asked only when such a cancel arrives: a history recorded before it replays the old way.
   */
  RefuseForgedMessages: 'refuse-forged-messages',
  /**
   * A child that names its own `tenant` header starts with that tenant's fairness key instead of
   * inheriting its parent's. Asked only for such a child, so other runs record no marker.
   */
  ChildOwnFairnessKey: 'child-own-fairness-key',
  /**
   * A wait handed over to an execution that must hand over again before it began (its first
   * task already past maxHistoryEvents) is carried on. Asked only then.
   */
  KeepHandedOverWait: 'keep-handed-over-wait',
  /**
   * A run with `onExhausted: 'park'` whose step's retries are spent (or that threw a permanent
   * error) parks, waiting for `resume`, instead of failing. Asked only when such a run's step
   * would fail it, so other runs record no marker.
   */
  ParkOnExhausted: 'park-on-exhausted',
  /**
   * A step result that is not a step outcome (an operator completed the step by hand with any
   * JSON: `temporal activity complete --result '{}'`) fails the run naming what arrived. Earlier
   * versions ran the step again (`{}`) or failed with an internal error (`null`). Asked only for
   * such a result, so other runs record no marker.
   */
  ValidateStepOutcome: 'validate-step-outcome',
  /**
   * A run about to hand over (continue-as-new while it waits, or between steps) that a cancel, a
   * malformed signal or the deadline interrupted in the same activation ends here instead, with
   * its outcome and webhook. Earlier versions closed as Canceled with neither when Temporal's own
   * cancel met the hand-over, and carried any other interrupt to the next execution. Asked only
   * when an interrupt meets a hand-over, so other runs record no marker.
   */
  HandoverInterrupted: 'handover-interrupted',
  /**
   * A runner registered with `limited(runner, group)` answers a step scheduled on the run's own
   * task queue with a reroute, and the run schedules its steps on `<taskQueue>.limit.<group>`.
   * Asked only when a reroute arrives, so runs of other runners record no marker.
   */
  LimitGroups: 'limit-groups',
  /**
   * A step that threw `StepError.retryAfter(delay)` waits exactly that delay before its next
   * attempt instead of the backoff. Asked only when such a failure arrives.
   */
  RetryAfter: 'retry-after',
  /**
   * A run whose `step.usage` totals passed its `maxCostUsd` or `maxTokens` fails (or parks) instead
   * of going on. Asked only when a budget is passed.
   */
  UsageBudgets: 'usage-budgets',
  /**
   * The run tells its story to the Temporal UI (issue 27): its timers carry a label (`deadline`,
   * `wait for approve | reject`, `sleep before step 4`, `backoff before attempt 2 of step 1`), its
   * children start with a summary and details, and a run that started with the `DurableRunsState`
   * search attribute upserts it (with `DurableRunsStep`) when its state changes. Asked at the first
   * of these in an execution, so a run that only runs steps records no marker.
   */
  RunStory: 'run-story',
} as const;

/**
 * How long a limited runner's step may wait on its group's queue before the run asks the run's
 * own queue again where it goes: no worker may serve that group any more (a deploy renamed it or
 * took `limited()` off). Long, as a rate limit's backlog legitimately holds steps back.
 */
const LIMITED_SCHEDULE_TO_START_MS = 15 * 60_000;

/**
 * Fast steps run inside a workflow task, which holds signals and queries until it completes: a
 * chain of them in one local activity stops after this much step time, and the run then lets the
 * task complete (a 1 ms timer), so a cancel, an event or a status query waits about this long.
 */
const FAST_CHAIN_MS = 500;
/** `local-each` runs (one local activity a step) let the task complete after this many steps. */
const FAST_CHAIN_STEPS = 50;
/** A chain of fast steps in one local activity stops after this many steps (a crash re-runs them). */
const FAST_CHAIN_MAX_STEPS = 1000;
/** A fast step may run this long at most (its workflow task is held meanwhile). */
const FAST_STEP_TIMEOUT_MS = 5 * 60_000;

const { runnerMode } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10s',
  retry: { initialInterval: '1s', maximumAttempts: 3 },
});

const { requestCancellation, readRunOutcome } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '10s' },
});

// A local activity: one marker event per run instead of an activity's six, and still at-least-once
// (a worker lost mid-hook means the workflow task is retried and the hooks run again). No attempt
// limit here: the activity bounds itself by time (it gives up starting the webhook delivery after
// the worker's DURABLE_RUNS_WEBHOOK_START_GIVE_UP_MS on a refusal that needs an operator, after a
// day on an outage; user hooks get USER_HOOK_ATTEMPTS), and then fails for good, so the run closes.
// The retry policy is not part of any command, so runs in flight replay either way.
const { runTerminalHooks } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '5m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});

/** The history length past which a waiting run hands over at most (see HISTORY_CEILING). */
const HANDOVER_CAP = 30_000;
/**
 * Updates an execution takes before a waiting run hands over: the server refuses any update past
 * 2,000 per execution (`history.maxTotalUpdates`), and a new execution starts a new count.
 */
const UPDATE_HANDOVER = 1_800;

/** What a step input or a carry holds beside the parts that can grow (run ID, step, names, times). */
const ROOM_FOR_SMALL_FIELDS = 4096;

const iso = (ms: number): string => new Date(ms).toISOString();

function messageOf(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return messageOf(err.cause);
  if (err instanceof TimeoutFailure) return `step ${err.message || 'timed out'}`;
  if (err instanceof Error) return err.message;
  return String(err);
}

const { durableRunsMetrics } = proxySinks<RunMetricsSinks>();

/**
 * Tells the worker that this activation closes the run, for `durable_runs_runs_closed_total`. The
 * worker counts it once the server accepted the closing workflow task: counted here, a task that
 * failed after the close (and ran again, not replaying) counted the run twice. A sink emits no
 * command and is not called while replaying.
 */
function countClosed(status: RunStatusKind): void {
  durableRunsMetrics.runClosing(status);
}

/** Why the `event` update refuses an event: the failure its sender gets (no history is written). */
function eventRefusal(receipt: Exclude<Receipt, { kind: 'accepted' }> | { kind: 'closing' }): ApplicationFailure {
  switch (receipt.kind) {
    case 'closing':
      return ApplicationFailure.create({
        type: ErrorType.RunClosing,
        message: 'the run is closing',
        nonRetryable: true,
      });
    case 'duplicate':
      return ApplicationFailure.create({
        type: ErrorType.DuplicateEvent,
        message: `the run has already received an event with id ${receipt.id}`,
        nonRetryable: true,
      });
    case 'refused':
      return ApplicationFailure.create({
        type: receipt.cause === 'full' ? ErrorType.EventRefused : ErrorType.InvalidEvent,
        message: receipt.reason,
        nonRetryable: true,
      });
  }
}

function memoRefusal(reason: string): ApplicationFailure {
  return ApplicationFailure.create({ type: ErrorType.MemoRefused, message: reason, nonRetryable: true });
}

function resumeRefusal(reason: string): ApplicationFailure {
  return ApplicationFailure.create({ type: ErrorType.ResumeRefused, message: reason, nonRetryable: true });
}

/** The details a failed step attempt carries (usage, retry-after), if it carries any. */
function failureDetails(err: unknown): { usage?: unknown; retryAfterMs?: unknown } | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  const details: unknown =
    cause instanceof ApplicationFailure || cause instanceof CancelledFailure ? cause.details?.[0] : undefined;
  return typeof details === 'object' && details !== null ? details : undefined;
}

/** `StepError.retryAfter`'s delay in a failed attempt's details, when it is one the run honours. */
function retryAfterOf(details: { retryAfterMs?: unknown } | undefined): number | undefined {
  const ms = details?.retryAfterMs;
  return typeof ms === 'number' && Number.isSafeInteger(ms) && ms >= 0 && ms <= MAX_RETRY_AFTER_MS ? ms : undefined;
}

function isScheduleToStartTimeout(err: unknown): boolean {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof TimeoutFailure && cause.timeoutType === 'SCHEDULE_TO_START';
}

function failureType(err: unknown): string | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
}

/**
 * A durable run: calls the run's step runner through `runStep` until it succeeds, fails or is
 * cancelled. Workflow ID = run ID. See DESIGN.md for the contract.
 */
export async function durableRun(rawSpec: RunSpec, rawCarry?: RunCarry): Promise<RunOutcome> {
  const runId = workflowInfo().workflowId;
  let spec: NormalizedRunSpec;
  let carry: RunCarry | undefined;
  try {
    // The worker's payload converter never throws: what it could not decode arrives as a marker
    // that these checks name, so a bad argument fails the run instead of its workflow task.
    spec = validateRunSpec(rawSpec);
    carry = validateCarry(rawCarry);
  } catch (err) {
    countClosed('failed');
    throw ApplicationFailure.create({ type: ErrorType.InvalidRunSpec, message: messageOf(err), nonRetryable: true });
  }

  // Asked only when there is an attempt to carry: a worker that ignores it would run out of
  // retries at another attempt than one that counts it.
  if (carry?.attempt !== undefined && !patched(Patch.CarryAttempt)) {
    const { attempt: _attempt, lastError: _lastError, ...rest } = carry;
    carry = rest;
  }
  // The first execution's start is the submission; a continued one gets the deadline in its carry.
  const run = new RunModel(runId, spec, carry, workflowInfo().startTime.getTime(), () =>
    patched(Patch.ContinueAsNewWhileWaiting),
  );
  let storyTold: boolean | undefined;
  /** Whether this execution tells its story (see Patch.RunStory); asked at its first label or upsert. */
  const story = (): boolean => (storyTold ??= patched(Patch.RunStory));
  /** A timer's options: its label, for this version's runs. */
  const labelled = (summary: string) => (story() ? { summary } : undefined);
  /**
   * The `DurableRunsState` the run last put in visibility: what it started with (the client sets
   * it only where the namespace has it), or what the execution before this one left.
   */
  let shownState = workflowInfo().typedSearchAttributes.get(STATE_KEYS.state);
  /** A continued execution that resumes a wait: its state stays the wait's until the wait resumes. */
  let resuming = carry?.wait !== undefined;
  /**
   * Upserts the run's state when it changed: a run that only runs steps upserts nothing, one that
   * waits upserts `waiting` and then `running`. A close is upserted only from a state other than
   * running, so that no filter on a waiting, sleeping or parked state finds a closed run.
   */
  const tellState = (): void => {
    const { state } = run;
    if (shownState === undefined || state === shownState || state === 'scheduled') return;
    if (resuming && state === 'running') return;
    if (isTerminal(state) && shownState === 'running') return;
    if (!story()) {
      shownState = undefined;
      return;
    }
    shownState = state;
    upsertSearchAttributes([
      { key: STATE_KEYS.state, value: state },
      { key: STATE_KEYS.step, value: run.step },
    ]);
  };
  const report = (): void => {
    setCurrentDetails(run.details());
    tellState();
  };

  /**
   * The scope of every step and timer. One for the whole execution: a cancel ends the run, so it
   * is cancelled at most once, and a scope per step cost two more traced promises a step.
   */
  let stepScope: CancellationScope | undefined;
  let interruptQueued = false;
  /**
   * Cancels the running step or timer once the activation's other jobs are applied (conditions
   * are checked after them), so a step or timer that finished in the same activation is never
   * asked to cancel after the fact. It waits on one condition per cancel rather than one per step:
   * the SDK captures a stack trace for every promise a workflow makes, which made the per-step
   * condition the largest part of the worker's CPU per step beyond the baseline's.
   */
  const interrupt = (): void => {
    if (interruptQueued) return;
    interruptQueued = true;
    const done = () => {
      interruptQueued = false;
    };
    // Cancelled only when the whole run is, which reaches the running scope by itself.
    void condition(() => true).then(() => {
      done();
      // Nothing runs in it between steps: what starts next in it then fails at once, and the loop
      // ends the run. A step that finished in this activation has resolved and is not cancelled.
      stepScope?.cancel();
    }, done);
  };

  /** Whether this execution gives its steps and children tokens (see Patch.VerifiedMessages). */
  let verified = false;
  const verifiedMessages = (): boolean => (verified ||= patched(Patch.VerifiedMessages));
  const parentToken: unknown = workflowInfo().memo?.[PARENT_TOKEN_MEMO_KEY];
  /**
   * A cancel that says it comes from the parent counts as the parent's with the token the parent
   * gave this run at start; without it, only in a history recorded before tokens existed.
   */
  const fromParent = (token: unknown): boolean =>
    (typeof parentToken === 'string' && token === parentToken) || !patched(Patch.RefuseForgedMessages);

  /** Updates this execution took (accepted by their validators); see UPDATE_HANDOVER. */
  let updatesTaken = 0;
  setHandler(statusQuery, () => run.status());
  setHandler(cancelSignal, (request?: CancelRequest) => {
    const wasCancel = run.cancel;
    if (!run.onCancelSignal(request, fromParent)) return;
    if (run.cancel && !wasCancel) report();
    interrupt();
  });
  // A malformed, duplicate or refused event never fails the run: refusals are reported in lastError.
  setHandler(eventSignal, (raw: unknown) => {
    if (run.onEvent(raw, new Date().toISOString(), uuid4())) report();
  });
  // The same event as an update: the validator refuses what the run would not keep, so a refused
  // event writes no history and its sender hears why.
  setHandler(
    eventUpdate,
    (raw: unknown): EventAck => {
      updatesTaken += 1;
      const receipt = run.takeEvent(raw, new Date().toISOString(), uuid4());
      if (receipt.kind !== 'accepted') throw eventRefusal(receipt);
      report();
      return { id: receipt.id, pendingEvents: run.inbox.size };
    },
    {
      validator: (raw: unknown) => {
        const receipt = run.checkEvent(raw);
        if (receipt.kind !== 'accepted') throw eventRefusal(receipt);
      },
    },
  );
  setHandler(
    memoUpdate,
    (raw: unknown): unknown => {
      updatesTaken += 1;
      const refused = run.checkMemo(raw);
      if (refused !== undefined) throw memoRefusal(refused);
      return run.recordMemo(raw as MemoRequest);
    },
    {
      validator: (raw: unknown) => {
        const refused = run.checkMemo(raw);
        if (refused !== undefined) throw memoRefusal(refused);
      },
    },
  );
  // The memo signal of earlier versions: only for a step scheduled without a token (see RunModel.onMemo).
  setHandler(memoSignal, (record: unknown) => {
    if (!run.onMemo(record)) log.warn('durableRuns.memo signal ignored (the step records memos by update)', { runId });
  });
  setHandler(memosQuery, (forStep: unknown) => run.memosFor(forStep));
  // Refused by its validator (no history written) unless the run is parked.
  setHandler(
    resumeUpdate,
    (raw?: ResumeRequest): { step: number } => {
      updatesTaken += 1;
      const refused = run.checkResume(raw);
      if (refused !== undefined) throw resumeRefusal(refused);
      const ack = run.resume(raw);
      report();
      return ack;
    },
    {
      validator: (raw?: ResumeRequest) => {
        const refused = run.checkResume(raw);
        if (refused !== undefined) throw resumeRefusal(refused);
      },
    },
  );
  CancellationScope.current().cancelRequested.catch(() => run.onServerCancel());
  // The time budget counts from submission: `startTime` is the current execution's start, so a
  // continued execution learns when the deadline passes from its carry.
  if (run.deadlineAt !== undefined) {
    const remaining = run.deadlineAt - Date.now();
    if (remaining <= 0) run.onDeadline();
    else
      void sleep(remaining, labelled('deadline')).then(
        () => {
          if (!run.onDeadline()) return;
          report();
          interrupt();
        },
        () => undefined,
      );
  }
  // A step or its children cannot hand over to a new execution: past the ceiling the run stops
  // them and fails, with its webhook, rather than meet Temporal's hard limit, which ends it silently.
  const watchHistory = (after: number): void =>
    void condition(() => workflowInfo().historyLength > Math.max(HISTORY_CEILING, after)).then(
      () => {
        if (isTerminal(run.state)) return;
        // An earlier version's run went on: so does its replay, asking again at its next task.
        if (!patched(Patch.ContinueAsNewWhileWaiting)) return watchHistory(workflowInfo().historyLength);
        if (run.onHistoryCeiling()) {
          report();
          interrupt();
        }
      },
      () => undefined,
    );
  watchHistory(0);

  /**
   * Whether the run closes through the terminal-hooks local activity: unless it runs fast steps
   * in chains and the last step's result said its worker has no hook for the run.
   */
  let hooksWanted = true;

  /** Records the outcome, runs the terminal hooks, and closes the workflow with the matching status. */
  const finish = async (outcome: RunOutcome): Promise<RunOutcome> => {
    run.state = outcome.status;
    countClosed(outcome.status);
    const { result: _result, ...summary } = outcome;
    // A Completed run's result is its outcome; the others keep theirs in the memo for the client.
    if (outcome.status !== 'succeeded') upsertMemo({ [OUTCOME_MEMO_KEY]: { ...summary, runner: spec.runner } });
    report();
    await CancellationScope.nonCancellable(async () => {
      // The last step's worker said it has no hook for this run: nothing to run.
      if (!hooksWanted) return;
      try {
        await runTerminalHooks(outcome);
      } catch (err) {
        log.warn('terminal hooks failed; the run outcome stands', { runId, error: messageOf(err) });
      }
    });
    if (outcome.status === 'succeeded') return outcome;
    if (outcome.status === 'failed') {
      throw ApplicationFailure.create({
        type: ErrorType.RunFailed,
        message: outcome.error ?? 'run failed',
        nonRetryable: true,
        details: [summary],
      });
    }
    // The SDK closes a workflow as Canceled only when the server holds a cancel request for it.
    // For a `cancel` signal or a runner's own verdict, the run asks the server to cancel itself.
    if (!run.serverCancelled) {
      await CancellationScope.nonCancellable(() => requestCancellation(runId));
      try {
        await condition(() => run.serverCancelled);
      } catch (err) {
        if (!isCancellation(err)) throw err;
      }
    }
    // The summary rides along for a parent run that reads its child's outcome.
    throw new CancelledFailure(outcome.error ?? 'cancelled', [summary]);
  };

  const fail = (error: string) => finish({ ...run.outcomeBase(), status: 'failed', error });
  const cancelled = () =>
    finish({
      ...run.outcomeBase(),
      status: 'cancelled',
      error: run.cancel?.reason ?? null,
      cancelledBy: run.cancelledBy(),
    });

  /**
   * Runs `fn` in a scope that a cancel (signal or Temporal) interrupts. Not an async function: one
   * traced promise fewer a step.
   */
  const interruptible = <T>(fn: () => Promise<T>): Promise<T> => {
    stepScope ??= new CancellationScope();
    if (run.interruptPending) interrupt();
    return stepScope.run(fn);
  };

  /**
   * Whether the history is long enough for a waiting run to hand its wait over to a new execution.
   * Capped below HISTORY_CEILING, where a run that cannot hand over fails.
   */
  const historyFull = (): boolean => {
    const info = workflowInfo();
    return (
      info.continueAsNewSuggested ||
      info.historyLength > Math.min(spec.maxHistoryEvents, HANDOVER_CAP) ||
      updatesTaken >= UPDATE_HANDOVER
    );
  };

  /**
   * Waits, interruptibly, until `done()` holds (`'done'`), `timeoutMs` passes (`'timeout'`), or the
   * history is long enough to hand the wait over (`'handover'`). The same commands as
   * `condition(done, timeoutMs)` (a `sleep` with `done` never true): one timer, cancelled if the
   * wait ends otherwise.
   */
  const waitFor = (
    done: () => boolean,
    timeoutMs: number | undefined,
    label?: string,
  ): Promise<'done' | 'timeout' | 'handover'> =>
    // A zero timeout keeps `condition`'s own handling of it (an SDK patch marker).
    timeoutMs === 0
      ? interruptible(() => condition(done, 0)).then((arrived) => (arrived ? 'done' : 'timeout'))
      : interruptible(() =>
          CancellationScope.cancellable(async () => {
            try {
              const timer =
                timeoutMs === undefined
                  ? undefined
                  : sleep(Math.max(1, timeoutMs), label === undefined ? undefined : labelled(label)).then(
                      () => 'timeout' as const,
                    );
              for (let refusedAt = 0; ;) {
                const at = refusedAt;
                const ended = condition(() => done() || (historyFull() && workflowInfo().historyLength > at)).then(
                  () => (done() ? ('done' as const) : ('handover' as const)),
                );
                const end = await (timer ? Promise.race([timer, ended]) : ended);
                if (end !== 'handover' || patched(Patch.ContinueAsNewWhileWaiting)) return end;
                // Replaying an earlier version's run, which waited on: ask again at its next task.
                refusedAt = workflowInfo().historyLength;
              }
            } finally {
              CancellationScope.current().cancel();
            }
          }),
        );

  /**
   * Continues-as-new with `next`, or fails the run when the input and the carry together would
   * not fit in the command (Temporal would refuse it and end the run without its webhook).
   */
  const continueWith = async (next: RunCarry): Promise<never> => {
    const tooLarge = overflow(
      'the continue-as-new carry',
      {
        input: spec.input,
        headers: spec.headers,
        payload: next.payload,
        'pending events': next.events?.pending,
        'remembered event IDs': next.events?.seen,
        'delivered (event or children outcomes)': next.delivered,
        memos: next.memos,
      },
      MAX_COMMAND_BYTES - ROOM_FOR_SMALL_FIELDS,
    );
    if (tooLarge && patched(Patch.ContinueAsNewWhileWaiting)) {
      await fail(tooLarge);
      throw new Error('unreachable: a failed run closes');
    }
    return await continueAsNew<typeof durableRun>(spec, next);
  };

  /**
   * Lets the activation's other jobs apply, then says whether the run may hand over to a new
   * execution. Not when a cancel, a malformed signal or the deadline came in the same activation:
   * the caller then returns as if interrupted, and the loop's top ends the run with its outcome.
   */
  const mayHandOver = async (): Promise<boolean> => {
    await CancellationScope.nonCancellable(() => condition(() => true));
    if (!run.interruptPending) return true;
    if (patched(Patch.HandoverInterrupted)) return false;
    // An earlier version's run, replayed: Temporal's cancel closed it right here (its wait for the
    // activation's other jobs was cancellable), and any other interrupt went on to the next execution.
    if (CancellationScope.current().consideredCancelled) throw new CancelledFailure('Workflow cancelled');
    return true;
  };

  /**
   * Continues-as-new in the middle of `wait`, which the next execution resumes; its next step gets
   * `payload`. Returns (false) only when an interrupt came first (see mayHandOver).
   */
  const handOver = async (wait: CarriedWait, payload: unknown): Promise<false> => {
    if (await mayHandOver()) await continueWith(run.carryForward({ wait, payload }, true));
    return false;
  };

  /**
   * Waits for an event named in `names` (until `untilMs`, if given), then goes on to the next step
   * with `payload` and what ended the wait. Interrupted, it returns and the loop's top ends the run.
   */
  const waitForEvent = async (names: string[], untilMs: number | undefined, payload: unknown): Promise<void> => {
    run.beginWait(names, untilMs);
    report();
    let end;
    try {
      end = await waitFor(
        () => run.inbox.has(names),
        untilMs === undefined ? undefined : Math.max(0, untilMs - Date.now()),
        waitLabel(names),
      );
    } catch (err) {
      run.abandonWait();
      if (!isCancellation(err)) throw err;
      return;
    }
    if (end === 'handover') {
      await handOver({ kind: 'event', names, ...(untilMs !== undefined ? { until: iso(untilMs) } : {}) }, payload);
      run.abandonWait();
      return;
    }
    run.advance(payload, run.endWait(end === 'done'));
    report();
  };

  /** Sleeps until `untilMs`; returns false when interrupted (the loop's top then ends the run). */
  const sleepUntil = async (
    untilMs: number,
    handover: () => [CarriedWait, unknown],
    label: string,
  ): Promise<boolean> => {
    try {
      if ((await waitFor(() => false, untilMs - Date.now(), label)) === 'handover')
        return await handOver(...handover());
      return true;
    } catch (err) {
      if (!isCancellation(err)) throw err;
      return false;
    }
  };

  /**
   * Starts the step's children, at most `maxConcurrent` at once, and returns their outcomes in
   * order; undefined when a cancel, a bad signal or the deadline interrupts: then no more children
   * start, the open ones are cancelled (`cancelledBy: 'parent'`), and it returns once they closed.
   * Children start outside the interruptible scope so that Temporal does not cancel them itself:
   * the run cancels them with the `cancel` signal, which tells them who did.
   */
  const runChildren = async (children: ResolvedChild[], maxConcurrent: number): Promise<RunOutcome[] | undefined> => {
    run.beginChildren(children.length);
    report();
    const outcomes: RunOutcome[] = new Array<RunOutcome>(children.length);
    const started = new Set<string>();
    /** The token each child got at start, which proves the parent's cancel to it. */
    const tokens = new Map<string, string>();
    let next = 0;
    let stopping = false;
    const cancelChild = (id: string) => {
      const token = tokens.get(id);
      const request: CancelRequest = { reason: 'parent run cancelled', by: 'parent', ...(token ? { token } : {}) };
      return getExternalWorkflowHandle(id)
        .signal(cancelSignal, request)
        .catch(() => undefined);
    };
    const lane = async (): Promise<void> => {
      while (!stopping && next < children.length) {
        const index = next++;
        const child = children[index]!;
        if (verifiedMessages()) tokens.set(child.runId, uuid4());
        // Named in the UI by runner and index; started with the run-state attributes where the parent has them.
        const ui = story()
          ? childStory(child.spec, index, {
              parentRunId: runId,
              count: children.length,
              attributes: shownState !== undefined,
            })
          : {};
        outcomes[index] = await childOutcome(child, tokens.get(child.runId), ui, () => {
          started.add(child.runId);
          if (stopping) void cancelChild(child.runId);
        });
        started.delete(child.runId);
        run.childClosed();
        report();
      }
    };
    let settled = false;
    const lanes = CancellationScope.nonCancellable(() =>
      Promise.all(Array.from({ length: Math.min(maxConcurrent, children.length) }, lane)),
    ).finally(() => {
      settled = true;
    });
    try {
      await interruptible(() => condition(() => settled));
      await lanes;
      return outcomes;
    } catch (err) {
      if (!isCancellation(err)) throw err;
      stopping = true;
      await CancellationScope.nonCancellable(async () => {
        await Promise.all([...started].map(cancelChild));
        await lanes;
      });
      return undefined;
    } finally {
      run.endChildren();
    }
  };

  /**
   * How the steps go. `activity`: one activity a step, the default; the first step of each
   * execution also asks for a chain, which only a runner registered with fastSteps() runs, and
   * says so. `chain`: that runner's later steps, in chains of at most FAST_CHAIN_MS of steps per
   * local activity. `local-each`: one local activity a step, for runs begun by the first fast-steps
   * version, which asked for the runner's mode in a local activity of its own (Patch.RunnerMode).
   */
  let mode: 'activity' | 'chain' | 'local-each' = 'activity';
  /** Whether a step's result told already whether the runner is a fast one. */
  let modeKnown = false;
  // Only a replay can meet that version's marker: new runs never ask (and record no marker).
  if (workflowInfo().unsafe.isReplaying && patched(Patch.RunnerMode)) {
    try {
      if ((await runnerMode(spec.runner)) === 'fast') mode = 'local-each';
    } catch (err) {
      log.warn('could not ask for the runner mode; steps run as activities', { runId, error: messageOf(err) });
    }
    modeKnown = true;
  }
  const chain = { steps: 0, ms: 0 };
  /** After a fast step (`local-each`): lets the workflow task complete once the chain is long enough. */
  const yieldAfterFastStep = async (elapsedMs: number | undefined): Promise<void> => {
    chain.steps += 1;
    chain.ms += elapsedMs ?? 0;
    if (chain.steps < FAST_CHAIN_STEPS && chain.ms < FAST_CHAIN_MS) return;
    chain.steps = 0;
    chain.ms = 0;
    await yieldTask();
  };
  /**
   * Lets the workflow task complete (a 1 ms timer), so that signals and queries held while local
   * activities ran get in. Not interruptible: a cancel waits the 1 ms out and is seen at the top
   * of the loop. A timer cancelled while it fires costs a CancelTimer the server may refuse (the
   * time-skipping test server does, and then never redelivers the task: temporalio/sdk-java#3088).
   */
  const yieldTask = () => CancellationScope.nonCancellable(() => sleep(1));

  /** A step's attempt failed: the run fails, or waits out the backoff. Returns the run's end, if it ended. */
  const attemptFailed = async (
    type: string | undefined,
    message: string,
    retryAfterMs?: number,
  ): Promise<RunOutcome | undefined> => {
    let next = run.stepFailed(type, message);
    // Its usage passed a budget: no further attempt spends more.
    const spent = next.kind === 'retry' ? run.budgetPassed() : undefined;
    if (spent && patched(Patch.UsageBudgets)) next = { kind: 'fail', error: spent };
    if (next.kind === 'fail') {
      if (spec.onExhausted === 'park' && patched(Patch.ParkOnExhausted)) {
        run.park(run.attempt, next.error);
        await parkStep();
        return undefined;
      }
      return await fail(next.error);
    }
    report();
    const delayMs =
      retryAfterMs !== undefined && patched(Patch.RetryAfter) ? retryAfterMs : stepBackoffMs(next.attempt);
    await backoffUntil(Date.now() + delayMs);
    return undefined;
  };
  /** Waits out a failed attempt's backoff until `untilMs`, then on to the next attempt (or the loop's top). */
  const backoffUntil = async (untilMs: number): Promise<void> => {
    await sleepUntil(
      untilMs,
      () => [{ kind: 'backoff', until: iso(untilMs) }, run.payload],
      `backoff before attempt ${run.attempt + 1} of step ${run.step}`,
    );
    run.backoffDone();
    // The next attempt runs: the state says so again.
    report();
  };

  /**
   * Waits, holding no worker, while the step is parked: until `resume` (then the loop runs it again
   * at attempt 1), or a cancel or the deadline interrupts (the loop's top ends the run). A long
   * wait hands over to a new execution, which parks again. The run's Temporal memo says it is
   * parked meanwhile, for `list --state parked`.
   */
  const parkStep = async (): Promise<void> => {
    report();
    const memo = () => workflowInfo().memo?.[PARKED_MEMO_KEY];
    // A continued execution has the memo of the one before it.
    if (run.parked && memo() === undefined) upsertMemo({ [PARKED_MEMO_KEY]: run.parkedMemo() });
    if (run.parked) {
      let end;
      try {
        end = await waitFor(() => run.parked === undefined, undefined);
      } catch (err) {
        if (!isCancellation(err)) throw err;
        return;
      }
      if (end === 'handover') {
        if (!(await mayHandOver())) return;
        if (run.parked) {
          return await continueWith(
            run.carryForward({ wait: { kind: 'parked', ...run.parked }, payload: run.payload }, true),
          );
        }
      }
    }
    if (memo() !== undefined) upsertMemo({ [PARKED_MEMO_KEY]: null });
    report();
  };

  /** The wait a continued execution resumes before it runs any step. */
  let resume = carry?.wait;
  // A new run's input leaves room for what it carries; one started around the client (the
  // Temporal CLI, the UI) is checked here.
  const tooLarge = carry === undefined ? runSpecTooLarge(spec) : undefined;

  try {
    report();
    if (tooLarge && patched(Patch.ContinueAsNewWhileWaiting)) return await fail(tooLarge);
    for (;;) {
      if (run.badSignal) return await fail(run.badSignal);
      if (run.cancel) return await cancelled();
      const spent = run.budgetSpent();
      if (spent) return await fail(spent);
      const info = workflowInfo();
      if (info.continueAsNewSuggested || info.historyLength > spec.maxHistoryEvents) {
        // Interrupted meanwhile: the loop's top ends the run.
        if (!(await mayHandOver())) continue;
        // A parked step resumed meanwhile: nothing left to hand on but its new attempt.
        if (resume?.kind === 'parked' && !run.parked) {
          resume = undefined;
          resuming = false;
        }
        // A wait handed over to this execution, whose first task came already past the limit
        // (events that arrived before it began): the wait goes on to the next one. Earlier
        // versions dropped it, and a step in backoff ran its failed attempt again at once.
        if (resume && patched(Patch.KeepHandedOverWait)) {
          return await continueWith(run.carryForward({ wait: resume, payload: run.payload }, true));
        }
        // Asked only when a retried step has memos: a memoised effect is not done again.
        const memos = Object.keys(run.memos).length > 0 && patched(Patch.ContinueAsNewWhileWaiting);
        return await continueWith(run.carryForward(undefined, memos));
      }
      if (resume) {
        const wait = resume;
        resume = undefined;
        resuming = false;
        if (wait.kind === 'event') {
          await waitForEvent(wait.names, wait.until === undefined ? undefined : Date.parse(wait.until), run.payload);
        } else if (wait.kind === 'backoff') {
          report();
          await backoffUntil(Date.parse(wait.until));
        } else if (wait.kind === 'parked') {
          await parkStep();
        } else {
          run.beginSleep();
          report();
          const payload = run.payload;
          if (await sleepUntil(Date.parse(wait.until), () => [wait, payload], `sleep before step ${run.step + 1}`)) {
            run.advance(payload);
            report();
          }
        }
        continue;
      }

      let result: StepResult;
      const local = mode !== 'activity';
      // Fast steps cannot record memos: only a step activity gets a token.
      if (!local && run.stepToken === undefined) run.stepToken = verifiedMessages() ? uuid4() : null;
      const input: RunStepInput =
        mode === 'chain' || !modeKnown
          ? {
              ...run.stepInput(),
              chain: {
                maxSteps: Math.min(FAST_CHAIN_MAX_STEPS, (spec.maxSteps ?? Infinity) - run.step),
                maxMs: FAST_CHAIN_MS,
              },
            }
          : run.stepInput();
      // Children's outcomes, memos and the payload together must fit in the activity's input.
      const tooLarge = overflow(
        `step ${run.step}'s input`,
        {
          payload: input.payload,
          headers: input.headers,
          event: input.event,
          "children's outcomes": input.children,
          memos: input.memos,
        },
        MAX_COMMAND_BYTES - ROOM_FOR_SMALL_FIELDS,
      );
      if (tooLarge && patched(Patch.ContinueAsNewWhileWaiting)) return await fail(tooLarge);
      try {
        result = await interruptible(() =>
          local
            ? proxyLocalActivities<Activities>({
                startToCloseTimeout: Math.min(spec.stepTimeoutMs, FAST_STEP_TIMEOUT_MS),
                retry: STEP_INFRA_RETRY,
                cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                summary: `step ${run.step}`,
              }).runStep(input)
            : proxyActivities<Activities>({
                startToCloseTimeout: spec.stepTimeoutMs,
                heartbeatTimeout: spec.heartbeatTimeoutMs,
                retry: STEP_INFRA_RETRY,
                cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                summary: `step ${run.step}`,
                ...(run.group !== undefined
                  ? {
                      taskQueue: limitQueue(workflowInfo().taskQueue, run.group),
                      scheduleToStartTimeout: LIMITED_SCHEDULE_TO_START_MS,
                    }
                  : {}),
              }).runStep(input),
        );
      } catch (err) {
        // What the attempt used counts however the run goes on (a failure's or a cancel's details).
        const failed = failureDetails(err);
        const usageProblem = run.addUsage(failed?.usage);
        if (usageProblem) log.warn('step failure carried malformed usage; ignored', { runId, problem: usageProblem });
        if (run.badSignal) return await fail(run.badSignal);
        // No worker took the step from its group's queue: ask the run's own queue again.
        if (run.group !== undefined && isScheduleToStartTimeout(err) && !run.cancel) {
          run.group = undefined;
          continue;
        }
        const limit = run.cancel ? undefined : run.limitReached();
        if (limit) return await fail(limit);
        if (run.cancel || isCancellation(err)) {
          run.cancel ??= { reason: null, by: 'temporal' };
          return await cancelled();
        }
        // Not a failure of the step but of scheduling it (e.g. a payload the converter cannot
        // encode): trying again would fail the same way. Earlier versions retried it.
        if (!(err instanceof TemporalFailure) && patched(Patch.FailUnschedulableStep)) {
          return await fail(`step ${run.step} could not be scheduled: ${messageOf(err)}`);
        }
        const ended = await attemptFailed(failureType(err), messageOf(err), retryAfterOf(failed));
        if (ended) return ended;
        continue;
      }

      if (isUndecodable(result)) return await fail(`step ${run.step}: step outcome: ${result.reason}`);
      // A limited runner: its steps go to its group's queue from now on (the runner did not run).
      if (result.kind === 'reroute' && typeof result.group === 'string' && patched(Patch.LimitGroups)) {
        if (groupNameProblem(result.group) !== undefined) {
          return await fail(`step ${run.step}: the worker named a limit group that cannot be: ${result.group}`);
        }
        run.group = result.group;
        continue;
      }
      const notAnOutcome = stepResultProblem(result);
      if (notAnOutcome !== undefined && patched(Patch.ValidateStepOutcome)) {
        return await fail(`step ${run.step}: the step's result is not a step outcome: ${notAnOutcome}`);
      }
      if (!modeKnown) {
        modeKnown = true;
        if (result.fast && patched(Patch.FastChains)) mode = 'chain';
      }
      if (result.usage !== undefined) {
        const usageProblem = run.addUsage(result.usage);
        if (usageProblem) log.warn('step result carried malformed usage; ignored', { runId, problem: usageProblem });
      }
      // In chain mode only: Patch.FastChains, recorded when the mode was taken, covers it.
      hooksWanted = mode !== 'chain' || result.hooks !== false;
      // A chain ran `chained` steps: all but the last returned `continue`; the outcome is the last one's.
      const chained = mode === 'chain' && Number.isSafeInteger(result.chained) ? result.chained! : 1;
      if (chained > 1) run.skipAhead(chained - 1);
      // A runner's own cancel wins over an outside cancel; an outside cancel wins over anything else.
      if (result.kind === 'cancel') {
        run.cancel = { reason: result.reason, by: 'runner' };
        return await cancelled();
      }
      if (run.badSignal) return await fail(run.badSignal);
      if (run.cancel) return await cancelled();
      const limit = run.limitReached();
      if (limit) return await fail(limit);
      // Its usage passed a budget: the run stops before it spends more. A verdict that ends the
      // run stands (what it cost is spent); a step in a chain that failed next is seen below.
      const overBudget = result.kind === 'succeed' || result.kind === 'fail' ? undefined : run.budgetPassed();
      if (overBudget && patched(Patch.UsageBudgets)) {
        if (spec.onExhausted !== 'park') return await fail(overBudget);
        // Parked holding what the step returned: a resume with a higher budget goes on with it.
        run.park(run.attempt, overBudget, true);
        await parkStep();
        if (run.parked || run.interruptPending) continue;
      }
      switch (result.kind) {
        case 'succeed':
          return await finish({ ...run.outcomeBase(), status: 'succeeded', result: result.result });
        case 'fail':
          return await fail(result.reason);
        case 'runChildren': {
          const outcomes = await runChildren(result.children, result.maxConcurrent);
          if (!outcomes) continue; // interrupted: the loop's top ends the run
          run.advance(result.payload, { children: outcomes });
          report();
          continue;
        }
        case 'waitForEvent':
          await waitForEvent(
            result.events,
            result.timeoutMs === undefined ? undefined : Date.now() + result.timeoutMs,
            result.payload,
          );
          continue;
        case 'continue':
        case 'continueAfter':
          if (result.kind === 'continueAfter' && result.delayMs > 0) {
            run.beginSleep();
            report();
            const untilMs = Date.now() + result.delayMs;
            const { payload } = result;
            const label = `sleep before step ${run.step + 1}`;
            if (!(await sleepUntil(untilMs, () => [{ kind: 'sleep', until: iso(untilMs) }, payload], label))) continue;
          }
          run.advance(result.payload);
          report();
          if (result.nextFailed) {
            const { type, message, retryAfterMs } = result.nextFailed;
            const ended = await attemptFailed(
              type,
              message,
              typeof retryAfterMs === 'number' ? retryAfterMs : undefined,
            );
            if (ended) return ended;
          } else if (mode === 'local-each') {
            await yieldAfterFastStep(result.elapsedMs);
          } else if (local) {
            await yieldTask();
          }
      }
    }
  } catch (err) {
    // Anything unexpected fails the run with its message instead of retrying the workflow task forever.
    if (err instanceof TemporalFailure || isCancellation(err) || err instanceof ContinueAsNew) throw err;
    countClosed('failed');
    throw ApplicationFailure.create({
      type: ErrorType.RunFailed,
      message: `internal error: ${messageOf(err)}`,
      nonRetryable: true,
    });
  }
}

/** Starts one child run and waits for its outcome, whatever its close status. */
async function childOutcome(
  child: ResolvedChild,
  token: string | undefined,
  ui: Pick<ChildWorkflowOptions, 'staticSummary' | 'staticDetails' | 'typedSearchAttributes'>,
  onStarted: () => void,
): Promise<RunOutcome> {
  const base = { runId: child.runId, headers: child.spec.headers ?? {}, finalStep: 0 };
  // Its own tenant, its own place in line; the parent's priority (1–5) still holds.
  const ownKey =
    typeof child.fairnessKey === 'string' && patched(Patch.ChildOwnFairnessKey)
      ? {
          priority: {
            ...(workflowInfo().priority?.priorityKey !== undefined
              ? { priorityKey: workflowInfo().priority!.priorityKey }
              : {}),
            fairnessKey: child.fairnessKey,
          },
        }
      : {};
  let handle;
  try {
    handle = await startChild(durableRun, {
      workflowId: child.runId,
      args: [child.spec],
      taskQueue: workflowInfo().taskQueue,
      ...ownKey,
      ...ui,
      // Cancelled by the parent's `cancel` signal (see runChildren); a parent that is terminated
      // or times out still has the server cancel them.
      cancellationType: ChildWorkflowCancellationType.ABANDON,
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      ...(token !== undefined ? { memo: { [PARENT_TOKEN_MEMO_KEY]: token } } : {}),
    });
  } catch (err) {
    return { ...base, status: 'failed', error: `child run ${child.runId} could not start: ${messageOf(err)}` };
  }
  onStarted();
  try {
    return await handle.result();
  } catch (err) {
    const cause = err instanceof ChildWorkflowFailure ? err.cause : err;
    const summary = (
      cause instanceof ApplicationFailure || cause instanceof CancelledFailure ? cause.details?.[0] : undefined
    ) as Omit<RunOutcome, 'result'> | undefined;
    if (summary && typeof summary === 'object' && typeof summary.status === 'string') return summary;
    if (cause instanceof CancelledFailure) {
      // Temporal drops a cancelled child's details: read the outcome the child recorded.
      const recorded = await CancellationScope.nonCancellable(() => readRunOutcome(child.runId)).catch(() => null);
      return recorded ?? { ...base, status: 'cancelled', error: cause.message || null };
    }
    if (cause instanceof TerminatedFailure)
      return { ...base, status: 'failed', error: `terminated${cause.message ? `: ${cause.message}` : ''}` };
    return { ...base, status: 'failed', error: messageOf(cause) };
  }
}
