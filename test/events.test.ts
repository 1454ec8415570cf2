/**
 * Waiting for the outside world on the time-skipping server: `waitForEvent`, the `event` signal,
 * `sendEvent`, early events, duplicates, wait-for-any, timeouts, cancel while waiting,
 * continue-as-new with pending events, malformed events and the pending-event limit.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { EventRefused, MAX_PENDING_EVENTS, StepOutcome, type RunEvent, type StepRunner } from '../src';
import { createTestKit, type TestKit } from '../src/testing';
import { eventually } from '../support/wait';

/** Per run: a gate its step 0 waits on, so a test can send events while a step runs. */
const gates = new Map<string, { open: () => void; opened: Promise<void>; entered: boolean }>();
function gate(runId: string) {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const g = { open, opened, entered: false };
  gates.set(runId, g);
  return g;
}

const seen = (step: { event?: RunEvent; timedOut?: boolean }) => ({
  event: step.event ? { name: step.event.name, data: step.event.data, id: step.event.id } : null,
  timedOut: step.timedOut ?? false,
});

const runners: Record<string, StepRunner> = {
  /** Waits for approve or reject (24 h), then reports what woke it. */
  approval: async (step) =>
    step.stepNumber === 0
      ? StepOutcome.waitForEvent({ draft: step.payload }, { events: ['approve', 'reject'], timeout: '24h' })
      : StepOutcome.succeed({ ...seen(step), payload: step.payload }),
  /** Step 0 holds until the test opens its gate, then waits for `go`. */
  gated: async (step) => {
    if (step.stepNumber === 0) {
      const g = gates.get(step.runId)!;
      g.entered = true;
      await g.opened;
      return StepOutcome.waitForEvent(null, { events: 'go' });
    }
    return StepOutcome.succeed(seen(step));
  },
  /** Waits for `go` twice (the second time for an hour), reporting both. */
  twice: async (step) => {
    if (step.stepNumber === 0) {
      const g = gates.get(step.runId)!;
      g.entered = true;
      await g.opened;
      return StepOutcome.waitForEvent([], { events: 'go' });
    }
    const so_far = [...(step.payload as unknown[]), seen(step)];
    return step.stepNumber === 1
      ? StepOutcome.waitForEvent(so_far, { events: 'go', timeout: '1h' })
      : StepOutcome.succeed(so_far);
  },
  /**
   * Step 0 holds until the test opens its gate, then waits for approve or reject; step 1 for
   * approve or unrelated; step 2 for approve. Reports the three events, in the order taken.
   */
  anyOf: async (step) => {
    if (step.stepNumber === 0) {
      const g = gates.get(step.runId)!;
      g.entered = true;
      await g.opened;
      return StepOutcome.waitForEvent([], { events: ['approve', 'reject'] });
    }
    const taken = [...(step.payload as unknown[]), seen(step).event];
    if (step.stepNumber === 1) return StepOutcome.waitForEvent(taken, { events: ['approve', 'unrelated'] });
    if (step.stepNumber === 2) return StepOutcome.waitForEvent(taken, { events: 'approve' });
    return StepOutcome.succeed(taken);
  },
  /** Many quick steps (continue-as-new with a small history limit), then a wait for `late`. */
  long: async (step) => {
    if (step.stepNumber === 0) {
      const g = gates.get(step.runId)!;
      g.entered = true;
      await g.opened;
    }
    if (step.stepNumber < 20) return StepOutcome.continue(null);
    if (step.stepNumber === 20) return StepOutcome.waitForEvent(null, { events: 'late' });
    return StepOutcome.succeed(seen(step));
  },
  /** Waits for an event nobody sends. */
  forever: async () => StepOutcome.waitForEvent(null, { events: 'never' }),
};

let kit: TestKit;
before(async () => {
  kit = await createTestKit({ runners });
});
after(async () => {
  await kit?.teardown();
});

const waitingFor = (runId: string) =>
  eventually(async () => (await kit.client.status(runId)).state === 'waiting', 30_000, `${runId} waiting`);

