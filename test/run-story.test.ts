/**
 * The Temporal UI tells each run's story (issue 27), on a real dev server that has the run-state
 * search attributes (as `durable-runs dev` registers them) and on one that has not:
 * - every start carries a static summary (runner and input) and details (options, header names;
 *   no callback URL, no header value but the tenant's), through the codec with encryption on;
 * - timers and child runs are labelled;
 * - `DurableRunsState`, `DurableRunsRunner`, `DurableRunsTenant` and `DurableRunsStep` follow the
 *   run, upserted only when its state changes, across continue-as-new;
 * - `list --state waiting` and `temporal workflow list --query` find exactly the waiting runs;
 * - without the attributes everything works and nothing is upserted;
 * - whether the namespace has them is asked again soon after an outage, a minute after a refusal.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { RunsClient, StepError, StepOutcome, type StepRunner } from '../src';
import { STATE_ATTRIBUTE_ARGS } from '../src/local/dev-server';
import { resolveTemporalCli } from '../src/local/temporal-binaries';
import { payloadConverter } from '../src/shared/payload-converter';
import { STATE_KEYS } from '../src/shared/run-story';
import { createTestEnv, createTestKit, type TestKit } from '../src/testing';
import { eventually } from '../support/wait';
import { durableRunsCli } from './helpers/durable-runs-cli';
import { startGrpcFaultProxy } from './helpers/grpc-fault-proxy';
import {
  historyOf as historyOfRun,
  patches,
  stateOf as stateOfRun,
  statesUpserted,
  upserts,
} from './helpers/run-story';

const exec = promisify(execFile);

/** Runs whose parked step works now. */
const fixed = new Set<string>();

const runners: Record<string, StepRunner> = {
  /** Step 0 waits (up to an hour) for approve or reject; step 1 succeeds with it. */
  approval: async (step) =>
    step.stepNumber === 0
      ? StepOutcome.waitForEvent(step.payload, { events: ['approve', 'reject'], timeout: '1h' })
      : StepOutcome.succeed(step.event?.name ?? null),
  /** Three steps that go straight on: no state but running. */
  plain: async (step) => (step.stepNumber < 2 ? StepOutcome.continue(step.payload) : StepOutcome.succeed('done')),
  /** Sleeps two seconds before step 1. */
  sleeper: async (step) =>
    step.stepNumber === 0 ? StepOutcome.continueAfter(null, 2000) : StepOutcome.succeed('slept'),
  /** Parks (onExhausted: park) until fixed. */
  parks: async (step) => {
    if (!fixed.has(step.runId)) throw StepError.permanent('needs a human');
    return StepOutcome.succeed('fixed');
  },
  /** Two children, then their states. */
  family: async (step) =>
    step.stepNumber === 0
      ? StepOutcome.runChildren(null, [{ input: { part: 'a' } }, { input: { part: 'b' }, runner: 'plain' }])
      : StepOutcome.succeed(step.children!.map((c) => c.status)),
  default: async (step) => StepOutcome.succeed(step.payload),
};

let withAttributes: TestWorkflowEnvironment;
let without: TestWorkflowEnvironment;
let kit: TestKit;
let bare: TestKit;
let encrypted: TestKit;

before(async () => {
  [withAttributes, without] = await Promise.all([
    createTestEnv('local', { extraArgs: STATE_ATTRIBUTE_ARGS }),
    createTestEnv('local'),
  ]);
  kit = await createTestKit({ env: withAttributes, runners });
  bare = await createTestKit({ env: without, runners });
  encrypted = await createTestKit({
    env: withAttributes,
    runners,
    encryptionKeys: `story:${randomBytes(32).toString('base64')}`,
    taskQueue: 'story-encrypted',
  });
});

after(async () => {
  await kit?.teardown();
  await bare?.teardown();
  await encrypted?.teardown();
  await withAttributes?.teardown();
  await without?.teardown();
});

const historyOf = (k: TestKit, runId: string) => historyOfRun(k.client.temporal, runId);
const stateOf = (k: TestKit, runId: string) => stateOfRun(k.client.temporal, runId);

