/**
 * The run model on Temporal's time-skipping test server: outcomes, retries, cancellation,
 * timers, continue-as-new, submission rules and status. `test/runs-fast.test.ts` runs this same
 * suite with every runner registered with fastSteps() (steps as local activities).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { fastSteps, InputMismatch, StepError, StepOutcome, type RunOutcome, type Step, type StepRunner } from '../src';
import { ValidationError } from '../src/shared/validate';
import { createTestKit, type TestKit } from '../src/testing';
import { eventually } from '../support/wait';

/** What runners saw, by run ID. */
const seen = new Map<string, { attempts: number[]; steps: number[]; aborted: boolean; late?: unknown }>();
function record(step: Step) {
  let entry = seen.get(step.runId);
  if (!entry) seen.set(step.runId, (entry = { attempts: [], steps: [], aborted: false }));
  entry.attempts.push(step.attempt);
  entry.steps.push(step.stepNumber);
  return entry;
}
const never = (signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    signal?.addEventListener('abort', () => resolve());
  });
const wallSleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const runners: Record<string, StepRunner> = {
  default: async (step) => {
    record(step);
    const n = step.payload as number;
    return n >= 2 ? StepOutcome.succeed({ total: n, bytes: new Uint8Array([1, 2, 3]) }) : StepOutcome.continue(n + 1);
  },
  failing: async (step) => (record(step), StepOutcome.fail('card declined')),
  cancelling: async (step) => (record(step), StepOutcome.cancel('user walked away')),
  flaky: async (step) => {
    record(step);
    if (step.attempt < 3) throw StepError.transient(`flaky attempt ${step.attempt}`);
    return StepOutcome.succeed('third time lucky');
  },
  permanent: async (step) => {
    record(step);
    throw StepError.permanent('invalid document');
  },
  alwaysBroken: async (step) => {
    record(step);
    throw new TypeError(`broken on attempt ${step.attempt}`);
  },
  /** Waits for the cancel, then returns a late `succeed`: the outside cancel must win. */
  lateSucceed: async (step) => {
    const entry = record(step);
    await never(step.signal);
    entry.aborted = step.signal.aborted;
    return StepOutcome.succeed('too late');
  },
  /** Waits for the cancel, then gives its own cancel verdict: the runner must win. */
  ownCancel: async (step) => {
    const entry = record(step);
    await never(step.signal);
    entry.aborted = true;
    return StepOutcome.cancel('runner had the last word');
  },
  /** Never heartbeats, ignores the signal, returns after 10 s of wall time. */
  deaf: async (step) => {
    const entry = record(step);
    await wallSleep(10_000);
    entry.late = 'returned';
    return StepOutcome.succeed('ignored the cancel');
  },
  sleepy: async (step) => {
    record(step);
    return step.stepNumber === 0 ? StepOutcome.continueAfter('woke', '1h') : StepOutcome.succeed(step.payload);
  },
  counter: async (step) => {
    const target = (step.payload as { target: number }).target;
    return step.stepNumber >= target - 1 ? StepOutcome.succeed('done') : StepOutcome.continue(step.payload);
  },
  slowSteps: async (step) => {
    record(step);
    await wallSleep(300);
    return step.stepNumber < 50 ? StepOutcome.continue(null) : StepOutcome.succeed('end');
  },
};

/** `fast` (set by runs-fast.test.ts): every runner registered with fastSteps(). */
const MODE = process.env.DURABLE_RUNS_TEST_STEPS === 'fast' ? 'fast' : 'default';

/**
 * Fast mode: the run's first step is an activity (it learns there that the runner is fast), and
 * the activity goes on with a chain of the next steps until one does not return `continue`. So
 * that a runner's own steps run as local activities, each run begins with one step of its own
 * that outlasts a chain (600 ms against 500 ms) and continues; the runner sees its steps numbered
 * from 0 as usual. The run's step numbers are one higher: OFFSET.
 */
const OFFSET = MODE === 'fast' ? 1 : 0;
const CHAIN_MS = 500;
function inLocalActivities(runner: StepRunner): StepRunner {
  return fastSteps(async (step) => {
    if (step.stepNumber === 0) {
      await wallSleep(CHAIN_MS + 100);
      return StepOutcome.continue(step.payload);
    }
    return runner({ ...step, stepNumber: step.stepNumber - 1 });
  });
}

