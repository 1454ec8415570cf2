/**
 * Park instead of fail (issue 21, part 4), on a real dev server with the `durable-runs` CLI: a run
 * with `onExhausted: 'park'` whose step's retries are spent, or that threw a permanent error,
 * waits in state `parked` (no activity, no worker held, no webhook) until `resume` runs the step
 * again from attempt 1; a cancel or the deadline still ends it; it survives continue-as-new and a
 * worker replaced by another.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createWorker, StepError, StepOutcome, type StepRunner } from '../src';
import { createTestKit, type TestKit, workflowBundle } from '../src/testing';
import { startReceiver, type Receiver } from '../support/receiver';
import { eventually } from '../support/wait';
import { durableRunsCli } from './helpers/durable-runs-cli';

/** Runs whose step works now (the operator fixed what broke it). */
const fixed = new Set<string>();
/** Times each run's memoised charge really ran. */
const charges = new Map<string, number>();
/** Attempts each run's failing step saw, in order. */
const attempts = new Map<string, number[]>();

type Payload = { order: number; fixed?: boolean } | null;

const runners: Record<string, StepRunner<Payload>> = {
  /**
   * Step 0 goes on; step 1 charges once (memoised), then throws a transient error until its run is
   * fixed or its payload says `fixed`, and then succeeds with what it saw.
   */
  flaky: async (step) => {
    if (step.stepNumber === 0) return StepOutcome.continue(step.payload);
    attempts.set(step.runId, [...(attempts.get(step.runId) ?? []), step.attempt]);
    const charge = await step.memo('charge', () => {
      charges.set(step.runId, (charges.get(step.runId) ?? 0) + 1);
      return { id: `ch_${step.runId}` };
    });
    if (!fixed.has(step.runId) && !step.payload?.fixed) throw StepError.transient(`provider down (${step.attempt})`);
    return StepOutcome.succeed({ payload: step.payload, attempt: step.attempt, charge });
  },
  /** Throws a permanent error until its run is fixed. */
  permanent: async (step) => {
    attempts.set(step.runId, [...(attempts.get(step.runId) ?? []), step.attempt]);
    if (!fixed.has(step.runId)) throw StepError.permanent('no such account');
    return StepOutcome.succeed({ payload: step.payload, attempt: step.attempt });
  },
  /** The runner's own verdict: a failure it decided, which never parks. */
  declines: async () => StepOutcome.fail('card declined'),
  waitsForever: async () => StepOutcome.waitForEvent(null, { events: 'never' }),
};

let kit: TestKit;
let receiver: Receiver;
before(async () => {
  receiver = await startReceiver();
  kit = await createTestKit({ runners, server: 'local', webhook: { allowPrivate: true } });
});
after(async () => {
  await kit?.teardown();
  await receiver?.close();
});

const handle = (runId: string) => kit.client.temporal.workflow.getHandle(runId);
const parked = (runId: string) =>
  eventually(async () => (await kit.client.status(runId)).state === 'parked', 60_000, `${runId} parked`);

const durableRuns = durableRunsCli(() => ({ address: kit.env.address, taskQueue: kit.taskQueue }));

/** The run's history length, to show that a refused message wrote nothing. */
const historyLength = async (runId: string) => (await handle(runId).describe()).historyLength;

test('a run whose retries are spent parks holding no activity and sends no webhook; resumed with a new payload, it succeeds', async () => {
  const runId = 'park-exhausted';
  await kit.client.submit({
    runId,
    runner: 'flaky',
    input: { order: 7 },
    maxAttemptsPerStep: 2,
    onExhausted: 'park',
    headers: { callback_url: `${receiver.url}/exhausted` },
  });
  await parked(runId);
  assert.deepEqual(await kit.client.status(runId), {
    runId,
    state: 'parked',
    step: 1,
    attempt: 2,
    lastError: 'step 1 failed after 2 attempts: provider down (2)',
    runner: 'flaky',
  });
  const description = await handle(runId).describe();
  assert.equal(description.status.name, 'RUNNING');
  assert.deepEqual(description.raw.pendingActivities ?? [], [], 'no pending activity');
  // The close is what sends the webhook: a parked run has not closed.
  assert.equal(receiver.to('/exhausted').length, 0);

  const resumed = await durableRuns('resume', runId, '--payload', '{"order":7,"fixed":true}');
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(resumed.stdout, `${runId}: step 1 runs again from attempt 1\n`);
  const outcome = await kit.client.result(runId);
  assert.equal(outcome.status, 'succeeded');
  assert.deepEqual(outcome.result, { payload: { order: 7, fixed: true }, attempt: 1, charge: { id: `ch_${runId}` } });
  assert.deepEqual(attempts.get(runId), [1, 2, 1], 'attempts 1 and 2, then 1 again');
  assert.equal(charges.get(runId), 1, "the step's memo was kept: charged once");
  await eventually(() => receiver.to('/exhausted').length === 1, 30_000, 'the close delivered');
  assert.equal(receiver.to('/exhausted')[0]!.headers['workflow-run-status'], 'succeeded');
});

