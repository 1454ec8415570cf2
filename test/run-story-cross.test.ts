/**
 * The run's story (issue 27) where it meets other features and the tools operators have, on a real
 * dev server with the run-state search attributes registered:
 * - `temporal workflow reset` of a waiting run, to its last and to its first workflow task;
 * - `retry` of a run that failed after a wait;
 * - the `cancel` signal sent with the Temporal CLI, and Temporal's own cancel, during a wait, a
 *   sleep, a backoff and a delayed start (a plain signal waits out the delay: `durable-runs cancel`
 *   does not); an event sent during the delay waits for the start;
 * - a waiting run handed over at `maxHistoryEvents` again and again, then cancelled;
 * - 1,000 children at the size limits, each with its summary, details and attributes, encrypted.
 * Each run ends, is delivered, shows the state it ended in, and no workflow task fails.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { tsToMs } from '@temporalio/common/lib/time';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporal as proto } from '@temporalio/proto';
import { StepError, StepOutcome, type StepRunner } from '../src';
import { STATE_ATTRIBUTE_ARGS } from '../src/local/dev-server';
import { payloadConverter } from '../src/shared/payload-converter';
import { CHILD_LABELS_BYTES, STATE_KEYS } from '../src/shared/run-story';
import { createTestEnv, createTestKit, type TestKit } from '../src/testing';
import { startReceiver, type Receiver } from '../support/receiver';
import { eventually } from '../support/wait';
import { executionsOf, failedTasks, historyOf, stateOf, statesUpserted } from './helpers/run-story';
import { durableRunsCli } from './helpers/durable-runs-cli';
import { temporalCli } from './helpers/temporal-cli';

/** Runs whose step 1 failed once already (see `approval`). */
const failedOnce = new Set<string>();

const runners: Record<string, StepRunner> = {
  /** Step 0 waits for `approve`; step 1 fails the first time when the input says so, then succeeds. */
  approval: async (step) => {
    if (step.stepNumber === 0) return StepOutcome.waitForEvent(step.payload, { events: ['approve', 'reject'] });
    if ((step.payload as { failOnce?: boolean } | null)?.failOnce && !failedOnce.has(step.runId)) {
      failedOnce.add(step.runId);
      return StepOutcome.fail('the model was down');
    }
    return StepOutcome.succeed(step.event?.name ?? null);
  },
  /** Sleeps an hour before step 1. */
  sleeper: async (step) =>
    step.stepNumber === 0 ? StepOutcome.continueAfter(null, '1h') : StepOutcome.succeed('slept'),
  /** Rate-limited: the next attempt in an hour. */
  limited: async () => {
    throw StepError.retryAfter('1h', 'rate limited');
  },
  default: async (step) => StepOutcome.succeed(step.payload),
};

/** Child `i`'s input in the fan-out: 60 characters and its index. */
const childInput = (i: number) => `${'x'.repeat(60)}${i}`;
/**
 * 1,000 children, each inheriting 15 headers of 100-character names: the step's outcome is
 * 1.7 MB, under the 1.9 MB a command may take, and so are the children's outcomes that step 1
 * gets. Their labels (summary, details listing the header names, runner and tenant) come on top.
 */
runners.fanout = async (step) =>
  step.stepNumber === 0
    ? StepOutcome.runChildren(
        null,
        Array.from({ length: 1000 }, (_, i) => ({ input: childInput(i) })),
      )
    : StepOutcome.succeed({
        succeeded: step.children!.filter((c) => c.status === 'succeeded').length,
        inOrder: step.children!.every((c, i) => c.result === childInput(i)),
      });

let env: TestWorkflowEnvironment;
let kit: TestKit;
let receiver: Receiver;
before(async () => {
  receiver = await startReceiver();
  env = await createTestEnv('local', { extraArgs: STATE_ATTRIBUTE_ARGS });
  kit = await createTestKit({ env, runners, webhook: { allowPrivate: true, maxRetries: 0, timeoutMs: 5000 } });
});
after(async () => {
  await kit?.teardown();
  await env?.teardown();
  await receiver?.close();
});

