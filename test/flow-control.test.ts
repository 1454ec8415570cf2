/**
 * Flow control and usage (issue 25) on a real dev server (fairness on, one partition): a limited
 * runner's steps held to its group's rate by the server, for the whole group and per tenant; a
 * worker's concurrency per group; `StepError.retryAfter`; cost budgets that fail or park a run.
 * Usage totals and their metrics are proved in metrics.test.ts (a worker process that serves them).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fastSteps, limited, StepError, StepOutcome, type StepRunner } from '../src';
import { createTestKit, type TestKit } from '../src/testing';
import { limitQueue, LIMITS_VARIABLE } from '../src/limits/groups';
import { eventually } from '../support/wait';
import { durableRunsCli } from './helpers/durable-runs-cli';

/** When each limited step started (ms since the epoch), and its run's tenant. */
const starts: { runId: string; tenant: string | undefined; at: number }[] = [];
let running = 0;
let mostAtOnce = 0;
/** When each attempt of a `retriesLater` step started, and when its first one threw. */
const retryTimes = new Map<string, { started: number[]; threwAt?: number }>();
/** Tries of each `cutShort` step. */
const cutShortTries = new Map<string, number>();
/** How many times each `spender` step ran, by `runId/step`. */
const spent = new Map<string, number>();

type Steps = { steps: number };
const limitedSteps = (group: string): StepRunner<Steps> =>
  limited(async (step) => {
    starts.push({ runId: step.runId, tenant: step.headers.tenant, at: Date.now() });
    return step.stepNumber + 1 < step.payload.steps ? StepOutcome.continue(step.payload) : StepOutcome.succeed(null);
  }, group);

const runners: Record<string, StepRunner> = {
  paced: limitedSteps('pacedapi'),
  perTenant: limitedSteps('tenantapi'),
  later: limitedSteps('laterapi'),
  retriesLater: async (step) => {
    const seen = retryTimes.get(step.runId) ?? { started: [] };
    retryTimes.set(step.runId, seen);
    seen.started.push(Date.now());
    if (step.attempt === 1) {
      seen.threwAt = Date.now();
      throw StepError.retryAfter('3s', '429 Too Many Requests');
    }
    return StepOutcome.succeed({ attempt: step.attempt });
  },
  /** Each step costs $0.02 and 100 tokens; it succeeds at step 4. */
  spender: async (step) => {
    const key = `${step.runId}/${step.stepNumber}`;
    spent.set(key, (spent.get(key) ?? 0) + 1);
    step.usage({ model: 'm', inputTokens: 80, outputTokens: 20, costUsd: 0.02 });
    return step.stepNumber < 4 ? StepOutcome.continue(step.stepNumber + 1) : StepOutcome.succeed('done');
  },
  /**
   * Its first try reports usage, then hangs past the step timeout (Temporal runs the attempt
   * again); the second reports more and succeeds.
   */
  cutShort: async (step) => {
    const tries = (cutShortTries.get(step.runId) ?? 0) + 1;
    cutShortTries.set(step.runId, tries);
    if (tries === 1) {
      step.usage({ model: 'm', inputTokens: 10, costUsd: 0.01 });
      await new Promise<never>(() => undefined);
    }
    step.usage({ model: 'm', inputTokens: 20, costUsd: 0.02 });
    return StepOutcome.succeed({ tries });
  },
  /** Step 0 costs $0.01 and waits for `go`; step 1 costs $0.02 and succeeds. */
  spendsAndWaits: async (step) => {
    step.usage({ model: 'm', inputTokens: 1, costUsd: step.stepNumber === 0 ? 0.01 : 0.02 });
    return step.stepNumber === 0 ? StepOutcome.waitForEvent(null, { events: 'go' }) : StepOutcome.succeed('done');
  },
  /** Reports usage, then never returns: a cancel lets go of it. */
  spendsUntilCancelled: async (step) => {
    step.usage({ model: 'm', outputTokens: 7, costUsd: 0.07 });
    return new Promise<never>(() => undefined);
  },
  badUsage: async (step) => {
    step.usage({ model: 'm', inputTokens: 5, costUsd: 0.01 });
    try {
      step.usage({ model: 'm', inputTokens: -3 });
    } catch {
      // Caught: the step fails all the same.
    }
    return StepOutcome.succeed('not reached');
  },
};