test('every start carries a summary and details: runner and input; options and header names, no callback URL, no header value but the tenant', async () => {
  const { runId } = await kit.client.submit({
    runId: 'story-summary',
    runner: 'approval',
    input: { order: 'A-17', note: 'first order of the day' },
    headers: { tenant: 'acme', callback_url: 'http://127.0.0.1:9/hook', authorization: 'Bearer sk-secret' },
    maxSteps: 10,
    deadline: '2h',
  });
  const described = await kit.client.temporal.workflow.getHandle(runId).describe();
  assert.equal(await described.staticSummary(), 'approval: {"order":"A-17","note":"first order of the day"}');
  const details = (await described.staticDetails())!;
  assert.match(details, /\*\*runner\*\* approval/);
  assert.match(details, /\*\*options\*\* maxSteps 10, deadline 2h/);
  assert.match(details, /\*\*headers\*\* tenant=acme, authorization/);
  assert.match(details, /\*\*webhook\*\* on close/);
  assert.doesNotMatch(details, /127\.0\.0\.1|sk-secret|Bearer/);
  // The run's own search attributes, set at start.
  assert.equal(described.typedSearchAttributes.get(STATE_KEYS.runner), 'approval');
  assert.equal(described.typedSearchAttributes.get(STATE_KEYS.tenant), 'acme');
  await eventually(async () => (await stateOf(kit, runId)) === 'waiting', 30_000, 'waiting');
  assert.equal(await kit.client.sendEvent(runId, 'approve'), true);
  assert.equal((await kit.client.result(runId)).status, 'succeeded');
});

test('a schedule and a fork start their runs with a summary and the attributes too', async () => {
  await kit.client.schedules.create({
    scheduleId: 'story-nightly',
    every: '1h',
    run: { runner: 'default', input: { report: 'daily' }, headers: { tenant: 'acme' } },
  });
  await kit.client.schedules.trigger('story-nightly');
  let scheduled: string | undefined;
  await eventually(
    async () => (scheduled = (await kit.client.schedules.describe('story-nightly')).recentRuns.at(-1)) !== undefined,
    30_000,
    'the schedule started a run',
  );
  const run = await kit.client.temporal.workflow.getHandle(scheduled!).describe();
  assert.equal(await run.staticSummary(), 'default: {"report":"daily"}');
  assert.match((await run.staticDetails())!, /\*\*from\*\* schedule story-nightly/);
  assert.equal(run.typedSearchAttributes.get(STATE_KEYS.tenant), 'acme');
  assert.equal((await kit.client.result(scheduled!)).status, 'succeeded');
  await kit.client.schedules.delete('story-nightly');

  await kit.client.submit({ runId: 'story-fork-source', runner: 'plain', input: 'x' });
  await kit.client.result('story-fork-source');
  const { runId } = await kit.client.fork('story-fork-source', { fromStep: 2, payload: 'edited' });
  const fork = await kit.client.temporal.workflow.getHandle(runId).describe();
  assert.equal(await fork.staticSummary(), 'fork of story-fork-source from step 2 · plain: edited');
  assert.match((await fork.staticDetails())!, /\*\*from\*\* fork of story-fork-source from step 2/);
  assert.equal(fork.typedSearchAttributes.get(STATE_KEYS.step), 2);
  assert.equal((await kit.client.result(runId)).status, 'succeeded');
});

