/**
 * What operators hand a run with the Temporal CLI, around the client: a stuck step completed by
 * hand with any JSON (`temporal activity complete --result`), and a run started with an input at
 * the JSON nesting bound (`temporal workflow start --input`). Each run ends by name, with its
 * webhook, and no workflow task fails. A real dev server, the real `temporal` binary, a receiver
 * on loopback.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MAX_JSON_DEPTH, MAX_VALUE_DEPTH, StepError, StepOutcome, type StepRunner } from '../src';
import { createTestKit, type TestKit } from '../src/testing';
import { temporalCli } from './helpers/temporal-cli';
import { startReceiver, type Receiver } from '../support/receiver';
import { eventually } from '../support/wait';

const nested = (depth: number): unknown => {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
};
const held = new Set<string>();
const runners: Record<string, StepRunner> = {
  /** Holds its step (the wrapper heartbeats meanwhile) until the step is cancelled or completed by hand. */
  holds: async (step) => {
    held.add(step.runId);
    await new Promise((resolve) => step.signal.addEventListener('abort', resolve));
    return StepOutcome.succeed('discarded');
  },
  /** Records its payload as a memo, then fails its first attempt: the retry's input carries the memo. */
  memoEcho: async (step) => {
    await step.memo('payload', () => step.payload);
    if (step.attempt === 1) throw StepError.transient('once more');
    return StepOutcome.succeed('done');
  },
  /** Succeeds with a value nested as deep as its payload says. */
  deepResult: async (step) => StepOutcome.succeed(nested(step.payload as number)),
};

let kit: TestKit;
let receiver: Receiver;
before(async () => {
  receiver = await startReceiver();
  kit = await createTestKit({
    runners,
    server: 'local',
    taskQueue: 'durable-runs',
    webhook: { allowPrivate: true, maxRetries: 0, timeoutMs: 5000 },
  });
});
after(async () => {
  await kit?.teardown();
  await receiver?.close();
});

const { temporal, startRun } = temporalCli(() => kit.env.address);
const handle = (id: string) => kit.client.temporal.workflow.getHandle(id);
const headers = (id: string) => ({ callback_url: `${receiver.url}/${id}` });
const nestedText = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`;

/** Starts a run whose step holds, and returns the step's activity ID once it runs. */
async function holdingStep(id: string): Promise<string> {
  await startRun(id, JSON.stringify({ input: null, runner: 'holds', heartbeatTimeoutMs: 2000, headers: headers(id) }));
  let activityId: string | undefined;
  await eventually(
    async () => {
      activityId = (await handle(id).describe()).raw.pendingActivities?.[0]?.activityId ?? undefined;
      return held.has(id) && activityId !== undefined;
    },
    30_000,
    `${id}: its step holds`,
  );
  return activityId!;
}

/** The run closed (within a minute, not never); its outcome, its close status and its webhook. */
async function closed(id: string) {
  await eventually(async () => (await handle(id).describe()).status.name !== 'RUNNING', 60_000, `${id} closes`);
  const outcome = await kit.client.result(id);
  await eventually(() => receiver.to(`/${id}`).length > 0, 30_000, `${id}: its webhook`);
  const hook = receiver.to(`/${id}`)[0]!;
  const history = await handle(id).fetchHistory();
  return {
    outcome,
    closeStatus: (await handle(id).describe()).status.name,
    webhook: { status: String(hook.headers['workflow-run-status']), body: hook.body.toString('utf8') },
    workflowTaskFailures: history.events?.filter((e) => e.workflowTaskFailedEventAttributes).length ?? 0,
  };
}

test('a step completed by hand with {} fails the run naming what arrived, with its webhook', async () => {
  const activityId = await holdingStep('op-empty');
  await temporal('activity', 'complete', '--workflow-id', 'op-empty', '--activity-id', activityId, '--result', '{}');
  const { outcome, closeStatus, webhook, workflowTaskFailures } = await closed('op-empty');
  const error = `step 0: the step's result is not a step outcome: {} (it has no "kind")`;
  assert.deepEqual([outcome.status, outcome.error, outcome.finalStep], ['failed', error, 0]);
  assert.equal(closeStatus, 'FAILED');
  assert.deepEqual(webhook, { status: 'failed', body: error });
  assert.equal(workflowTaskFailures, 0);
});

