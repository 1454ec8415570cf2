/**
 * Where the code had drifted from the contract, on a real dev server (fairness on): `list --state
 * failed` finds Terminated and TimedOut runs; a delayed run says `scheduled` after a signal; a
 * scheduled run and a child naming its own tenant get their tenant's fairness key; a bad `tenant`
 * header is named; the metrics' `runner` label holds only runners the worker has.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DefaultLogger } from '@temporalio/worker';
import { StepOutcome, type StepRunner } from '../src';
import { freePort } from '../src/local/dev-server';
import { installMetrics } from '../src/observability/metrics';
import { MetricName } from '../src/shared/metrics';
import { WORKFLOW_TYPE } from '../src/shared/names';
import { createTestKit, type TestKit } from '../src/testing';
import { byLabel, parsePrometheus } from './helpers/prometheus';
import { eventually } from '../support/wait';

const runners: Record<string, StepRunner> = {
  waits: async (step) =>
    step.stepNumber === 0 ? StepOutcome.waitForEvent(null, { events: 'go' }) : StepOutcome.succeed('went'),
  default: async () => StepOutcome.succeed('done'),
  family: async (step) =>
    step.stepNumber === 0
      ? StepOutcome.runChildren(null, [
          { input: 'own', runner: 'waits', headers: { tenant: 'child-tenant' } },
          { input: 'inherits', runner: 'waits' },
        ])
      : StepOutcome.succeed(step.children!.map((c) => c.status)),
};

let kit: TestKit;
let metricsUrl: string;
before(async () => {
  const address = `127.0.0.1:${await freePort()}`;
  installMetrics({ bindAddress: address, runtime: { logger: new DefaultLogger('ERROR') } });
  metricsUrl = `http://${address}/metrics`;
  kit = await createTestKit({ runners, server: 'local', taskQueue: 'durable-runs' });
});
after(async () => {
  await kit?.teardown();
});

/** The fairness key Temporal holds for a run's tasks. */
async function fairnessKeyOf(runId: string): Promise<string | undefined> {
  const d = await kit.client.temporal.workflow.getHandle(runId).describe();
  return d.raw.workflowExecutionInfo?.priority?.fairnessKey ?? undefined;
}

test('list --state failed finds Terminated and TimedOut runs, which status() reads as failed', async () => {
  await kit.client.submit({ runId: 'to-terminate', input: null, runner: 'waits' });
  await eventually(async () => (await kit.client.status('to-terminate')).state === 'waiting', 30_000);
  await kit.client.temporal.workflow.getHandle('to-terminate').terminate('operator');
  await kit.client.temporal.workflow.start(WORKFLOW_TYPE, {
    workflowId: 'to-time-out',
    taskQueue: 'durable-runs',
    args: [{ input: null, runner: 'waits' }],
    workflowExecutionTimeout: '2s',
  });
  await eventually(
    async () => (await kit.client.temporal.workflow.getHandle('to-time-out').describe()).status.name === 'TIMED_OUT',
    30_000,
  );
  assert.equal((await kit.client.status('to-terminate')).state, 'failed');
  assert.equal((await kit.client.status('to-time-out')).state, 'failed');
  await eventually(
    async () => {
      const failed = (await kit.client.list({ state: 'failed' })).map((r) => r.runId);
      return failed.includes('to-terminate') && failed.includes('to-time-out');
    },
    30_000,
    'both listed as failed',
  );
  const running = (await kit.client.list({ state: 'running' })).map((r) => r.runId);
  assert.ok(!running.includes('to-terminate') && !running.includes('to-time-out'));
});

test('a delayed run says scheduled after signals land (they do not start it)', async () => {
  await kit.client.submit({ runId: 'delayed', input: null, runner: 'waits', startDelay: '1h' });
  assert.equal((await kit.client.status('delayed')).state, 'scheduled');
  const handle = kit.client.temporal.workflow.getHandle('delayed');
  await handle.signal('event', { name: 'go', id: 'early-1' });
  await handle.signal('event', { name: 'other', id: 'early-2' });
  const status = await kit.client.status('delayed');
  assert.equal(status.state, 'scheduled');
  assert.ok(status.startsAt && Date.parse(status.startsAt) > Date.now() + 50 * 60_000);
  // The signals did not start it: no workflow task in its history.
  const events = (await handle.fetchHistory()).events ?? [];
  assert.equal(events.filter((e) => e.workflowTaskScheduledEventAttributes).length, 0);
  assert.equal(events.filter((e) => e.workflowExecutionSignaledEventAttributes).length, 2);
  await handle.terminate('test done');
});

