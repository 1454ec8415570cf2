/**
 * What operators hand a run with the Temporal CLI, around the client: a stuck step completed by
 * hand with any JSON (`temporal activity complete --result`), and an input or an event at the JSON
 * nesting bound (`temporal workflow start --input`, `temporal workflow signal --name event`). Each run ends by name, with its
 * webhook, and no workflow task fails. A real dev server, the real `temporal` binary, a receiver
 * on loopback.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MAX_JSON_DEPTH, MAX_VALUE_DEPTH, StepOutcome, type StepRunner } from '../src';
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
  /** Records a value nested as deep as its payload says. */
  deepMemo: async (step) => StepOutcome.succeed(await step.memo('deep', () => nested(step.payload as number))),
  /** Waits for `approve`, then succeeds with the event's name. */
  approval: async (step) =>
    step.stepNumber === 0
      ? StepOutcome.waitForEvent(null, { events: 'approve' })
      : StepOutcome.succeed(step.event?.name ?? null),
  /** Succeeds with a value nested as deep as its payload says. */
  deepResult: async (step) => StepOutcome.succeed(nested(step.payload as number)),
  echo: async (step) => StepOutcome.succeed(step.payload),
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

test(`a memo nested past ${MAX_VALUE_DEPTH} levels is refused by name, with the webhook`, async () => {
  const id = 'op-memo-over';
  await kit.client.submit({ runId: id, input: MAX_VALUE_DEPTH + 1, runner: 'deepMemo', headers: headers(id) });
  const { outcome, webhook, workflowTaskFailures } = await closed(id);
  const error = `step.memo("deep"): the value nests arrays and objects deeper than ${MAX_VALUE_DEPTH} levels, the most a run carries: it wraps a value up to 4 levels further down, within the ${MAX_JSON_DEPTH} levels a payload may nest (MAX_JSON_DEPTH)`;
  assert.deepEqual([outcome.status, outcome.error, webhook], ['failed', error, { status: 'failed', body: error }]);
  assert.equal(workflowTaskFailures, 0);
});

test(`an event at the bound, sent around the client, fails the run at once: the next step's input would pass ${MAX_JSON_DEPTH} levels`, async () => {
  // The signal's argument ({"name", "data"}) nests exactly MAX_JSON_DEPTH levels: it decodes
  // (sendEvent refuses its data, deeper than MAX_VALUE_DEPTH). Step 1's input carries the event one
  // level further down ({"event": {"data": …}}), past the bound: it cannot be scheduled.
  const id = 'op-unschedulable';
  await startRun(id, JSON.stringify({ input: null, runner: 'approval', headers: headers(id) }));
  await eventually(async () => (await kit.client.status(id)).state === 'waiting', 30_000, `${id} waits`);
  const event = `{"name":"approve","id":"deep-1","data":${nestedText(MAX_JSON_DEPTH - 1)}}`;
  await temporal('workflow', 'signal', '--workflow-id', id, '--name', 'event', '--input', event);
  const { outcome, closeStatus, webhook, workflowTaskFailures } = await closed(id);
  const error = `step 1 could not be scheduled: value nested deeper than ${MAX_JSON_DEPTH} levels of arrays and objects (the MAX_JSON_DEPTH limit)`;
  assert.deepEqual([outcome.status, outcome.error, outcome.finalStep], ['failed', error, 1]);
  assert.equal(closeStatus, 'FAILED');
  assert.deepEqual(webhook, { status: 'failed', body: error });
  assert.equal(workflowTaskFailures, 0);
  // Step 0 ran; step 1 was never scheduled.
  const history = await handle(id).fetchHistory();
  assert.equal(history.events?.filter((e) => e.activityTaskScheduledEventAttributes).length, 1);
});

test(`an input at the bound, started around the client, decodes; what the run would carry past it fails the step by name`, async () => {
  // The workflow input nests exactly MAX_JSON_DEPTH levels (submit refuses its input, deeper than
  // MAX_VALUE_DEPTH); the runner hands it back as its result, which the step refuses.
  const id = 'op-input-at-bound';
  await startRun(
    id,
    `{"input":${nestedText(MAX_JSON_DEPTH - 1)},"runner":"echo","headers":${JSON.stringify(headers(id))}}`,
  );
  const { outcome, webhook, workflowTaskFailures } = await closed(id);
  const error = `step 0: step outcome: the step's result nests arrays and objects deeper than ${MAX_VALUE_DEPTH} levels, the most a run carries: it wraps a value up to 4 levels further down, within the ${MAX_JSON_DEPTH} levels a payload may nest (MAX_JSON_DEPTH)`;
  assert.deepEqual([outcome.status, outcome.error, webhook], ['failed', error, { status: 'failed', body: error }]);
  assert.equal(workflowTaskFailures, 0);
  // One level deeper, the workflow input itself is undecodable: the run fails naming it (its
  // headers, and so its callback URL, are in the input it cannot read: no webhook).
  await startRun('op-input-over', `{"input":${nestedText(MAX_JSON_DEPTH)},"runner":"echo"}`);
  const over = await kit.client.result('op-input-over');
  const undecodable = `workflow input: payload with encoding "json/plain" could not be decoded: JSON nested deeper than ${MAX_JSON_DEPTH} levels of arrays and objects (the MAX_JSON_DEPTH limit)`;
  assert.deepEqual([over.status, over.error], ['failed', undecodable]);
  const history = await handle('op-input-over').fetchHistory();
  assert.equal(history.events?.filter((e) => e.workflowTaskFailedEventAttributes).length, 0);
});