const { temporal } = temporalCli(() => env.connection.options.address as string);
const durableRuns = durableRunsCli(() => ({ address: env.connection.options.address as string }));
const client = () => kit.client.temporal;
const handle = (runId: string) => client().workflow.getHandle(runId);
const hook = (path: string) => `${receiver.url}${path}`;
const waitingRun = async (runId: string, input: unknown = null, options: { maxHistoryEvents?: number } = {}) => {
  await kit.client.submit({
    runId,
    runner: 'approval',
    input,
    headers: { callback_url: hook(`/${runId}`) },
    ...options,
  });
  await eventually(async () => (await stateOf(client(), runId)) === 'waiting', 30_000, `${runId} waiting`);
};
/** The webhooks the run's closes sent, by their status header. */
const delivered = async (runId: string, count: number) => {
  await eventually(() => receiver.to(`/${runId}`).length >= count, 30_000, `${count} webhook(s) for ${runId}`);
  return receiver.to(`/${runId}`).map((r) => r.headers['workflow-run-status']);
};

describe('temporal workflow reset and retry', () => {
  test('a waiting run reset to its last, then its first workflow task: it waits again, shows waiting, upserts it once per execution, and its close is delivered', async () => {
    const runId = 'story-reset';
    await waitingRun(runId);
    const original = (await handle(runId).describe()).runId;

    await temporal('workflow', 'reset', '--workflow-id', runId, '--type', 'LastWorkflowTask', '--reason', 'ops');
    await eventually(async () => (await handle(runId).describe()).runId !== original, 30_000, 'reset');
    await eventually(async () => (await kit.client.status(runId)).state === 'waiting', 30_000, 'waiting after reset');
    assert.equal(await stateOf(client(), runId), 'waiting');
    assert.deepEqual(statesUpserted(await historyOf(client(), runId)), ['waiting']);
    const second = (await handle(runId).describe()).runId;

    await temporal('workflow', 'reset', '--workflow-id', runId, '--type', 'FirstWorkflowTask', '--reason', 'again');
    await eventually(async () => (await handle(runId).describe()).runId !== second, 30_000, 'reset again');
    // The new execution runs step 0 again from the start, and shows its wait itself.
    await eventually(
      async () => statesUpserted(await historyOf(client(), runId)).length === 1,
      30_000,
      'the wait upserted again',
    );
    assert.deepEqual(statesUpserted(await historyOf(client(), runId)), ['waiting']);
    assert.equal(await stateOf(client(), runId), 'waiting');
    const listed = await kit.client.list({ state: 'waiting' });
    assert.deepEqual(
      listed.filter((r) => r.runId === runId).map((r) => r.state),
      ['waiting'],
      'listed once, as waiting',
    );

    assert.equal(await kit.client.sendEvent(runId, 'approve'), true);
    assert.deepEqual([(await kit.client.result(runId)).result], ['approve']);
    assert.deepEqual(statesUpserted(await historyOf(client(), runId)), ['waiting', 'running']);
    // The executions the resets ended were terminated, untold; the run's one close is delivered.
    assert.deepEqual(await delivered(runId, 1), ['succeeded']);
    assert.deepEqual(failedTasks(await executionsOf(client(), runId)), []);
  });

  test('retry of a run that failed after its wait: it runs the failed step again, shows no wait, and both closes are delivered', async () => {
    const runId = 'story-retry';
    await waitingRun(runId, { failOnce: true });
    await kit.client.sendEvent(runId, 'approve');
    assert.equal((await kit.client.result(runId)).status, 'failed');
    // It failed while running: its state stays running, so a filter on waiting does not find it.
    assert.equal(await stateOf(client(), runId), 'running');
    assert.equal((await kit.client.list({ state: 'waiting' })).filter((r) => r.runId === runId).length, 0);
    assert.deepEqual(await delivered(runId, 1), ['failed']);

    assert.equal(await kit.client.retry(runId), true);
    await eventually(async () => (await handle(runId).describe()).status.name === 'COMPLETED', 30_000, 'retried');
    assert.equal((await kit.client.result(runId)).result, 'approve');
    assert.deepEqual(statesUpserted(await historyOf(client(), runId)), ['waiting', 'running']);
    assert.equal(await stateOf(client(), runId), 'running');
    assert.deepEqual(await delivered(runId, 2), ['failed', 'succeeded']);
    assert.deepEqual(failedTasks(await executionsOf(client(), runId)), []);
  });
});