test('the wait, the sleep and the deadline have labelled timers; children are named by runner and index', async () => {
  await kit.client.submit({ runId: 'story-timers', runner: 'approval', input: null, deadline: '3h' });
  await eventually(async () => (await kit.client.status('story-timers')).state === 'waiting', 30_000, 'waiting');
  await kit.client.submit({ runId: 'story-sleep', runner: 'sleeper', input: null });
  await kit.client.submit({ runId: 'story-family', runner: 'family', input: null });
  assert.equal((await kit.client.result('story-sleep')).status, 'succeeded');
  assert.deepEqual((await kit.client.result('story-family')).result, ['succeeded', 'succeeded']);
  const timerLabels = async (runId: string) =>
    (await historyOf(kit, runId))
      .filter((e) => e.timerStartedEventAttributes)
      .map((e) => payloadConverter.fromPayload(e.userMetadata!.summary!));
  assert.deepEqual((await timerLabels('story-timers')).sort(), ['deadline', 'wait for approve | reject']);
  assert.deepEqual(await timerLabels('story-sleep'), ['sleep before step 1']);
  const childSummaries = (await historyOf(kit, 'story-family'))
    .filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes)
    .map((e) => payloadConverter.fromPayload(e.userMetadata!.summary!));
  assert.deepEqual(childSummaries, ['child 0 · default: {"part":"a"}', 'child 1 · plain: {"part":"b"}']);
  // The children's own starts carry a summary, and their search attributes.
  const child = await kit.client.temporal.workflow.getHandle('story-family-0-1').describe();
  assert.equal(await child.staticSummary(), 'child 1 · plain: {"part":"b"}');
  assert.equal(child.typedSearchAttributes.get(STATE_KEYS.runner), 'plain');
  await kit.client.sendEvent('story-timers', 'approve');
  assert.equal((await kit.client.result('story-timers')).status, 'succeeded');
});

test('the state is upserted only when it changes: none for a run that only runs; waiting, running for one that waits; sleeping; parked', async () => {
  await kit.client.submit({ runId: 'story-plain', runner: 'plain', input: 1 });
  assert.equal((await kit.client.result('story-plain')).status, 'succeeded');
  const plain = await historyOf(kit, 'story-plain');
  assert.equal(upserts(plain).length, 0, 'a run that only runs upserts nothing');
  assert.ok(!patches(plain).includes('run-story'), 'and asks no patch for it');
  // It still has its attributes from the start, and filters find it by runner.
  assert.equal(
    (await kit.client.temporal.workflow.getHandle('story-plain').describe()).typedSearchAttributes.get(
      STATE_KEYS.runner,
    ),
    'plain',
  );

  const { runId } = await kit.client.submit({ runId: 'story-states', runner: 'approval', input: null });
  await eventually(async () => (await stateOf(kit, runId)) === 'waiting', 30_000, 'waiting');
  assert.equal(
    (await kit.client.temporal.workflow.getHandle(runId).describe()).typedSearchAttributes.get(STATE_KEYS.step),
    0,
  );
  await kit.client.sendEvent(runId, 'reject');
  assert.equal((await kit.client.result(runId)).result, 'reject');
  // waiting at step 0, running again for step 1, then closed from running: nothing more.
  assert.deepEqual(statesUpserted(await historyOf(kit, runId)), ['waiting', 'running']);

  assert.equal(
    (await kit.client.result((await kit.client.submit({ runId: 'story-slept', runner: 'sleeper', input: null })).runId))
      .status,
    'succeeded',
  );
  assert.deepEqual(statesUpserted(await historyOf(kit, 'story-slept')), ['sleeping', 'running']);

  await kit.client.submit({ runId: 'story-parked', runner: 'parks', input: null, onExhausted: 'park' });
  await eventually(async () => (await stateOf(kit, 'story-parked')) === 'parked', 30_000, 'parked');
  await kit.client.cancel('story-parked', 'never fixed');
  assert.equal((await kit.client.result('story-parked')).status, 'cancelled');
  // Closed from a state other than running: the close is upserted too, so no filter finds it parked.
  assert.deepEqual(statesUpserted(await historyOf(kit, 'story-parked')), ['parked', 'cancelling', 'cancelled']);
});

