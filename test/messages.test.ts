/**
 * Messages that need an answer are Workflow Updates, and internal ones carry proof (issue 20,
 * items 8–10), on a real dev server (its speculative workflow tasks are what let a refused update
 * leave no history):
 * - events: concurrent senders racing the pending bound, duplicates, a run without a worker;
 * - memos: the first value recorded wins, also against a stale attempt still running;
 * - forged memo signals and updates, forged parent cancels, and the real parent cancel.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Context } from '@temporalio/activity';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure, type Payload } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import {
  EventRefused,
  MAX_PENDING_EVENTS,
  RunNotResponding,
  RunsClient,
  StepError,
  StepOutcome,
  type StepRunner,
} from '../src';
import { PARENT_TOKEN_MEMO_KEY } from '../src/shared/definitions';
import { ErrorType } from '../src/shared/names';
import { Worker } from '@temporalio/worker';
import { createTestKit, type TestKit, workflowBundle } from '../src/testing';
import { payloadConverterPath } from '../src/worker';
import { eventually } from '../support/wait';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** A promise and the function that settles it. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** The memo race: the stale attempt waits for the retried one to run its `fn`, and the other way round. */
const race = {
  secondInFn: deferred(),
  firstRecorded: deferred(),
  saw: [] as Array<{ temporalAttempt: number; value: unknown }>,
};
/** Per run: how often its effect ran, and the gate its first attempt holds on. */
const effects = new Map<string, number>();
const gates = new Map<string, { entered: boolean; open: () => void; opened: Promise<void> }>();
function gate(runId: string) {
  const d = deferred();
  const g = { entered: false, open: d.resolve, opened: d.promise };
  gates.set(runId, g);
  return g;
}

const runners: Record<string, StepRunner> = {
  /** One step. */
  once: async () => StepOutcome.succeed('done'),
  /** Waits for an event nobody sends. */
  forever: async () => StepOutcome.waitForEvent(null, { events: 'never' }),
  /**
   * Attempt 1 holds on its gate and fails; attempt 2 charges through a memo: a forged memo of
   * step 0 would make it skip the charge.
   */
  pay: async (step) => {
    if (step.attempt === 1) {
      const g = gates.get(step.runId)!;
      g.entered = true;
      await g.opened;
      throw StepError.transient('card network busy');
    }
    const charge = await step.memo('charge', () => {
      const n = (effects.get(step.runId) ?? 0) + 1;
      effects.set(step.runId, n);
      return { chargeId: `ch_${n}` };
    });
    return StepOutcome.succeed(charge);
  },
  /**
   * Two attempts of one step at once: Temporal retries the first after its start-to-close timeout
   * while it still runs. The retried attempt runs `fn` after the stale one started it; the stale
   * one records first. Then the run's own next attempt reads the memo.
   */
  race: async (step) => {
    if (step.attempt > 1) {
      const value = await step.memo('charge', () => 'from-run-attempt-2');
      return StepOutcome.succeed({ value, saw: race.saw });
    }
    const temporalAttempt = Context.current().info.attempt;
    const value = await step.memo('charge', async () => {
      if (temporalAttempt === 1) {
        await race.secondInFn.promise;
        return 'from-attempt-1';
      }
      race.secondInFn.resolve();
      await race.firstRecorded.promise;
      return 'from-attempt-2';
    });
    race.saw.push({ temporalAttempt, value });
    if (temporalAttempt === 1) race.firstRecorded.resolve();
    throw StepError.transient(`attempt ${temporalAttempt} done`);
  },
  /** Two children that wait for ever. */
  parent: async (step) =>
    step.stepNumber === 0
      ? StepOutcome.runChildren(null, [
          { input: null, runner: 'forever' },
          { input: null, runner: 'forever' },
        ])
      : StepOutcome.succeed(step.children!.map((c) => [c.status, c.cancelledBy ?? null])),
};

let kit: TestKit;
/** Runs whose histories the last test replays with the current workflow code. */
const replayed: string[] = [];
before(async () => {
  kit = await createTestKit({ runners, server: 'local', encryptionKeys: false });
});
after(async () => {
  await kit?.teardown();
});

const history = async (runId: string): Promise<HistoryEvent[]> =>
  (await kit.client.temporal.workflow.getHandle(runId).fetchHistory()).events ?? [];
const waiting = (runId: string) =>
  eventually(async () => (await kit.client.status(runId)).state === 'waiting', 30_000, `${runId} waiting`);
