import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  ChildWorkflowCancellationType,
  ChildWorkflowFailure,
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
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities, ResolvedChild, RunStepInput, StepResult } from '../activities';
import {
  cancelSignal,
  eventSignal,
  memoSignal,
  memosQuery,
  statusQuery,
  type CancelRequest,
} from '../shared/definitions';
import { RunModel } from '../shared/run-model';
import type { RunMetricsSinks } from '../shared/metrics';
import { ErrorType, OUTCOME_MEMO_KEY } from '../shared/names';
import { STEP_INFRA_RETRY, stepBackoffMs } from '../shared/retry';
import type { RunOutcome, RunSpec, RunStatusKind } from '../shared/types';
import { isUndecodable } from '../shared/payload-converter';
import { type NormalizedRunSpec, type RunCarry, validateCarry, validateRunSpec } from '../shared/validate';

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
   * A child that names its own `tenant` header starts with that tenant's fairness key instead of
   * inheriting its parent's. Asked only for such a child, so other runs record no marker.
   */
  ChildOwnFairnessKey: 'child-own-fairness-key',
} as const;

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
  const run = new RunModel(runId, spec, carry);
  const report = (): void => setCurrentDetails(run.details());

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

  setHandler(statusQuery, () => run.status());
  setHandler(cancelSignal, (request?: CancelRequest) => {
    const wasCancel = run.cancel;
    if (!run.onCancelSignal(request)) return;
    if (run.cancel && !wasCancel) report();
    interrupt();
  });
  // A malformed, duplicate or refused event never fails the run: refusals are reported in lastError.
  setHandler(eventSignal, (raw: unknown) => {
    if (run.onEvent(raw, new Date().toISOString(), uuid4())) report();
  });
  setHandler(memoSignal, (record: unknown) => run.onMemo(record));
  setHandler(memosQuery, (forStep: unknown) => run.memosFor(forStep));
  CancellationScope.current().cancelRequested.catch(() => run.onServerCancel());
  // The time budget counts from submission (the start of the continue-as-new chain).
  if (spec.deadlineMs !== undefined) {
    const remaining = workflowInfo().startTime.getTime() + spec.deadlineMs - Date.now();
    if (remaining <= 0) run.onDeadline();
    else
      void sleep(remaining).then(
        () => {
          if (!run.onDeadline()) return;
          report();
          interrupt();
        },
        () => undefined,
      );
  }

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
    let next = 0;
    let stopping = false;
    const cancelChild = (id: string) =>
      getExternalWorkflowHandle(id)
        .signal(cancelSignal, { reason: 'parent run cancelled', by: 'parent' } as CancelRequest)
        .catch(() => undefined);
    const lane = async (): Promise<void> => {
      while (!stopping && next < children.length) {
        const index = next++;
        const child = children[index]!;
        outcomes[index] = await childOutcome(child, () => {
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
  const attemptFailed = async (type: string | undefined, message: string): Promise<RunOutcome | undefined> => {
    const next = run.stepFailed(type, message);
    if (next.kind === 'fail') return await fail(next.error);
    report();
    try {
      await interruptible(() => sleep(stepBackoffMs(next.attempt)));
    } catch (sleepErr) {
      if (!isCancellation(sleepErr)) throw sleepErr;
    }
    run.backoffDone();
    return undefined;
  };

  try {
    report();
    for (;;) {
      if (run.badSignal) return await fail(run.badSignal);
      if (run.cancel) return await cancelled();
      const spent = run.budgetSpent();
      if (spent) return await fail(spent);
      const info = workflowInfo();
      if (info.continueAsNewSuggested || info.historyLength > spec.maxHistoryEvents) {
        await condition(() => true);
        return await continueAsNew<typeof durableRun>(spec, run.carryForward());
      }

      let result: StepResult;
      const local = mode !== 'activity';
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
              }).runStep(input),
        );
      } catch (err) {
        if (run.badSignal) return await fail(run.badSignal);
        if (!run.cancel && run.deadlineExceeded) return await fail('deadline exceeded');
        if (run.cancel || isCancellation(err)) {
          run.cancel ??= { reason: null, by: 'temporal' };
          return await cancelled();
        }
        // Not a failure of the step but of scheduling it (e.g. a payload the converter cannot
        // encode): trying again would fail the same way. Earlier versions retried it.
        if (!(err instanceof TemporalFailure) && patched(Patch.FailUnschedulableStep)) {
          return await fail(`step ${run.step} could not be scheduled: ${messageOf(err)}`);
        }
        const ended = await attemptFailed(failureType(err), messageOf(err));
        if (ended) return ended;
        continue;
      }

      if (isUndecodable(result)) return await fail(`step ${run.step}: step outcome: ${result.reason}`);
      if (!modeKnown) {
        modeKnown = true;
        if (result.fast && patched(Patch.FastChains)) mode = 'chain';
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
      if (run.deadlineExceeded) return await fail('deadline exceeded');
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
        case 'waitForEvent': {
          const names = result.events;
          run.beginWait(names, result.timeoutMs, Date.now());
          report();
          let arrived: boolean;
          try {
            // Without a timeout, `condition` resolves to undefined rather than true.
            arrived = (await interruptible(() => condition(() => run.inbox.has(names), result.timeoutMs))) !== false;
          } catch (err) {
            run.abandonWait();
            if (!isCancellation(err)) throw err;
            continue;
          }
          run.advance(result.payload, run.endWait(arrived));
          report();
          continue;
        }
        case 'continue':
        case 'continueAfter':
          if (result.kind === 'continueAfter' && result.delayMs > 0) {
            run.beginSleep();
            report();
            try {
              await interruptible(() => sleep(result.delayMs));
            } catch (err) {
              if (!isCancellation(err)) throw err;
              continue;
            }
          }
          run.advance(result.payload);
          report();
          if (result.nextFailed) {
            const ended = await attemptFailed(result.nextFailed.type, result.nextFailed.message);
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
async function childOutcome(child: ResolvedChild, onStarted: () => void): Promise<RunOutcome> {
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
      // Cancelled by the parent's `cancel` signal (see runChildren); a parent that is terminated
      // or times out still has the server cancel them.
      cancellationType: ChildWorkflowCancellationType.ABANDON,
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
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