test('a scheduled run gets its tenant header as fairness key, as a submitted one does', async () => {
  await kit.client.schedules.create({
    scheduleId: 'tenanted',
    every: '1h',
    paused: true,
    run: { input: null, runner: 'default', headers: { tenant: 'acme' } },
  });
  await kit.client.schedules.trigger('tenanted');
  await eventually(async () => (await kit.client.schedules.describe('tenanted')).recentRuns.length === 1, 30_000);
  const [runId] = (await kit.client.schedules.describe('tenanted')).recentRuns;
  assert.equal(await fairnessKeyOf(runId!), 'acme');
  await kit.client.submit({ runId: 'submitted-acme', input: null, headers: { tenant: 'acme' } });
  assert.equal(await fairnessKeyOf('submitted-acme'), 'acme');
  await kit.client.schedules.delete('tenanted');
});

test("a child that names its own tenant gets that tenant's fairness key; the others inherit the parent's", async () => {
  await kit.client.submit({ runId: 'fam', input: null, runner: 'family', headers: { tenant: 'parent-tenant' } });
  await eventually(
    async () => (await kit.client.list({ parent: 'fam' })).length === 2,
    30_000,
    'both children started',
  );
  assert.equal(await fairnessKeyOf('fam'), 'parent-tenant');
  assert.equal(await fairnessKeyOf('fam-0-0'), 'child-tenant');
  assert.equal(await fairnessKeyOf('fam-0-1'), 'parent-tenant');
  for (const child of ['fam-0-0', 'fam-0-1']) {
    await eventually(async () => (await kit.client.status(child)).state === 'waiting', 30_000);
    await kit.client.sendEvent(child, 'go');
  }
  assert.deepEqual((await kit.client.result('fam')).result, ['succeeded', 'succeeded']);
});

test('an empty or over-long tenant header is refused naming the header, not fairnessKey', async () => {
  for (const tenant of ['', 't'.repeat(65)]) {
    await assert.rejects(kit.client.submit({ input: null, headers: { tenant } }), (err: Error) => {
      assert.equal(err.name, 'ValidationError');
      assert.match(err.message, /^header "tenant" must be 1–64 bytes: it is the run's default fairness key/);
      return true;
    });
  }
  await assert.rejects(
    kit.client.schedules.create({
      scheduleId: 'bad-tenant',
      every: '1h',
      run: { input: null, headers: { tenant: '' } },
    }),
    /header "tenant" must be 1–64 bytes/,
  );
  // Given its own fairness key, a run's tenant header is only a header.
  const { newlySubmitted } = await kit.client.submit({ input: null, headers: { tenant: '' }, fairnessKey: 'k' });
  assert.equal(newlySubmitted, true);
});

test('the metrics label runner holds only runners the worker has; others count as "unregistered"', async () => {
  for (const runner of ['made-up-1', 'made-up-2']) {
    await kit.client.submit({ runId: runner, input: null, runner });
    assert.equal((await kit.client.result(runner)).status, 'failed');
  }
  await kit.client.submit({ runId: 'registered', input: null });
  await kit.client.result('registered');
  const runnersSeen = byLabel(parsePrometheus(await (await fetch(metricsUrl)).text()), MetricName.StepsTotal, 'runner');
  assert.ok(!('made-up-1' in runnersSeen) && !('made-up-2' in runnersSeen), JSON.stringify(runnersSeen));
  assert.ok((runnersSeen.unregistered ?? 0) >= 2, JSON.stringify(runnersSeen));
  assert.ok((runnersSeen.default ?? 0) >= 1, JSON.stringify(runnersSeen));
});
