/**
 * A limited runner's run whose group nobody serves any more (a deploy took `limited()` off): its
 * next step waits 15 minutes on the group's queue (LIMITED_SCHEDULE_TO_START_MS, the limit) and
 * then goes to the run's own queue, where the new worker runs it; the run ends and is delivered.
 * On the time-skipping server, which skips the 15 minutes.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { limited, StepOutcome, type StepRunner } from '../src';
import { createTestEnv, createTestKit } from '../src/testing';
import { limitQueue, LIMITS_VARIABLE } from '../src/limits/groups';
import { eventually } from '../support/wait';
import type { TestWorkflowEnvironment } from '@temporalio/testing';

const step0: StepRunner = (step) =>
  step.stepNumber === 0 ? StepOutcome.waitForEvent(null, { events: 'go' }) : StepOutcome.succeed('done');

let env: TestWorkflowEnvironment;
before(async () => {
  env = await createTestEnv('time-skipping');
});
after(async () => {
  await env?.teardown();
});

test('a step that waits 15 minutes on a group queue no worker serves goes to the run queue, and the run ends', async () => {
  const taskQueue = 'fallback';
  process.env[LIMITS_VARIABLE] = 'goneapi=concurrency:1';
  let first;
  try {
    // No sticky queue: the time-skipping server never moves a task off one whose worker left.
    first = await createTestKit({
      env,
      taskQueue,
      runners: { r: limited(step0, 'goneapi') },
      webhook: false,
      tuning: { maxCachedWorkflows: 0 },
    });
  } finally {
    delete process.env[LIMITS_VARIABLE];
  }
  const runId = 'fallback-run';
  try {
    await first.client.submit({ runId, runner: 'r', input: null });
    await eventually(async () => (await first.client.status(runId)).state === 'waiting', 30_000, 'waiting');
  } finally {
    await first.teardown();
  }
  // The new deploy: the same runner, no longer limited; nobody polls the group's queue.
  const second = await createTestKit({ env, taskQueue, runners: { r: step0 }, webhook: false });
  try {
    await second.client.sendEvent(runId, 'go');
    // The server skips a pending activity's schedule-to-start timeout only when told to.
    await env.sleep('16m');
    const outcome = await second.client.result(runId);
    assert.equal(outcome.status, 'succeeded');
    const events = (await second.client.temporal.workflow.getHandle(runId).fetchHistory()).events ?? [];
    const scheduled = events.flatMap((e) => {
      const a = e.activityTaskScheduledEventAttributes;
      return a?.activityType?.name === 'runStep' ? [a.taskQueue?.name] : [];
    });
    const group = limitQueue(taskQueue, 'goneapi');
    // Step 0: asked on the run queue (rerouted), run on the group's; step 1: on the group's, then the run's.
    assert.deepEqual(scheduled, [taskQueue, group, group, taskQueue]);
    const timedOut = events.filter((e) => e.activityTaskTimedOutEventAttributes);
    assert.equal(timedOut.length, 1);
    assert.match(JSON.stringify(timedOut[0]!.activityTaskTimedOutEventAttributes!.failure), /SCHEDULE_TO_START/);
  } finally {
    await second.teardown();
  }
});
