/**
 * Runs at Temporal's limits, on a real dev server: a deadline across continue-as-new, history
 * kept bounded while a run waits (events, sleeps, backoffs), and the size bounds of what a run
 * carries (input, headers, the continue-as-new carry, children's outcomes, memos).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { StepOutcome, type StepRunner } from '../src';
import { createTestKit, type TestKit } from '../src/testing';
import { startReceiver, type Receiver } from '../support/receiver';
import { eventually } from '../support/wait';

const runners: Record<string, StepRunner> = {
  /** Sleeps 300 ms a step until step `payload.until`, then succeeds with the step number. */
  ticker: async (step) => {
    const { until } = step.payload as { until: number };
    return step.stepNumber >= until
      ? StepOutcome.succeed(step.stepNumber)
      : StepOutcome.continueAfter(step.payload, 300);
  },
};

let kit: TestKit;
let receiver: Receiver;
before(async () => {
  receiver = await startReceiver();
  kit = await createTestKit({
    runners,
    server: 'local',
    webhook: { allowPrivate: true, maxRetries: 0, timeoutMs: 5000 },
  });
});
after(async () => {
  await kit?.teardown();
  await receiver?.close();
});

const handle = (runId: string) => kit.client.temporal.workflow.getHandle(runId);
/** The run's executions, first to last, with their history lengths. */
async function executions(runId: string): Promise<Array<{ runId: string; events: number }>> {
  const out: Array<{ runId: string; events: number }> = [];
  let current: string | undefined = (await handle(runId).describe()).raw.workflowExecutionInfo?.firstRunId ?? undefined;
  for (let i = 0; current && i < 1000; i++) {
    const history = await kit.client.temporal.workflow.getHandle(runId, current).fetchHistory();
    const events = history.events ?? [];
    out.push({ runId: current, events: events.length });
    current = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return out;
}
/** The webhook the receiver got at `path`: the run's status (header) and the body (result or error). */
async function webhookOf(path: string): Promise<{ status: string; body: string }> {
  await eventually(() => receiver.to(path).length > 0, 30_000, `webhook at ${path}`);
  const request = receiver.to(path)[0]!;
  return { status: String(request.headers['workflow-run-status']), body: request.body.toString('utf8') };
}
const withHook = (path: string) => ({ callback_url: `${receiver.url}${path}` });

describe('a deadline across continue-as-new', () => {
  test('a run with a deadline continues-as-new and succeeds', { timeout: 90_000 }, async () => {
    const { runId } = await kit.client.submit({
      input: { until: 12 },
      runner: 'ticker',
      deadline: '2m',
      maxHistoryEvents: 40,
      headers: withHook('/deadline-ok'),
    });
    const outcome = await kit.client.result(runId);
    assert.deepEqual([outcome.status, outcome.result], ['succeeded', 12]);
    assert.ok((await executions(runId)).length >= 3, 'the run continued-as-new');
    assert.equal((await webhookOf('/deadline-ok')).status, 'succeeded');
  });

  test(
    'the deadline counts from submission: it passes in a later execution and fails the run, with its webhook',
    { timeout: 90_000 },
    async () => {
      const submitted = Date.now();
      const { runId } = await kit.client.submit({
        input: { until: 1_000_000 },
        runner: 'ticker',
        deadline: '6s',
        maxHistoryEvents: 40,
        headers: withHook('/deadline-late'),
      });
      const outcome = await kit.client.result(runId);
      const elapsed = Date.now() - submitted;
      assert.deepEqual([outcome.status, outcome.error], ['failed', 'deadline exceeded']);
      // Each execution lasts about 1.5 s: a deadline counted from each execution's start never passes.
      const chain = await executions(runId);
      assert.ok(chain.length >= 2, `the deadline passed in a later execution: ${JSON.stringify(chain)}`);
      assert.ok(elapsed >= 5_900 && elapsed < 30_000, `failed after ${elapsed} ms`);
      assert.deepEqual(await webhookOf('/deadline-late'), { status: 'failed', body: 'deadline exceeded' });
    },
  );
});
