/**
 * Day two (contract v3), on a real dev server with the Temporal CLI operators use: every close of
 * a run is delivered. A run that closes again after a `temporal workflow reset` tells its
 * submitter the new outcome, with a new `webhook-id`; the attempts and redeliveries of one close
 * keep that close's id; an earlier close's delivery still retrying gives way to the new one.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { randomBytes } from 'node:crypto';
import { StepError, StepOutcome, type StepRunner } from '../src';
import { createTestKit, type TestKit } from '../src/testing';
import { startReceiver, type Receiver } from '../support/receiver';
import { eventually } from '../support/wait';
import { temporalCli } from './helpers/temporal-cli';
import { durableRunsCli } from './helpers/durable-runs-cli';

/** Runner calls per `runId/step`. */
const calls = new Map<string, number>();
const count = (key: string) => {
  const n = (calls.get(key) ?? 0) + 1;
  calls.set(key, n);
  return n;
};

const runners: Record<string, StepRunner> = {
  /** Steps 0 and 1 go on; step 2 fails the first time it runs (the model was down), then succeeds. */
  thirdFailsOnce: async (step) => {
    const n = count(`${step.runId}/${step.stepNumber}`);
    if (step.stepNumber < 2) return StepOutcome.continue(step.payload);
    return n === 1 ? StepOutcome.fail('the model was down') : StepOutcome.succeed({ second: 'time lucky' });
  },
  /**
   * Steps 0 and 1 go on; step 2 throws a transient error on every attempt until the run was
   * retried (`retried` holds its run ID), then succeeds with the attempt it is on.
   */
  flakyUntilRetried: async (step) => {
    count(`${step.runId}/${step.stepNumber}/${step.attempt}`);
    if (step.stepNumber < 2) return StepOutcome.continue(step.payload);
    if (!retried.has(step.runId)) throw StepError.transient(`provider down (attempt ${step.attempt})`);
    return StepOutcome.succeed({ attempt: step.attempt });
  },
};
const retried = new Set<string>();
runners.waitsForever = async () => StepOutcome.waitForEvent(null, { events: 'never' });
/** Steps 0–4 add their number to `payload.seen`; step 2 waits for `go` first when `payload.wait`; step 5 succeeds with the payload. */
runners.pipeline = async (step) => {
  count(`${step.runId}/${step.stepNumber}`);
  const payload = step.payload as { seen: unknown[]; wait?: boolean };
  if (step.stepNumber === 5) return StepOutcome.succeed(payload);
  const next = { ...payload, seen: [...payload.seen, step.stepNumber] };
  if (step.stepNumber === 1 && payload.wait) return StepOutcome.waitForEvent(next, { events: 'go' });
  return StepOutcome.continue(next);
};

let kit: TestKit;
let receiver: Receiver;
let refusing = true;
before(async () => {
  // The receiver at /stale-close answers 503 while `refusing`, so that a delivery keeps retrying;
  // everything else is taken at once.
  receiver = await startReceiver((path) => (path === '/stale-close' && refusing ? { status: 503 } : { status: 200 }));
  kit = await createTestKit({
    runners,
    server: 'local',
    taskQueue: 'durable-runs',
    webhook: { allowPrivate: true, maxRetries: 20, baseDelayMs: 2000, maxDelayMs: 2000 },
  });
});
after(async () => {
  await kit?.teardown();
  await receiver?.close();
});

const { temporal } = temporalCli(() => kit.env.address);
const handle = (runId: string) => kit.client.temporal.workflow.getHandle(runId);

/** Submits a `thirdFailsOnce` run with its webhook at `path`, and waits until it closed failed. */
async function failedRun(runId: string, path: string): Promise<void> {
  await kit.client.submit({
    runId,
    runner: 'thirdFailsOnce',
    input: { order: 7 },
    headers: { callback_url: `${receiver.url}${path}` },
  });
  assert.equal((await kit.client.result(runId)).status, 'failed');
}