describe('cancelled with the Temporal CLI while waiting, sleeping, in a backoff or before a delayed start', () => {
  const cases = [
    { name: 'wait', runner: 'approval', shown: 'waiting' },
    { name: 'sleep', runner: 'sleeper', shown: 'sleeping' },
    { name: 'backoff', runner: 'limited', shown: 'sleeping' },
    { name: 'delayed', runner: 'default', shown: 'scheduled', startDelay: '1h' },
  ] as const;
  for (const how of ['signal', 'cancel'] as const) {
    test(`temporal workflow ${how === 'signal' ? 'signal --name cancel' : 'cancel'}: each closes Canceled, shows cancelled, and is delivered`, async () => {
      const runIds = cases.map((c) => `story-${how}-${c.name}`);
      for (const [i, c] of cases.entries()) {
        await kit.client.submit({
          runId: runIds[i],
          runner: c.runner,
          input: null,
          headers: { callback_url: hook(`/${runIds[i]}`) },
          ...('startDelay' in c ? { startDelay: c.startDelay } : {}),
        });
      }
      for (const [i, c] of cases.entries()) {
        await eventually(
          async () => (await stateOf(client(), runIds[i]!)) === c.shown,
          30_000,
          `${runIds[i]} ${c.shown}`,
        );
        // The state lists find it where it is (visibility follows within moments).
        await eventually(
          async () => (await kit.client.list({ state: c.shown })).some((r) => r.runId === runIds[i]),
          30_000,
          `${runIds[i]} listed as ${c.shown}`,
        );
      }
      for (const runId of runIds) {
        if (how === 'signal') {
          await temporal(
            'workflow',
            'signal',
            '--workflow-id',
            runId,
            '--name',
            'cancel',
            '--input',
            '{"reason":"ops said so"}',
          );
        } else {
          await temporal('workflow', 'cancel', '--workflow-id', runId);
        }
      }
      if (how === 'signal') {
        // Temporal holds a plain signal to a run whose start delay has not passed: the delayed run
        // is still scheduled, its signal in its history and no workflow task yet. `durable-runs
        // cancel` wakes it at once (a signal-with-start).
        const delayed = runIds[cases.findIndex((c) => c.name === 'delayed')]!;
        const types = (await historyOf(client(), delayed)).map((e) => e.eventType);
        assert.deepEqual(types, [
          proto.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
          proto.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
        ]);
        assert.equal(await stateOf(client(), delayed), 'scheduled');
        const cancelled = await durableRuns('cancel', delayed, '--reason', 'ops said so');
        assert.equal(cancelled.code, 0, cancelled.stderr);
        assert.match(cancelled.stdout, /cancel requested/);
      }
      for (const [i, c] of cases.entries()) {
        const runId = runIds[i]!;
        const outcome = await kit.client.result(runId);
        assert.deepEqual(
          [outcome.status, outcome.cancelledBy, outcome.error],
          ['cancelled', how === 'signal' ? 'signal' : 'temporal', how === 'signal' ? 'ops said so' : null],
          runId,
        );
        assert.equal((await handle(runId).describe()).status.name, 'CANCELLED', runId);
        // Closed from a state other than running: the close is upserted, and no list of that state
        // has it. Temporal's cancel of a delayed run comes in its first workflow task with the
        // start: the run shows `running` (upserted over `scheduled`), then closes from it, which
        // upserts nothing. A signal is applied before the run's code, so it goes from `scheduled`
        // to `cancelled` at once.
        const closedAs = c.name === 'delayed' && how === 'cancel' ? 'running' : 'cancelled';
        assert.equal(await stateOf(client(), runId), closedAs, runId);
        // On the way: `cancelling` while the step or timer is cut short, when that takes a task.
        const upserted = statesUpserted(await historyOf(client(), runId)).filter((state) => state !== 'cancelling');
        assert.deepEqual(upserted, c.name === 'delayed' ? [closedAs] : [c.shown, 'cancelled'], runId);
        await eventually(
          async () => !(await kit.client.list({ state: c.shown })).some((r) => r.runId === runId),
          30_000,
          `${runId} no longer listed as ${c.shown}`,
        );
        assert.deepEqual(await delivered(runId, 1), ['cancelled'], runId);
        assert.deepEqual(failedTasks(await executionsOf(client(), runId)), [], runId);
      }
    });
  }
});