describe('waitForEvent', () => {
  test('an event wakes the wait; the next step sees it, with the payload; status shows the wait', async () => {
    const { runId } = await kit.client.submit({ input: 'v1 of the refund email', runner: 'approval' });
    await waitingFor(runId);
    const status = await kit.client.status(runId);
    assert.deepEqual(status.waitingFor, ['approve', 'reject']);
    assert.equal(status.pendingEvents, 0);
    assert.ok(Date.parse(status.waitDeadline!) > Date.now() + 23 * 3600_000, status.waitDeadline);
    assert.equal(await kit.client.sendEvent(runId, 'approve', { by: 'ana' }, { id: 'evt-1' }), true);
    const outcome = await kit.client.result(runId);
    assert.equal(outcome.status, 'succeeded');
    assert.deepEqual(outcome.result, {
      event: { name: 'approve', data: { by: 'ana' }, id: 'evt-1' },
      timedOut: false,
      payload: { draft: 'v1 of the refund email' },
    });
    assert.equal(outcome.finalStep, 1);
  });

  test('no event before the timeout: the next step gets timedOut (time skipped)', async () => {
    const { runId } = await kit.client.submit({ input: 'x', runner: 'approval' });
    const outcome = await kit.client.result(runId);
    assert.deepEqual(outcome.result, { event: null, timedOut: true, payload: { draft: 'x' } });
  });

  test('an event sent while the step before the wait runs is kept, and taken by the wait', async () => {
    const g = gate('early-1');
    await kit.client.submit({ runId: 'early-1', input: null, runner: 'gated' });
    await eventually(() => g.entered);
    assert.equal(await kit.client.sendEvent('early-1', 'go', 'early bird'), true);
    await eventually(async () => (await kit.client.status('early-1')).pendingEvents === 1);
    g.open();
    const outcome = await kit.client.result('early-1');
    assert.deepEqual((outcome.result as { event: { name: string; data: unknown } }).event.data, 'early bird');
  });

  test('the same id twice is taken once: the second wait times out', async () => {
    const g = gate('dup-1');
    await kit.client.submit({ runId: 'dup-1', input: null, runner: 'twice' });
    await eventually(() => g.entered);
    await kit.client.sendEvent('dup-1', 'go', 1, { id: 'same' });
    await kit.client.sendEvent('dup-1', 'go', 2, { id: 'same' });
    await eventually(async () => (await kit.client.status('dup-1')).pendingEvents === 1);
    g.open();
    const outcome = await kit.client.result('dup-1');
    assert.deepEqual(outcome.result, [
      { event: { name: 'go', data: 1, id: 'same' }, timedOut: false },
      { event: null, timedOut: true },
    ]);
  });

  test('wait for any of several names: the one that arrives first wins; others stay pending in order', async () => {
    const g = gate('any-1');
    await kit.client.submit({ runId: 'any-1', input: null, runner: 'anyOf' });
    await eventually(() => g.entered);
    // All three arrive before the first wait: unrelated, then reject, then approve.
    await kit.client.sendEvent('any-1', 'unrelated', 'u', { id: 'u-1' });
    await kit.client.sendEvent('any-1', 'reject', 'r', { id: 'r-1' });
    await kit.client.sendEvent('any-1', 'approve', 'a', { id: 'a-1' });
    await eventually(async () => (await kit.client.status('any-1')).pendingEvents === 3);
    g.open();
    // approve|reject: reject (it came before approve); approve|unrelated: unrelated (before approve,
    // still pending after the first wait); approve: approve, still pending after two waits.
    const outcome = await kit.client.result('any-1');
    assert.deepEqual(outcome.result, [
      { name: 'reject', data: 'r', id: 'r-1' },
      { name: 'unrelated', data: 'u', id: 'u-1' },
      { name: 'approve', data: 'a', id: 'a-1' },
    ]);
  });

  test('an event for none of the names stays pending while another wakes the wait', async () => {
    const { runId } = await kit.client.submit({ input: 'y', runner: 'approval' });
    await waitingFor(runId);
    await kit.client.sendEvent(runId, 'unrelated', 'later maybe', { id: 'unrelated-1' });
    await eventually(async () => (await kit.client.status(runId)).pendingEvents === 1);
    assert.equal((await kit.client.status(runId)).state, 'waiting');
    await kit.client.sendEvent(runId, 'reject', 'too rude', { id: 'reject-1' });
    const outcome = await kit.client.result(runId);
    assert.deepEqual((outcome.result as { event: unknown }).event, {
      name: 'reject',
      data: 'too rude',
      id: 'reject-1',
    });
  });

  test('a cancel while waiting ends the run Canceled at once', async () => {
    const { runId } = await kit.client.submit({ input: 'z', runner: 'forever' });
    await waitingFor(runId);
    assert.equal(await kit.client.cancel(runId, 'nobody will answer'), true);
    const outcome = await kit.client.result(runId);
    assert.deepEqual(
      { status: outcome.status, error: outcome.error },
      { status: 'cancelled', error: 'nobody will answer' },
    );
    assert.equal((await kit.client.temporal.workflow.getHandle(runId).describe()).status.name, 'CANCELLED');
  });

  test('events pending across continue-as-new are kept', async () => {
    const g = gate('can-1');
    await kit.client.submit({ runId: 'can-1', input: null, runner: 'long', maxHistoryEvents: 30 });
    await eventually(() => g.entered);
    await kit.client.sendEvent('can-1', 'late', 'kept across executions', { id: 'late-1' });
    await kit.client.sendEvent('can-1', 'late', 'duplicate', { id: 'late-1' });
    await eventually(async () => (await kit.client.status('can-1')).pendingEvents === 1);
    g.open();
    const outcome = await kit.client.result('can-1');
    assert.deepEqual(outcome.result, {
      event: { name: 'late', data: 'kept across executions', id: 'late-1' },
      timedOut: false,
    });
    const description = await kit.client.temporal.workflow.getHandle('can-1').describe();
    assert.notEqual(description.runId, description.raw.workflowExecutionInfo?.firstRunId, 'the run continued-as-new');
  });

  test('a malformed event never harms the run: it is ignored and lastError says why', async () => {
    const { runId } = await kit.client.submit({ input: 'w', runner: 'approval' });
    await waitingFor(runId);
    const handle = kit.client.temporal.workflow.getHandle(runId);
    const cases: Array<[unknown, RegExp]> = [
      [{ nope: 1 }, /^event ignored: unknown field "nope" in event signal \(fields: name, data, id\)$/],
      [
        'approve',
        /^event ignored: event signal argument must be an object like \{"name": "approve"\}, got the string "approve"$/,
      ],
      [{ name: 42 }, /^event ignored: event name must be a string of 1–200 characters, got number 42$/],
      [{ name: 'ok', id: 7 }, /^event ignored: event id must be a string/],
      [null, /got null$/],
    ];
    for (const [bad, message] of cases) {
      await handle.signal('event', bad);
      await eventually(
        async () => message.test((await kit.client.status(runId)).lastError ?? ''),
        30_000,
        String(message),
      );
    }
    assert.equal((await kit.client.status(runId)).state, 'waiting');
    await kit.client.sendEvent(runId, 'approve');
    const outcome = await kit.client.result(runId);
    assert.equal(outcome.status, 'succeeded');
    const history = await handle.fetchHistory();
    assert.equal(history.events?.filter((e) => e.workflowTaskFailedEventAttributes).length, 0);
    await assert.rejects(kit.client.sendEvent(runId, ''), /event name must be a string of 1–200 characters/);
  });

  test(`the ${MAX_PENDING_EVENTS + 1}st pending event is refused: sendEvent throws, a raw signal is reported`, async () => {
    const { runId } = await kit.client.submit({ input: null, runner: 'forever' });
    await waitingFor(runId);
    const handle = kit.client.temporal.workflow.getHandle(runId);
    for (let i = 0; i < MAX_PENDING_EVENTS; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, j) => handle.signal('event', { name: 'x', id: `x-${i + j}` })));
    }
    await eventually(async () => (await kit.client.status(runId)).pendingEvents === MAX_PENDING_EVENTS, 60_000);
    await assert.rejects(kit.client.sendEvent(runId, 'x', 1), (err: Error) => {
      assert.ok(err instanceof EventRefused);
      assert.match(err.message, /already keeps 1000 unconsumed events/);
      return true;
    });
    await handle.signal('event', { name: 'x', id: 'one-too-many' });
    await eventually(async () =>
      /refused: the run already keeps 1000/.test((await kit.client.status(runId)).lastError ?? ''),
    );
    assert.equal((await kit.client.status(runId)).pendingEvents, MAX_PENDING_EVENTS);
    await kit.client.cancel(runId);
    assert.equal((await kit.client.result(runId)).status, 'cancelled');
  });

  test('sendEvent to an unknown or closed run returns false', async () => {
    assert.equal(await kit.client.sendEvent('no-such-run', 'go'), false);
    const { runId } = await kit.client.submit({ input: 'q', runner: 'approval' });
    await kit.client.result(runId);
    assert.equal(await kit.client.sendEvent(runId, 'approve'), false);
  });
});