test("a permanent error parks at attempt 1; list --state parked finds it; resume without a payload runs the step's own; a runner's fail verdict does not park", async () => {
  const runId = 'park-permanent';
  await kit.client.submit({ runId, runner: 'permanent', input: { order: 8 }, onExhausted: 'park' });
  await kit.client.submit({ runId: 'park-running', runner: 'waitsForever', input: null, onExhausted: 'park' });
  await kit.client.submit({ runId: 'park-declined', runner: 'declines', input: null, onExhausted: 'park' });
  await parked(runId);
  assert.deepEqual(await kit.client.status(runId), {
    runId,
    state: 'parked',
    step: 0,
    attempt: 1,
    lastError: 'no such account',
    runner: 'permanent',
  });
  const declined = await kit.client.result('park-declined');
  assert.deepEqual([declined.status, declined.error], ['failed', 'card declined']);

  // The listing's memo says which running runs are parked; visibility catches up with the upsert.
  const listed = async (state: string) => {
    const { code, stdout, stderr } = await durableRuns('list', '--state', state, '--json');
    assert.equal(code, 0, stderr);
    return (JSON.parse(stdout) as Array<{ runId: string; state: string }>).map((r) => `${r.runId} ${r.state}`);
  };
  await eventually(async () => (await listed('parked')).includes(`${runId} parked`), 30_000, 'listed as parked');
  assert.ok(!(await listed('parked')).some((r) => r.startsWith('park-running ')), 'a waiting run is not parked');
  assert.ok((await listed('running')).includes('park-running running'));
  assert.ok(!(await listed('running')).some((r) => r.startsWith(`${runId} `)), 'a parked run is not listed as running');

  fixed.add(runId);
  assert.deepEqual(await kit.client.resumeRun(runId), { resumed: true, step: 0 });
  const outcome = await kit.client.result(runId);
  assert.deepEqual(outcome.result, { payload: { order: 8 }, attempt: 1 });
  assert.deepEqual(attempts.get(runId), [1, 1]);
  await eventually(async () => !(await listed('parked')).some((r) => r.startsWith(`${runId} `)), 30_000, 'unlisted');
  await kit.client.cancel('park-running');
});

test('submit --on-exhausted park (another value exits 2); resume refuses, changing nothing: a run that is not parked, a closed or unknown run (exit 1), --payload that is not JSON (exit 2)', async () => {
  await kit.client.submit({ runId: 'resume-waiting', runner: 'waitsForever', input: null, onExhausted: 'park' });
  await eventually(async () => (await kit.client.status('resume-waiting')).state === 'waiting', 30_000, 'waiting');
  const before = await historyLength('resume-waiting');
  const waiting = await durableRuns('resume', 'resume-waiting');
  assert.deepEqual(
    [waiting.code, waiting.stdout],
    [
      1,
      'resume-waiting: not resumed: run resume-waiting is not parked (it is waiting): only a parked run can be resumed\n',
    ],
  );
  assert.equal(await historyLength('resume-waiting'), before, 'the refusal wrote no history');
  await kit.client.cancel('resume-waiting');
  await kit.client.result('resume-waiting');
  assert.deepEqual(await kit.client.resumeRun('resume-waiting'), {
    resumed: false,
    reason: 'run resume-waiting is closed cancelled: only a parked run can be resumed',
  });
  const unknown = await durableRuns('resume', 'no-such-run');
  assert.deepEqual([unknown.code, unknown.stdout], [1, 'no-such-run: not resumed: run no-such-run is unknown\n']);
  assert.equal(await kit.client.resume('no-such-run'), false);

  const runId = 'resume-bad-payload';
  const wrong = await durableRuns('submit', 'null', '--runner', 'permanent', '--on-exhausted', 'retry');
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /option '--on-exhausted <fail\|park>' argument 'retry' is invalid/);
  const submitted = await durableRuns(
    'submit',
    'null',
    '--runner',
    'permanent',
    '--run-id',
    runId,
    '--on-exhausted',
    'park',
  );
  assert.equal(submitted.code, 0, submitted.stderr);
  await parked(runId);
  const length = await historyLength(runId);
  const bad = await durableRuns('resume', runId, '--payload', '{not json');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^durable-runs: --payload must be JSON, got "\{not json".*\n$/);
  assert.equal((await kit.client.status(runId)).state, 'parked');
  assert.equal(await historyLength(runId), length, 'nothing was sent');
  await kit.client.cancel(runId);
});

