/**
 * What only a real Temporal server can prove (`temporal server start-dev`): close statuses of
 * cancelled runs (during a step, a sleep, retry backoff, before the first step), cancels racing
 * continue-as-new with fast steps, listing by status.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { StepOutcome, type StepRunner } from '../src';
import { createTestKit, type TestKit } from '../src/testing';
import { eventually } from '../support/wait';

const started = new Set<string>();
const runners: Record<string, StepRunner> = {
  default: async () => StepOutcome.succeed('ok'),
  fails: async () => StepOutcome.fail('nope'),
  selfCancel: async () => StepOutcome.cancel('runner gave up'),
  waits: async (step) => {
    started.add(step.runId);
    await new Promise((resolve) => step.signal.addEventListener('abort', resolve));
    return StepOutcome.succeed('discarded');
  },
  /** Fast steps forever: with a small history limit the run continues-as-new every few steps. */
  forever: async () => StepOutcome.continue(null),
  /** Step 0 sleeps an hour; step 1 must never run. */
  sleeps: async (step) => {
    calls.set(step.runId, [...(calls.get(step.runId) ?? []), step.stepNumber]);
    return StepOutcome.continueAfter('woke', '1h');
  },
  /** Always throws: the run sleeps in backoff between attempts. */
  throws: async (step) => {
    calls.set(step.runId, [...(calls.get(step.runId) ?? []), step.attempt]);
    throw new Error('still broken');
  },
  /** Records every call: it must never be called. */
  recorded: async (step) => {
    calls.set(step.runId, [...(calls.get(step.runId) ?? []), step.stepNumber]);
    return StepOutcome.succeed('ran');
  },
};
/** Per run: the step numbers (or attempts) its runner was called with. */
const calls = new Map<string, number[]>();

let kit: TestKit;
before(async () => {
  kit = await createTestKit({ runners, server: 'local' });
});
after(async () => {
  await kit?.teardown();
});

const closeStatus = async (runId: string) =>
  (await kit.client.temporal.workflow.getHandle(runId).describe()).status.name;

describe('every cancel path closes the workflow as Canceled on a real server', () => {
  test('by the cancel signal, with a reason', async () => {
    const { runId } = await kit.client.submit({ input: null, runner: 'waits', heartbeatTimeoutMs: 2000 });
    await eventually(() => started.has(runId));
    assert.equal(await kit.client.cancel(runId, 'signal reason'), true);
    const outcome = await kit.client.result(runId);
    assert.deepEqual(outcome, {
      runId,
      status: 'cancelled',
      error: 'signal reason',
      headers: {},
      finalStep: 0,
      cancelledBy: 'signal',
    });
    assert.equal(await closeStatus(runId), 'CANCELLED');
  });

  test("by the runner's own verdict", async () => {
    const { runId } = await kit.client.submit({ input: null, runner: 'selfCancel' });
    assert.equal((await kit.client.result(runId)).error, 'runner gave up');
    assert.equal(await closeStatus(runId), 'CANCELLED');
  });

  test("by Temporal's own cancel", async () => {
    const { runId } = await kit.client.submit({ input: null, runner: 'waits', heartbeatTimeoutMs: 2000 });
    await eventually(() => started.has(runId));
    await kit.client.temporal.workflow.getHandle(runId).cancel();
    assert.equal((await kit.client.result(runId)).error, null);
    assert.equal(await closeStatus(runId), 'CANCELLED');
  });
});

