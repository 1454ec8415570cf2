/** Unit tests for the run's state and transitions (`RunModel`) and its event inbox, without Temporal. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EventInbox, MAX_PENDING_EVENTS, validateEventNames } from '../src/shared/events';
import { MAX_REMEMBERED_ID_BYTES } from '../src/shared/limits';
import { ErrorType } from '../src/shared/names';
import { RunModel } from '../src/shared/run-model';
import { validateCarry, validateRunSpec } from '../src/shared/validate';

const spec = validateRunSpec({
  input: { doc: 'a.pdf' },
  runner: 'pipeline',
  headers: { tenant: 'acme' },
  maxAttemptsPerStep: 2,
});
const at = '2026-11-25T00:00:00.000Z';
/** A run whose cancels never carry its parent's proof. */
const noParent = () => false;

describe('RunModel', () => {
  test('a new run: running at step 0 with its input', () => {
    const run = new RunModel('r1', spec);
    assert.deepEqual(run.status(), { runId: 'r1', state: 'running', step: 0, attempt: 1, runner: 'pipeline' });
    assert.equal(run.details(), '**running** · step 0');
    assert.deepEqual(run.stepInput(), {
      runId: 'r1',
      stepNumber: 0,
      payload: { doc: 'a.pdf' },
      headers: { tenant: 'acme' },
      runner: 'pipeline',
      attempt: 1,
    });
  });

  test('cancel signal: a reason cancels once; a malformed one is kept to fail the run; none after the end', () => {
    const run = new RunModel('r1', spec);
    assert.equal(run.onCancelSignal({ reason: 'stop' }, noParent), true);
    assert.deepEqual(run.cancel, { reason: 'stop', by: 'signal' });
    assert.equal(run.state, 'cancelling');
    assert.equal(run.onCancelSignal({ reason: 'again' }, noParent), false, 'a second cancel changes nothing');
    assert.deepEqual(run.cancel, { reason: 'stop', by: 'signal' });
    const isParent = (token: unknown) => token === 'parent-token';
    const byParent = new RunModel('r5', spec);
    byParent.onCancelSignal({ reason: 'parent run cancelled', by: 'parent', token: 'parent-token' }, isParent);
    assert.equal(byParent.cancelledBy(), 'parent');
    const forged = new RunModel('r6', spec);
    forged.onCancelSignal({ reason: 'parent run cancelled', by: 'parent', token: 'guess' }, isParent);
    assert.deepEqual(forged.cancel, { reason: 'parent run cancelled', by: 'signal' }, 'no proof: an ordinary cancel');

    const bad = new RunModel('r2', spec);
    assert.equal(bad.onCancelSignal({ reason: 7 }, noParent), true);
    assert.equal(bad.badSignal, 'cancel signal reason must be a string, got number 7');
    assert.equal(bad.cancel, undefined);
    assert.equal(new RunModel('r3', spec).onCancelSignal('now', noParent) && true, true);

    const done = new RunModel('r4', spec);
    done.state = 'succeeded';
    assert.equal(done.onCancelSignal({}, noParent), false);
    assert.equal(done.cancel, undefined);
  });

  test("Temporal's cancel: cancelling with no reason, unless a cancel came first", () => {
    const run = new RunModel('r1', spec);
    run.onServerCancel();
    assert.deepEqual(
      [run.cancel, run.state, run.serverCancelled],
      [{ reason: null, by: 'temporal' }, 'cancelling', true],
    );
    assert.equal(run.cancelledBy(), 'temporal');
    const signalled = new RunModel('r2', spec);
    signalled.onCancelSignal({ reason: 'first' }, noParent);
    signalled.onServerCancel();
    assert.deepEqual(signalled.cancel, { reason: 'first', by: 'signal' });
  });

  test('step failures: fatal types fail at once; others retry until the attempt budget is spent', () => {
    const run = new RunModel('r1', spec);
    assert.deepEqual(run.stepFailed(ErrorType.StepTransient, 'blip'), { kind: 'retry', attempt: 1 });
    assert.equal(run.state, 'sleeping');
    assert.equal(run.status().lastError, 'blip');
    run.backoffDone();
    assert.deepEqual([run.attempt, run.state], [2, 'running']);
    assert.deepEqual(run.stepFailed(undefined, 'blip again'), {
      kind: 'fail',
      error: 'step 0 failed after 2 attempts: blip again',
    });
    assert.deepEqual(new RunModel('r2', spec).stepFailed(ErrorType.StepPermanent, 'no account'), {
      kind: 'fail',
      error: 'no account',
    });
    assert.deepEqual(new RunModel('r3', spec).stepFailed(ErrorType.UnknownRunner, 'unknown runner "x"'), {
      kind: 'fail',
      error: 'step 0: unknown runner "x"',
    });
  });

  test('a backoff cut short by a cancel stays cancelling', () => {
    const run = new RunModel('r1', spec);
    run.stepFailed(undefined, 'blip');
    run.onCancelSignal({}, noParent);
    run.backoffDone();
    assert.equal(run.state, 'cancelling');
  });

  test('waits: status shows the names and deadline; the earliest named event wakes the next step', () => {
    const run = new RunModel('r1', spec);
    run.onEvent({ name: 'other', data: 0, id: 'o' }, at, 'x');
    run.onEvent({ name: 'approve', data: 1, id: 'a1' }, at, 'x');
    run.onEvent({ name: 'approve', data: 2, id: 'a2' }, at, 'x');
    run.beginWait(['approve', 'reject'], Date.parse(at) + 60_000);
    assert.deepEqual(run.status(), {
      runId: 'r1',
      state: 'waiting',
      step: 0,
      runner: 'pipeline',
      waitingFor: ['approve', 'reject'],
      waitDeadline: '2026-11-25T00:01:00.000Z',
      pendingEvents: 3,
    });
    assert.match(run.details(), /waiting for approve or reject until 2026-11-25T00:01:00.000Z · 3 pending events/);
    run.advance('next', run.endWait(run.inbox.has(['approve', 'reject'])));
    assert.deepEqual(run.stepInput().event, { name: 'approve', data: 1, id: 'a1', receivedAt: at });
    assert.equal(run.status().pendingEvents, 2);
    assert.equal(run.waiting, undefined);
    run.beginWait(['never'], undefined);
    run.advance('later', run.endWait(false));
    assert.deepEqual([run.stepInput().timedOut, run.stepInput().event], [true, undefined]);
    run.advance('after');
    assert.deepEqual([run.stepInput().timedOut, run.stepInput().event], [undefined, undefined]);
  });

  test('memos: kept for the current step only, cleared when it advances', () => {
    const run = new RunModel('r1', spec);
    run.stepToken = 'tok';
    run.recordMemo({ key: 'charge', value: { id: 'ch_1' } });
    assert.notEqual(run.checkMemo({ step: 3, key: 'stale', value: 1, token: 'tok' }), undefined);
    assert.notEqual(run.checkMemo('garbage'), undefined);
    assert.deepEqual(run.stepInput().memos, { charge: { id: 'ch_1' } });
    assert.deepEqual(run.memosFor(0), { charge: { id: 'ch_1' } });
    assert.deepEqual(run.memosFor(1), {});
    run.advance(null);
    assert.equal(run.stepInput().memos, undefined);
  });

  test('continue-as-new carries step, payload, cancel, pending events, seen IDs and the waking event', () => {
    const run = new RunModel('r1', spec);
    run.onEvent({ name: 'a', id: 'e1' }, at, 'x');
    run.onEvent({ name: 'b', id: 'e2' }, at, 'x');
    run.beginWait(['a'], undefined);
    run.advance({ n: 1 }, run.endWait(true));
    run.onCancelSignal({ reason: 'later' }, noParent);
    const next = new RunModel('r1', spec, validateCarry(JSON.parse(JSON.stringify(run.carryForward()))));
    assert.deepEqual(next.status(), { ...run.status() });
    assert.deepEqual(next.stepInput(), run.stepInput());
    assert.equal(
      next.onEvent({ name: 'a', id: 'e1' }, at, 'x'),
      false,
      'an ID seen before the hand-over is a duplicate',
    );
  });

  test('continue-as-new during a backoff keeps the step on its attempt, so retries stay bounded', () => {
    const run = new RunModel('r1', validateRunSpec({ input: 0, maxAttemptsPerStep: 3 }));
    run.advance('p');
    assert.deepEqual(run.stepFailed(undefined, 'upstream 503'), { kind: 'retry', attempt: 1 });
    run.backoffDone();
    const carry = validateCarry(JSON.parse(JSON.stringify(run.carryForward())));
    assert.deepEqual(carry, { step: 1, payload: 'p', attempt: 2, lastError: 'upstream 503' });
    const next = new RunModel('r1', validateRunSpec({ input: 0, maxAttemptsPerStep: 3 }), carry);
    assert.equal(next.stepInput().attempt, 2);
    assert.equal(next.status().lastError, 'upstream 503');
    assert.deepEqual(next.stepFailed(undefined, 'again'), { kind: 'retry', attempt: 2 });
    next.backoffDone();
    assert.equal(next.stepFailed(undefined, 'still').kind, 'fail', 'the third attempt was the last');
    // A carry from anyone else: an attempt that is not a whole number ≥ 2 starts at 1.
    for (const attempt of [0, 1, 2.5, '3', -4]) {
      assert.equal(new RunModel('r1', spec, validateCarry({ step: 1, payload: null, attempt })).attempt, 1);
    }
    advanceIsClean(next);
  });
});