/** `temporal workflow reset` to the workflow task that scheduled step `step`'s activity, as an operator does it. */
async function resetToStep(runId: string, step: number): Promise<void> {
  const events = (await handle(runId).fetchHistory()).events ?? [];
  const scheduled = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'runStep');
  assert.equal(scheduled.length, 3, 'one step activity per step');
  const eventId = String(scheduled[step]!.activityTaskScheduledEventAttributes!.workflowTaskCompletedEventId);
  await temporal('workflow', 'reset', '--workflow-id', runId, '--event-id', eventId, '--reason', 'the model is back');
}

const closedAs = async (runId: string, status: string) =>
  eventually(async () => (await handle(runId).describe()).status.name === status, 60_000, `${runId} ${status}`);

test('a run reset by hand after it failed delivers its new outcome, with a new webhook-id; redeliver sends that one', async () => {
  const runId = 'reset-reclose';
  await failedRun(runId, '/reset');
  await eventually(() => receiver.to('/reset').length === 1, 30_000, 'the first close delivered');
  await resetToStep(runId, 2);
  await closedAs(runId, 'COMPLETED');
  assert.deepEqual((await kit.client.result(runId)).result, { second: 'time lucky' });
  // Only the failing step ran again.
  assert.deepEqual(
    [0, 1, 2].map((s) => calls.get(`${runId}/${s}`)),
    [1, 1, 2],
  );
  await eventually(() => receiver.to('/reset').length === 2, 30_000, 'the second close delivered');
  const [first, second] = receiver.to('/reset');
  assert.equal(first!.headers['workflow-run-status'], 'failed');
  assert.equal(first!.headers['webhook-id'], `msg_${runId}`);
  assert.equal(first!.body.toString(), 'the model was down');
  assert.equal(second!.headers['workflow-run-status'], 'succeeded');
  assert.deepEqual(JSON.parse(second!.body.toString()), { second: 'time lucky' });
  const { runId: closing } = await handle(runId).describe();
  assert.equal(second!.headers['webhook-id'], `msg_${runId}_${closing}`, "a new id: the closing execution's");
  // The delivery records its answer after the receiver has the request: wait for it.
  await eventually(
    async () => (await kit.client.webhookStatus(runId))?.state !== 'pending',
    30_000,
    'the delivery recorded',
  );
  assert.deepEqual(await kit.client.webhookStatus(runId), { runId, state: 'delivered', attempts: 1, lastStatus: 200 });

  await kit.client.redeliver(runId);
  await eventually(() => receiver.to('/reset').length === 3, 30_000, 'redelivered');
  const third = receiver.to('/reset')[2]!;
  assert.equal(third.headers['webhook-id'], second!.headers['webhook-id'], "redeliver sends the latest close's");
  assert.equal(third.headers['workflow-run-status'], 'succeeded');
  assert.equal(receiver.to('/reset').length, 3, 'nothing else was sent');
});

test("an earlier close's delivery still retrying is ended when the run closes again; the new one arrives", async () => {
  const runId = 'reset-stale-close';
  await failedRun(runId, '/stale-close');
  // The first close's delivery is refused (503) and retries every 2 s, until the run closes again.
  await eventually(() => receiver.to('/stale-close').length >= 1, 30_000, 'the first attempt');
  const firstDelivery = (await kit.client.temporal.workflow.getHandle(`${runId}.webhook`).describe()).runId;
  await resetToStep(runId, 2);
  await closedAs(runId, 'COMPLETED');
  const stale = kit.client.temporal.workflow.getHandle(`${runId}.webhook`, firstDelivery);
  await eventually(
    async () => (await stale.describe()).status.name === 'TERMINATED',
    30_000,
    'the stale delivery ended',
  );
  refusing = false;
  await eventually(
    () => receiver.to('/stale-close').some((r) => r.headers['workflow-run-status'] === 'succeeded'),
    60_000,
    'the second close delivered',
  );
  const requests = receiver.to('/stale-close');
  const ids = new Set(requests.map((r) => r.headers['webhook-id']));
  assert.equal(ids.size, 2, 'two closes, two ids');
  // Nothing of the first close arrives once the second close's delivery began.
  const firstOfSecond = requests.findIndex((r) => r.headers['webhook-id'] !== `msg_${runId}`);
  assert.ok(requests.slice(firstOfSecond).every((r) => r.headers['workflow-run-status'] === 'succeeded'));
  await eventually(async () => (await kit.client.webhookStatus(runId))?.state === 'delivered', 30_000, 'delivered');
});

