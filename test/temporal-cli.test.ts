/**
 * Operators drive runs with the Temporal CLI they already use: the real `temporal` binary
 * against a real dev server, with the names of the contract (durableRun, durable-runs, cancel, status).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { StepOutcome, type StepRunner } from '../src';
import { createTestKit, type TestKit } from '../src/testing';
import { temporalCli } from './helpers/temporal-cli';
import { eventually } from '../support/wait';

const runners: Record<string, StepRunner> = {
  default: async (step) =>
    step.stepNumber < 2 ? StepOutcome.continue(step.payload) : StepOutcome.succeed(step.payload),
  waits: async (step) => {
    await new Promise((resolve) => step.signal.addEventListener('abort', resolve));
    return StepOutcome.succeed('discarded');
  },
  fails: async () => StepOutcome.fail('declined by the CLI test'),
};

let kit: TestKit;
let address: string;
before(async () => {
  kit = await createTestKit({ runners, server: 'local', taskQueue: 'durable-runs' });
  address = kit.env.address;
});
after(async () => kit?.teardown());

const { temporal, startRun } = temporalCli(() => address);

/** Starts a run whose step waits for the cancel, and waits until that step runs. */
async function startWaiting(id: string): Promise<void> {
  await startRun(id, '{"input":1,"runner":"waits","heartbeatTimeoutMs":2000}');
  await eventually(async () => (await kit.client.status(id)).state === 'running');
}

const closeStatus = async (id: string) => (await kit.client.temporal.workflow.getHandle(id).describe()).status.name;

test('temporal workflow start runs a durableRun on the durable-runs task queue', async () => {
  await startRun('cli-start', '{"input":{"order":42},"runner":"default","headers":{"tenant":"acme"}}');
  const outcome = await kit.client.result('cli-start');
  assert.deepEqual(outcome, {
    runId: 'cli-start',
    status: 'succeeded',
    result: { order: 42 },
    headers: { tenant: 'acme' },
    finalStep: 2,
  });
});

test('temporal workflow query --type status answers', async () => {
  await startWaiting('cli-query');
  const out = await temporal('workflow', 'query', '--workflow-id', 'cli-query', '--type', 'status', '--output', 'json');
  const status = (JSON.parse(out) as { queryResult: unknown[] }).queryResult[0];
  assert.deepEqual(status, { runId: 'cli-query', state: 'running', step: 0, attempt: 1, runner: 'waits' });
  await kit.client.cancel('cli-query');
});

test('temporal workflow signal --name cancel cancels with the reason: Canceled', async () => {
  await startWaiting('cli-signal');
  await temporal(
    'workflow',
    'signal',
    '--workflow-id',
    'cli-signal',
    '--name',
    'cancel',
    '--input',
    '{"reason":"operator on call"}',
  );
  const outcome = await kit.client.result('cli-signal');
  assert.equal(outcome.status, 'cancelled');
  assert.equal(outcome.error, 'operator on call');
  assert.equal(await closeStatus('cli-signal'), 'CANCELLED');
});

test('temporal workflow cancel cancels: Canceled', async () => {
  await startWaiting('cli-cancel');
  await temporal('workflow', 'cancel', '--workflow-id', 'cli-cancel');
  const outcome = await kit.client.result('cli-cancel');
  assert.equal(outcome.status, 'cancelled');
  assert.equal(outcome.error, null);
  assert.equal(await closeStatus('cli-cancel'), 'CANCELLED');
});

test('temporal workflow list --query ExecutionStatus="Failed" finds failed runs', async () => {
  await startRun('cli-failed', '{"input":1,"runner":"fails"}');
  await kit.client.result('cli-failed');
  let ids: string[] = [];
  await eventually(async () => {
    const out = await temporal('workflow', 'list', '--query', 'ExecutionStatus="Failed"', '--output', 'json');
    const executions = out.trim() ? (JSON.parse(out) as Array<{ execution: { workflowId: string } }>) : [];
    ids = executions.map((e) => e.execution.workflowId);
    return ids.includes('cli-failed');
  });
  assert.ok(!ids.includes('cli-start'), 'a Completed run is not listed as Failed');
});

test('bad input from the Temporal CLI fails the run with a clear message, no workflow-task retries', async () => {
  await startRun('cli-bad', '"just a string"');
  const outcome = await kit.client.result('cli-bad');
  assert.equal(outcome.status, 'failed');
  assert.match(outcome.error ?? '', /workflow input must be an object/);
  const history = await kit.client.temporal.workflow.getHandle('cli-bad').fetchHistory();
  assert.equal(history.events?.filter((e) => e.workflowTaskFailedEventAttributes).length, 0);
});