const json = (payload: Payload | null | undefined): unknown =>
  JSON.parse(Buffer.from(payload?.data ?? new Uint8Array()).toString('utf8'));
/** Every payload's data in `value` (history events), as text. */
function payloadText(value: unknown): string {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  if (value === null || typeof value !== 'object') return '';
  return Object.values(value).map(payloadText).join('\n');
}
/** The failure an update was refused with. */
const refusal = (err: unknown): ApplicationFailure => {
  assert.ok(err instanceof WorkflowUpdateFailedError, String(err));
  assert.ok(err.cause instanceof ApplicationFailure, String(err.cause));
  return err.cause;
};

describe('events through the `event` update', () => {
  test(`concurrent senders racing the ${MAX_PENDING_EVENTS} bound while the worker is away: exactly ${MAX_PENDING_EVENTS} held, the rest refused, no history for them`, async () => {
    // The run's own worker, stopped once the run holds 990 events: the senders start while no
    // worker can answer (a slow worker at its worst), and a new worker comes back to answer them.
    const first = await createTestKit({ runners, env: kit.env, encryptionKeys: false });
    let second: TestKit | undefined;
    try {
      const { runId } = await first.client.submit({ input: null, runner: 'forever' });
      await eventually(async () => (await first.client.status(runId)).state === 'waiting', 30_000);
      const handle = kit.client.temporal.workflow.getHandle(runId);
      const prefilled = MAX_PENDING_EVENTS - 10;
      for (let i = 0; i < prefilled; i += 90) {
        const n = Math.min(90, prefilled - i);
        await Promise.all(
          Array.from({ length: n }, (_, j) => handle.signal('event', { name: 'x', id: `pre-${i + j}` })),
        );
      }
      await eventually(async () => (await first.client.status(runId)).pendingEvents === prefilled, 60_000);
      const before = (await history(runId)).length;
      await first.teardown();

      // 64 senders at once for 10 places.
      const accepted: string[] = [];
      const refused: string[] = [];
      const refusals: unknown[] = [];
      const senders = Promise.all(
        Array.from({ length: 64 }, async (_, sender) => {
          for (let k = 0; k < 1; k++) {
            const id = `race-${sender}-${k}`;
            try {
              assert.equal(await kit.client.sendEvent(runId, 'x', { sender, k }, { id, timeout: '60s' }), true);
              accepted.push(id);
            } catch (err) {
              refusals.push(err);
              refused.push(id);
            }
          }
        }),
      );
      second = await createTestKit({ runners, env: kit.env, taskQueue: first.taskQueue, encryptionKeys: false });
      await senders;
      assert.deepEqual([accepted.length, refused.length], [10, 54]);
      for (const [i, err] of refusals.entries()) {
        assert.ok(err instanceof EventRefused, String(err));
        assert.equal(
          err.message,
          `run ${runId} refused event "x": event "x" (id ${refused[i]}) refused: the run already keeps 1000 unconsumed events`,
        );
      }
      assert.equal(
        (await kit.client.status(runId)).pendingEvents,
        MAX_PENDING_EVENTS,
        'the run holds every accepted one',
      );

      const events = (await history(runId)).slice(before);
      const acceptedInHistory = events
        .map((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.args?.payloads?.[0])
        .filter((p) => p !== undefined)
        .map((p) => (json(p) as { id: string }).id);
      assert.deepEqual(acceptedInHistory.sort(), [...accepted].sort(), 'one accepted update per accepted event');
      assert.equal(events.filter((e) => e.workflowExecutionUpdateCompletedEventAttributes).length, 10);
      assert.equal(events.filter((e) => e.workflowExecutionSignaledEventAttributes).length, 0);
      const text = payloadText(events);
      assert.ok(
        accepted.every((id) => text.includes(`"${id}"`)),
        'the check sees what payloads hold',
      );
      for (const id of refused) assert.ok(!text.includes(`"${id}"`), `${id} left history`);
      await kit.client.cancel(runId);
      assert.equal((await kit.client.result(runId)).status, 'cancelled');
    } finally {
      await first.teardown();
      await second?.teardown();
    }
  });

  test("a duplicate id: 'duplicate' (sendEvent: true), and not one history event; a malformed update is refused the same way", async () => {
    const { runId } = await kit.client.submit({ input: null, runner: 'forever' });
    await waiting(runId);
    replayed.push(runId);
    assert.equal(await kit.client.sendEvent(runId, 'x', 1, { id: 'once' }), true);
    const length = (await history(runId)).length;
    assert.equal(await kit.client.deliverEvent(runId, 'x', 2, { id: 'once' }), 'duplicate');
    assert.equal(await kit.client.sendEvent(runId, 'x', 2, { id: 'once' }), true);
    const handle = kit.client.temporal.workflow.getHandle(runId);
    const malformed = await handle.executeUpdate('event', { args: [{ name: 'x', extra: 1 }] }).catch((e: unknown) => e);
    assert.deepEqual(
      [refusal(malformed).type, refusal(malformed).message],
      [ErrorType.InvalidEvent, 'unknown field "extra" in event signal (fields: name, data, id)'],
    );
    assert.equal((await history(runId)).length, length, 'neither left a history event');
    assert.equal((await kit.client.status(runId)).pendingEvents, 1);
    // The raw update without an id: the run names it and says so.
    const ack = await handle.executeUpdate<{ id: string; pendingEvents: number }, [unknown]>('event', {
      args: [{ name: 'y' }],
    });
    assert.equal(ack.pendingEvents, 2);
    assert.match(ack.id, /^[0-9a-f-]{36}$/);
    await kit.client.cancel(runId);
    await kit.client.result(runId);
    assert.equal(await kit.client.sendEvent(runId, 'x'), false, 'closed');
  });

  test('no worker for the run: sendEvent gives up after its timeout with RunNotResponding', async () => {
    const orphans = RunsClient.fromClient(kit.client.temporal, `${kit.taskQueue}-nobody`);
    const { runId } = await orphans.submit({ input: null, runner: 'forever' });
    const started = Date.now();
    await assert.rejects(orphans.sendEvent(runId, 'go', null, { id: 'g-1', timeout: '2s' }), (err: Error) => {
      assert.ok(err instanceof RunNotResponding, String(err));
      assert.equal(err.eventId, 'g-1');
      assert.match(
        err.message,
        /did not answer within 2000 ms: is a worker polling its task queue, or is the run flooded with messages\?/,
      );
      return true;
    });
    assert.ok(Date.now() - started < 15_000, `gave up after ${Date.now() - started} ms`);
    await kit.client.temporal.workflow.getHandle(runId).terminate('test over');
  });
});

describe('memos through the memo update', () => {
  test('two attempts of one step at once: the first value recorded wins, for the loser and for later attempts', async () => {
    const { runId } = await kit.client.submit({ input: null, runner: 'race', stepTimeoutMs: 2000 });
    replayed.push(runId);
    const outcome = await kit.client.result(runId);
    assert.equal(outcome.status, 'succeeded', outcome.error ?? '');
    assert.deepEqual(outcome.result, {
      value: 'from-attempt-1',
      saw: [
        { temporalAttempt: 1, value: 'from-attempt-1' },
        { temporalAttempt: 2, value: 'from-attempt-1' },
      ],
    });
    const events = await history(runId);
    const completed = events.filter((e) => e.workflowExecutionUpdateCompletedEventAttributes);
    assert.deepEqual(
      completed.map((e) => json(e.workflowExecutionUpdateCompletedEventAttributes?.outcome?.success?.payloads?.[0])),
      ['from-attempt-1', 'from-attempt-1'],
      'both attempts recorded; the run answered both with the first value',
    );
  });

  test('a forged memo signal and forged memo updates change nothing: the next attempt runs fn and records its own value', async () => {
    const g = gate('forged-memo');
    const { runId } = await kit.client.submit({ runId: 'forged-memo', input: null, runner: 'pay' });
    replayed.push(runId);
    await eventually(() => g.entered);
    const handle = kit.client.temporal.workflow.getHandle(runId);
    await handle.signal('durableRuns.memo', { step: 0, key: 'charge', value: { chargeId: 'forged' } });
    const forgedUpdates = await Promise.all(
      ['guessed', undefined].map((token) =>
        handle
          .executeUpdate('durableRuns.recordMemo', {
            args: [{ step: 0, key: 'charge', value: { chargeId: 'forged' }, ...(token ? { token } : {}) }],
          })
          .catch((e: unknown) => e),
      ),
    );
    g.open();
    const outcome = await kit.client.result(runId);
    assert.deepEqual(outcome.result, { chargeId: 'ch_1' }, 'the charge ran, and its own value was recorded');
    assert.equal(effects.get(runId), 1);
    for (const err of forgedUpdates) {
      assert.deepEqual(
        [refusal(err).type, refusal(err).message],
        [ErrorType.MemoRefused, 'memo refused: the request does not carry the token of step 0'],
      );
    }
    const updates = (await history(runId)).filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes);
    assert.equal(updates.length, 1, 'only the step recorded a memo');
  });
});