let kit: TestKit;
before(async () => {
  kit = await createTestKit({
    runners:
      MODE === 'fast'
        ? Object.fromEntries(Object.entries(runners).map(([k, r]) => [k, inLocalActivities(r)]))
        : runners,
  });
});

/**
 * How the run's steps ran: in fast mode the runner's steps (all but the run's first) as local
 * activities, `runStep` markers in the history; in default mode each as an activity, no marker.
 */
async function assertStepsRanAs(runId: string): Promise<void> {
  const history = await kit.client.temporal.workflow.getHandle(runId).fetchHistory();
  const events = history.events ?? [];
  const localSteps = events.filter((e) => {
    const marker = e.markerRecordedEventAttributes;
    if (marker?.markerName !== 'core_local_activity') return false;
    const data = marker.details?.data?.payloads?.[0]?.data;
    return data !== undefined && data !== null && /"activity_type":"runStep"/.test(Buffer.from(data).toString());
  }).length;
  const activitySteps = events.filter(
    (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'runStep',
  ).length;
  if (MODE === 'fast') {
    assert.ok(localSteps >= 1, `${runId}: no step ran as a local activity`);
    // The first (the chain-ending step of inLocalActivities) is the only activity of an execution.
    assert.equal(activitySteps, 1, `${runId}: steps as activities`);
  } else {
    assert.equal(localSteps, 0, `${runId}: steps as local activities`);
    assert.ok(activitySteps >= 1, `${runId}: no step activity`);
  }
}
after(async () => {
  await kit?.teardown();
});

async function closeStatus(runId: string): Promise<string> {
  return (await kit.client.temporal.workflow.getHandle(runId).describe()).status.name;
}

describe('outcomes map onto close statuses', () => {
  test('succeed → Completed with the RunOutcome (bytes stay bytes)', async () => {
    const { runId, newlySubmitted } = await kit.client.submit({ runId: 'ok-1', input: 0, headers: { tenant: 'acme' } });
    assert.equal(newlySubmitted, true);
    const outcome = await kit.client.result(runId);
    assert.deepEqual(outcome, {
      runId: 'ok-1',
      status: 'succeeded',
      result: { total: 2, bytes: new Uint8Array([1, 2, 3]) },
      headers: { tenant: 'acme' },
      finalStep: 2 + OFFSET,
    } satisfies RunOutcome);
    assert.equal(await closeStatus(runId), 'COMPLETED');
    assert.deepEqual(seen.get(runId)?.steps, [0, 1, 2]);
    await assertStepsRanAs(runId);
  });

  test('fail → Failed, non-retryable ApplicationFailure with the reason as message', async () => {
    const { runId } = await kit.client.submit({ input: null, runner: 'failing' });
    const outcome = await kit.client.result(runId);
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.error, 'card declined');
    assert.equal(await closeStatus(runId), 'FAILED');
    const err = await kit.client.temporal.workflow
      .getHandle(runId)
      .result()
      .then(
        () => assert.fail('should fail'),
        (e: unknown) => e,
      );
    assert.ok(err instanceof WorkflowFailedError);
    assert.ok(err.cause instanceof ApplicationFailure);
    assert.equal(err.cause.message, 'card declined');
    assert.equal(err.cause.nonRetryable, true);
    await assertStepsRanAs(runId);
  });

  test('cancel by the runner → Canceled, reason in the outcome', async () => {
    const { runId } = await kit.client.submit({ input: null, runner: 'cancelling' });
    const outcome = await kit.client.result(runId);
    assert.deepEqual(outcome, {
      runId,
      status: 'cancelled',
      error: 'user walked away',
      headers: {},
      finalStep: OFFSET,
      cancelledBy: 'runner',
    });
    assert.equal(await closeStatus(runId), 'CANCELLED');
    await assertStepsRanAs(runId);
  });
});

