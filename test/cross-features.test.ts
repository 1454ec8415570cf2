/**
 * Features that meet, on a real dev server: Temporal's own cancel (`temporal workflow cancel`, the
 * UI's Request Cancellation) arriving in the same workflow task as the events that make a waiting
 * run hand over to a new execution. Each case puts both in one task: the events and the cancel are
 * sent while no worker polls the run's queue, then a worker starts. Before the fix the run closed
 * Canceled with no outcome and no webhook (its hand-over's wait was cancelled under it).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { temporal } from '@temporalio/proto';
import { StepError, StepOutcome, type StepRunner } from '../src';
import { createTestKit, type TestKit } from '../src/testing';
import { startReceiver, type Receiver } from '../support/receiver';
import { eventually } from '../support/wait';

const runners: Record<string, StepRunner> = {
  /** Waits for `approve`, then succeeds. */
  approval: async (step) =>
    step.stepNumber === 0 ? StepOutcome.waitForEvent(null, { events: 'approve' }) : StepOutcome.succeed('approved'),
  /** Sleeps an hour, then succeeds. */
  sleeper: async (step) =>
    step.stepNumber === 0 ? StepOutcome.continueAfter(null, '1h') : StepOutcome.succeed('slept'),
  /** Fails for good: with onExhausted 'park', the run parks. */
  broken: async () => {
    throw StepError.permanent('the provider refused the key');
  },
};

const WEBHOOK = { allowPrivate: true, maxRetries: 0, timeoutMs: 5000 };
let kit: TestKit;
let receiver: Receiver;
before(async () => {
  receiver = await startReceiver();
  kit = await createTestKit({ runners, server: 'local', webhook: WEBHOOK });
});
after(async () => {
  await kit?.teardown();
  await receiver?.close();
});

const handle = (runId: string) => kit.client.temporal.workflow.getHandle(runId);
/** Raw `event` signals, as the Temporal CLI sends them: enough to pass maxHistoryEvents 10. */
async function noise(runId: string, n = 12): Promise<void> {
  for (let i = 0; i < n; i++) await handle(runId).signal('event', { name: 'noise', id: `noise-${i}`, data: i });
}
/** A worker for `taskQueue` on the shared server, with the loopback receiver allowed. */
const workerFor = (taskQueue: string) =>
  createTestKit({ runners, env: kit.env, taskQueue, encryptionKeys: false, webhook: WEBHOOK });

/**
 * What a run cancelled by Temporal must end with: Canceled, its outcome saying Temporal cancelled
 * it, its webhook sent, and no workflow task failed in any of its executions.
 */
async function assertCancelledAndTold(runId: string, path: string): Promise<void> {
  const outcome = await kit.client.result(runId);
  assert.deepEqual([outcome.status, outcome.cancelledBy], ['cancelled', 'temporal']);
  const description = await handle(runId).describe();
  assert.equal(description.status.name, 'CANCELLED');
  await eventually(() => receiver.to(path).length > 0, 30_000, `webhook at ${path}`);
  const hook = receiver.to(path)[0]!;
  assert.equal(hook.headers['workflow-run-status'], 'cancelled');
  assert.equal(hook.headers['workflow-run-id'], runId);
  const firstRunId = description.raw.workflowExecutionInfo?.firstRunId ?? undefined;
  const failed = [];
  for (let current = firstRunId, i = 0; current && i < 100; i++) {
    const events = (await kit.client.temporal.workflow.getHandle(runId, current).fetchHistory()).events ?? [];
    failed.push(...events.filter((e) => e.workflowTaskFailedEventAttributes));
    const last = events.at(-1);
    current =
      last?.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
        ? (last.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined)
        : undefined;
  }
  assert.equal(failed.length, 0, 'no workflow task failed');
}

describe("Temporal's cancel in the same task as a hand-over", () => {
  test('a continued execution whose first task must hand over at once: Canceled, with its webhook', async () => {
    // The execution an event wait was handed over to, as it begins when events and the cancel
    // arrived before its first task: started on a queue no worker polls yet.
    const taskQueue = `${kit.taskQueue}-first-task`;
    const runId = `cross-first-task-${Date.now()}`;
    await kit.client.temporal.workflow.start('durableRun', {
      workflowId: runId,
      taskQueue,
      args: [
        {
          input: null,
          runner: 'approval',
          maxHistoryEvents: 10,
          headers: { callback_url: `${receiver.url}/first-task` },
        },
        { step: 0, payload: null, wait: { kind: 'event', names: ['approve'] } },
      ],
    });
    await noise(runId);
    await handle(runId).cancel();
    const late = await workerFor(taskQueue);
    try {
      await assertCancelledAndTold(runId, '/first-task');
    } finally {
      await late.teardown();
    }
  });

  for (const [name, runner, state, extra] of [
    ['waiting for an event', 'approval', 'waiting', {}],
    ['sleeping', 'sleeper', 'sleeping', {}],
    ['parked', 'broken', 'parked', { onExhausted: 'park' }],
  ] as const) {
    test(`a run ${name}: Canceled, with its webhook`, async () => {
      const taskQueue = `${kit.taskQueue}-${runner}`;
      const path = `/${runner}`;
      const first = await workerFor(taskQueue);
      let runId: string;
      try {
        ({ runId } = await first.client.submit({
          input: null,
          runner,
          maxHistoryEvents: 10,
          headers: { callback_url: `${receiver.url}${path}` },
          ...extra,
        }));
        await eventually(async () => (await first.client.status(runId)).state === state, 30_000, state);
      } finally {
        await first.teardown();
      }
      // The worker is gone: the events and the cancel wait together for the next one's task.
      await noise(runId);
      await handle(runId).cancel();
      const second = await workerFor(taskQueue);
      try {
        await assertCancelledAndTold(runId, path);
      } finally {
        await second.teardown();
      }
    });
  }
});