function advanceIsClean(run: RunModel): void {
  run.advance(null);
  assert.equal(run.attempt, 1);
  assert.equal(run.status().lastError, undefined);
  assert.equal(run.carryForward().attempt, undefined);
}

describe('budgets', () => {
  test('maxSteps and the deadline end the run before its next step, naming which', () => {
    const limited = new RunModel('r1', validateRunSpec({ input: 0, maxSteps: 2, deadline: '1h' }));
    assert.equal(limited.budgetSpent(), undefined);
    limited.advance(1);
    limited.advance(2);
    assert.equal(limited.budgetSpent(), 'step budget of 2 steps used up');
    const late = new RunModel('r2', validateRunSpec({ input: 0, deadline: '1h' }));
    assert.equal(late.interruptPending, false);
    assert.equal(late.onDeadline(), true);
    assert.deepEqual([late.budgetSpent(), late.interruptPending], ['deadline exceeded', true]);
    assert.throws(() => validateRunSpec({ input: 0, deadline: 'soon' }), /deadline "soon" is not a duration/);
    assert.throws(() => validateRunSpec({ input: 0, maxSteps: 0 }), /maxSteps must be an integer from 1/);
  });
});

describe('memos and their proof', () => {
  test('the memo update: only with the step token, for the current step; the first value recorded wins', () => {
    const run = new RunModel('r1', spec);
    assert.match(
      run.checkMemo({ step: 0, key: 'k', value: 1, token: 't' }) ?? '',
      /does not carry the token of step 0/,
    );
    run.stepToken = 'tok-0';
    assert.deepEqual(run.stepInput().token, 'tok-0');
    assert.match(run.checkMemo({ step: 0, key: 'k', value: 1 }) ?? '', /does not carry the token/);
    assert.match(run.checkMemo({ step: 0, key: 'k', value: 1, token: 'tok-x' }) ?? '', /does not carry the token/);
    assert.match(run.checkMemo({ step: 1, key: 'k', value: 1, token: 'tok-0' }) ?? '', /the run is at step 0/);
    assert.match(run.checkMemo({ step: 0, key: '', value: 1, token: 'tok-0' }) ?? '', /memo key must be a string/);
    assert.match(run.checkMemo('nope') ?? '', /memo request must be an object, got the string "nope"/);
    assert.equal(run.checkMemo({ step: 0, key: 'k', value: 1, token: 'tok-0' }), undefined);
    assert.equal(run.recordMemo({ key: 'k', value: 'first' }), 'first');
    assert.equal(run.recordMemo({ key: 'k', value: 'second' }), 'first', 'the first value recorded wins');
    assert.equal(run.onMemo({ step: 0, key: 'k', value: 'forged' }), false, 'the old signal takes no effect');
    assert.deepEqual(run.stepInput().memos, { k: 'first' });
    run.advance('next');
    assert.deepEqual([run.stepToken, run.stepInput().token, run.stepInput().memos], [undefined, undefined, undefined]);
  });

  test('the old memo signal: only for a step scheduled without a token (a run begun before tokens)', () => {
    const run = new RunModel('r1', spec);
    assert.equal(run.onMemo({ step: 0, key: 'k', value: 1 }), false, 'not scheduled yet');
    run.stepToken = null;
    assert.equal(run.onMemo({ step: 1, key: 'k', value: 1 }), false, 'another step');
    assert.equal(run.onMemo({ step: 0, key: 'k', value: 1 }), true);
    assert.equal(run.onMemo({ step: 0, key: 'k', value: 2 }), true, 'the old path: the last value wins');
    assert.deepEqual(run.stepInput().memos, { k: 2 });
    assert.equal(run.stepInput().token, undefined);
  });
});