const durableRuns = durableRunsCli(() => ({ address: kit.env.address }));

/** The attempts the runner saw, per step, in order: `[[step, attempt], …]`. */
const attemptsOf = (runId: string) =>
  [...calls.keys()]
    .filter((k) => k.startsWith(`${runId}/`) && k.split('/').length === 3)
    .map((k) => k.split('/').slice(1).map(Number));

test('retry: a failed run runs again from the step that ended it, at attempt 1, same run ID; earlier steps do not run', async () => {
  const runId = 'retry-in-place';
  await kit.client.submit({
    runId,
    runner: 'flakyUntilRetried',
    input: null,
    maxAttemptsPerStep: 2,
    headers: { callback_url: `${receiver.url}/retry` },
  });
  const failed = await kit.client.result(runId);
  assert.equal(failed.status, 'failed');
  assert.match(failed.error!, /^step 2 failed after 2 attempts: provider down \(attempt 2\)$/);
  retried.add(runId);
  const cli = await durableRuns('retry', runId, '--json');
  assert.equal(cli.code, 0, cli.stderr);
  assert.deepEqual(JSON.parse(cli.stdout), { runId, retried: true, step: 2 });
  await closedAs(runId, 'COMPLETED');
  assert.deepEqual((await kit.client.result(runId)).result, { attempt: 1 });
  // Step 2 ran at attempts 1 and 2, failed, and ran again at attempt 1: 0 and 1 ran once.
  const steps = attemptsOf(runId).map(([s, a]) => `${s}/${a}`);
  assert.deepEqual(
    [...calls].filter(([k]) => k.startsWith(`${runId}/`)).map(([k, n]) => [k.slice(runId.length + 1), n]),
    [
      ['0/1', 1],
      ['1/1', 1],
      ['2/1', 2],
      ['2/2', 1],
    ],
    steps.join(' '),
  );
  // The UI shows what happened: the failed execution was reset.
  const executions = kit.client.temporal.workflow.list({ query: `WorkflowId = '${runId}'` });
  const statuses: string[] = [];
  for await (const e of executions) statuses.push(e.status.name);
  assert.deepEqual(statuses.sort(), ['COMPLETED', 'FAILED']);
  await eventually(() => receiver.to('/retry').length === 2, 30_000, 'both closes delivered');
  assert.deepEqual(
    receiver.to('/retry').map((r) => r.headers['workflow-run-status']),
    ['failed', 'succeeded'],
  );
});

test('retry goes back to the execution that ran the first attempt when the backoff handed over', async () => {
  const runId = 'retry-across-handover';
  // maxHistoryEvents 5: every backoff hands over to a new execution.
  await kit.client.submit({
    runId,
    runner: 'flakyUntilRetried',
    input: null,
    maxAttemptsPerStep: 3,
    maxHistoryEvents: 5,
  });
  assert.equal((await kit.client.result(runId)).status, 'failed');
  const failedIn = await kit.client.temporal.workflow.getHandle(runId).fetchHistory();
  assert.ok(
    failedIn.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId,
    'the failing attempt ran in a continued execution',
  );
  retried.add(runId);
  assert.equal(await kit.client.retry(runId), true);
  await closedAs(runId, 'COMPLETED');
  assert.deepEqual((await kit.client.result(runId)).result, { attempt: 1 });
  assert.equal(calls.get(`${runId}/2/1`), 2, 'attempt 1 of step 2 ran again');
  assert.equal(calls.get(`${runId}/1/1`), 1, 'step 1 did not');
});

