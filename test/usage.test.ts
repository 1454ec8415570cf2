/**
 * The pure parts of flow control and usage (issue 25): usage records and sums, budgets,
 * `StepError.retryAfter` delays, `DURABLE_RUNS_LIMITS`, limit group names and worker identities,
 * and what the run model does with usage, budgets and a resume that raises them.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ConfigError, MAX_RETRY_AFTER_MS, StepError } from '../src';
import { addRecord, addUsage, budgetPassed, readUsage, usageRecordProblem } from '../src/shared/usage';
import {
  groupNameProblem,
  groupsOfIdentity,
  identityWithGroups,
  limitQueue,
  parseWorkerLimits,
} from '../src/limits/groups';
import { RunModel } from '../src/shared/run-model';
import { validateCarry, validateRunSpec } from '../src/shared/validate';

describe('usage records', () => {
  test('bad figures are refused naming the field; good ones pass', () => {
    assert.equal(usageRecordProblem({ model: 'm', inputTokens: 1, outputTokens: 0, costUsd: 0.5 }), undefined);
    assert.equal(usageRecordProblem({}), undefined);
    const bad: Array<[unknown, RegExp]> = [
      [null, /takes an object/],
      [[1], /takes an object/],
      [{ inputTokens: -1 }, /inputTokens must be a whole number ≥ 0, got -1/],
      [{ outputTokens: 1.5 }, /outputTokens must be a whole number ≥ 0, got 1\.5/],
      [{ inputTokens: '10' }, /inputTokens must be a whole number ≥ 0, got the string "10"/],
      [{ costUsd: -0.01 }, /costUsd must be a finite number ≥ 0, got -0\.01/],
      [{ costUsd: Number.NaN }, /costUsd must be a finite number ≥ 0, got NaN/],
      [{ costUsd: Infinity }, /costUsd must be a finite number ≥ 0, got Infinity/],
      [{ model: '' }, /model must be a string of 1–200 characters/],
      [{ model: 7 }, /model must be a string/],
      [{ tokens: 3 }, /unknown field "tokens"/],
    ];
    for (const [record, message] of bad) assert.match(usageRecordProblem(record)!, message, JSON.stringify(record));
  });

  test('sums are exact to a nano-dollar, per model and in total; a model named __proto__ is a model', () => {
    let usage = addRecord(undefined, { model: 'a', inputTokens: 1, costUsd: 0.1 });
    usage = addRecord(usage, { model: 'a', outputTokens: 2, costUsd: 0.2 });
    usage = addRecord(usage, { model: '__proto__', inputTokens: 3, costUsd: 0.3 });
    usage = addRecord(usage, { costUsd: 0.4 });
    assert.deepEqual(usage.total, { inputTokens: 4, outputTokens: 2, costUsd: 1 });
    assert.deepEqual(usage.byModel.a, { inputTokens: 1, outputTokens: 2, costUsd: 0.3 });
    assert.ok(Object.hasOwn(usage.byModel, '__proto__'));
    assert.deepEqual(Object.keys(usage.byModel).sort(), ['__proto__', 'a']);
    assert.deepEqual(readUsage(JSON.parse(JSON.stringify(usage))).usage, usage, 'round-trips through JSON');
  });

  test('adding usages is associative and keeps every token (property)', () => {
    const record = fc.record(
      {
        model: fc.constantFrom('a', 'b', 'c'),
        inputTokens: fc.nat(1e6),
        outputTokens: fc.nat(1e6),
        costUsd: fc.integer({ min: 0, max: 1e6 }).map((n) => n / 1000),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.array(record, { maxLength: 20 }), fc.array(record, { maxLength: 20 }), (xs, ys) => {
        const sum = (rs: typeof xs) => rs.reduce((u, r) => addRecord(u, r), addRecord(undefined, {}));
        const together = sum([...xs, ...ys]);
        const apart = addUsage(sum(xs), sum(ys))!;
        assert.deepEqual(apart.total, together.total);
        assert.deepEqual(apart.byModel, together.byModel);
        assert.equal(
          together.total.inputTokens,
          [...xs, ...ys].reduce((n, r) => n + (r.inputTokens ?? 0), 0),
        );
      }),
    );
  });

  test('malformed usage from outside reads as none, with its problem', () => {
    assert.deepEqual(readUsage(undefined), {});
    assert.match(
      readUsage({ total: { inputTokens: -1, outputTokens: 0, costUsd: 0 }, byModel: {} }).problem!,
      /usage must be/,
    );
    assert.match(
      readUsage({ total: { inputTokens: 1, outputTokens: 0, costUsd: 0 }, byModel: { m: 1 } }).problem!,
      /model "m"/,
    );
  });

  test('a budget is passed when the totals are strictly above it', () => {
    const usage = addRecord(undefined, { inputTokens: 60, outputTokens: 40, costUsd: 0.06 });
    assert.equal(budgetPassed(usage, { maxCostUsd: 0.06 }), undefined);
    assert.equal(budgetPassed(usage, { maxCostUsd: 0.05 }), 'cost budget of $0.05 used up: the run has spent $0.06');
    assert.equal(budgetPassed(usage, { maxTokens: 100 }), undefined);
    assert.equal(budgetPassed(usage, { maxTokens: 99 }), 'token budget of 99 tokens used up: the run has used 100');
    assert.equal(budgetPassed(undefined, { maxTokens: 1 }), undefined);
  });
});

describe('StepError.retryAfter', () => {
  test('milliseconds, a duration or a Date; capped at an hour; a bad delay is a permanent error naming it', () => {
    assert.equal(StepError.retryAfter(3000, 'x').retryAfterMs, 3000);
    assert.equal(StepError.retryAfter('3s', 'x').retryAfterMs, 3000);
    assert.equal(StepError.retryAfter('2h', 'x').retryAfterMs, MAX_RETRY_AFTER_MS);
    const at = StepError.retryAfter(new Date(Date.now() + 10_000), 'x').retryAfterMs!;
    assert.ok(at > 8_000 && at <= 10_000, String(at));
    assert.equal(StepError.retryAfter(new Date(0), 'x').retryAfterMs, 0, 'a past date: at once');
    const retry = StepError.retryAfter('1m', '429');
    assert.deepEqual([retry.retryable, retry.message], [true, '429']);
    for (const delay of [-1, 'soon', new Date(Number.NaN)]) {
      const err = StepError.retryAfter(delay, '429');
      assert.equal(err.retryable, false, String(delay));
      assert.match(err.message, /StepError\.retryAfter delay .*\(the step failed with: 429\)/);
    }
  });
});

describe('limit groups', () => {
  test("names, queues and the identity that lists a worker's groups", () => {
    assert.equal(groupNameProblem('openai-eu_1'), undefined);
    assert.match(groupNameProblem('a.b')!, /limit group "a\.b"/);
    assert.match(groupNameProblem('-x')!, /starting with a letter or digit/);
    assert.match(groupNameProblem('x'.repeat(64))!, /1–63/);
    assert.equal(limitQueue('durable-runs', 'openai'), 'durable-runs.limit.openai');
    const identity = identityWithGroups('123@host', ['anthropic', 'openai']);
    assert.deepEqual(groupsOfIdentity(identity), ['anthropic', 'openai']);
    assert.equal(identityWithGroups('123@host', []), '123@host');
    assert.deepEqual(groupsOfIdentity('123@host'), []);
    assert.deepEqual(groupsOfIdentity(undefined), []);
  });

  test('DURABLE_RUNS_LIMITS: group=concurrency:n entries; a bad one names itself', () => {
    assert.deepEqual(parseWorkerLimits(undefined), {});
    assert.deepEqual(parseWorkerLimits(' openai=concurrency:4 , anthropic=concurrency:1 '), {
      openai: { concurrency: 4 },
      anthropic: { concurrency: 1 },
    });
    const bad: Array<[string, RegExp]> = [
      ['openai', /"openai": no group/],
      ['openai=4', /the only setting is concurrency:<n>/],
      ['openai=concurrency:0', /concurrency must be a whole number from 1 to 10000/],
      ['openai=concurrency:-1', /the only setting is concurrency/],
      ['a.b=concurrency:1', /limit group "a\.b"/],
      ['x=concurrency:1,x=concurrency:2', /group "x" is given twice/],
    ];
    for (const [value, message] of bad) {
      assert.throws(
        () => parseWorkerLimits(value),
        (err: Error) =>
          err instanceof ConfigError && /^DURABLE_RUNS_LIMITS: /.test(err.message) && message.test(err.message),
        value,
      );
    }
  });
});

describe('the run model: usage, budgets and resume', () => {
  const spec = validateRunSpec({ input: 0, runner: 'r', maxCostUsd: 0.05, onExhausted: 'park' });
  const used = (costUsd: number) => ({ total: { inputTokens: 0, outputTokens: 0, costUsd }, byModel: {} });

  test('usage adds up, shows in status and the outcome, and is carried with a changed budget', () => {
    const run = new RunModel('r1', spec);
    assert.equal(run.status().usage, undefined, 'no usage: no field (old runs keep their payloads)');
    assert.equal(run.addUsage(used(0.03)), undefined);
    assert.match(run.addUsage({ nope: 1 })!, /usage must be/);
    run.addUsage(used(0.03));
    assert.deepEqual(run.status().usage, used(0.06));
    assert.deepEqual(run.outcomeBase().usage, used(0.06));
    assert.equal(run.budgetPassed(), 'cost budget of $0.05 used up: the run has spent $0.06');
    const carry = run.carryForward();
    assert.deepEqual(carry.usage, used(0.06));
    assert.equal(carry.budget, undefined, "the spec's budget is not carried");
    const next = new RunModel('r1', spec, validateCarry(JSON.parse(JSON.stringify(carry))));
    assert.deepEqual(next.status().usage, used(0.06));
  });

  test('a resume must raise the budget above what was spent, takes no payload over a held result, and is carried', () => {
    const run = new RunModel('r1', spec);
    run.addUsage(used(0.06));
    run.park(1, run.budgetPassed()!, true);
    assert.match(
      run.checkResume({ maxCostUsd: 0.055 })!,
      /cost budget of \$0\.055 used up: the run has spent \$0\.06; resume it with a higher maxCostUsd/,
    );
    assert.match(run.checkResume({})!, /cost budget of \$0\.05 used up/);
    assert.match(run.checkResume({ maxCostUsd: 1, payload: 2 })!, /resume it without a payload/);
    assert.match(run.checkResume({ maxCostUsd: 0 })!, /^resume: maxCostUsd must be a positive number, got 0/);
    assert.equal(run.checkResume({ maxCostUsd: 1 }), undefined);
    run.resume({ maxCostUsd: 1 });
    assert.deepEqual(run.status().budget, { maxCostUsd: 1 });
    const carry = run.carryForward();
    assert.deepEqual(carry.budget, { maxCostUsd: 1 });
    assert.deepEqual(new RunModel('r1', spec, validateCarry(carry)).budget, { maxCostUsd: 1 });
  });

  test('a carry with a malformed budget or usage fails validation naming it; an unusable group is dropped', () => {
    assert.throws(
      () => validateCarry({ step: 0, payload: 0, budget: { maxCostUsd: -1 } }),
      /budget: maxCostUsd must be a positive number/,
    );
    assert.throws(
      () => validateCarry({ step: 0, payload: 0, usage: { total: 1 } }),
      /continue-as-new carry: usage must be/,
    );
    assert.equal(validateCarry({ step: 0, payload: 0, group: 'no spaces' })!.group, undefined);
    assert.equal(validateCarry({ step: 0, payload: 0, group: 'openai' })!.group, 'openai');
  });
});
