/**
 * Runs that start runs, on the time-skipping server: child runs (order of outcomes, concurrency
 * limit, cancel from the parent and of one child, deterministic IDs, inherited headers, the
 * 1,000-child limit), budgets (maxSteps, deadline mid-step), who cancelled (each origin, in the
 * outcome and the webhook header) and delayed starts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { StepOutcome, type RunOutcome, type StepRunner } from '../src';
import { childRunId } from '../src/activities/run-step';
import { webhookWorkflowId } from '../src/shared/names';
import { createTestKit, type TestKit } from '../src/testing';
import { startReceiver, type Receiver } from '../support/receiver';
import { eventually } from '../support/wait';

const wallSleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const untilAborted = (signal: AbortSignal) =>
  new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve())));

let running = 0;
let maxRunning = 0;
const started = new Set<string>();
const headersSeen = new Map<string, Record<string, string>>();

const summary = (o: RunOutcome) => ({
  runId: o.runId,
  status: o.status,
  error: o.error ?? null,
  result: o.result ?? null,
});

const runners: Record<string, StepRunner> = {
  /** Starts three children (the second fails), then reports their outcomes. */
  parent: async (step) =>
    step.stepNumber === 0
      ? StepOutcome.runChildren('after', [{ input: 1 }, { input: 'boom', runner: 'failing' }, { input: 3 }])
      : StepOutcome.succeed(step.children!.map(summary)),
  default: async (step) => {
    headersSeen.set(step.runId, step.headers);
    return StepOutcome.succeed((step.payload as number) * 10);
  },
  failing: async (step) => StepOutcome.fail(`child says ${String(step.payload)}`),
  /** Six slow children, two at a time. */
  throttled: async (step) =>
    step.stepNumber === 0
      ? StepOutcome.runChildren(
          null,
          Array.from({ length: 6 }, (_, i) => ({ input: i, runner: 'slow' })),
          { maxConcurrent: 2 },
        )
      : StepOutcome.succeed(step.children!.map((c) => c.status)),
  slow: async (step) => {
    running++;
    maxRunning = Math.max(maxRunning, running);
    await wallSleep(300);
    running--;
    return StepOutcome.succeed(step.payload);
  },
  /** Children that hold their step until cancelled. */
  holdsChildren: async (step) =>
    step.stepNumber === 0
      ? StepOutcome.runChildren(null, [
          { input: 0, runner: 'holds' },
          { input: 1, runner: 'holds' },
          { input: 2, runner: 'holds' },
        ])
      : StepOutcome.succeed(step.children!.map((c) => ({ status: c.status, cancelledBy: c.cancelledBy ?? null }))),
  holds: async (step) => {
    started.add(step.runId);
    await untilAborted(step.signal);
    return StepOutcome.succeed('discarded');
  },
  tooMany: async () =>
    StepOutcome.runChildren(
      null,
      Array.from({ length: 1001 }, () => ({ input: 0 })),
    ),
  /** The most children a step may start (1,000), then how they ended. */
  thousand: async (step) =>
    step.stepNumber === 0
      ? StepOutcome.runChildren(
          null,
          Array.from({ length: 1000 }, (_, i) => ({ input: i })),
        )
      : StepOutcome.succeed({
          children: step.children!.length,
          succeeded: step.children!.filter((c) => c.status === 'succeeded').length,
          results: step.children!.every((c, i) => c.result === i * 10),
        }),
  counts: async (step) => StepOutcome.continue(step.stepNumber),
  selfCancel: async () => StepOutcome.cancel('runner gave up'),
};

let kit: TestKit;
let receiver: Receiver;
before(async () => {
  receiver = await startReceiver();
  kit = await createTestKit({ runners, webhook: { allowPrivate: true } });
});
after(async () => {
  await kit?.teardown();
  await receiver?.close();
});

const closeStatus = async (runId: string) =>
  (await kit.client.temporal.workflow.getHandle(runId).describe()).status.name;