describe('EventInbox', () => {
  test('accepts, ignores duplicates, refuses past the limit and reports malformed events', () => {
    const inbox = new EventInbox();
    assert.deepEqual(inbox.check({ name: 'go' }, 'id-1'), { kind: 'accepted', id: 'id-1' });
    assert.equal(inbox.size, 0, 'check takes nothing in');
    assert.deepEqual(inbox.receive({ name: 'go' }, at, 'id-1'), { kind: 'accepted', id: 'id-1' });
    assert.deepEqual(inbox.check({ name: 'go', id: 'id-1' }, 'id-2'), { kind: 'duplicate', id: 'id-1' });
    assert.deepEqual(inbox.receive({ name: 'go', id: 'id-1' }, at, 'id-2'), { kind: 'duplicate', id: 'id-1' });
    assert.deepEqual(inbox.receive({ name: 'go', extra: 1 }, at, 'id-3'), {
      kind: 'refused',
      reason: 'unknown field "extra" in event signal (fields: name, data, id)',
      cause: 'invalid',
    });
    for (let i = 1; i < MAX_PENDING_EVENTS; i++) inbox.receive({ name: 'x', id: `x${i}` }, at, 'unused');
    assert.equal(inbox.size, MAX_PENDING_EVENTS);
    const full = {
      kind: 'refused',
      reason: 'event "x" (id one-more) refused: the run already keeps 1000 unconsumed events',
      cause: 'full',
    };
    assert.deepEqual(inbox.check({ name: 'x', id: 'one-more' }, 'unused'), full);
    assert.deepEqual(inbox.receive({ name: 'x', id: 'one-more' }, at, 'unused'), full);
    assert.deepEqual(inbox.take(['go']), { name: 'go', data: null, id: 'id-1', receivedAt: at });
    assert.equal(inbox.take(['go']), undefined);
  });

  test('event names of a wait: one or several, each a non-empty string', () => {
    assert.deepEqual(validateEventNames('a'), ['a']);
    assert.deepEqual(validateEventNames(['a', 'b', 'a']), ['a', 'b']);
    assert.throws(() => validateEventNames([]), /non-empty list/);
    assert.throws(() => validateEventNames(['ok', 3]), /got number 3/);
  });
});