test('cancel ends a parked run Canceled with its webhook; the deadline fails one, with its webhook', async () => {
  const runId = 'park-cancelled';
  await kit.client.submit({
    runId,
    runner: 'permanent',
    input: null,
    onExhausted: 'park',
    headers: { callback_url: `${receiver.url}/cancelled` },
  });
  await parked(runId);
  const cancel = await durableRuns('cancel', runId, '--reason', 'nobody will fix it');
  assert.equal(cancel.code, 0, cancel.stderr);
  const outcome = await kit.client.result(runId);
  assert.deepEqual([outcome.status, outcome.error, outcome.cancelledBy], ['cancelled', 'nobody will fix it', 'signal']);
  assert.equal((await handle(runId).describe()).status.name, 'CANCELLED');
  await eventually(() => receiver.to('/cancelled').length === 1, 30_000, 'the cancel delivered');
  assert.equal(receiver.to('/cancelled')[0]!.headers['workflow-run-status'], 'cancelled');

  const late = 'park-deadline';
  await kit.client.submit({
    runId: late,
    runner: 'permanent',
    input: null,
    onExhausted: 'park',
    deadline: '4s',
    headers: { callback_url: `${receiver.url}/deadline` },
  });
  await parked(late);
  const failed = await kit.client.result(late);
  assert.deepEqual([failed.status, failed.error], ['failed', 'deadline exceeded']);
  await eventually(() => receiver.to('/deadline').length === 1, 30_000, 'the deadline delivered');
  assert.equal(receiver.to('/deadline')[0]!.headers['workflow-run-status'], 'failed');
});

test('a parked run whose history grows hands over to a new execution, still parked, still listed; resumed there, it succeeds', async () => {
  const runId = 'park-handover';
  await kit.client.submit({
    runId,
    runner: 'flaky',
    input: { order: 9 },
    maxAttemptsPerStep: 1,
    maxHistoryEvents: 20,
    onExhausted: 'park',
  });
  await parked(runId);
  const first = (await handle(runId).describe()).runId;
  // Raw `event` signals (as the Temporal CLI sends them) until the run has handed over.
  for (let i = 0; i < 60 && (await handle(runId).describe()).runId === first; i++) {
    await handle(runId).signal('event', { name: 'noise', id: `noise-${i}` });
  }
  await eventually(async () => (await handle(runId).describe()).runId !== first, 30_000, 'handed over');
  const { pendingEvents, ...status } = await kit.client.status(runId);
  assert.deepEqual(status, {
    runId,
    state: 'parked',
    step: 1,
    attempt: 1,
    lastError: 'step 1 failed after 1 attempt: provider down (1)',
    runner: 'flaky',
  });
  assert.ok(pendingEvents! > 0, 'the events went on with it');
  assert.ok(
    (await kit.client.list({ state: 'parked' })).some((r) => r.runId === runId),
    'the memo went on to the new execution',
  );
  fixed.add(runId);
  assert.equal(await kit.client.resume(runId), true);
  const outcome = await kit.client.result(runId);
  assert.deepEqual(outcome.result, { payload: { order: 9 }, attempt: 1, charge: { id: `ch_${runId}` } });
  assert.equal(charges.get(runId), 1, 'the memo went on too');
});

test('a parked run holds no worker: with none running, status says parked; a new worker takes the resume', async () => {
  const restart = await createTestKit({ runners, env: kit.env, taskQueue: 'park-restart', webhook: false });
  let replacement: { shutdown(): void; done: Promise<void> } | undefined;
  try {
    const runId = 'park-restart';
    await restart.client.submit({ runId, runner: 'permanent', input: { order: 10 }, onExhausted: 'park' });
    await eventually(async () => (await restart.client.status(runId)).state === 'parked', 60_000, 'parked');
    restart.worker.shutdown();
    await eventually(() => restart.worker.getState() === 'STOPPED', 30_000, 'worker stopped');
    // No worker answers the query: the status comes from the run's memo.
    assert.deepEqual(await restart.client.status(runId), {
      runId,
      state: 'parked',
      step: 0,
      attempt: 1,
      lastError: 'no such account',
      runner: 'permanent',
    });
    const worker = await createWorker({
      runners,
      connection: kit.env.nativeConnection,
      taskQueue: 'park-restart',
      webhook: false,
      workflowBundle: await workflowBundle(),
      shutdownGraceTime: '1s',
    });
    replacement = { shutdown: () => worker.shutdown(), done: worker.run() };
    fixed.add(runId);
    assert.equal(await restart.client.resume(runId), true);
    assert.deepEqual((await restart.client.result(runId)).result, { payload: { order: 10 }, attempt: 1 });
  } finally {
    replacement?.shutdown();
    await replacement?.done;
    await restart.teardown();
  }
});