describe('child runs', () => {
  test('three children, one fails: the next step sees succeeded, failed, succeeded in order', async () => {
    const { runId } = await kit.client.submit({
      runId: 'fam-1',
      input: null,
      runner: 'parent',
      headers: { tenant: 'acme', callback_url: `${receiver.url}/parent` },
    });
    const outcome = await kit.client.result(runId);
    assert.deepEqual(outcome.result, [
      { runId: 'fam-1-0-0', status: 'succeeded', error: null, result: 10 },
      { runId: 'fam-1-0-1', status: 'failed', error: 'child says boom', result: null },
      { runId: 'fam-1-0-2', status: 'succeeded', error: null, result: 30 },
    ]);
    // Children inherit headers, except the callback URL: only the parent's webhook is sent.
    assert.deepEqual(headersSeen.get('fam-1-0-0'), { tenant: 'acme' });
  });

  test('maxConcurrent: 2 never has more than two children running', async () => {
    maxRunning = 0;
    const { runId } = await kit.client.submit({ input: null, runner: 'throttled' });
    const outcome = await kit.client.result(runId);
    assert.deepEqual(outcome.result, Array(6).fill('succeeded'));
    assert.equal(maxRunning, 2);
  });

  test("cancelling the parent closes every open child Canceled with cancelledBy 'parent'", async () => {
    const { runId } = await kit.client.submit({
      runId: 'fam-cancel',
      input: null,
      runner: 'holdsChildren',
      heartbeatTimeoutMs: 2000,
    });
    await eventually(() => [0, 1, 2].every((i) => started.has(`fam-cancel-0-${i}`)));
    const status = await kit.client.status(runId);
    assert.deepEqual([status.state, status.children], ['waiting', { total: 3, closed: 0 }]);
    await kit.client.cancel(runId, 'stop the family');
    const outcome = await kit.client.result(runId);
    assert.deepEqual([outcome.status, outcome.cancelledBy], ['cancelled', 'signal']);
    for (let i = 0; i < 3; i++) {
      const child = await kit.client.result(`fam-cancel-0-${i}`);
      assert.deepEqual([child.status, child.cancelledBy], ['cancelled', 'parent']);
      assert.equal(await closeStatus(`fam-cancel-0-${i}`), 'CANCELLED');
    }
  });

  test('cancelling one child alone: the parent goes on and sees that child cancelled', async () => {
    const { runId } = await kit.client.submit({
      runId: 'fam-one',
      input: null,
      runner: 'holdsChildren',
      heartbeatTimeoutMs: 2000,
    });
    await eventually(() => [0, 1, 2].every((i) => started.has(`fam-one-0-${i}`)));
    await kit.client.cancel('fam-one-0-1', 'not this one');
    await eventually(async () => (await kit.client.status(runId)).children?.closed === 1);
    assert.equal((await kit.client.status(runId)).state, 'waiting');
    await kit.client.cancel('fam-one-0-0');
    await kit.client.cancel('fam-one-0-2');
    const outcome = await kit.client.result(runId);
    assert.equal(outcome.status, 'succeeded');
    assert.deepEqual(outcome.result, [
      { status: 'cancelled', cancelledBy: 'signal' },
      { status: 'cancelled', cancelledBy: 'signal' },
      { status: 'cancelled', cancelledBy: 'signal' },
    ]);
  });

  test('more than 1,000 children fails the parent, naming the limit', async () => {
    const { runId } = await kit.client.submit({ input: null, runner: 'tooMany' });
    const outcome = await kit.client.result(runId);
    assert.equal(outcome.status, 'failed');
    assert.match(outcome.error!, /runChildren: at most 1000 children per step, got 1001/);
  });

  test(
    "exactly 1,000 children are accepted and all run; only the parent's webhook is sent",
    { timeout: 480_000 },
    async () => {
      const { runId } = await kit.client.submit({
        runId: 'thousand',
        input: null,
        runner: 'thousand',
        headers: { callback_url: `${receiver.url}/thousand`, tenant: 'acme' },
      });
      const outcome = await kit.client.result(runId);
      assert.equal(outcome.status, 'succeeded', outcome.error ?? '');
      assert.deepEqual(outcome.result, { children: 1000, succeeded: 1000, results: true });
      await eventually(() => receiver.to('/thousand').length > 0, 60_000, "the parent's webhook");
      // Children inherit the headers but the callback URL: no child ever had one to call.
      for (const i of [0, 500, 999]) assert.deepEqual(headersSeen.get(`thousand-0-${i}`), { tenant: 'acme' });
      // No delivery workflow was started for any child (they would be `<child>.webhook`).
      const deliveries = await Promise.all(
        Array.from({ length: 1000 }, (_, i) =>
          kit.client.temporal.workflow
            .getHandle(webhookWorkflowId(`thousand-0-${i}`))
            .describe()
            .then(
              () => `thousand-0-${i}`,
              () => undefined,
            ),
        ),
      );
      assert.deepEqual(deliveries.filter(Boolean), []);
      assert.equal(receiver.requests.filter((r) => r.path.startsWith('/thousand')).length, 1);
      assert.equal(receiver.to('/thousand').length, 1);
    },
  );

  test('child run IDs: <parent>-<step>-<index>, valid run IDs of at most 128 characters, whatever the parent', () => {
    assert.equal(childRunId('order-7', 3, 12), 'order-7-3-12');
    const long = 'x'.repeat(128);
    const id = childRunId(long, 999, 999);
    assert.ok(id.length <= 128 && /^[A-Za-z0-9_-]+$/.test(id), id);
    assert.equal(childRunId(long, 999, 999), id, 'deterministic');
    assert.notEqual(childRunId(`${long.slice(1)}y`, 999, 999), id, 'the hash tells long parents apart');
    // A schedule's run has an ID that is no run ID: its children's IDs still are, and stay apart.
    const scheduled = childRunId('nightly-2026-12-04T14:09:48Z', 0, 1);
    assert.match(scheduled, /^nightly-2026-12-04T14_09_48Z-[0-9a-f]{12}-0-1$/);
    assert.notEqual(childRunId('nightly-2026-12-04T14_09_48Z', 0, 1), scheduled);
  });
});