describe('limits: the carry of a wait, memos and the deadline; byte bounds of the inbox', () => {
  test('the normalized spec a run continues with passes validation again (deadlineMs), checked', () => {
    const normalized = validateRunSpec({ input: 1, deadline: '2h' });
    assert.equal(normalized.deadlineMs, 7_200_000);
    assert.deepEqual(validateRunSpec(JSON.parse(JSON.stringify(normalized))), normalized);
    assert.throws(() => validateRunSpec({ input: 1, deadlineMs: 'soon' }), /deadlineMs must be a whole number/);
    assert.throws(
      () => validateRunSpec({ input: 1, deadlineMs: 5, deadline: '1h' }),
      /both "deadline" and "deadlineMs"/,
    );
  });

  test('a wait handed over carries its names, absolute end, payload, attempt, memos and the deadline', () => {
    const run = new RunModel('r1', validateRunSpec({ input: 0, deadline: '1h' }), undefined, Date.parse(at));
    run.recordMemo({ key: 'charge', value: { id: 'ch_1' } });
    run.stepFailed(undefined, 'flaky');
    const carry = run.carryForward({ wait: { kind: 'backoff', until: '2026-11-25T00:00:02.000Z' }, payload: 0 }, true);
    assert.deepEqual(carry, {
      step: 0,
      payload: 0,
      lastError: 'flaky',
      memos: { charge: { id: 'ch_1' } },
      deadlineAt: '2026-11-25T01:00:00.000Z',
      wait: { kind: 'backoff', until: '2026-11-25T00:00:02.000Z' },
    });
    const next = new RunModel(
      'r1',
      run.spec,
      validateCarry(JSON.parse(JSON.stringify(carry))),
      Date.parse(at) + 999_999,
    );
    assert.deepEqual(
      [next.state, next.deadlineAt, next.stepInput().memos],
      ['sleeping', Date.parse(at) + 3_600_000, { charge: { id: 'ch_1' } }],
    );
    // Between steps, memos go only when the driver says so (an earlier version's run carried none).
    assert.equal(run.carryForward().memos, undefined);
    const waiting = validateCarry({ step: 2, payload: 'p', wait: { kind: 'event', names: ['approve'], until: at } });
    assert.deepEqual(waiting?.wait, { kind: 'event', names: ['approve'], until: at });
    assert.throws(() => validateCarry({ step: 0, payload: 0, wait: { kind: 'nap' } }), /wait has an unknown kind/);
    assert.throws(
      () => validateCarry({ step: 0, payload: 0, wait: { kind: 'sleep', until: 'later' } }),
      /wait.until must be an ISO time/,
    );
    assert.throws(() => validateCarry({ step: 0, payload: 0, deadlineAt: 5 }), /deadlineAt must be an ISO time/);
  });

  test("remembered IDs: past 400 KiB the oldest are forgotten; unless an earlier version's replay says no", () => {
    const id = (i: number) => `${String(i).padStart(6, '0')}${'i'.repeat(194)}`; // 200 characters, 202 bytes encoded
    const inbox = new EventInbox();
    const fits = Math.floor(MAX_REMEMBERED_ID_BYTES / 202);
    for (let i = 0; i <= fits; i++) {
      assert.equal(inbox.receive({ name: 'x', id: id(i) }, at, 'f').kind, 'accepted');
      inbox.take(['x']); // taken by a wait: only the ID stays
    }
    assert.equal(inbox.carry().seen.length, fits);
    assert.equal(inbox.carry().seen[0], id(1), 'the oldest was forgotten');
    assert.ok(JSON.stringify(inbox.carry().seen).length <= MAX_REMEMBERED_ID_BYTES + fits);
    const old = new EventInbox(undefined, () => false);
    for (let i = 0; i <= fits; i++) {
      old.receive({ name: 'x', id: id(i) }, at, 'f');
      old.take(['x']);
    }
    assert.equal(old.carry().seen.length, fits + 1);
  });
});

