/**
 * Terminal hooks: run once the outcome is known, at least once, in an activity; a hook's error
 * is logged and never changes the outcome. Also: the step activities' UI summaries.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fastSteps, StepOutcome, type RunOutcome, type StepRunner, type TerminalHook } from '../src';
import { createTestKit, type TestKit } from '../src/testing';

const outcomes: RunOutcome[] = [];
const calls = new Map<string, number>();
const recorder: TerminalHook = { name: 'recorder', onTermination: (o) => void outcomes.push(o) };
const flaky: TerminalHook = {
  name: 'flaky',
  onTermination(o) {
    const n = (calls.get(o.runId) ?? 0) + 1;
    calls.set(o.runId, n);
    if (o.headers.hook === 'always-throws' || n === 1) throw new Error(`hook broke (call ${n})`);
  },
};
const runners: Record<string, StepRunner> = {
  default: async (s) => (s.stepNumber < 2 ? StepOutcome.continue(null) : StepOutcome.succeed({ ok: true })),
  fails: async () => StepOutcome.fail('bad'),
  cancels: async () => StepOutcome.cancel('enough'),
};

let kit: TestKit;
before(async () => {
  kit = await createTestKit({ runners, hooks: [recorder, flaky], webhook: false });
});
after(async () => kit?.teardown());

test('hooks get the outcome of every kind of run', async () => {
  for (const [runner, status] of [
    ['default', 'succeeded'],
    ['fails', 'failed'],
    ['cancels', 'cancelled'],
  ] as const) {
    const { runId } = await kit.client.submit({ input: null, runner, headers: { k: 'v' } });
    const outcome = await kit.client.result(runId);
    assert.equal(outcome.status, status);
    const seen = outcomes.filter((o) => o.runId === runId);
    assert.ok(seen.length >= 1, 'hook ran');
    assert.deepEqual(seen[0], outcome, 'the hook saw exactly the run outcome');
  }
});

test('a failing hook is retried (at least once) and never changes the outcome', async () => {
  const { runId } = await kit.client.submit({ input: null });
  const outcome = await kit.client.result(runId);
  assert.equal(outcome.status, 'succeeded');
  assert.equal(calls.get(runId), 2, 'first call threw, second succeeded');
  assert.equal((await kit.client.temporal.workflow.getHandle(runId).describe()).status.name, 'COMPLETED');
});

test('a hook that always fails: the run still closes with its own outcome', async () => {
  const { runId } = await kit.client.submit({ input: null, runner: 'fails', headers: { hook: 'always-throws' } });
  const outcome = await kit.client.result(runId);
  assert.deepEqual(outcome, {
    runId,
    status: 'failed',
    error: 'bad',
    headers: { hook: 'always-throws' },
    finalStep: 0,
  });
  assert.equal(calls.get(runId), 3, 'three attempts, then given up');
  assert.equal((await kit.client.temporal.workflow.getHandle(runId).describe()).status.name, 'FAILED');
});

test('each step activity carries a UI summary "step N"', async () => {
  const { runId } = await kit.client.submit({ input: null });
  await kit.client.result(runId);
  const history = await kit.client.temporal.workflow.getHandle(runId).fetchHistory();
  const summaries = (history.events ?? [])
    .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'runStep')
    .map((e) => {
      const data = e.userMetadata?.summary?.data;
      return data ? (JSON.parse(Buffer.from(data).toString()) as string) : undefined;
    });
  assert.deepEqual(summaries, ['step 0', 'step 1', 'step 2']);
});

test('a fast run with no terminal hook on its worker closes without the hooks local activity', async () => {
  // Three fast steps, all in the first chain (the step activity): any local activity is the hooks'.
  const fast = fastSteps(runners.default!);
  const bare = await createTestKit({ runners: { ...runners, fast }, webhook: { allowPrivate: true } });
  try {
    const localActivities = async (runId: string) =>
      ((await bare.client.temporal.workflow.getHandle(runId).fetchHistory()).events ?? []).filter(
        (e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity',
      ).length;
    // No user hooks and no callback URL: nothing to run.
    const plain = await bare.client.submit({ input: null, runner: 'fast' });
    assert.equal((await bare.client.result(plain.runId)).status, 'succeeded');
    assert.equal(await localActivities(plain.runId), 0);
    // A callback URL: the webhook hook runs, and starts the delivery.
    const hooked = await bare.client.submit({
      input: null,
      runner: 'fast',
      headers: { callback_url: 'http://127.0.0.1:9/unused' },
    });
    assert.equal((await bare.client.result(hooked.runId)).status, 'succeeded');
    assert.equal(await localActivities(hooked.runId), 1);
    assert.ok(await bare.client.temporal.workflow.getHandle(`${hooked.runId}.webhook`).describe());
    // A regular run keeps the hooks local activity (skipping it would cost a patch marker).
    const regular = await bare.client.submit({ input: null });
    assert.equal((await bare.client.result(regular.runId)).status, 'succeeded');
    assert.equal(await localActivities(regular.runId), 1);
  } finally {
    await bare.teardown();
  }
});