describe('cancels that say they come from the parent', () => {
  test("a forged cancel {by: 'parent'} ends the run with cancelledBy 'signal'", async () => {
    for (const token of [undefined, 'guessed']) {
      const { runId } = await kit.client.submit({ input: null, runner: 'forever' });
      replayed.push(runId);
      await waiting(runId);
      await kit.client.temporal.workflow
        .getHandle(runId)
        .signal('cancel', { reason: 'parent run cancelled', by: 'parent', ...(token ? { token } : {}) });
      const outcome = await kit.client.result(runId);
      assert.deepEqual(
        [outcome.status, outcome.error, outcome.cancelledBy],
        ['cancelled', 'parent run cancelled', 'signal'],
      );
    }
  });

  test("the parent's own cancel carries the token it gave the child at start: cancelledBy 'parent'", async () => {
    const { runId } = await kit.client.submit({ input: null, runner: 'parent' });
    const children = [`${runId}-0-0`, `${runId}-0-1`];
    replayed.push(runId, ...children);
    for (const child of children) await waiting(child);
    const tokens = await Promise.all(
      children.map(
        async (child) => (await kit.client.temporal.workflow.getHandle(child).describe()).memo?.[PARENT_TOKEN_MEMO_KEY],
      ),
    );
    assert.ok(
      tokens.every((t) => typeof t === 'string' && t.length >= 32),
      String(tokens),
    );
    assert.notEqual(tokens[0], tokens[1], 'a token per child');
    await kit.client.cancel(runId);
    assert.equal((await kit.client.result(runId)).status, 'cancelled');
    for (const [i, child] of children.entries()) {
      const outcome = await kit.client.result(child);
      assert.deepEqual([outcome.status, outcome.cancelledBy], ['cancelled', 'parent']);
      const signal = (await history(child)).find((e) => e.workflowExecutionSignaledEventAttributes)!;
      assert.deepEqual(json(signal.workflowExecutionSignaledEventAttributes?.input?.payloads?.[0]), {
        reason: 'parent run cancelled',
        by: 'parent',
        token: tokens[i],
      });
    }
  });

  test('with encryption keys the token travels encrypted in the child memo', async () => {
    const keys = `k1:${randomBytes(32).toString('base64')}`;
    const enc = await createTestKit({ runners, env: kit.env, encryptionKeys: keys });
    try {
      const { runId } = await enc.client.submit({ input: null, runner: 'parent' });
      const child = `${runId}-0-0`;
      await eventually(async () => (await enc.client.status(child)).state === 'waiting', 30_000);
      const raw = (await enc.client.temporal.workflow.getHandle(child).describe()).raw.workflowExecutionInfo?.memo
        ?.fields?.[PARENT_TOKEN_MEMO_KEY];
      assert.equal(Buffer.from(raw?.metadata?.encoding ?? new Uint8Array()).toString(), 'binary/encrypted');
      await enc.client.cancel(runId);
      assert.deepEqual((await enc.client.result(child)).cancelledBy, 'parent');
    } finally {
      await enc.teardown();
    }
  });
});

describe('what it costs, and replay', () => {
  test("a run's tokens cost one marker event per execution", async () => {
    const { runId } = await kit.client.submit({ input: null, runner: 'once' });
    replayed.push(runId);
    assert.equal((await kit.client.result(runId)).status, 'succeeded');
    const patches = (await history(runId)).filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch');
    assert.equal(patches.length, 1, 'one patch marker');
    assert.match(payloadText(patches[0]?.markerRecordedEventAttributes?.details), /verified-messages/);
  });

  test('the histories of these runs replay with the current workflow code', async () => {
    assert.ok(replayed.length >= 8, String(replayed.length));
    const histories = await Promise.all(
      replayed.map(async (workflowId) => ({
        workflowId,
        history: await kit.client.temporal.workflow.getHandle(workflowId).fetchHistory(),
      })),
    );
    const failures: string[] = [];
    for await (const result of Worker.runReplayHistories(
      { workflowBundle: await workflowBundle(), dataConverter: { payloadConverterPath } },
      histories,
    )) {
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    assert.deepEqual(failures, []);
  });
});
