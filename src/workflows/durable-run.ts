import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  condition,
  ContinueAsNew,
  continueAsNew,
  patched,
  proxyLocalActivities,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  setCurrentDetails,
  sleep,
  TemporalFailure,
  TimeoutFailure,
  upsertMemo,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities, StepResult } from '../activities';
import {
  cancelSignal,
  eventSignal,
  memoSignal,
  memosQuery,
  statusQuery,
  type CancelRequest,
} from '../shared/definitions';
import { EventInbox, type RunEvent } from '../shared/events';
import { ErrorType, OUTCOME_MEMO_KEY } from '../shared/names';
import { STEP_INFRA_RETRY, stepBackoffMs } from '../shared/retry';
import type { RunOutcome, RunSpec, RunState, RunStatus } from '../shared/types';
import { isUndecodable } from '../shared/payload-converter';
import {
  describeType,
  type NormalizedRunSpec,
  type RunCarry,
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
} as const;

const { requestCancellation } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '10s' },
});

// A local activity: one marker event per run instead of an activity's six, and still at-least-once
// (a worker lost mid-hook means the workflow task is retried and the hooks run again).
const { runTerminalHooks } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '5m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumAttempts: 3 },
});

function messageOf(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return messageOf(err.cause);
  if (err instanceof TimeoutFailure) return `step ${err.message || 'timed out'}`;
  if (err instanceof Error) return err.message;
  return String(err);
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
    throw ApplicationFailure.create({ type: ErrorType.InvalidRunSpec, message: messageOf(err), nonRetryable: true });
  }

  let state: RunState = 'running';
  let step = carry?.step ?? 0;
  let payload: unknown = carry ? carry.payload : spec.input;
  let attempt = 1;
  let lastError: string | undefined;
  let cancel: { reason: string | null } | undefined = carry?.cancel;
  /** Set when the server holds a cancel request (Temporal's own cancel, or our self-request). */
  let serverCancelled = false;
  let badSignal: string | undefined;
  /** Events received and not taken by a wait yet; they survive continue-as-new. */
  const inbox = new EventInbox(carry?.events);
  /** What ended the last wait, for the next step (carried over continue-as-new too). */
  let delivered: { event: RunEvent } | { timedOut: true } | undefined = carry?.delivered;
  /** What the current step journaled with `step.memo`, for its later attempts. */
  let memos: Record<string, unknown> = {};
  /** The wait in progress: the names that end it and when it times out. */
  let waiting: { names: string[]; deadline?: string } | undefined;

  const status = (): RunStatus => ({
    runId,
    state,
    step,
    ...(state === 'running' || state === 'cancelling' ? { attempt } : {}),
    ...(lastError !== undefined ? { lastError } : {}),
    runner: spec.runner,
    ...(waiting ? { waitingFor: waiting.names } : {}),
    ...(waiting?.deadline ? { waitDeadline: waiting.deadline } : {}),
    ...(waiting || inbox.size > 0 ? { pendingEvents: inbox.size } : {}),
  });
  const report = (): void => {
    const parts = [`**${state}**`, `step ${step}`];
    if (state === 'running' && attempt > 1) parts.push(`attempt ${attempt}/${spec.maxAttemptsPerStep}`);
    if (waiting)
      parts.push(`waiting for ${waiting.names.join(' or ')}${waiting.deadline ? ` until ${waiting.deadline}` : ''}`);
    if (inbox.size > 0) parts.push(`${inbox.size} pending event${inbox.size === 1 ? '' : 's'}`);
    if (lastError !== undefined) parts.push(`last error: ${lastError}`);
    setCurrentDetails(parts.join(' · '));
  };

  /**
   * The scope of every step and timer. One for the whole execution: a cancel ends the run, so it
   * is cancelled at most once, and a scope per step cost two more traced promises a step.
   */
  let stepScope: CancellationScope | undefined;
  /** Whether a step or timer runs in `stepScope` now. */
  let inFlight = false;
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
      if (inFlight) stepScope?.cancel();
    }, done);
  };

  setHandler(statusQuery, status);
  setHandler(cancelSignal, (request?: CancelRequest) => {
    if (cancel || isTerminal(state)) return;
    const reason: unknown =
      request === undefined || request === null || isUndecodable(request) ? undefined : request.reason;
    if (isUndecodable(request)) {
      badSignal = `cancel signal argument: ${request.reason}`;
    } else if (request !== undefined && request !== null && (typeof request !== 'object' || Array.isArray(request))) {
      badSignal = `cancel signal argument must be an object like {"reason": "…"}, got ${describeType(request)}`;
    } else if (reason !== undefined && reason !== null && typeof reason !== 'string') {
      badSignal = `cancel signal reason must be a string, got ${describeType(reason)}`;
    }
    if (badSignal) return interrupt();
    cancel = { reason: typeof reason === 'string' ? reason : null };
    state = 'cancelling';
    report();
    interrupt();
  });
  // A malformed, duplicate or refused event never fails the run: refusals are reported in lastError.
  setHandler(eventSignal, (raw: unknown) => {
    if (isTerminal(state)) return;
    const receipt = inbox.receive(raw, new Date().toISOString(), uuid4());
    if (receipt.kind === 'refused') lastError = `event ignored: ${receipt.reason}`;
    if (receipt.kind !== 'duplicate') report();
  });
  setHandler(memoSignal, (record: unknown) => {
    const r = record as Partial<{ step: unknown; key: unknown; value: unknown }> | null;
    // Only the step wrapper sends these; anything else (or a late one from an earlier step) is ignored.
    if (!r || typeof r !== 'object' || r.step !== step || typeof r.key !== 'string' || isUndecodable(record)) return;
    memos = { ...memos, [r.key]: r.value ?? null };
  });
  setHandler(memosQuery, (forStep: unknown) => (forStep === step ? memos : {}));
  CancellationScope.current().cancelRequested.catch(() => {
    serverCancelled = true;
    if (!cancel && !isTerminal(state)) {
      cancel = { reason: null };
      state = 'cancelling';
    }
  });

  /** Records the outcome, runs the terminal hooks, and closes the workflow with the matching status. */
  const finish = async (outcome: RunOutcome): Promise<RunOutcome> => {
    state = outcome.status;
    const { result: _result, ...summary } = outcome;
    // A Completed run's result is its outcome; the others keep theirs in the memo for the client.
    if (outcome.status !== 'succeeded') upsertMemo({ [OUTCOME_MEMO_KEY]: { ...summary, runner: spec.runner } });
    report();
    await CancellationScope.nonCancellable(async () => {
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
    if (!serverCancelled) {
      await CancellationScope.nonCancellable(() => requestCancellation(runId));
      try {
        await condition(() => serverCancelled);
      } catch (err) {
        if (!isCancellation(err)) throw err;
      }
    }
    throw new CancelledFailure(outcome.error ?? 'cancelled');
  };

  const outcomeBase = (): Pick<RunOutcome, 'runId' | 'headers' | 'finalStep'> => ({
    runId,
    headers: spec.headers,
    finalStep: step,
  });
  const fail = (error: string) => finish({ ...outcomeBase(), status: 'failed', error });
  const cancelled = () => finish({ ...outcomeBase(), status: 'cancelled', error: cancel?.reason ?? null });

  /** Runs `fn` in a scope that a cancel (signal or Temporal) interrupts. */
  const interruptible = async <T>(fn: () => Promise<T>): Promise<T> => {
    stepScope ??= new CancellationScope();
    inFlight = true;
    if (cancel !== undefined || badSignal !== undefined) interrupt();
    try {
      return await stepScope.run(fn);
    } finally {
      inFlight = false;
    }
  };

  try {
    report();
    for (;;) {
      if (badSignal) return await fail(badSignal);
      if (cancel) return await cancelled();
      const info = workflowInfo();
      if (info.continueAsNewSuggested || info.historyLength > spec.maxHistoryEvents) {
        await condition(() => true);
        const events = inbox.carry();
        return await continueAsNew<typeof durableRun>(spec, {
          step,
          payload,
          ...(cancel ? { cancel } : {}),
          ...(events.pending.length > 0 || events.seen.length > 0 ? { events } : {}),
          ...(delivered ? { delivered } : {}),
        });
      }

      let result: StepResult;
      try {
        result = await interruptible(() =>
          proxyActivities<Activities>({
            startToCloseTimeout: spec.stepTimeoutMs,
            heartbeatTimeout: spec.heartbeatTimeoutMs,
            retry: STEP_INFRA_RETRY,
            cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            summary: `step ${step}`,
          }).runStep({
            runId,
            stepNumber: step,
            payload,
            headers: spec.headers,
            runner: spec.runner,
            attempt,
            ...delivered,
            ...(Object.keys(memos).length > 0 ? { memos } : {}),
          }),
        );
      } catch (err) {
        if (badSignal) return await fail(badSignal);
        if (cancel || isCancellation(err)) {
          cancel ??= { reason: null };
          return await cancelled();
        }
        // Not a failure of the step but of scheduling it (e.g. a payload the converter cannot
        // encode): trying again would fail the same way. Earlier versions retried it.
        if (!(err instanceof TemporalFailure) && patched(Patch.FailUnschedulableStep)) {
          return await fail(`step ${step} could not be scheduled: ${messageOf(err)}`);
        }
        const type = failureType(err);
        lastError = messageOf(err);
        if (
          type === ErrorType.StepPermanent ||
          type === ErrorType.InvalidOutcome ||
          type === ErrorType.UnknownRunner ||
          type === ErrorType.InvalidStepInput
        ) {
          return await fail(type === ErrorType.StepPermanent ? lastError : `step ${step}: ${lastError}`);
        }
        if (attempt >= spec.maxAttemptsPerStep) {
          return await fail(`step ${step} failed after ${attempt} attempt${attempt === 1 ? '' : 's'}: ${lastError}`);
        }
        state = 'sleeping';
        report();
        try {
          await interruptible(() => sleep(stepBackoffMs(attempt)));
        } catch (sleepErr) {
          if (!isCancellation(sleepErr)) throw sleepErr;
        }
        attempt += 1;
        if (!cancel && !badSignal) state = 'running';
        continue;
      }

      if (isUndecodable(result)) return await fail(`step ${step}: step outcome: ${result.reason}`);
      // A runner's own cancel wins over an outside cancel; an outside cancel wins over anything else.
      if (result.kind === 'cancel') {
        cancel = { reason: result.reason };
        return await cancelled();
      }
      if (badSignal) return await fail(badSignal);
      if (cancel) return await cancelled();
      switch (result.kind) {
        case 'succeed':
          return await finish({ ...outcomeBase(), status: 'succeeded', result: result.result });
        case 'fail':
          return await fail(result.reason);
        case 'waitForEvent': {
          const names = result.events;
          waiting = {
            names,
            ...(result.timeoutMs !== undefined
              ? { deadline: new Date(Date.now() + result.timeoutMs).toISOString() }
              : {}),
          };
          state = 'waiting';
          report();
          let arrived: boolean;
          try {
            // Without a timeout, `condition` resolves to undefined rather than true.
            arrived = (await interruptible(() => condition(() => inbox.has(names), result.timeoutMs))) !== false;
          } catch (err) {
            if (!isCancellation(err)) throw err;
            continue;
          } finally {
            waiting = undefined;
          }
          const event = arrived ? inbox.take(names) : undefined;
          step += 1;
          memos = {};
          payload = result.payload;
          delivered = event ? { event } : { timedOut: true };
          attempt = 1;
          lastError = undefined;
          state = 'running';
          report();
          continue;
        }
        case 'continue':
        case 'continueAfter':
          if (result.kind === 'continueAfter' && result.delayMs > 0) {
            state = 'sleeping';
            report();
            try {
              await interruptible(() => sleep(result.delayMs));
            } catch (err) {
              if (!isCancellation(err)) throw err;
              continue;
            }
          }
          step += 1;
          memos = {};
          payload = result.payload;
          delivered = undefined;
          attempt = 1;
          lastError = undefined;
          state = 'running';
          report();
      }
    }
  } catch (err) {
    // Anything unexpected fails the run with its message instead of retrying the workflow task forever.
    if (err instanceof TemporalFailure || isCancellation(err) || err instanceof ContinueAsNew) throw err;
    throw ApplicationFailure.create({
      type: ErrorType.RunFailed,
      message: `internal error: ${messageOf(err)}`,
      nonRetryable: true,
    });
  }
}

function isTerminal(state: RunState): boolean {
  return state === 'succeeded' || state === 'failed' || state === 'cancelled';
}
