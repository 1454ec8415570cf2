/**
 * Flow control and usage (issue 25) on a real dev server: limit groups with the server's rate
 * limits (whole queue and per tenant), concurrency per worker, `StepError.retryAfter`, usage
 * totals with their metrics, and cost budgets that fail or park a run.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { limited, StepError, StepOutcome, type StepRunner } from '../src';
import { createTestKit, type TestKit } from '../src/testing';
import { limitQueue } from '../src/limits/groups';
import { eventually } from '../support/wait';

/** When each limited step started (ms), by run. */
const starts: { runId: string; tenant: string | undefined; at: number }[] = [];
let running = 0;
let mostAtOnce = 0;

const runners: Record<string, StepRunner> = {
  /** A limited step that takes no time. */
  paced: limited(async (step) => {
    starts.push({ runId: step.runId, tenant: step.headers.tenant, at: Date.now() });
    return step.stepNumber + 1 < (step.payload as { steps: number }).steps
      ? StepOutcome.continue(step.payload)
      : StepOutcome.succeed(null);
  }, 'pacedapi'),
};

let kit: TestKit;
before(async () => {
  kit = await createTestKit({ runners, server: 'local' });
});
after(async () => {
  await kit?.teardown();
});

async function setRate(group: string, rate: number | null, perTenant?: number | null) {
  await kit.client.temporal.workflowService.updateTaskQueueConfig({
    namespace: 'default',
    taskQueue: limitQueue(kit.taskQueue, group),
    taskQueueType: 2, // activity
    identity: 'test',
    ...(rate !== undefined ? { updateQueueRateLimit: rate === null ? {} : { rateLimit: { requestsPerSecond: rate }, reason: 'test' } } : {}),
    ...(perTenant !== undefined
      ? { updateFairnessKeyRateLimitDefault: perTenant === null ? {} : { rateLimit: { requestsPerSecond: perTenant }, reason: 'test' } }
      : {}),
  });
}

describe('limit groups', () => {
  test('a group at 5/s: 50 steps from 10 runs start at about 5 per second', async () => {
    await setRate('pacedapi', 5);
    starts.length = 0;
    const ids = Array.from({ length: 10 }, (_, i) => `paced-${i}`);
    await Promise.all(ids.map((runId) => kit.client.submit({ runId, runner: 'paced', input: { steps: 5 } })));
    const outcomes = await Promise.all(ids.map((id) => kit.client.result(id)));
    assert.deepEqual(outcomes.map((o) => o.status), ids.map(() => 'succeeded'));
    const times = starts.map((s) => s.at).sort((a, b) => a - b);
    console.log('span', times.at(-1)! - times[0]!, 'n', times.length);
    const perSecond = [];
    for (let i = 0; i < times.length; i++) perSecond.push(times.filter((t) => t >= times[i]! && t < times[i]! + 1000).length);
    console.log('max in any 1 s window', Math.max(...perSecond));
  });
});

test('debug usage', async () => {
  const k = await createTestKit({
    env: kit.env,
    runners: {
      u: async (s) => {
        s.usage({ model: 'm', inputTokens: 1, outputTokens: 2, costUsd: 0.5 });
        return s.stepNumber === 0 ? StepOutcome.continue(null) : StepOutcome.succeed(1);
      },
    },
  });
  try {
    await k.client.submit({ runId: 'dbg-u', runner: 'u', input: null });
    console.log(JSON.stringify(await k.client.result('dbg-u')));
    const h = await k.client.temporal.workflow.getHandle('dbg-u').fetchHistory();
    for (const e of h.events ?? []) if (e.activityTaskCompletedEventAttributes) console.log(JSON.stringify(e.activityTaskCompletedEventAttributes.result?.payloads?.[0]?.data ? Buffer.from(e.activityTaskCompletedEventAttributes.result.payloads[0].data).toString() : null));
  } finally {
    await k.teardown();
  }
});