describe('step retries', () => {
  test('transient error twice then success: attempts 1, 2, 3', async () => {
    const { runId } = await kit.client.submit({ input: null, runner: 'flaky' });
    const outcome = await kit.client.result(runId);
    assert.equal(outcome.status, 'succeeded');
    assert.equal(outcome.result, 'third time lucky');
    assert.deepEqual(seen.get(runId)?.attempts, [1, 2, 3]);
    await assertStepsRanAs(runId);
  });

  test('permanent error: one attempt, run failed with its message', async () => {
    const { runId } = await kit.client.submit({ input: null, runner: 'permanent' });
    const outcome = await kit.client.result(runId);
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.error, 'invalid document');
    assert.deepEqual(seen.get(runId)?.attempts, [1]);
    assert.equal(await closeStatus(runId), 'FAILED');
    await assertStepsRanAs(runId);
  });

  test('spent budget: failed with the last error, after exactly maxAttemptsPerStep attempts', async () => {
    const { runId } = await kit.client.submit({ input: null, runner: 'alwaysBroken', maxAttemptsPerStep: 4 });
    const outcome = await kit.client.result(runId);
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.error, `step ${OFFSET} failed after 4 attempts: TypeError: broken on attempt 4`);
    assert.deepEqual(seen.get(runId)?.attempts, [1, 2, 3, 4]);
    assert.equal(await closeStatus(runId), 'FAILED');
    await assertStepsRanAs(runId);
  });
});

describe('cancellation', () => {
  test('while a step runs: the runner sees the abort, its late succeed is discarded, run Canceled', async () => {
    const { runId } = await kit.client.submit({ input: null, runner: 'lateSucceed', heartbeatTimeoutMs: 2000 });
    await eventually(() => seen.get(runId)?.steps.length === 1);
    assert.equal(await kit.client.cancel(runId, 'operator said stop'), true);
    const outcome = await kit.client.result(runId);
    assert.deepEqual(outcome, {
      runId,
      status: 'cancelled',
      error: 'operator said stop',
      headers: {},
      finalStep: OFFSET,
      cancelledBy: 'signal',
    });
    assert.equal(seen.get(runId)?.aborted, true);
    assert.equal(await closeStatus(runId), 'CANCELLED');
    await assertStepsRanAs(runId);
  });

  test("a runner's own cancel wins over the outside cancel", async () => {
    const { runId } = await kit.client.submit({ input: null, runner: 'ownCancel', heartbeatTimeoutMs: 2000 });
    await eventually(() => seen.get(runId)?.steps.length === 1);
    await kit.client.cancel(runId, 'outside');
    const outcome = await kit.client.result(runId);
    assert.equal(outcome.status, 'cancelled');
    assert.equal(outcome.error, 'runner had the last word');
    await assertStepsRanAs(runId);
  });

  test('a runner that never heartbeats and ignores the signal is cancelled within the heartbeat timeout', async () => {
    const { runId } = await kit.client.submit({ input: null, runner: 'deaf', heartbeatTimeoutMs: 2000 });
    await eventually(() => seen.get(runId)?.steps.length === 1);
    const handle = kit.client.temporal.workflow.getHandle(runId);
    await kit.client.cancel(runId);
    const outcome = await kit.client.result(runId);
    assert.equal(outcome.status, 'cancelled');
    assert.equal(outcome.error, null);
    const history = await handle.fetchHistory();
    const signalled = history.events?.find((e) => e.workflowExecutionSignaledEventAttributes)?.eventTime;
    const closed = history.events?.at(-1)?.eventTime;
    const ms = (t: typeof closed) => Number(t?.seconds ?? 0) * 1000 + Math.floor((t?.nanos ?? 0) / 1e6);
    // The contract's figure (within the 2 s heartbeat timeout) is the bench's; here, with room for a
    // busy machine, the run must close long before the 10 s step would have returned by itself.
    assert.ok(ms(closed) - ms(signalled) <= 6000, `closed ${ms(closed) - ms(signalled)} ms after the cancel`);
    assert.notEqual(seen.get(runId)?.late, 'returned', 'closed before the step returned');
    await eventually(() => seen.get(runId)?.late === 'returned', 20_000);
    assert.equal(await closeStatus(runId), 'CANCELLED');
    assert.equal((await kit.client.result(runId)).status, 'cancelled');
    await assertStepsRanAs(runId);
  });

  test('while sleeping in continueAfter: the timer is cut short', async () => {
    const { runId } = await kit.client.submit({ input: null, runner: 'sleepy' });
    await eventually(async () => (await kit.client.status(runId)).state === 'sleeping');
    await kit.client.cancel(runId, 'no need to wait');
    const outcome = await kit.client.result(runId);
    assert.deepEqual(outcome, {
      runId,
      status: 'cancelled',
      error: 'no need to wait',
      headers: {},
      finalStep: OFFSET,
      cancelledBy: 'signal',
    });
    assert.deepEqual(seen.get(runId)?.steps, [0]);
    await assertStepsRanAs(runId);
    const d = await kit.client.temporal.workflow.getHandle(runId).describe();
    assert.ok(d.closeTime!.getTime() - d.startTime.getTime() < 3600_000, 'closed before the timer fired');
  });

  test('while waiting to retry a failed step: the pending retries are suppressed', async () => {
    const { runId } = await kit.client.submit({ input: null, runner: 'alwaysBroken', maxAttemptsPerStep: 10 });
    await eventually(async () => (await kit.client.status(runId)).state === 'sleeping');
    const before = seen.get(runId)?.attempts.length ?? 0;
    assert.equal(await kit.client.cancel(runId, 'stop retrying'), true);
    const outcome = await kit.client.result(runId);
    assert.equal(outcome.status, 'cancelled');
    assert.equal(outcome.error, 'stop retrying');
    assert.equal(seen.get(runId)?.attempts.length, before, 'no attempt after the cancel');
    assert.ok(before < 10);
    await assertStepsRanAs(runId);
  });

  test('before the first step: the runner is never called', async () => {
    await kit.client.temporal.workflow.signalWithStart('durableRun', {
      workflowId: 'cancel-first',
      taskQueue: kit.taskQueue,
      args: [{ input: 1 }],
      signal: 'cancel',
      signalArgs: [{ reason: 'changed my mind' }],
    });
    const outcome = await kit.client.result('cancel-first');
    assert.deepEqual(outcome, {
      runId: 'cancel-first',
      status: 'cancelled',
      error: 'changed my mind',
      headers: {},
      finalStep: 0,
      cancelledBy: 'signal',
    });
    assert.equal(seen.get('cancel-first'), undefined);
    assert.equal(await closeStatus('cancel-first'), 'CANCELLED');
  });

  test("by Temporal's own cancel: Canceled, error null", async () => {
    const { runId } = await kit.client.submit({ input: null, runner: 'lateSucceed', heartbeatTimeoutMs: 2000 });
    await eventually(() => seen.get(runId)?.steps.length === 1);
    await kit.client.temporal.workflow.getHandle(runId).cancel();
    const outcome = await kit.client.result(runId);
    assert.deepEqual(outcome, {
      runId,
      status: 'cancelled',
      error: null,
      headers: {},
      finalStep: OFFSET,
      cancelledBy: 'temporal',
    });
    assert.equal(seen.get(runId)?.aborted, true);
    assert.equal(await closeStatus(runId), 'CANCELLED');
    await assertStepsRanAs(runId);
  });

  test('cancelling a closed or unknown run returns false and changes nothing', async () => {
    const { runId } = await kit.client.submit({ input: 0 });
    await kit.client.result(runId);
    assert.equal(await kit.client.cancel(runId, 'too late'), false);
    assert.equal(await closeStatus(runId), 'COMPLETED');
    assert.equal((await kit.client.result(runId)).status, 'succeeded');
    assert.equal(await kit.client.cancel('no-such-run'), false);
  });
});