describe('cancels between steps close Canceled on a real server, and no step runs after them', () => {
  /** What the run's history holds: failed workflow tasks, steps scheduled, timers started and fired. */
  const historyCounts = async (runId: string) => {
    const events = (await kit.client.temporal.workflow.getHandle(runId).fetchHistory()).events ?? [];
    const count = (attributes: string) =>
      events.filter((e) => (e as Record<string, unknown>)[`${attributes}EventAttributes`] != null).length;
    return {
      workflowTaskFailed: count('workflowTaskFailed'),
      /** Steps scheduled (the terminal hooks and the cancel request are activities too). */
      stepsScheduled: events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'runStep')
        .length,
      timerStarted: count('timerStarted'),
      timerFired: count('timerFired'),
    };
  };
  /** The run's outcome; fails the test (rather than hang it) if the run is still open after `ms`. */
  const resultWithin = async (runId: string, ms: number) => {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        kit.client.result(runId),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${runId} still open ${ms} ms after the cancel`)), ms);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  };

  test('during a continueAfter sleep: the timer is cut short and the next step never runs', async () => {
    const { runId } = await kit.client.submit({ input: null, runner: 'sleeps' });
    await eventually(async () => (await kit.client.status(runId)).state === 'sleeping');
    assert.deepEqual(calls.get(runId), [0]);
    assert.equal(await kit.client.cancel(runId, 'stop sleeping'), true);
    // The timer is an hour: a run that closes at all within a minute had it cut short.
    const outcome = await resultWithin(runId, 60_000);
    assert.deepEqual([outcome.status, outcome.error, outcome.finalStep], ['cancelled', 'stop sleeping', 0]);
    assert.equal(await closeStatus(runId), 'CANCELLED');
    assert.deepEqual(calls.get(runId), [0], 'step 1 never ran');
    assert.deepEqual(
      await historyCounts(runId),
      { workflowTaskFailed: 0, stepsScheduled: 1, timerStarted: 1, timerFired: 0 },
      'one step scheduled; the timer started and never fired; no workflow task failed',
    );
  });

  test('during retry backoff: no further attempt', async () => {
    // Attempts 1–4 fail at once, 1 + 2 + 4 s apart; after the 4th the run backs off for 8 s,
    // long enough on a busy machine for the cancel to land inside that backoff.
    const { runId } = await kit.client.submit({ input: null, runner: 'throws', maxAttemptsPerStep: 6 });
    await eventually(
      async () => calls.get(runId)?.length === 4 && (await kit.client.status(runId)).state === 'sleeping',
      60_000,
      'attempt 4 failed and the run backs off',
    );
    assert.equal(await kit.client.cancel(runId, 'give up'), true);
    const outcome = await resultWithin(runId, 60_000);
    assert.deepEqual([outcome.status, outcome.error, outcome.finalStep], ['cancelled', 'give up', 0]);
    assert.equal(await closeStatus(runId), 'CANCELLED');
    assert.deepEqual(calls.get(runId), [1, 2, 3, 4], 'attempt 5 never ran');
    const counts = await historyCounts(runId);
    assert.equal(counts.stepsScheduled, 4, 'no attempt scheduled after the cancel');
    assert.equal(counts.timerFired, 3, 'the backoff after attempt 4 never ran out');
    assert.equal(counts.workflowTaskFailed, 0);
  });

  test('before the first step (signal-with-start): the runner is never called', async () => {
    await kit.client.temporal.workflow.signalWithStart('durableRun', {
      workflowId: 'cancel-before-start',
      taskQueue: kit.taskQueue,
      args: [{ input: 1, runner: 'recorded' }],
      signal: 'cancel',
      signalArgs: [{ reason: 'changed my mind' }],
    });
    const outcome = await resultWithin('cancel-before-start', 60_000);
    assert.deepEqual([outcome.status, outcome.error], ['cancelled', 'changed my mind']);
    assert.equal(await closeStatus('cancel-before-start'), 'CANCELLED');
    assert.equal(calls.get('cancel-before-start'), undefined, 'the runner was never called');
    const counts = await historyCounts('cancel-before-start');
    assert.equal(counts.stepsScheduled, 0, 'no step was scheduled');
    assert.equal(counts.workflowTaskFailed, 0);
  });
});

test('a cancel signal sent right around continue-as-new is not lost', async () => {
  // maxHistoryEvents 60: a hand-over every ~9 fast steps, so cancels sent at staggered moments
  // land before, during and after hand-overs.
  const runs = await Promise.all(
    Array.from({ length: 8 }, () => kit.client.submit({ input: null, runner: 'forever', maxHistoryEvents: 60 })),
  );
  await Promise.all(
    runs.map(async ({ runId }, i) => {
      const handle = kit.client.temporal.workflow.getHandle(runId);
      await eventually(async () => {
        const d = await handle.describe();
        return d.runId !== d.raw.workflowExecutionInfo?.firstRunId;
      });
      await new Promise((r) => setTimeout(r, i * 23));
      assert.equal(await kit.client.cancel(runId, `stop ${i}`), true);
    }),
  );
  for (const [i, { runId }] of runs.entries()) {
    const outcome = await kit.client.result(runId);
    assert.equal(outcome.status, 'cancelled', runId);
    assert.equal(outcome.error, `stop ${i}`);
    assert.equal(await closeStatus(runId), 'CANCELLED');
  }
});

test('list finds runs by status', async () => {
  const ok = await kit.client.submit({ input: null });
  const bad = await kit.client.submit({ input: null, runner: 'fails' });
  const gone = await kit.client.submit({ input: null, runner: 'selfCancel' });
  for (const { runId } of [ok, bad, gone]) await kit.client.result(runId);
  // Visibility is eventually consistent.
  await eventually(async () => (await kit.client.list({ state: 'failed' })).some((r) => r.runId === bad.runId));
  const failed = await kit.client.list({ state: 'failed' });
  assert.ok(failed.every((r) => r.state === 'failed'));
  assert.ok(!failed.some((r) => r.runId === ok.runId || r.runId === gone.runId));
  await eventually(async () => (await kit.client.list({ state: 'cancelled' })).some((r) => r.runId === gone.runId));
  await eventually(async () => (await kit.client.list({ state: 'succeeded' })).some((r) => r.runId === ok.runId));
  const all = await kit.client.list();
  for (const id of [ok.runId, bad.runId, gone.runId]) assert.ok(all.some((r) => r.runId === id));
  await assert.rejects(kit.client.list({ state: 'weird' as 'failed' }), /unknown state "weird"/);
});
