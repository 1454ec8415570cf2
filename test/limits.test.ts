/**
 * Runs at Temporal's limits, on a real dev server: a deadline across continue-as-new, history
 * kept bounded while a run waits (events, sleeps, backoffs), and the size bounds of what a run
 * carries (input, headers, the continue-as-new carry, children's outcomes, memos).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  MAX_COMMAND_BYTES,
  MAX_HEADERS_BYTES,
  MAX_PENDING_EVENT_BYTES,
  MAX_RUN_SPEC_BYTES,
  StepError,
  StepOutcome,
  type StepRunner,
  ValidationError,
} from '../src';
import { encodedSize } from '../src/shared/limits';
import { createTestKit, type TestKit } from '../src/testing';
import { startReceiver, type Receiver } from '../support/receiver';
import { eventually } from '../support/wait';

/** Runner calls per `runId/step/attempt`: a step that runs again after a hand-over shows here. */
const calls = new Map<string, number>();
const count = (key: string) => calls.set(key, (calls.get(key) ?? 0) + 1);
const callsOf = (runId: string) => [...calls].filter(([k]) => k.startsWith(`${runId}/`));
/** Effects `step.memo` ran, per run. */
const charges = new Map<string, number>();

const runners: Record<string, StepRunner> = {
  /** Waits for `approve` (with the timeout in the input, if any), then reports what woke it. */
  approval: async (step) => {
    count(`${step.runId}/${step.stepNumber}/${step.attempt}`);
    if (step.stepNumber === 0) {
      const { timeout } = (step.payload ?? {}) as { timeout?: string };
      return StepOutcome.waitForEvent('after the wait', { events: 'approve', ...(timeout ? { timeout } : {}) });
    }
    const { name, data, id } = step.event ?? {};
    return StepOutcome.succeed({ event: step.event ? { name, data, id } : null, payload: step.payload });
  },
  /** Sleeps `payload.sleep`, then succeeds. */
  sleeper: async (step) => {
    count(`${step.runId}/${step.stepNumber}/${step.attempt}`);
    if (step.stepNumber === 0)
      return StepOutcome.continueAfter('after the sleep', (step.payload as { sleep: string }).sleep);
    return StepOutcome.succeed(step.payload);
  },
  /** Step 0 continues with a string of `payload.size` characters; step 1 succeeds with its length. */
  big: async (step) =>
    step.stepNumber === 0
      ? StepOutcome.continue('y'.repeat((step.payload as { size: number }).size))
      : StepOutcome.succeed((step.payload as string).length),
  /** Runs four children that each succeed with 480,000 characters, then succeeds. */
  parent: async (step) =>
    step.stepNumber === 0
      ? StepOutcome.runChildren(
          null,
          Array.from({ length: 4 }, () => ({ input: null, runner: 'fat' })),
        )
      : StepOutcome.succeed('done'),
  fat: async () => StepOutcome.succeed('c'.repeat(480_000)),
  /** Records eight memos of 250,000 characters, then fails its first attempt. */
  hoarder: async (step) => {
    for (let i = 0; i < 8; i++) await step.memo(`m${i}`, () => 'm'.repeat(250_000));
    if (step.attempt === 1) throw StepError.transient('once more');
    return StepOutcome.succeed('done');
  },
  /** Succeeds at once with the length of its input. */
  echo: async (step) => StepOutcome.succeed(JSON.stringify(step.payload).length),
  /** Pays once (memoised), then fails its first `payload.failures` attempts, then succeeds with the payment. */
  payer: async (step) => {
    count(`${step.runId}/${step.stepNumber}/${step.attempt}`);
    const payment = await step.memo('charge', () => {
      charges.set(step.runId, (charges.get(step.runId) ?? 0) + 1);
      return { charge: `ch-${step.runId}` };
    });
    if (step.attempt <= (step.payload as { failures: number }).failures)
      throw StepError.transient(`flaky ${step.attempt}`);
    return StepOutcome.succeed({ payment, attempt: step.attempt });
  },
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
    if (process.env.DEBUG_HISTORY) {
      const tally: Record<string, number> = {};
      for (const e of events) tally[String(e.eventType)] = (tally[String(e.eventType)] ?? 0) + 1;
      console.log(
        '# tally',
        current,
        JSON.stringify(tally),
        JSON.stringify(
          events
            .filter((e) => e.workflowTaskFailedEventAttributes)
            .slice(0, 3)
            .map((e) => e.workflowTaskFailedEventAttributes),
        ),
      );
    }
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

/** Sends `n` raw `event` signals named `noise` (ids noise-0…), `concurrency` at a time, as the Temporal CLI would. */
async function noise(runId: string, n: number, concurrency = 1, duplicate?: number, from = 0): Promise<void> {
  const ids = Array.from(
    { length: n },
    (_, i) => `noise-${duplicate !== undefined && i === n - 1 ? duplicate : from + i}`,
  );
  for (let i = 0; i < ids.length; i += concurrency) {
    await Promise.all(
      ids.slice(i, i + concurrency).map((id) => handle(runId).signal('event', { name: 'noise', id, data: id })),
    );
  }
}
/**
 * What a history may exceed maxHistoryEvents by. The run checks after each workflow task, and a
 * task holds every signal that arrived while the one before ran: the server buffers at most 100
 * (history.maximumBufferedEventsBatch; past it, it fails the task and starts another). Then the
 * hand-over's own task: 3 events, and 3 more when the server refuses its completion because a
 * signal arrived meanwhile (UnhandledCommand), and the ContinuedAsNew event. With one sender
 * sending one event at a time (as the CLI does) the excess measured on a loaded 2-core machine
 * was up to 78 (4 runs), and 114 with a benchmark running beside the suite (a hand-over task
 * refused twice). Unbounded, the issue's run held 1,927 events.
 */
const MARGIN = 130;

describe('continue-as-new while waiting keeps every history bounded', () => {
  test(
    "the issue's case: 900 events (one duplicate) while waiting for approve, maxHistoryEvents 300",
    { timeout: 240_000 },
    async () => {
      const { runId } = await kit.client.submit({ input: null, runner: 'approval', maxHistoryEvents: 300 });
      await eventually(async () => (await kit.client.status(runId)).state === 'waiting');
      await noise(runId, 900, 1, 5);
      await eventually(async () => (await kit.client.status(runId)).pendingEvents === 899, 60_000, '899 pending');
      const status = await kit.client.status(runId);
      assert.deepEqual([status.state, status.waitingFor, status.step], ['waiting', ['approve'], 0]);
      await handle(runId).signal('event', { name: 'approve', id: 'ok-1', data: { by: 'ana' } });
      const outcome = await kit.client.result(runId);
      assert.deepEqual(outcome.result, {
        event: { name: 'approve', data: { by: 'ana' }, id: 'ok-1' },
        payload: 'after the wait',
      });
      const chain = await executions(runId);
      measured.push({ scenario: 'wait, 900 events, max 300', chain });
      assert.ok(chain.length >= 4, `handed over while waiting: ${JSON.stringify(chain)}`);
      for (const e of chain) assert.ok(e.events <= 300 + MARGIN, `history bounded: ${JSON.stringify(chain)}`);
      assert.deepEqual(
        callsOf(runId),
        [
          [`${runId}/0/1`, 1],
          [`${runId}/1/1`, 1],
        ],
        'no step ran twice',
      );
    },
  );

  test(
    'a wait with a timeout keeps its absolute deadline across hand-overs, and times out at it',
    { timeout: 240_000 },
    async () => {
      const { runId } = await kit.client.submit({
        input: { timeout: '40s' },
        runner: 'approval',
        maxHistoryEvents: 100,
      });
      await eventually(async () => (await kit.client.status(runId)).state === 'waiting');
      const { waitDeadline } = await kit.client.status(runId);
      assert.ok(waitDeadline);
      await noise(runId, 200);
      await eventually(async () => (await kit.client.status(runId)).pendingEvents === 200, 60_000, '200 pending');
      const chain = await executions(runId);
      assert.ok(chain.length >= 2, `handed over: ${JSON.stringify(chain)}`);
      assert.equal((await kit.client.status(runId)).waitDeadline, waitDeadline, 'the same deadline');
      const outcome = await kit.client.result(runId);
      assert.deepEqual(outcome.result, { event: null, payload: 'after the wait' });
      // Timed out at the deadline set before the hand-overs, not 40 s after the last one.
      const closed = (await handle(runId).describe()).closeTime!.getTime();
      assert.ok(
        closed >= Date.parse(waitDeadline) && closed < Date.parse(waitDeadline) + 10_000,
        `closed ${closed - Date.parse(waitDeadline)} ms after the deadline`,
      );
      const all = await executions(runId);
      measured.push({ scenario: 'wait with timeout, 200 events, max 100', chain: all });
      for (const e of all) assert.ok(e.events <= 100 + MARGIN, `history bounded: ${JSON.stringify(all)}`);
      assert.deepEqual(
        callsOf(runId),
        [
          [`${runId}/0/1`, 1],
          [`${runId}/1/1`, 1],
        ],
        'no step ran twice',
      );
    },
  );

  test(
    'a continueAfter sleep hands over with its wake-up time; the step after it runs once',
    { timeout: 240_000 },
    async () => {
      const { runId } = await kit.client.submit({ input: { sleep: '25s' }, runner: 'sleeper', maxHistoryEvents: 100 });
      await eventually(async () => (await kit.client.status(runId)).state === 'sleeping');
      const asleep = Date.now();
      await noise(runId, 300);
      const outcome = await kit.client.result(runId);
      assert.equal(outcome.result, 'after the sleep');
      const slept = Date.now() - asleep;
      assert.ok(slept >= 23_000 && slept < 60_000, `slept ${slept} ms`);
      const chain = await executions(runId);
      measured.push({ scenario: 'sleep 25 s, 300 events, max 100', chain });
      assert.ok(chain.length >= 3, `handed over while sleeping: ${JSON.stringify(chain)}`);
      for (const e of chain) assert.ok(e.events <= 100 + MARGIN, `history bounded: ${JSON.stringify(chain)}`);
      assert.deepEqual(
        callsOf(runId),
        [
          [`${runId}/0/1`, 1],
          [`${runId}/1/1`, 1],
        ],
        'no step ran twice',
      );
    },
  );

  test(
    'a retry backoff hands over with its attempt and memos: the memoised payment runs once',
    { timeout: 240_000 },
    async () => {
      // Backoffs of 1, 2, 4 and 8 s before attempt 5.
      const { runId } = await kit.client.submit({
        input: { failures: 4 },
        runner: 'payer',
        maxHistoryEvents: 60,
        maxAttemptsPerStep: 5,
      });
      await eventually(async () => (await kit.client.status(runId)).state === 'sleeping');
      let sent = 0;
      let closed = false;
      const sending = (async () => {
        for (; sent < 1000 && !closed; sent += 10) await noise(runId, 10, 1, undefined, sent);
      })().catch((err: Error) => {
        // The run closed while a signal was on its way.
        if (!closed) throw err;
      });
      const outcome = await kit.client.result(runId);
      closed = true;
      await sending;
      assert.deepEqual(outcome.result, { payment: { charge: `ch-${runId}` }, attempt: 5 });
      assert.equal(charges.get(runId), 1, 'the payment ran once');
      assert.deepEqual(
        callsOf(runId).map(([k, n]) => [k.slice(runId.length), n]),
        [
          ['/0/1', 1],
          ['/0/2', 1],
          ['/0/3', 1],
          ['/0/4', 1],
          ['/0/5', 1],
        ],
      );
      const chain = await executions(runId);
      measured.push({ scenario: `backoff 1+2+4+8 s, ${sent} events, max 60`, chain });
      // How many times depends on how many events a busy machine sends in the 15 s of backoff
      // (three executions, usually; two on a loaded CI machine): at least once, and each bounded.
      assert.ok(chain.length >= 2, `handed over while in backoff: ${JSON.stringify(chain)}`);
      // Events keep coming while a backoff's hand-over task is refused and retried: on a loaded CI
      // machine an execution reached 213 events. Bounded all the same: 1,000 events in one
      // execution is what the unbounded run did.
      for (const e of chain) assert.ok(e.events <= 60 + 2 * MARGIN, `history bounded: ${JSON.stringify(chain)}`);
    },
  );
});

describe('a handed-over wait whose next execution must hand over at once', () => {
  test(
    'the backoff goes on to the execution after: the failed attempt does not run again',
    { timeout: 120_000 },
    async () => {
      // The execution a backoff was handed over to, as it begins when events arrived before its
      // first task: started on a queue no worker polls yet, sent 12 events, then given a worker.
      // Its first task is then past maxHistoryEvents, and it hands over before it begins the wait.
      const taskQueue = `${kit.taskQueue}-late`;
      const runId = `late-backoff-${Date.now()}`;
      const until = new Date(Date.now() + 4000).toISOString();
      await kit.client.temporal.workflow.start('durableRun', {
        workflowId: runId,
        taskQueue,
        args: [
          { input: { failures: 4 }, runner: 'payer', maxHistoryEvents: 10, maxAttemptsPerStep: 5 },
          { step: 0, payload: { failures: 4 }, attempt: 4, lastError: 'flaky 4', wait: { kind: 'backoff', until } },
        ],
      });
      await noise(runId, 12);
      const late = await createTestKit({ runners, env: kit.env, taskQueue, encryptionKeys: false });
      try {
        const outcome = await late.client.result(runId);
        assert.deepEqual(outcome.result, { payment: { charge: `ch-${runId}` }, attempt: 5 });
        // Attempt 4 failed in the execution before this one: only attempt 5 runs, after the backoff.
        assert.deepEqual(callsOf(runId), [[`${runId}/0/5`, 1]]);
        const chain = await executions(runId);
        assert.ok(chain.length >= 2, `handed over before the wait began: ${JSON.stringify(chain)}`);
        const scheduled = [];
        for (const e of chain) {
          const history = await late.client.temporal.workflow.getHandle(runId, e.runId).fetchHistory();
          for (const event of history.events ?? []) {
            if (event.activityTaskScheduledEventAttributes?.activityType?.name === 'runStep') scheduled.push(event);
          }
        }
        assert.equal(scheduled.length, 1, 'one step activity in the whole chain');
        const at = Number(scheduled[0]!.eventTime?.seconds ?? 0) * 1000;
        assert.ok(
          at >= Date.parse(until) - 1000,
          `scheduled at ${new Date(at).toISOString()}, the backoff ends ${until}`,
        );
        await noWfTaskFailures(runId);
      } finally {
        await late.teardown();
      }
    },
  );
});

/** Room for the small fields of a step input or a carry, as the workflow keeps it (ROOM_FOR_SMALL_FIELDS). */
const BUDGET = MAX_COMMAND_BYTES - 4096;
const noWfTaskFailures = async (runId: string) => {
  const history = await handle(runId).fetchHistory();
  assert.equal(history.events?.filter((e) => e.workflowTaskFailedEventAttributes).length, 0, 'no workflow task failed');
};

describe('size bounds: refused at the door, or the run fails cleanly with its webhook', () => {
  test(`the workflow input: ${MAX_RUN_SPEC_BYTES} bytes pass, one more is refused at submit naming the limit`, async () => {
    const headers = withHook('/input-ok');
    const fits = MAX_RUN_SPEC_BYTES - encodedSize(headers) - 2;
    const { runId } = await kit.client.submit({ input: 'i'.repeat(fits), runner: 'echo', headers });
    assert.equal((await kit.client.result(runId)).result, fits + 2);
    await assert.rejects(
      kit.client.submit({ input: 'i'.repeat(fits + 1), runner: 'echo', headers }),
      (err: Error) =>
        err instanceof ValidationError &&
        /^the workflow input would be 512\.0 KiB \(524289 bytes\), above the 512\.0 KiB \(524288 bytes\) limit \(input /.test(
          err.message,
        ),
    );
  });

  test(`headers: ${MAX_HEADERS_BYTES} bytes together pass, one more is refused at submit`, async () => {
    const base = withHook('/headers-ok');
    const pad = MAX_HEADERS_BYTES - encodedSize({ ...base, pad: '' });
    const { runId } = await kit.client.submit({ input: 1, runner: 'echo', headers: { ...base, pad: 'h'.repeat(pad) } });
    assert.equal((await kit.client.result(runId)).status, 'succeeded');
    await assert.rejects(
      kit.client.submit({ input: 1, runner: 'echo', headers: { ...base, pad: 'h'.repeat(pad + 1) } }),
      /^ValidationError: headers take 32\.0 KiB \(32769 bytes\) together, above the 32\.0 KiB \(32768 bytes\) limit$/,
    );
  });

  test('an oversized input started around the client (as the Temporal CLI does) fails the run at once, with its webhook', async () => {
    const runId = `raw-big-${Date.now()}`;
    await kit.client.temporal.workflow.start('durableRun', {
      workflowId: runId,
      taskQueue: kit.taskQueue,
      args: [{ input: 'i'.repeat(MAX_RUN_SPEC_BYTES), runner: 'echo', headers: withHook('/raw-big') }],
    });
    const outcome = await kit.client.result(runId);
    assert.equal(outcome.status, 'failed');
    assert.match(outcome.error!, /^the workflow input would be .* above the 512\.0 KiB \(524288 bytes\) limit/);
    assert.equal(outcome.finalStep, 0);
    assert.deepEqual(await webhookOf('/raw-big'), { status: 'failed', body: outcome.error });
    await noWfTaskFailures(runId);
  });

  test("a step's input at the limit passes; one byte over fails the run before the step, with its webhook", async () => {
    // The step input's parts: the payload (a string: two quotes) and the headers.
    const fits = (path: string) => BUDGET - encodedSize(withHook(path)) - 2;
    const ok = await kit.client.submit({
      input: { size: fits('/step-input') },
      runner: 'big',
      headers: withHook('/step-input'),
    });
    assert.equal((await kit.client.result(ok.runId)).result, fits('/step-input'));
    const over = await kit.client.submit({
      input: { size: fits('/step-input-over') + 1 },
      runner: 'big',
      headers: withHook('/step-input-over'),
    });
    const outcome = await kit.client.result(over.runId);
    assert.deepEqual([outcome.status, outcome.finalStep], ['failed', 1]);
    assert.match(
      outcome.error!,
      /^step 1's input would be 1\.81 MiB \(1895905 bytes\), above the 1\.81 MiB \(1895904 bytes\) limit \(payload /,
    );
    assert.deepEqual(await webhookOf('/step-input-over'), { status: 'failed', body: outcome.error });
    await noWfTaskFailures(over.runId);
  });

  test('the continue-as-new carry at the limit passes; one byte over fails the run, with its webhook', async () => {
    const pad = 'z'.repeat(100_000);
    const carried = (size: number, path: string) => ({
      input: { size, pad },
      runner: 'big',
      maxHistoryEvents: 5,
      headers: withHook(path),
    });
    // The carry's parts: the input, the headers and the payload (a string: two quotes).
    const fits = (path: string) => BUDGET - encodedSize({ size: 0, pad }) - encodedSize(withHook(path)) - 2 - 6;
    const ok = await kit.client.submit(carried(fits('/carry-ok'), '/carry-ok'));
    assert.equal((await kit.client.result(ok.runId)).status, 'succeeded');
    assert.ok((await executions(ok.runId)).length >= 2, 'continued-as-new');
    const over = await kit.client.submit(carried(fits('/carry-over') + 1, '/carry-over'));
    const outcome = await kit.client.result(over.runId);
    assert.equal(outcome.status, 'failed');
    assert.match(
      outcome.error!,
      /^the continue-as-new carry would be .* above the 1\.81 MiB \(1895904 bytes\) limit \(payload /,
    );
    assert.deepEqual(await webhookOf('/carry-over'), { status: 'failed', body: outcome.error });
    await noWfTaskFailures(over.runId);
  });

  test("children's outcomes too large for the next step's input fail the run, with its webhook", async () => {
    const { runId } = await kit.client.submit({ input: null, runner: 'parent', headers: withHook('/children') });
    const outcome = await kit.client.result(runId);
    assert.deepEqual([outcome.status, outcome.finalStep], ['failed', 1]);
    assert.match(outcome.error!, /^step 1's input would be .* limit \(children's outcomes 1\.83 MiB/);
    assert.deepEqual(await webhookOf('/children'), { status: 'failed', body: outcome.error });
    await noWfTaskFailures(runId);
  });

  test("memos too large to re-send in a retry's input fail the run, with its webhook", async () => {
    const { runId } = await kit.client.submit({ input: null, runner: 'hoarder', headers: withHook('/memos') });
    const outcome = await kit.client.result(runId);
    assert.deepEqual([outcome.status, outcome.finalStep], ['failed', 0]);
    assert.match(outcome.error!, /^step 0's input would be .* limit \(memos 1\.91 MiB/);
    assert.deepEqual(await webhookOf('/memos'), { status: 'failed', body: outcome.error });
    await noWfTaskFailures(runId);
  });

  test(`pending events: ${MAX_PENDING_EVENT_BYTES} bytes of them are kept; the next event is refused, the run goes on`, async () => {
    const { runId } = await kit.client.submit({ input: null, runner: 'approval' });
    await eventually(async () => (await kit.client.status(runId)).state === 'waiting');
    const sample = (id: string, data: string) => ({ name: 'noise', data, id, receivedAt: new Date().toISOString() });
    const small = encodedSize(sample('b', ''));
    const first = 'd'.repeat(MAX_PENDING_EVENT_BYTES - small - encodedSize(sample('a', '')));
    await handle(runId).signal('event', { name: 'noise', id: 'a', data: first });
    await handle(runId).signal('event', { name: 'noise', id: 'b', data: '' });
    await eventually(async () => (await kit.client.status(runId)).pendingEvents === 2, 30_000, '2 pending');
    await handle(runId).signal('event', { name: 'noise', id: 'c', data: '' });
    await eventually(
      async () =>
        /^event ignored: event "noise" \(id c, \d+ bytes\) refused: the run's unconsumed events would take more than 512\.0 KiB/.test(
          (await kit.client.status(runId)).lastError ?? '',
        ),
      30_000,
      'refused',
    );
    assert.equal((await kit.client.status(runId)).pendingEvents, 2);
    assert.equal((await kit.client.status(runId)).state, 'waiting');
    await kit.client.cancel(runId);
    assert.equal((await kit.client.result(runId)).status, 'cancelled');
    await noWfTaskFailures(runId);
  });
});

const measured: Array<{ scenario: string; chain: Array<{ events: number }> }> = [];
after(() => {
  for (const { scenario, chain } of measured) {
    console.log(`# history events per execution, ${scenario}: ${chain.map((e) => e.events).join(', ')}`);
  }
});
