/**
 * Day two (contract v3), on a real dev server with the Temporal CLI operators use: every close of
 * a run is delivered. A run that closes again after a `temporal workflow reset` tells its
 * submitter the new outcome, with a new `webhook-id`; the attempts and redeliveries of one close
 * keep that close's id; an earlier close's delivery still retrying gives way to the new one.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { StepOutcome, type StepRunner } from '../src';
import { createTestKit, type TestKit } from '../src/testing';
import { startReceiver, type Receiver } from '../support/receiver';
import { eventually } from '../support/wait';
import { temporalCli } from './helpers/temporal-cli';

/** Runner calls per `runId/step`. */
const calls = new Map<string, number>();
const count = (key: string) => {
  const n = (calls.get(key) ?? 0) + 1;
  calls.set(key, n);
  return n;
};

const runners: Record<string, StepRunner> = {
  /** Steps 0 and 1 go on; step 2 fails the first time it runs (the model was down), then succeeds. */
  thirdFailsOnce: async (step) => {
    const n = count(`${step.runId}/${step.stepNumber}`);
    if (step.stepNumber < 2) return StepOutcome.continue(step.payload);
    return n === 1 ? StepOutcome.fail('the model was down') : StepOutcome.succeed({ second: 'time lucky' });
  },
};

let kit: TestKit;
let receiver: Receiver;
let refusing = true;
before(async () => {
  // The receiver at /stale-close answers 503 while `refusing`, so that a delivery keeps retrying;
  // everything else is taken at once.
  receiver = await startReceiver((path) => (path === '/stale-close' && refusing ? { status: 503 } : { status: 200 }));
  kit = await createTestKit({
    runners,
    server: 'local',
    taskQueue: 'durable-runs',
    webhook: { allowPrivate: true, maxRetries: 20, baseDelayMs: 2000, maxDelayMs: 2000 },
  });
});
after(async () => {
  await kit?.teardown();
  await receiver?.close();
});

const { temporal } = temporalCli(() => kit.env.address);
const handle = (runId: string) => kit.client.temporal.workflow.getHandle(runId);

/** Submits a `thirdFailsOnce` run with its webhook at `path`, and waits until it closed failed. */
async function failedRun(runId: string, path: string): Promise<void> {
  await kit.client.submit({
    runId,
    runner: 'thirdFailsOnce',
    input: { order: 7 },
    headers: { callback_url: `${receiver.url}${path}` },
  });
  assert.equal((await kit.client.result(runId)).status, 'failed');
}

/** `temporal workflow reset` to the workflow task that scheduled step `step`'s activity, as an operator does it. */
async function resetToStep(runId: string, step: number): Promise<void> {
  const events = (await handle(runId).fetchHistory()).events ?? [];
  const scheduled = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'runStep');
  assert.equal(scheduled.length, 3, 'one step activity per step');
  const eventId = String(scheduled[step]!.activityTaskScheduledEventAttributes!.workflowTaskCompletedEventId);
  await temporal('workflow', 'reset', '--workflow-id', runId, '--event-id', eventId, '--reason', 'the model is back');
}

const closedAs = async (runId: string, status: string) =>
  eventually(async () => (await handle(runId).describe()).status.name === status, 60_000, `${runId} ${status}`);

test('a run reset by hand after it failed delivers its new outcome, with a new webhook-id; redeliver sends that one', async () => {
  const runId = 'reset-reclose';
  await failedRun(runId, '/reset');
  await eventually(() => receiver.to('/reset').length === 1, 30_000, 'the first close delivered');
  await resetToStep(runId, 2);
  await closedAs(runId, 'COMPLETED');
  assert.deepEqual((await kit.client.result(runId)).result, { second: 'time lucky' });
  // Only the failing step ran again.
  assert.deepEqual(
    [0, 1, 2].map((s) => calls.get(`${runId}/${s}`)),
    [1, 1, 2],
  );
  await eventually(() => receiver.to('/reset').length === 2, 30_000, 'the second close delivered');
  const [first, second] = receiver.to('/reset');
  assert.equal(first!.headers['workflow-run-status'], 'failed');
  assert.equal(first!.headers['webhook-id'], `msg_${runId}`);
  assert.equal(first!.body.toString(), 'the model was down');
  assert.equal(second!.headers['workflow-run-status'], 'succeeded');
  assert.deepEqual(JSON.parse(second!.body.toString()), { second: 'time lucky' });
  const { runId: closing } = await handle(runId).describe();
  assert.equal(second!.headers['webhook-id'], `msg_${runId}_${closing}`, "a new id: the closing execution's");
  assert.deepEqual(await kit.client.webhookStatus(runId), { runId, state: 'delivered', attempts: 1, lastStatus: 200 });

  await kit.client.redeliver(runId);
  await eventually(() => receiver.to('/reset').length === 3, 30_000, 'redelivered');
  const third = receiver.to('/reset')[2]!;
  assert.equal(third.headers['webhook-id'], second!.headers['webhook-id'], "redeliver sends the latest close's");
  assert.equal(third.headers['workflow-run-status'], 'succeeded');
  assert.equal(receiver.to('/reset').length, 3, 'nothing else was sent');
});

test("an earlier close's delivery still retrying is ended when the run closes again; the new one arrives", async () => {
  const runId = 'reset-stale-close';
  await failedRun(runId, '/stale-close');
  // The first close's delivery is refused (503) and retries every 2 s, until the run closes again.
  await eventually(() => receiver.to('/stale-close').length >= 1, 30_000, 'the first attempt');
  const firstDelivery = (await kit.client.temporal.workflow.getHandle(`${runId}.webhook`).describe()).runId;
  await resetToStep(runId, 2);
  await closedAs(runId, 'COMPLETED');
  const stale = kit.client.temporal.workflow.getHandle(`${runId}.webhook`, firstDelivery);
  await eventually(
    async () => (await stale.describe()).status.name === 'TERMINATED',
    30_000,
    'the stale delivery ended',
  );
  refusing = false;
  await eventually(
    () => receiver.to('/stale-close').some((r) => r.headers['workflow-run-status'] === 'succeeded'),
    60_000,
    'the second close delivered',
  );
  const requests = receiver.to('/stale-close');
  const ids = new Set(requests.map((r) => r.headers['webhook-id']));
  assert.equal(ids.size, 2, 'two closes, two ids');
  // Nothing of the first close arrives once the second close's delivery began.
  const firstOfSecond = requests.findIndex((r) => r.headers['webhook-id'] !== `msg_${runId}`);
  assert.ok(requests.slice(firstOfSecond).every((r) => r.headers['workflow-run-status'] === 'succeeded'));
  await eventually(async () => (await kit.client.webhookStatus(runId))?.state === 'delivered', 30_000, 'delivered');
});