test('retry refuses, changing nothing: an unknown run, a running one, a succeeded one (exit 1 with the reason)', async () => {
  assert.equal(await kit.client.retry('no-such-run'), false);
  const unknown = await durableRuns('retry', 'no-such-run');
  assert.equal(unknown.code, 1);
  assert.equal(unknown.stdout.trim(), 'no-such-run: not retried: run no-such-run is unknown');

  await kit.client.submit({
    runId: 'retry-running',
    runner: 'flakyUntilRetried',
    input: null,
    maxAttemptsPerStep: 100,
  });
  await eventually(async () => (await kit.client.status('retry-running')).step === 2, 30_000, 'at step 2');
  const running = await durableRuns('retry', 'retry-running');
  assert.equal(running.code, 1);
  assert.match(running.stdout, /run retry-running is still running: only a failed run can be retried/);
  await kit.client.cancel('retry-running');
  assert.equal((await kit.client.result('retry-running')).status, 'cancelled');
  assert.deepEqual(await kit.client.retryRun('retry-running'), {
    retried: false,
    reason: 'run retry-running is closed cancelled: only a failed run can be retried',
  });

  retried.add('retry-succeeded');
  await kit.client.submit({ runId: 'retry-succeeded', runner: 'flakyUntilRetried', input: null });
  assert.equal((await kit.client.result('retry-succeeded')).status, 'succeeded');
  const before = await kit.client.temporal.workflow.getHandle('retry-succeeded').describe();
  assert.equal(await kit.client.retry('retry-succeeded'), false);
  assert.equal(
    (await kit.client.temporal.workflow.getHandle('retry-succeeded').describe()).runId,
    before.runId,
    'not reset',
  );
});

test('cancel --query: 50 runs cancelled by one batch job, each Canceled with cancelledBy signal, and 2 in a start delay woken to cancel now; --dry-run and no --yes change nothing', async () => {
  const ids = Array.from({ length: 50 }, (_, i) => `bulk-cancel-${String(i).padStart(2, '0')}`);
  for (const runId of ids) await kit.client.submit({ runId, runner: 'waitsForever', input: null });
  // Temporal holds a plain signal (the batch's) to a run in its start delay until the delay ends.
  const delayed = ['bulk-cancel-delayed-a', 'bulk-cancel-delayed-b'];
  for (const runId of delayed)
    await kit.client.submit({ runId, runner: 'waitsForever', input: null, startDelay: '1h' });
  await kit.client.submit({ runId: 'bulk-keep', runner: 'waitsForever', input: null });
  const query = "WorkflowId STARTS_WITH 'bulk-cancel-'";
  // Visibility catches up with the starts.
  await eventually(
    async () => (await kit.client.cancelMatching(query, { dryRun: true })).matched === 52,
    30_000,
    '52 visible',
  );

  const dry = await durableRuns('cancel', '--query', query, '--dry-run');
  assert.deepEqual([dry.code, dry.stdout.trim()], [0, '52 running runs match']);
  const unconfirmed = await durableRuns('cancel', '--query', query, '--reason', 'provider outage');
  assert.equal(unconfirmed.code, 2);
  assert.equal(unconfirmed.stdout.trim(), 'nothing done: 52 running runs match; add --yes to cancel them');
  assert.equal((await kit.client.status(ids[0]!)).state, 'waiting', 'nothing happened');

  const done = await durableRuns('cancel', '--query', query, '--reason', 'provider outage', '--yes', '--json');
  assert.equal(done.code, 0, done.stderr);
  const report = JSON.parse(done.stdout) as {
    matched: number;
    completed: number;
    state: string;
    jobId: string;
    woken: number;
  };
  assert.deepEqual([report.matched, report.completed, report.state, report.woken], [52, 52, 'completed', 2]);
  for (const runId of [...ids, ...delayed]) {
    const outcome = await kit.client.result(runId);
    assert.deepEqual(
      [outcome.status, outcome.cancelledBy, outcome.error],
      ['cancelled', 'signal', 'provider outage'],
      runId,
    );
    assert.equal((await handle(runId).describe()).status.name, 'CANCELLED');
  }
  assert.equal((await kit.client.status('bulk-keep')).state, 'waiting', 'a run the query does not select goes on');
  await kit.client.cancel('bulk-keep');
});