test(`a step completed by hand with a result nested past ${MAX_JSON_DEPTH} levels fails the run, with its webhook`, async () => {
  const activityId = await holdingStep('op-deep');
  const result = nestedText(MAX_JSON_DEPTH + 1);
  await temporal('activity', 'complete', '--workflow-id', 'op-deep', '--activity-id', activityId, '--result', result);
  const { outcome, closeStatus, webhook, workflowTaskFailures } = await closed('op-deep');
  const error = `step 0: step outcome: payload with encoding "json/plain" could not be decoded: JSON nested deeper than ${MAX_JSON_DEPTH} levels of arrays and objects (the MAX_JSON_DEPTH limit)`;
  assert.deepEqual([outcome.status, outcome.error], ['failed', error]);
  assert.equal(closeStatus, 'FAILED');
  assert.deepEqual(webhook, { status: 'failed', body: error });
  assert.equal(workflowTaskFailures, 0);
});

test('a step completed by hand with a real step outcome is taken: the run succeeds with its result', async () => {
  const activityId = await holdingStep('op-valid');
  const result = '{"kind":"succeed","result":42}';
  await temporal('activity', 'complete', '--workflow-id', 'op-valid', '--activity-id', activityId, '--result', result);
  const { outcome, closeStatus, webhook, workflowTaskFailures } = await closed('op-valid');
  assert.deepEqual([outcome.status, outcome.result, outcome.finalStep], ['succeeded', 42, 0]);
  assert.equal(closeStatus, 'COMPLETED');
  assert.deepEqual(webhook, { status: 'succeeded', body: '42' });
  assert.equal(workflowTaskFailures, 0);
});

test(`a result nested ${MAX_VALUE_DEPTH} levels reaches the webhook; one level more fails the step by name`, async () => {
  await kit.client.submit({
    runId: 'op-result-max',
    input: MAX_VALUE_DEPTH,
    runner: 'deepResult',
    headers: headers('op-result-max'),
  });
  const ok = await closed('op-result-max');
  assert.deepEqual(
    [ok.outcome.status, ok.webhook],
    ['succeeded', { status: 'succeeded', body: nestedText(MAX_VALUE_DEPTH) }],
  );
  await kit.client.submit({
    runId: 'op-result-over',
    input: MAX_VALUE_DEPTH + 1,
    runner: 'deepResult',
    headers: headers('op-result-over'),
  });
  const over = await closed('op-result-over');
  const error = `step 0: step outcome: the step's result nests arrays and objects deeper than ${MAX_VALUE_DEPTH} levels, the most a run carries: it wraps a value up to 4 levels further down, within the ${MAX_JSON_DEPTH} levels a payload may nest (MAX_JSON_DEPTH)`;
  assert.deepEqual(
    [over.outcome.status, over.outcome.error, over.webhook],
    ['failed', error, { status: 'failed', body: error }],
  );
  assert.equal(ok.workflowTaskFailures + over.workflowTaskFailures, 0);
});

test(`an input at the bound, started around the client, fails at once where the run would wrap it past ${MAX_JSON_DEPTH} levels`, async () => {
  // The workflow input nests exactly MAX_JSON_DEPTH levels: it decodes (submit refuses its input,
  // deeper than MAX_VALUE_DEPTH). The step records its payload as a memo; the retry's input carries
  // it two levels further down ({"memos": {"payload": …}}), past the bound.
  const input = `{"input":${nestedText(MAX_JSON_DEPTH - 1)},"runner":"memoEcho","headers":${JSON.stringify(headers('op-unschedulable'))}}`;
  await startRun('op-unschedulable', input);
  const { outcome, closeStatus, webhook, workflowTaskFailures } = await closed('op-unschedulable');
  const error = `step 0 could not be scheduled: value nested deeper than ${MAX_JSON_DEPTH} levels of arrays and objects (the MAX_JSON_DEPTH limit)`;
  assert.deepEqual([outcome.status, outcome.error], ['failed', error]);
  assert.equal(closeStatus, 'FAILED');
  assert.deepEqual(webhook, { status: 'failed', body: error });
  assert.equal(workflowTaskFailures, 0);
  // One attempt ran: the second was never scheduled.
  const history = await handle('op-unschedulable').fetchHistory();
  assert.equal(history.events?.filter((e) => e.activityTaskScheduledEventAttributes).length, 1);
});
