/**
 * Fast steps (runners registered with fastSteps(): steps as local activities) on a real dev
 * server, in real time: a cancel and a status query get through a long chain of steps, the
 * history holds a fraction of an activity step's events, and what fast steps cannot do
 * (step.memo, step.progress) fails the step with a message saying so.
 * The run-model suite runs in fast mode too: test/runs-fast.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fastSteps, StepError, StepOutcome, type StepRunner } from '../src';
import { createTestKit, type TestKit } from '../src/testing';
import { eventually } from '../support/wait';

/** Steps of about a millisecond, until the payload's target. */
const chain: StepRunner = async (step) => {
  const { target } = step.payload as { target: number };
  await new Promise((r) => setTimeout(r, 1));
  return step.stepNumber + 1 >= target ? StepOutcome.succeed(step.stepNumber) : StepOutcome.continue(step.payload);
};

/** Every call of the `blip` runners: run, step number and attempt. */
const calls: Array<[string, number, number]> = [];
/** Ten steps; step 5's first attempt fails, transiently or for good (by run ID). */
const blip: StepRunner = async (step) => {
  calls.push([step.runId, step.stepNumber, step.attempt]);
  if (step.stepNumber === 5 && step.attempt === 1) {
    throw step.runId.includes('permanent') ? StepError.permanent('no such account') : new Error('upstream 503');
  }
  return step.stepNumber >= 9 ? StepOutcome.succeed(step.stepNumber) : StepOutcome.continue(step.payload);
};

let kit: TestKit;
before(async () => {
  kit = await createTestKit({
    server: 'local',
    webhook: false,
    runners: {
      fast: fastSteps(chain),
      regular: chain,
      blip: fastSteps(blip),
      // @ts-expect-error a fast step has no memo: a runner written inside fastSteps() that calls it does not compile
      memo: fastSteps(async (step) => StepOutcome.succeed(await step.memo('charge', () => 'charged'))),
      progress: fastSteps(async (step) => {
        // @ts-expect-error a fast step has no progress (called anyway, it fails the step)
        step.progress({ done: 1 });
        return StepOutcome.succeed(null);
      }),
    },
  });
});
after(async () => kit?.teardown());

async function historyEvents(runId: string): Promise<number> {
  const history = await kit.client.temporal.workflow.getHandle(runId).fetchHistory();
  return history.events?.length ?? 0;
}

test('history: a fast step writes well under 0.4x the events of an activity step', async (t) => {
  for (const runner of ['fast', 'regular']) {
    const { runId } = await kit.client.submit({ runId: `events-${runner}`, input: { target: 100 }, runner });
    const outcome = await kit.client.result(runId);
    assert.equal(outcome.status, 'succeeded');
    assert.equal(outcome.finalStep, 99, 'step numbers 0..99, none skipped');
  }
  const fast = await historyEvents('events-fast');
  const regular = await historyEvents('events-regular');
  t.diagnostic(`100 steps: fast ${fast} events, regular ${regular} (${(fast / regular).toFixed(2)}x)`);
  assert.ok(fast / regular <= 0.4, `fast ${fast} events, regular ${regular}: ${(fast / regular).toFixed(2)}x`);
});

test('a cancel and a status query get through a long chain of fast steps', async (t) => {
  const { runId } = await kit.client.submit({ runId: 'long-chain', input: { target: 1_000_000 }, runner: 'fast' });
  await eventually(async () => (await kit.client.status(runId)).step > 200, 60_000, 'the chain is under way');
  // The contract says within 2 s; on two busy cores the test allows twice that. Without the run
  // letting its workflow task complete between chains, both would wait for the task's heartbeat (8 s).
  let t0 = Date.now();
  const status = await kit.client.status(runId);
  const queryMs = Date.now() - t0;
  assert.equal(status.state, 'running');
  assert.ok(queryMs < 4000, `status answered in ${queryMs} ms`);
  t0 = Date.now();
  assert.equal(await kit.client.cancel(runId, 'enough'), true);
  const outcome = await kit.client.result(runId);
  const cancelMs = Date.now() - t0;
  assert.equal(outcome.status, 'cancelled');
  assert.equal(outcome.error, 'enough');
  t.diagnostic(`status answered in ${queryMs} ms, cancel closed the run in ${cancelMs} ms`);
  assert.ok(cancelMs < 4000, `cancelled in ${cancelMs} ms`);
  assert.ok(outcome.finalStep > 200 && outcome.finalStep < 1_000_000);
});

test('step.memo and step.progress in a fast step fail it, saying why', async () => {
  for (const runner of ['memo', 'progress']) {
    const { runId } = await kit.client.submit({ runId: `unavailable-${runner}`, input: null, runner });
    const outcome = await kit.client.result(runId);
    assert.equal(outcome.status, 'failed');
    assert.match(outcome.error ?? '', new RegExp(`step\\.${runner} is not available in fast steps`));
    assert.match(outcome.error ?? '', /register it without fastSteps\(\)/);
  }
});

test('a step failing inside a chain is retried with backoff; no step runs twice for it', async () => {
  const { runId } = await kit.client.submit({ runId: 'chain-blip', input: null, runner: 'blip' });
  const outcome = await kit.client.result(runId);
  assert.equal(outcome.status, 'succeeded');
  assert.equal(outcome.finalStep, 9);
  assert.deepEqual(
    calls.filter(([id]) => id === runId).map(([, n, attempt]) => `${n}.${attempt}`),
    ['0.1', '1.1', '2.1', '3.1', '4.1', '5.1', '5.2', '6.1', '7.1', '8.1', '9.1'],
  );
  // The failed attempt is in the history as the step's failure, then the backoff timer.
  const events = (await kit.client.temporal.workflow.getHandle(runId).fetchHistory()).events ?? [];
  assert.equal(events.filter((e) => e.timerStartedEventAttributes).length, 1, 'one backoff timer');

  const failed = await kit.client.submit({ runId: 'chain-blip-permanent', input: null, runner: 'blip' });
  const ended = await kit.client.result(failed.runId);
  assert.equal(ended.status, 'failed');
  assert.equal(ended.error, 'no such account');
  assert.equal(ended.finalStep, 5, 'the run ended at the failing step');
});