let kit: TestKit;
before(async () => {
  kit = await createTestKit({ runners, server: 'local' });
});
after(async () => {
  await kit?.teardown();
});

/** Sets a group's rate limits with `runs.limits.set` (the server's UpdateTaskQueueConfig). */
async function setRate(group: string, rates: { rate?: number; perTenant?: number }) {
  const info = await kit.client.limits.set(group, rates);
  if (rates.rate !== undefined) assert.equal(info.rate, rates.rate);
  if (rates.perTenant !== undefined) assert.equal(info.perTenant, rates.perTenant);
}

/** The most starts in any window of `ms` that begins at a start. */
function mostInWindow(times: number[], ms: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[j]! < sorted[i]! - ms + 1) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

describe('limit groups: the server holds a limited runner to its group rate', () => {
  test("runs.limits.list names the groups of the kit's worker, and unknown groups are refused", async () => {
    // The server lists a poller once it has polled.
    let groups: string[] = [];
    await eventually(
      async () => {
        groups = (await kit.client.limits.list()).map((g) => g.group);
        return ['laterapi', 'pacedapi', 'tenantapi'].every((g) => groups.includes(g));
      },
      30_000,
      'the three groups listed',
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(groups)}`);
    });
    await assert.rejects(kit.client.limits.set('nosuchapi', { rate: 1 }), /nosuchapi/);
  });

  test('a group at 5/s: 50 steps from 10 runs at once start at about 5 per second', async () => {
    await setRate('pacedapi', { rate: 5 });
    const ids = Array.from({ length: 10 }, (_, i) => `paced-${i}`);
    await Promise.all(ids.map((runId) => kit.client.submit({ runId, runner: 'paced', input: { steps: 5 } })));
    const outcomes = await Promise.all(ids.map((id) => kit.client.result(id)));
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ids.map(() => 'succeeded'),
    );
    const times = starts.filter((s) => s.runId.startsWith('paced-')).map((s) => s.at);
    assert.equal(times.length, 50, 'each step ran once: the reroute to the group queue ran no runner');
    const span = Math.max(...times) - Math.min(...times);
    // The server's token bucket lets a first burst through (about a second's worth), then 5/s:
    // 50 steps take at least (50 − burst) / 5 s; unlimited, they take well under a second.
    assert.ok(span >= 7_000, `50 steps at 5/s took ${span} ms`);
    // After the first second, no 2-second window holds more than 2 × 5 plus the burst's tail.
    const later = times.filter((t) => t >= Math.min(...times) + 1500);
    assert.ok(mostInWindow(later, 2000) <= 13, `most in 2 s after the burst: ${mostInWindow(later, 2000)}`);
  });

  test('--per-tenant 1/s with two tenants: each starts at about 1 per second, and neither starves', async () => {
    await setRate('tenantapi', { perTenant: 1 });
    const ids = ['a', 'b'].flatMap((tenant) => [0, 1, 2].map((i) => ({ tenant, runId: `tenant-${tenant}-${i}` })));
    await Promise.all(
      ids.map(({ tenant, runId }) =>
        kit.client.submit({ runId, runner: 'perTenant', input: { steps: 3 }, headers: { tenant } }),
      ),
    );
    await Promise.all(ids.map(({ runId }) => kit.client.result(runId)));
    const of = (tenant: string) => starts.filter((s) => s.runId.startsWith(`tenant-${tenant}-`)).map((s) => s.at);
    const [a, b] = [of('a'), of('b')];
    assert.equal(a.length, 9);
    assert.equal(b.length, 9);
    for (const [tenant, times] of [
      ['a', a],
      ['b', b],
    ] as const) {
      const span = Math.max(...times) - Math.min(...times);
      // Nine steps at 1/s, a burst of about one or two first: at least 6 s.
      assert.ok(span >= 6_000, `tenant ${tenant}: 9 steps at 1/s took ${span} ms`);
    }
    // Neither starves: the two tenants run side by side (their windows overlap almost wholly),
    // so both finish in about the time one tenant alone takes, not twice that.
    const all = [...a, ...b];
    const total = Math.max(...all) - Math.min(...all);
    const firstDone = Math.min(Math.max(...a), Math.max(...b));
    const lastStart = Math.max(Math.min(...a), Math.min(...b));
    assert.ok(lastStart - Math.min(...all) < 3_000, 'the second tenant started within 3 s of the first');
    assert.ok(firstDone - Math.min(...all) > total * 0.6, `both tenants ran side by side (${total} ms in all)`);
  });

  test("a group with no limit runs its steps on the run's own queue; once a rate is set, on the group's", async () => {
    const queues = async (runId: string) =>
      ((await kit.client.temporal.workflow.getHandle(runId).fetchHistory()).events ?? [])
        .map((e) => e.activityTaskScheduledEventAttributes)
        .filter((a) => a?.activityType?.name === 'runStep')
        .map((a) => a!.taskQueue!.name ?? '');
    await kit.client.submit({ runId: 'later-0', runner: 'later', input: { steps: 2 } });
    await kit.client.result('later-0');
    assert.deepEqual(await queues('later-0'), [kit.taskQueue, kit.taskQueue], 'no hop while no limit is set');

    await setRate('laterapi', { rate: 100 });
    const setAt = Date.now();
    // Workers read a group's limits at most every 5 s: a run started after that goes to the group.
    let n = 0;
    let startedAt = 0;
    let seen: string[] = [];
    await eventually(
      async () => {
        const runId = `later-${++n}`;
        startedAt = Date.now();
        await kit.client.submit({ runId, runner: 'later', input: { steps: 2 } });
        await kit.client.result(runId);
        seen = await queues(runId);
        // A run whose first step was asked after the worker read the limit (one that read it between
        // its two steps has [own, own, group]).
        return seen.length === 3 && seen[1] !== kit.taskQueue;
      },
      30_000,
      'a run whose steps go to the group queue',
    );
    const group = limitQueue(kit.taskQueue, 'laterapi');
    // Asked on the run's queue, answered with a reroute; then both steps on the group's queue.
    assert.deepEqual(seen, [kit.taskQueue, group, group]);
    const after = startedAt - setAt;
    assert.ok(after <= 8_000, `the limit applied ${after} ms after it was set (workers read it every 5 s)`);
  });

  test('DURABLE_RUNS_LIMITS concurrency:2: the runner never sees more than 2 of its steps at once', async () => {
    process.env[LIMITS_VARIABLE] = 'slowapi=concurrency:2';
    let second: TestKit;
    try {
      second = await createTestKit({
        env: kit.env,
        runners: {
          slow: limited(async () => {
            running += 1;
            mostAtOnce = Math.max(mostAtOnce, running);
            await new Promise((r) => setTimeout(r, 300));
            running -= 1;
            return StepOutcome.succeed(null);
          }, 'slowapi'),
        },
      });
    } finally {
      delete process.env[LIMITS_VARIABLE];
    }
    try {
      const ids = Array.from({ length: 8 }, (_, i) => `slow-${i}`);
      await Promise.all(ids.map((runId) => second.client.submit({ runId, runner: 'slow', input: null })));
      const outcomes = await Promise.all(ids.map((id) => second.client.result(id)));
      assert.ok(outcomes.every((o) => o.status === 'succeeded'));
      assert.equal(mostAtOnce, 2, 'two at once, never more');
    } finally {
      await second.teardown();
    }
  });

  test('limited() and fastSteps() do not combine, and a bad group name is refused at registration', () => {
    const runner: StepRunner = () => StepOutcome.succeed(null);
    assert.throws(() => limited(fastSteps(runner), 'api'), /registered with fastSteps\(\).*no task queue limits/);
    assert.throws(() => fastSteps(limited(runner, 'api')), /limit group "api".*fastSteps/);
    assert.throws(() => limited(runner, 'no spaces'), /limit group "no spaces": a group's name is 1–63 letters/);
    assert.throws(() => limited(runner, ''), /limit group "": a group's name/);
  });
});

test('StepError.retryAfter("3s"): the next attempt starts 3 s later, a 3 s timer and no jitter', async () => {
  const runId = 'retry-after';
  await kit.client.submit({ runId, runner: 'retriesLater', input: null });
  const outcome = await kit.client.result(runId);
  assert.deepEqual(outcome.result, { attempt: 2 });
  const seen = retryTimes.get(runId)!;
  assert.equal(seen.started.length, 2);
  const waited = seen.started[1]! - seen.threwAt!;
  assert.ok(waited >= 3000, `the second attempt started ${waited} ms after the first threw`);
  // The backoff (1 s before attempt 2) is not used: the run's one timer is exactly 3 s.
  const history = await kit.client.temporal.workflow.getHandle(runId).fetchHistory();
  const timers = (history.events ?? []).filter((e) => e.timerStartedEventAttributes);
  assert.equal(timers.length, 1);
  const fire = timers[0]!.timerStartedEventAttributes!.startToFireTimeout!;
  assert.equal(Number(fire.seconds ?? 0) * 1000 + Math.round((fire.nanos ?? 0) / 1e6), 3000);
});

describe('budgets', () => {
  test('maxCostUsd: the run fails at the step whose usage passes it, with its usage in the outcome', async () => {
    const runId = 'over-budget';
    await kit.client.submit({ runId, runner: 'spender', input: 0, maxCostUsd: 0.05 });
    const outcome = await kit.client.result(runId);
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.error, 'cost budget of $0.05 used up: the run has spent $0.06');
    assert.equal(outcome.finalStep, 2, 'step 2 brought the total to $0.06');
    assert.deepEqual(outcome.usage?.total, { inputTokens: 240, outputTokens: 60, costUsd: 0.06 });
    assert.equal(spent.get(`${runId}/3`), undefined, 'no step ran after it');
  });

  test("maxCostUsd with park: parks holding the step's result; resume with a higher budget goes on without running it again", async () => {
    const runId = 'parks-on-budget';
    await kit.client.submit({ runId, runner: 'spender', input: 0, maxCostUsd: 0.05, onExhausted: 'park' });
    await eventually(async () => (await kit.client.status(runId)).state === 'parked', 60_000, 'parked');
    const status = await kit.client.status(runId);
    assert.equal(status.step, 2);
    assert.equal(status.lastError, 'cost budget of $0.05 used up: the run has spent $0.06');
    assert.deepEqual(status.budget, { maxCostUsd: 0.05 });
    // Refused: a budget the run has already passed, a payload (the step's result is held), bad figures.
    const low = await kit.client.resumeRun(runId, { maxCostUsd: 0.055 });
    assert.equal(low.resumed, false);
    assert.match(
      low.resumed ? '' : low.reason,
      /cost budget of \$0\.055 used up: the run has spent \$0\.06; resume it with a higher maxCostUsd/,
    );
    const withPayload = await kit.client.resumeRun(runId, { maxCostUsd: 1, payload: 9 });
    assert.equal(withPayload.resumed, false);
    await assert.rejects(
      kit.client.resumeRun(runId, { maxCostUsd: -1 }),
      /maxCostUsd must be a positive number, got -1/,
    );
    assert.equal((await kit.client.status(runId)).state, 'parked');

    const resumed = await kit.client.resumeRun(runId, { maxCostUsd: 1 });
    assert.deepEqual(resumed, { resumed: true, step: 2 });
    const outcome = await kit.client.result(runId);
    assert.equal(outcome.status, 'succeeded');
    assert.deepEqual(outcome.usage?.total, { inputTokens: 400, outputTokens: 100, costUsd: 0.1 });
    assert.deepEqual(
      [0, 1, 2, 3, 4].map((n) => spent.get(`${runId}/${n}`)),
      [1, 1, 1, 1, 1],
      'each step ran once: step 2 was not run again',
    );
  });

  test('usage survives continue-as-new and a new worker: the totals are exact after both', async () => {
    const taskQueue = `${kit.taskQueue}-usage-restart`;
    const first = await createTestKit({ runners, env: kit.env, taskQueue, webhook: false });
    const runId = 'usage-restart';
    try {
      await first.client.submit({ runId, runner: 'spendsAndWaits', input: null, maxHistoryEvents: 20 });
      await eventually(async () => (await first.client.status(runId)).state === 'waiting', 60_000, 'waiting');
    } finally {
      await first.teardown();
    }
    const handle = kit.client.temporal.workflow.getHandle(runId);
    const executionBefore = (await handle.describe()).runId;
    // The worker is gone; events make the run hand its wait over when a worker comes back.
    for (let i = 0; i < 20; i++) await handle.signal('event', { name: 'noise', id: `noise-${i}` });
    const second = await createTestKit({ runners, env: kit.env, taskQueue, webhook: false });
    try {
      await eventually(async () => (await handle.describe()).runId !== executionBefore, 60_000, 'handed over');
      // The new execution waits again, with the usage it was handed.
      let mid = await second.client.status(runId);
      await eventually(
        async () => (mid = await second.client.status(runId)).state === 'waiting',
        30_000,
        'waiting again',
      );
      assert.deepEqual(mid.usage?.total, {
        inputTokens: 1,
        outputTokens: 0,
        costUsd: 0.01,
      });
      await second.client.sendEvent(runId, 'go');
      const outcome = await second.client.result(runId);
      assert.equal(outcome.status, 'succeeded');
      assert.deepEqual(outcome.usage, {
        total: { inputTokens: 2, outputTokens: 0, costUsd: 0.03 },
        byModel: { m: { inputTokens: 2, outputTokens: 0, costUsd: 0.03 } },
      });
    } finally {
      await second.teardown();
    }
  });

  test('the CLI refuses a budget that is not a positive number, exit 2, before anything is sent', async () => {
    const cli = durableRunsCli(() => ({ address: kit.env.address, taskQueue: kit.taskQueue }));
    const submitted = await cli('submit', '0', '--runner', 'spender', '--max-cost-usd', '-1');
    assert.equal(submitted.code, 2);
    assert.match(submitted.stderr, /--max-cost-usd must be a positive number, got -1/);
    const resumed = await cli('resume', 'parks-on-budget', '--max-tokens', '1.5');
    assert.equal(resumed.code, 2);
    assert.match(resumed.stderr, /--max-tokens must be a positive whole number, got 1\.5/);
  });

  test('a budget that is not a positive number is refused at submission, naming it', async () => {
    await assert.rejects(
      kit.client.submit({ runner: 'spender', input: 0, maxCostUsd: 0 }),
      /maxCostUsd must be a positive number, got 0/,
    );
    await assert.rejects(
      kit.client.submit({ runner: 'spender', input: 0, maxTokens: 1.5 }),
      /maxTokens must be a positive whole number, got 1\.5/,
    );
    await assert.rejects(
      kit.client.submit({ runner: 'spender', input: 0, maxCostUsd: 'lots' as unknown as number }),
      /maxCostUsd must be a positive number, got the string "lots"/,
    );
  });

  test('usage of a try cut short (its step timed out) counts: the try that runs the attempt again goes on from its heartbeat', async () => {
    const runId = 'cut-short';
    await kit.client.submit({ runId, runner: 'cutShort', input: null, stepTimeoutMs: 2000 });
    const outcome = await kit.client.result(runId);
    assert.deepEqual(outcome.result, { tries: 2 });
    assert.deepEqual(outcome.usage, {
      total: { inputTokens: 30, outputTokens: 0, costUsd: 0.03 },
      byModel: { m: { inputTokens: 30, outputTokens: 0, costUsd: 0.03 } },
    });
  });

  test("a cancelled attempt's usage counts: the cancel carries it, and the outcome has it", async () => {
    const runId = 'spends-then-cancelled';
    await kit.client.submit({ runId, runner: 'spendsUntilCancelled', input: null });
    await eventually(
      async () =>
        (await kit.client.status(runId)).state === 'running' &&
        (await kit.client.temporal.workflow.getHandle(runId).describe()).raw.pendingActivities?.length === 1,
    );
    // Let the step's heartbeat go out, then cancel.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await kit.client.cancel(runId, 'stop'), true);
    const outcome = await kit.client.result(runId);
    assert.equal(outcome.status, 'cancelled');
    assert.deepEqual(outcome.usage?.total, { inputTokens: 0, outputTokens: 7, costUsd: 0.07 });
    const events = (await kit.client.temporal.workflow.getHandle(runId).fetchHistory()).events ?? [];
    const canceled = events.find((e) => e.activityTaskCanceledEventAttributes);
    assert.ok(canceled?.activityTaskCanceledEventAttributes?.details?.payloads?.length, 'the cancel carries details');
  });

  test('a negative usage figure fails the step with a message naming it, and adds nothing', async () => {
    const runId = 'bad-usage';
    await kit.client.submit({ runId, runner: 'badUsage', input: null });
    const outcome = await kit.client.result(runId);
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.error, 'step.usage: inputTokens must be a whole number ≥ 0, got -3');
    // The good record before it counts; the bad one added nothing.
    assert.deepEqual(outcome.usage?.total, { inputTokens: 5, outputTokens: 0, costUsd: 0.01 });
  });
});