test('continueAfter of 1 h completes without waiting an hour of wall time', async () => {
  const started = Date.now();
  const { runId } = await kit.client.submit({ input: null, runner: 'sleepy' });
  const outcome = await kit.client.result(runId);
  assert.equal(outcome.status, 'succeeded');
  assert.equal(outcome.result, 'woke');
  assert.equal(outcome.finalStep, 1 + OFFSET);
  await assertStepsRanAs(runId);
  const d = await kit.client.temporal.workflow.getHandle(runId).describe();
  assert.ok(d.closeTime!.getTime() - d.startTime.getTime() >= 3600_000, 'server clock moved at least an hour');
  assert.ok(Date.now() - started < 60_000, 'wall time stayed short');
});

describe('long runs', () => {
  test('3,000 steps cross continue-as-new and end Completed under the same run ID', async () => {
    // Fast steps run in chains of up to 1,000 steps with a handful of events each: a low limit
    // makes them continue as new too (after each execution's first chain).
    const { runId } = await kit.client.submit({
      runId: 'long-run',
      input: { target: 3000 },
      runner: 'counter',
      maxHistoryEvents: MODE === 'fast' ? 5 : 2000,
    });
    const outcome = await kit.client.result(runId);
    assert.equal(outcome.status, 'succeeded');
    assert.equal(outcome.runId, 'long-run');
    assert.equal(outcome.finalStep, 2999 + OFFSET);
    const d = await kit.client.temporal.workflow.getHandle(runId).describe();
    assert.notEqual(d.runId, d.raw.workflowExecutionInfo?.firstRunId, 'the run continued as new at least once');
  });
});