describe('budgets', () => {
  test('maxSteps: the run fails rather than start a step past its budget', async () => {
    const { runId } = await kit.client.submit({ input: null, runner: 'counts', maxSteps: 3 });
    const outcome = await kit.client.result(runId);
    assert.deepEqual(
      [outcome.status, outcome.error, outcome.finalStep],
      ['failed', 'step budget of 3 steps used up', 3],
    );
    assert.equal(await closeStatus(runId), 'FAILED');
  });

  test('deadline: the running step is cancelled (its signal aborts) and the run fails', async () => {
    const { runId } = await kit.client.submit({
      input: null,
      runner: 'holds',
      deadline: '3s',
      heartbeatTimeoutMs: 2000,
    });
    const outcome = await kit.client.result(runId);
    assert.deepEqual([outcome.status, outcome.error, outcome.finalStep], ['failed', 'deadline exceeded', 0]);
    assert.ok(started.has(runId), 'the step was running');
    assert.equal(await closeStatus(runId), 'FAILED', 'Failed, not TimedOut');
  });
});

describe('who cancelled', () => {
  test('signal, temporal and runner, in the outcome and the webhook header', async () => {
    const submitHolding = (runId: string) =>
      kit.client.submit({
        runId,
        input: null,
        runner: 'holds',
        heartbeatTimeoutMs: 2000,
        headers: { callback_url: `${receiver.url}/${runId}` },
      });
    await submitHolding('by-signal');
    await eventually(() => started.has('by-signal'));
    await kit.client.cancel('by-signal');
    await submitHolding('by-temporal');
    await eventually(() => started.has('by-temporal'));
    await kit.client.temporal.workflow.getHandle('by-temporal').cancel();
    await kit.client.submit({
      runId: 'by-runner',
      input: null,
      runner: 'selfCancel',
      headers: { callback_url: `${receiver.url}/by-runner` },
    });
    for (const [runId, by] of [
      ['by-signal', 'signal'],
      ['by-temporal', 'temporal'],
      ['by-runner', 'runner'],
    ] as const) {
      assert.equal((await kit.client.result(runId)).cancelledBy, by, runId);
      await eventually(() => receiver.to(`/${runId}`).length > 0);
      assert.equal(receiver.to(`/${runId}`)[0]!.headers['workflow-run-cancelled-by'], by);
    }
  });
});

describe('delayed start', () => {
  test('status says scheduled until the delay passes; then the run starts (time skipped)', async () => {
    const { runId } = await kit.client.submit({ input: 4, startDelay: '10m' });
    const status = await kit.client.status(runId);
    assert.equal(status.state, 'scheduled');
    assert.ok(Date.parse(status.startsAt!) > Date.now() + 9 * 60_000, status.startsAt);
    assert.deepEqual(
      (await kit.client.submit({ runId, input: 4 })).newlySubmitted,
      false,
      'idempotent while scheduled',
    );
    assert.equal((await kit.client.result(runId)).result, 40);
  });
});