test('an event sent during a start delay waits for the start (a resume is refused): the run stays scheduled, starts when due, and takes it', async () => {
  const runId = 'story-delayed-event';
  const delayMs = 10_000;
  // A deadline (from submission) that ends before the delay would fail the run as it starts.
  await assert.rejects(
    kit.client.submit({ runId, runner: 'approval', input: null, startDelay: '2h', deadline: '1h' }),
    /^ValidationError: deadline \(1h\) ends before startDelay \(2h\) does: the deadline counts from submission/,
  );
  await assert.rejects(handle(runId).describe(), { name: 'WorkflowNotFoundError' });
  await kit.client.submit({
    runId,
    runner: 'approval',
    input: null,
    startDelay: delayMs,
    headers: { callback_url: hook(`/${runId}`) },
  });
  const startedAt = (await handle(runId).describe()).startTime.getTime();
  // A resume (an update too) is refused without waking it.
  const resumed = await kit.client.resumeRun(runId);
  assert.equal(resumed.resumed, false);
  assert.match(resumed.resumed ? '' : resumed.reason, /is scheduled \(it starts at .+\): only a parked run/);
  assert.equal(await kit.client.sendEvent(runId, 'approve', { by: 'ops' }), true);
  const sentAt = Date.now();
  // (Meaningful only if sent within the delay.)
  assert.ok(sentAt < startedAt + delayMs, `sent ${sentAt - startedAt} ms after the start`);
  // An update would have woken it at once: it is still scheduled, its event held by Temporal.
  assert.equal((await kit.client.status(runId)).state, 'scheduled');
  const outcome = await kit.client.result(runId);
  assert.deepEqual([outcome.status, outcome.result], ['succeeded', 'approve']);
  const events = await historyOf(client(), runId);
  const firstTask = events.find((e) => e.workflowTaskScheduledEventAttributes)!;
  const firstTaskAt = tsToMs(firstTask.eventTime);
  assert.ok(firstTaskAt >= startedAt + delayMs - 1000, `first task ${firstTaskAt - startedAt} ms after the start`);
  assert.ok(events.findIndex((e) => e.workflowExecutionSignaledEventAttributes) < events.indexOf(firstTask));
  assert.deepEqual(await delivered(runId, 1), ['succeeded']);
});

test('a waiting run handed over at maxHistoryEvents twice, then cancelled with the CLI: each continued execution upserts nothing, the close is shown and delivered', async () => {
  const runId = 'story-handovers';
  await waitingRun(runId, null, { maxHistoryEvents: 40 });
  // Raw `event` signals, as the Temporal CLI sends them, until the wait was handed over twice.
  for (let i = 0; i < 200 && (await executionsOf(client(), runId)).length < 3; i++) {
    await handle(runId).signal('event', { name: 'noise', id: `noise-${i}`, data: i });
  }
  await eventually(async () => (await executionsOf(client(), runId)).length >= 3, 30_000, 'two hand-overs');
  await eventually(async () => (await kit.client.status(runId)).state === 'waiting', 30_000, 'still waiting');
  assert.equal(await stateOf(client(), runId), 'waiting');
  await temporal('workflow', 'cancel', '--workflow-id', runId);
  const outcome = await kit.client.result(runId);
  assert.deepEqual([outcome.status, outcome.cancelledBy], ['cancelled', 'temporal']);
  const executions = await executionsOf(client(), runId);
  assert.ok(executions.length >= 3, `${executions.length} executions`);
  assert.deepEqual(statesUpserted(executions[0]!), ['waiting'], 'the first shows the wait');
  for (const events of executions.slice(1, -1))
    assert.deepEqual(statesUpserted(events), [], 'a hand-over upserts nothing');
  assert.equal(statesUpserted(executions.at(-1)!).at(-1), 'cancelled');
  assert.equal(await stateOf(client(), runId), 'cancelled');
  assert.deepEqual(await delivered(runId, 1), ['cancelled']);
  // The server refuses a hand-over's completion when a signal arrived while it ran (UNHANDLED_COMMAND)
  // and hands the worker a new task with it; any other cause is the workflow failing.
  assert.deepEqual(
    failedTasks(executions).filter((cause) => cause !== 'WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND'),
    [],
  );
});