test('retry --query retries every failed run it selects; a malformed query gets its reason and changes nothing', async () => {
  const ids = ['bulk-retry-a', 'bulk-retry-b'];
  for (const runId of ids) {
    await kit.client.submit({ runId, runner: 'flakyUntilRetried', input: null, maxAttemptsPerStep: 1 });
    assert.equal((await kit.client.result(runId)).status, 'failed');
    retried.add(runId);
  }
  const query = "WorkflowId STARTS_WITH 'bulk-retry-'";
  await eventually(
    async () => (await kit.client.retryMatching(query, { dryRun: true })).matched === 2,
    30_000,
    'visible',
  );
  const dry = await durableRuns('retry', '--query', query, '--dry-run');
  assert.deepEqual([dry.code, dry.stdout], [0, '2 failed runs match\n']);
  const unconfirmed = await durableRuns('retry', '--query', query);
  assert.equal(unconfirmed.code, 2);
  assert.match(unconfirmed.stdout + unconfirmed.stderr, /nothing done: 2 failed runs match; add --yes to retry them/);
  for (const runId of ids) assert.equal((await handle(runId).describe()).status.name, 'FAILED', 'still failed');
  const done = await durableRuns('retry', '--query', query, '--yes');
  assert.equal(done.code, 0, done.stderr);
  assert.equal(done.stdout.split('\n')[0], 'retried 2 of 2 failed runs');
  for (const runId of ids) {
    await closedAs(runId, 'COMPLETED');
    assert.deepEqual((await kit.client.result(runId)).result, { attempt: 1 });
  }

  for (const command of ['cancel', 'retry']) {
    const bad = await durableRuns(command, '--query', "WorkflowId = 'unclosed", '--yes');
    assert.equal(bad.code, 2, command);
    assert.match(bad.stderr, /^durable-runs: invalid visibility query "WorkflowId = 'unclosed": .+\n$/, command);
  }
  const both = await durableRuns('cancel', 'bulk-keep', '--query', query);
  assert.deepEqual([both.code, both.stderr], [2, 'durable-runs: cancel: give a run ID or --query, not both\n']);
});

test('fork from step 3 of an encrypted run, with its own payload and with an edited one; the original is untouched', async () => {
  const encrypted = await createTestKit({
    runners,
    env: kit.env,
    taskQueue: 'durable-runs-encrypted',
    encryptionKeys: `k1:${randomBytes(32).toString('base64')}`,
    webhook: false,
  });
  try {
    const runs = encrypted.client;
    const original = 'fork-original';
    await runs.submit({ runId: original, runner: 'pipeline', input: { seen: [] }, headers: { tenant: 'acme' } });
    assert.deepEqual((await runs.result(original)).result, { seen: [0, 1, 2, 3, 4] });
    const before = await encrypted.client.temporal.workflow.getHandle(original).describe();

    const same = await runs.fork(original, { fromStep: 3 });
    assert.equal(same.runId, `${original}-fork-1`);
    const sameOutcome = await runs.result(same.runId);
    assert.deepEqual(sameOutcome.result, { seen: [0, 1, 2, 3, 4] }, "step 3's own payload");
    assert.deepEqual(sameOutcome.headers, { tenant: 'acme' }, 'the same headers');
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5].map((k) => calls.get(`${same.runId}/${k}`)),
      [undefined, undefined, undefined, 1, 1, 1],
      'the fork ran steps 3 to 5 only',
    );
    assert.deepEqual((await runs.status(same.runId)).forkedFrom, { runId: original, step: 3 });

    const edited = await runs.fork(original, { fromStep: 3, payload: { seen: ['edited'] }, runId: 'fork-edited' });
    assert.equal(edited.runId, 'fork-edited');
    assert.deepEqual((await runs.result('fork-edited')).result, { seen: ['edited', 3, 4] });
    // Encrypted like any payload of the run: the fork's input in its history is ciphertext.
    const history = await kit.client.temporal.workflow.getHandle('fork-edited').fetchHistory();
    const input = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads ?? [];
    assert.equal(input.length, 2, 'the spec and the carry');
    for (const p of input) assert.equal(Buffer.from(p.metadata!.encoding!).toString(), 'binary/encrypted');
    assert.ok(
      !Buffer.concat(input.map((p) => Buffer.from(p.data!)))
        .toString('latin1')
        .includes('edited'),
    );

    const after = await encrypted.client.temporal.workflow.getHandle(original).describe();
    assert.deepEqual(
      [after.runId, after.status.name, after.historyLength],
      [before.runId, 'COMPLETED', before.historyLength],
    );
  } finally {
    await encrypted.teardown();
  }
});