test('list --state waiting and temporal workflow list --query find exactly the waiting runs; --state sleeping too', async () => {
  const waiting = ['story-list-w1', 'story-list-w2', 'story-list-w3'];
  for (const runId of waiting) await kit.client.submit({ runId, runner: 'approval', input: null });
  await kit.client.submit({ runId: 'story-list-done', runner: 'plain', input: null });
  await kit.client.result('story-list-done');
  const query = `DurableRunsState = 'waiting' AND WorkflowId STARTS_WITH 'story-list-'`;
  await eventually(
    async () =>
      (await kit.client.list({ state: 'waiting' })).filter((r) => r.runId.startsWith('story-list-')).length === 3,
    30_000,
    'three waiting runs listed',
  );
  const listed = (await kit.client.list({ state: 'waiting' })).filter((r) => r.runId.startsWith('story-list-'));
  assert.deepEqual(listed.map((r) => r.runId).sort(), waiting);
  assert.ok(listed.every((r) => r.state === 'waiting'));

  const cli = resolveTemporalCli()!;
  const { stdout } = await exec(cli, [
    'workflow',
    'list',
    '--address',
    withAttributes.connection.options.address as string,
    '--query',
    query,
    '--output',
    'json',
  ]);
  const found = (JSON.parse(stdout) as { execution: { workflowId: string } }[]).map((w) => w.execution.workflowId);
  assert.deepEqual(found.sort(), waiting);

  const cliList = await durableRunsCli(() => ({
    address: withAttributes.connection.options.address as string,
    taskQueue: kit.taskQueue,
  }))('list', '--state', 'waiting', '--json');
  assert.equal(cliList.code, 0, cliList.stderr);
  const cliIds = (JSON.parse(cliList.stdout) as { runId: string }[])
    .map((r) => r.runId)
    .filter((id) => id.startsWith('story-list-'));
  assert.deepEqual(cliIds.sort(), waiting);
  for (const runId of waiting) await kit.client.sendEvent(runId, 'approve');
  for (const runId of waiting) assert.equal((await kit.client.result(runId)).status, 'succeeded');
});

test('the attributes follow a waiting run across continue-as-new', async () => {
  const { runId } = await kit.client.submit({
    runId: 'story-handover',
    runner: 'approval',
    input: null,
    maxHistoryEvents: 60,
  });
  await eventually(async () => (await stateOf(kit, runId)) === 'waiting', 30_000, 'waiting');
  const first = (await kit.client.temporal.workflow.getHandle(runId).describe()).runId;
  // Unrelated events grow its history past 60: it hands the wait over to a new execution.
  for (let i = 0; i < 40; i++) await kit.client.sendEvent(runId, 'noise', { i });
  await eventually(
    async () => (await kit.client.temporal.workflow.getHandle(runId).describe()).runId !== first,
    30_000,
    'handed over',
  );
  const next = await kit.client.temporal.workflow.getHandle(runId).describe();
  assert.equal(next.typedSearchAttributes.get(STATE_KEYS.state), 'waiting');
  assert.equal(next.typedSearchAttributes.get(STATE_KEYS.runner), 'approval');
  await kit.client.sendEvent(runId, 'approve');
  assert.equal((await kit.client.result(runId)).result, 'approve');
});

test('with encryption on, the summary and details reach the server encrypted', async () => {
  const { runId } = await encrypted.client.submit({
    runId: 'story-encrypted',
    runner: 'default',
    input: { secret: 'plan-b' },
  });
  assert.equal((await encrypted.client.result(runId)).status, 'succeeded');
  const raw = await encrypted.client.temporal.workflowService.describeWorkflowExecution({
    namespace: 'default',
    execution: { workflowId: runId },
  });
  const summary = raw.executionConfig!.userMetadata!.summary!;
  assert.equal(Buffer.from(summary.metadata!.encoding!).toString(), 'binary/encrypted');
  assert.ok(!Buffer.from(summary.data!).toString().includes('plan-b'));
  // Through the client (with the keys), it reads as written.
  const described = await encrypted.client.temporal.workflow.getHandle(runId).describe();
  assert.equal(await described.staticSummary(), 'default: {"secret":"plan-b"}');

  // The labels the worker writes (timers, children) are encrypted too.
  await encrypted.client.submit({ runId: 'story-encrypted-family', runner: 'family', input: null, deadline: '1h' });
  assert.equal((await encrypted.client.result('story-encrypted-family')).status, 'succeeded');
  const { history } = await encrypted.client.temporal.workflowService.getWorkflowExecutionHistory({
    namespace: 'default',
    execution: { workflowId: 'story-encrypted-family' },
  });
  const labelled = (history?.events ?? []).filter(
    (e) => e.timerStartedEventAttributes || e.startChildWorkflowExecutionInitiatedEventAttributes,
  );
  assert.equal(labelled.length, 3, 'the deadline timer and two children');
  for (const event of labelled) {
    const label = event.userMetadata!.summary!;
    assert.equal(Buffer.from(label.metadata!.encoding!).toString(), 'binary/encrypted');
    assert.ok(!Buffer.from(label.data!).toString().includes('part'));
  }
});

