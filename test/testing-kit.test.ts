/**
 * The testing kit as a user would use it for their own runner (the README's example):
 * time-skipping server, worker and client in one call; timers skipped.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StepOutcome, type StepRunner } from '../src';
import { createTestKit } from '../src/testing';

/** A user's runner: polls every 10 minutes until the third check, then succeeds. */
const poller: StepRunner<{ checks: number }> = async (step) =>
  step.payload.checks < 3
    ? StepOutcome.continueAfter({ checks: step.payload.checks + 1 }, '10m')
    : StepOutcome.succeed(`ready after ${step.payload.checks} checks`);

test('a user tests their own runner in a few lines, without waiting 30 minutes', async () => {
  const kit = await createTestKit({ runners: { default: poller } });
  try {
    const started = Date.now();
    const { runId } = await kit.client.submit({ input: { checks: 0 } });
    const outcome = await kit.client.result(runId);
    assert.equal(outcome.status, 'succeeded');
    assert.equal(outcome.result, 'ready after 3 checks');
    assert.equal(outcome.finalStep, 3);
    assert.ok(Date.now() - started < 30_000);
    const d = await kit.client.temporal.workflow.getHandle(runId).describe();
    assert.ok(d.closeTime!.getTime() - d.startTime.getTime() >= 30 * 60_000, 'the server clock moved 30 minutes');
  } finally {
    await kit.teardown();
  }
});