test(
  '1,000 children at the size limits, encrypted, each with its summary, details and attributes: one task starts them all, the parent succeeds and is delivered',
  { timeout: 600_000 },
  async () => {
    const encrypted = await createTestKit({
      env,
      runners,
      encryptionKeys: `cross:${randomBytes(32).toString('base64')}`,
      taskQueue: 'story-fanout',
      webhook: { allowPrivate: true, maxRetries: 0, timeoutMs: 5000 },
    });
    try {
      const headers: Record<string, string> = { tenant: 'acme', callback_url: hook('/story-fanout') };
      for (let i = 0; i < 15; i++) headers[`h${'n'.repeat(100)}${i}`] = 'v';
      const runId = 'story-fanout';
      await encrypted.client.submit({ runId, runner: 'fanout', input: null, headers });
      const outcome = await encrypted.client.result(runId);
      assert.equal(outcome.status, 'succeeded', outcome.error ?? '');
      assert.deepEqual(outcome.result, { succeeded: 1000, inOrder: true });
      await eventually(() => receiver.to('/story-fanout').length === 1, 30_000, "the parent's webhook");
      assert.equal(receiver.to('/story-fanout')[0]!.headers['workflow-run-status'], 'succeeded');

      // The execution that ran step 0 (the children's outcomes may be handed over to a next one).
      const executions = await executionsOf(client(), runId);
      const events = executions.find((e) => e.some((x) => x.startChildWorkflowExecutionInitiatedEventAttributes))!;
      const initiated = events.filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes);
      assert.equal(initiated.length, 1000);
      // All 1,000 in one workflow task: its commands carry the inputs and the labels together.
      assert.equal(
        new Set(
          initiated.map((e) =>
            String(e.startChildWorkflowExecutionInitiatedEventAttributes!.workflowTaskCompletedEventId),
          ),
        ).size,
        1,
      );
      const bytes = initiated.reduce((n, e) => n + proto.api.history.v1.HistoryEvent.encode(e).finish().length, 0);
      const labels = initiated.reduce(
        (n, e) =>
          n +
          (e.userMetadata?.summary?.data?.length ?? 0) +
          (e.userMetadata?.details?.data?.length ?? 0) +
          proto.api.common.v1.SearchAttributes.encode(
            e.startChildWorkflowExecutionInitiatedEventAttributes!.searchAttributes ?? {},
          ).finish().length,
        0,
      );
      console.log(`# 1,000 children: ${bytes} bytes of start commands, ${labels} of them labels`);
      assert.ok(bytes > 1_700_000, `the inputs are at the size limit: ${bytes}`);
      assert.ok(bytes < 4 * 1024 * 1024 - 256 * 1024, `the task's completion fits Temporal's 4 MiB: ${bytes}`);
      // The text stays within CHILD_LABELS_BYTES; each child adds a fixed ~260 bytes to it: the
      // encryption envelopes of its summary and details, and its four attributes' names and types.
      assert.ok(labels < CHILD_LABELS_BYTES + 1000 * 300, `labels ${labels}`);

      const child = await encrypted.client.temporal.workflow.getHandle('story-fanout-0-999').describe();
      const summary = (await child.staticSummary())!;
      assert.ok(summary.startsWith('child 999 · default: xxx'), summary);
      assert.ok(Buffer.byteLength(summary) <= CHILD_LABELS_BYTES / 1000 / 4, summary);
      assert.match((await child.staticDetails())!, /^\*\*runner\*\* default\n\*\*from\*\* child 999 of story-fanout/);
      assert.equal(child.typedSearchAttributes.get(STATE_KEYS.tenant), 'acme');
      assert.equal(child.typedSearchAttributes.get(STATE_KEYS.runner), 'default');
      // The label reached the server encrypted.
      const raw = initiated[999]!.userMetadata!.summary!;
      assert.equal(Buffer.from(raw.metadata!.encoding!).toString(), 'binary/encrypted');
      assert.throws(() => payloadConverter.fromPayload(raw));
      assert.deepEqual(failedTasks(executions), []);
    } finally {
      await encrypted.teardown();
    }
  },
);