test('without the attributes registered everything works, nothing is upserted, and list --state waiting says what is missing', async () => {
  const { runId } = await bare.client.submit({ runId: 'story-bare', runner: 'approval', input: { order: 1 } });
  await eventually(async () => (await bare.client.status(runId)).state === 'waiting', 30_000, 'waiting');
  const described = await bare.client.temporal.workflow.getHandle(runId).describe();
  assert.equal(await described.staticSummary(), 'approval: {"order":1}');
  assert.equal(described.typedSearchAttributes.get(STATE_KEYS.state), undefined);
  await assert.rejects(bare.client.list({ state: 'waiting' }), /DurableRunsState.*not registered|search attribute/);
  await bare.client.sendEvent(runId, 'approve');
  assert.equal((await bare.client.result(runId)).result, 'approve');
  assert.deepEqual(statesUpserted(await historyOf(bare, runId)), []);
  assert.equal(upserts(await historyOf(bare, runId)).length, 0);
});

test('whether the namespace has the attributes: a server briefly unavailable is asked again within seconds; a refusal (no operator rights) is kept for a minute', async () => {
  const proxy = await startGrpcFaultProxy(withAttributes.connection.options.address as string);
  const connection = await Connection.connect({ address: proxy.address });
  const started: string[] = [];
  const client = await RunsClient.connect({ connection, taskQueue: 'story-asks' });
  /** Starts a run (no worker polls its queue: only its start is looked at) and reads its state attribute. */
  const startState = async (runId: string) => {
    await client.submit({ runId, runner: 'default', input: null });
    started.push(runId);
    return (await client.temporal.workflow.getHandle(runId).describe()).typedSearchAttributes.get(STATE_KEYS.state);
  };
  const asks = () => proxy.refusals.filter((r) => r.method === 'ListSearchAttributes').length;
  try {
    // Unavailable: the run starts without them (nothing is lost), and the server is asked again soon.
    proxy.refuse(['ListSearchAttributes']);
    assert.equal(await startState('asks-down'), undefined);
    // (The SDK's own retries of UNAVAILABLE count too.)
    const down = asks();
    assert.ok(down >= 1);
    proxy.refuse([]);
    let n = 0;
    await eventually(
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 500));
        return (await startState(`asks-up-${n++}`)) === 'running';
      },
      30_000,
      'a run started with the attributes once the server answers',
    );

    // Refused (PERMISSION_DENIED, as an API key without operator rights on Temporal Cloud): the
    // answer is kept for a minute, past the few seconds an outage is.
    const refused = await RunsClient.connect({ connection, taskQueue: 'story-asks' });
    proxy.refuse(['ListSearchAttributes'], { code: 7, message: 'no operator rights' });
    await refused.submit({ runId: 'asks-refused', runner: 'default', input: null });
    started.push('asks-refused');
    assert.equal(asks(), down + 1, 'a refusal is not retried');
    proxy.refuse([]);
    const since = Date.now();
    await eventually(() => Date.now() - since > 7_000, 10_000, 'past the retry of an outage');
    await refused.submit({ runId: 'asks-refused-later', runner: 'default', input: null });
    started.push('asks-refused-later');
    const later = await refused.temporal.workflow.getHandle('asks-refused-later').describe();
    assert.equal(later.typedSearchAttributes.get(STATE_KEYS.state), undefined, 'not asked again');
    assert.equal(asks(), down + 1);
  } finally {
    for (const runId of started)
      await client.temporal.workflow
        .getHandle(runId)
        .terminate('test over')
        .catch(() => {});
    await connection.close();
    await proxy.close();
  }
});