describe('submission', () => {
  test('reserved header is refused, naming the key', async () => {
    await assert.rejects(kit.client.submit({ input: 1, headers: { 'workflow.id': 'x' } }), {
      name: 'ValidationError',
      message: 'header "workflow.id" uses the reserved prefix "workflow."',
    });
  });

  test('bad run IDs are refused', async () => {
    await assert.rejects(kit.client.submit({ runId: 'a/b', input: 1 }), ValidationError);
    await assert.rejects(kit.client.submit({ runId: '', input: 1 }), /invalid run ID/);
    await assert.rejects(kit.client.submit({ runId: 'x'.repeat(129), input: 1 }), /length 129/);
    await assert.doesNotReject(kit.client.submit({ runId: 'x'.repeat(128), input: 0 }));
  });

  test('generated run IDs are ULIDs', async () => {
    const { runId } = await kit.client.submit({ input: 0 });
    assert.match(runId, /^[0-9A-HJKMNP-TV-Z]{26}$/);
  });

  test('duplicate submission: same → existing run; different → InputMismatch', async () => {
    const first = await kit.client.submit({
      runId: 'dup-1',
      input: { a: 1, b: [1, 2] },
      headers: { k: 'v' },
      runner: 'sleepy',
    });
    assert.equal(first.newlySubmitted, true);
    const again = await kit.client.submit({
      runId: 'dup-1',
      input: { b: [1, 2], a: 1 },
      headers: { k: 'v' },
      runner: 'sleepy',
    });
    assert.deepEqual(again, { runId: 'dup-1', newlySubmitted: false });
    await assert.rejects(kit.client.submit({ runId: 'dup-1', input: { a: 2 }, headers: { k: 'v' } }), InputMismatch);
    await assert.rejects(
      kit.client.submit({ runId: 'dup-1', input: { a: 1, b: [1, 2] }, headers: { k: 'w' } }),
      InputMismatch,
    );
    await kit.client.result('dup-1');
    assert.equal(
      (await kit.client.submit({ runId: 'dup-1', input: { a: 1, b: [1, 2] }, headers: { k: 'v' } })).newlySubmitted,
      false,
    );
  });

  test('unknown runner fails the run fast with a clear message', async () => {
    const { runId } = await kit.client.submit({ input: 1, runner: 'nope' });
    const outcome = await kit.client.result(runId);
    assert.equal(outcome.status, 'failed');
    assert.match(outcome.error ?? '', /^step 0: unknown runner "nope" \(this worker has: default, /);
    const history = await kit.client.temporal.workflow.getHandle(runId).fetchHistory();
    const taskFailures = history.events?.filter((e) => e.workflowTaskFailedEventAttributes).length;
    assert.equal(taskFailures, 0, 'no workflow-task retries');
  });
});

describe('status', () => {
  test('answers mid-run and after close', async () => {
    const { runId } = await kit.client.submit({ input: null, runner: 'slowSteps', headers: { a: 'b' } });
    await eventually(() => (seen.get(runId)?.steps.length ?? 0) >= 3);
    const mid = await kit.client.status(runId);
    assert.equal(mid.runId, runId);
    assert.equal(mid.state, 'running');
    assert.equal(mid.runner, 'slowSteps');
    assert.equal(mid.attempt, 1);
    assert.ok(mid.step >= 2 + OFFSET && mid.step <= 50 + OFFSET, `step ${mid.step}`);
    await kit.client.cancel(runId, 'enough');
    await kit.client.result(runId);
    const closed = await kit.client.status(runId);
    assert.deepEqual(closed, {
      runId,
      state: 'cancelled',
      step: closed.step,
      lastError: 'enough',
      runner: 'slowSteps',
    });
    assert.ok(closed.step >= mid.step);
    await assertStepsRanAs(runId);
  });

  test('the status query answers from the Temporal API too, with current details for the UI', async () => {
    const { runId } = await kit.client.submit({ input: null, runner: 'sleepy' });
    await eventually(async () => (await kit.client.status(runId)).state === 'sleeping');
    const handle = kit.client.temporal.workflow.getHandle(runId);
    const status = await handle.query('status');
    assert.deepEqual(status, { runId, state: 'sleeping', step: OFFSET, runner: 'sleepy' });
    const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    assert.equal(metadata.currentDetails, `**sleeping** · step ${OFFSET}`);
    await kit.client.cancel(runId);
    await kit.client.result(runId);
  });
});