test('the history ceiling: what runs is interrupted and the run fails naming it, unless it has ended', () => {
  const run = new RunModel('r1', spec);
  assert.equal(run.onHistoryCeiling(), true);
  assert.equal(run.onHistoryCeiling(), false, 'once');
  assert.equal(run.interruptPending, true);
  assert.match(
    run.budgetSpent()!,
    /^history limit: the run's history passed 40000 events while a step or its children ran/,
  );
  const ended = new RunModel('r2', spec);
  ended.state = 'succeeded';
  assert.equal(ended.onHistoryCeiling(), false);
});

describe('park instead of fail (onExhausted)', () => {
  test('onExhausted: "park" is kept, "fail" and absent leave the spec as it was, anything else is refused', () => {
    assert.equal(validateRunSpec({ input: 1, onExhausted: 'park' }).onExhausted, 'park');
    assert.equal('onExhausted' in validateRunSpec({ input: 1, onExhausted: 'fail' }), false);
    assert.equal('onExhausted' in validateRunSpec({ input: 1 }), false);
    assert.throws(
      () => validateRunSpec({ input: 1, onExhausted: 'retry' }),
      /^ValidationError: onExhausted must be "fail" or "park", got the string "retry"$/,
    );
    assert.throws(
      () => validateRunSpec({ input: 1, onExhausted: true }),
      /onExhausted must be "fail" or "park", got boolean true/,
    );
  });

  test('a carried parked wait is checked', () => {
    const carry = { step: 2, payload: 'p', wait: { kind: 'parked', attempt: 3, error: 'boom' } };
    assert.deepEqual(validateCarry(carry)?.wait, { kind: 'parked', attempt: 3, error: 'boom' });
    assert.throws(
      () => validateCarry({ ...carry, wait: { kind: 'parked', attempt: 0, error: 'boom' } }),
      /wait\.attempt must be a whole number ≥ 1, got number 0/,
    );
    assert.throws(
      () => validateCarry({ ...carry, wait: { kind: 'parked', attempt: 1 } }),
      /wait\.error must be a string, got undefined/,
    );
  });

  test('parked: status and details show step, attempt and error; resume refuses unless parked, then runs the step at attempt 1', () => {
    const parkSpec = validateRunSpec({ input: 'in', runner: 'pipeline', maxAttemptsPerStep: 2, onExhausted: 'park' });
    const run = new RunModel('r1', parkSpec);
    assert.equal(run.checkResume(undefined), 'run r1 is not parked (it is running): only a parked run can be resumed');
    run.memos = { charge: 'ch_1' };
    run.park(2, 'step 0 failed after 2 attempts: down');
    assert.deepEqual(run.status(), {
      runId: 'r1',
      state: 'parked',
      step: 0,
      attempt: 2,
      lastError: 'step 0 failed after 2 attempts: down',
      runner: 'pipeline',
    });
    assert.equal(run.details(), '**parked** · step 0 · attempt 2/2 · last error: step 0 failed after 2 attempts: down');
    assert.deepEqual(run.parkedMemo(), { step: 0, attempt: 2, lastError: 'step 0 failed after 2 attempts: down' });
    assert.match(run.checkResume(42) ?? '', /resume request must be an object/);
    assert.equal(run.checkResume({ payload: { fixed: true } }), undefined);
    assert.deepEqual(run.resume({ payload: { fixed: true } }), { step: 0 });
    assert.deepEqual(run.status(), { runId: 'r1', state: 'running', step: 0, attempt: 1, runner: 'pipeline' });
    assert.deepEqual(run.stepInput().payload, { fixed: true });
    assert.deepEqual(run.stepInput().memos, { charge: 'ch_1' }, 'memos stay');
    assert.match(run.checkResume({}) ?? '', /is not parked \(it is running\)/, 'a second resume is refused');

    const cancelled = new RunModel('r2', parkSpec);
    cancelled.park(1, 'no such account');
    cancelled.onCancelSignal({ reason: 'stop' }, noParent);
    assert.equal(
      cancelled.checkResume({}),
      'run r2 is not parked (it is closing): only a parked run can be resumed',
      'a cancel pending wins',
    );
    const resumedBare = new RunModel('r3', parkSpec);
    resumedBare.park(1, 'x');
    resumedBare.resume({});
    assert.equal(resumedBare.stepInput().payload, 'in', "without a payload the step's own");
  });

  test('a continued execution starts parked from its carried wait', () => {
    const parkSpec = validateRunSpec({ input: 'in', onExhausted: 'park' });
    const run = new RunModel(
      'r1',
      parkSpec,
      validateCarry({ step: 4, payload: 'p', wait: { kind: 'parked', attempt: 3, error: 'e' } }),
    );
    assert.deepEqual(run.status(), {
      runId: 'r1',
      state: 'parked',
      step: 4,
      attempt: 3,
      lastError: 'e',
      runner: 'default',
    });
    assert.deepEqual(run.carryForward({ wait: { kind: 'parked', attempt: 3, error: 'e' }, payload: 'p' }, true).wait, {
      kind: 'parked',
      attempt: 3,
      error: 'e',
    });
  });
});