test('fork of a running run: the fork goes on by itself, the original keeps waiting; its status says forkedFrom', async () => {
  const original = 'fork-running';
  await kit.client.submit({ runId: original, runner: 'pipeline', input: { seen: [], wait: true } });
  await eventually(async () => (await kit.client.status(original)).state === 'waiting', 30_000, 'waiting');
  const fork = await durableRuns('fork', original, '--from-step', '1', '--payload', '{"seen":["forked"]}', '--json');
  assert.equal(fork.code, 0, fork.stderr);
  assert.deepEqual(JSON.parse(fork.stdout), { runId: `${original}-fork-1`, forkedFrom: { runId: original, step: 1 } });
  const forkId = `${original}-fork-1`;
  // Without `wait` in its payload the fork does not wait at step 1.
  assert.deepEqual((await kit.client.result(forkId)).result, { seen: ['forked', 1, 2, 3, 4] });
  assert.equal((await kit.client.status(original)).state, 'waiting', 'the original still waits');
  assert.equal(await kit.client.sendEvent(original, 'go'), true);
  assert.deepEqual((await kit.client.result(original)).result, { seen: [0, 1, 2, 3, 4], wait: true });
  // A second fork of the same run gets the next free ID, and a fork of a fork works.
  const second = await kit.client.fork(original, { fromStep: 4 });
  assert.equal(second.runId, `${original}-fork-2`);
  assert.deepEqual((await kit.client.result(second.runId)).result, { seen: [0, 1, 2, 3, 4], wait: true });
  const grandchild = await kit.client.fork(forkId, { fromStep: 4 });
  assert.deepEqual((await kit.client.status(grandchild.runId)).forkedFrom, { runId: forkId, step: 4 });
});

test('fork refuses bad input with a one-line reason and a non-zero exit, and starts nothing', async () => {
  const original = 'fork-running';
  const cases: Array<[string[], RegExp]> = [
    [['--from-step', '9'], /^durable-runs: fork: step 9 is beyond the last step of run fork-running \(step 5\)\n$/],
    [['--from-step', '-1'], /^durable-runs: --from-step must be a whole number ≥ 0, got "-1"\n$/],
    [['--from-step', '1.5'], /^durable-runs: --from-step must be a whole number ≥ 0, got "1\.5"\n$/],
    [['--from-step', '1', '--payload', '{not json'], /^durable-runs: --payload must be JSON, got "\{not json"/],
    [
      ['--from-step', '1', '--run-id', 'fork-running-fork-1'],
      /^durable-runs: fork: run ID fork-running-fork-1 is taken\n$/,
    ],
  ];
  for (const [flags, message] of cases) {
    const out = await durableRuns('fork', original, ...flags);
    assert.equal(out.code, 2, flags.join(' '));
    assert.match(out.stderr, message);
  }
  const unknown = await durableRuns('fork', 'no-such-run', '--from-step', '0');
  assert.equal(unknown.code, 4);
  await assert.rejects(
    kit.client.fork(original, { fromStep: 1.5 }),
    /fromStep must be a whole number ≥ 0, got number 1\.5/,
  );
  const forks = kit.client.temporal.workflow.list({ query: "WorkflowId STARTS_WITH 'fork-running-fork-'" });
  const ids: string[] = [];
  for await (const e of forks) ids.push(e.workflowId);
  assert.equal(new Set(ids).size, 3, 'only the three forks made above');
});
