/**
 * Runs that start runs, on a real dev server: schedules (`--every` fires runs that complete;
 * pause, trigger, describe, list, delete, through the CLI and the client), `list --parent`, and
 * the order the server serves a backlog in: fairness keys, fairness weights and priority.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { TestWorkflowEnvironment as TestEnv } from '@temporalio/testing';
import { RunsClient, StepOutcome, type StepRunner } from '../src';
import type { RunScheduling } from '../src/shared/validate';
import { createTestEnv, createTestKit, type TestKit } from '../src/testing';
import { eventually } from '../support/wait';

const exec = promisify(execFile);
const BIN = join(__dirname, '..', 'bin', 'durable-runs.js');

const completions: string[] = [];
const runners: Record<string, StepRunner> = {
  default: async (step) => StepOutcome.succeed({ scheduled: step.payload }),
  parent: async (step) =>
    step.stepNumber === 0
      ? StepOutcome.runChildren(null, [{ input: 'a' }, { input: 'b' }])
      : StepOutcome.succeed(step.children!.length),
  /** A short step that records when each run finished, by tenant. */
  work: async (step) => {
    await new Promise((r) => setTimeout(r, 5));
    completions.push(`${step.headers.tenant}:${step.runId}`);
    return StepOutcome.succeed(null);
  },
};

let kit: TestKit;
before(async () => {
  kit = await createTestKit({ runners, server: 'local', taskQueue: 'durable-runs' });
});
after(async () => {
  await kit?.teardown();
});

const cli = (...args: string[]) =>
  exec(process.execPath, [BIN, ...args], {
    env: { ...process.env, TEMPORAL_ADDRESS: kit.env.address, TEMPORAL_TASK_QUEUE: 'durable-runs' },
    timeout: 60_000,
  });

describe('schedules', () => {
  test('--every fires runs that complete; pause stops it, trigger still starts one; delete removes it', async () => {
    const created = await cli('schedule', 'create', 'every-2s', '{"n":1}', '--every', '2s', '--json');
    const info = JSON.parse(created.stdout) as { scheduleId: string; paused: boolean; spec: { every: string[] } };
    assert.deepEqual([info.scheduleId, info.paused], ['every-2s', false]);
    await eventually(async () => (await kit.client.schedules.describe('every-2s')).recentRuns.length >= 2, 60_000);
    const { recentRuns } = await kit.client.schedules.describe('every-2s');
    for (const runId of recentRuns.slice(0, 2)) {
      assert.match(runId, /^every-2s-/);
      const outcome = await kit.client.result(runId);
      assert.deepEqual([outcome.status, outcome.result], ['succeeded', { scheduled: { n: 1 } }]);
      assert.equal((await kit.client.status(runId)).state, 'succeeded');
    }
    assert.match((await cli('schedule', 'pause', 'every-2s')).stdout, /every-2s: paused/);
    const paused = await kit.client.schedules.describe('every-2s');
    assert.equal(paused.paused, true);
    await cli('schedule', 'trigger', 'every-2s');
    await eventually(
      async () => (await kit.client.schedules.describe('every-2s')).runsStarted === paused.runsStarted + 1,
      30_000,
    );
    // Paused: past two more intervals it has started nothing but the triggered run.
    const firstNext = Date.parse(paused.nextRuns[0] ?? new Date().toISOString());
    await eventually(() => Date.now() > firstNext + 2500, 30_000);
    assert.equal((await kit.client.schedules.describe('every-2s')).runsStarted, paused.runsStarted + 1);
    const listed = JSON.parse((await cli('schedule', 'list', '--json')).stdout) as Array<{ scheduleId: string }>;
    assert.ok(listed.some((s) => s.scheduleId === 'every-2s'));
    assert.match((await cli('schedule', 'describe', 'every-2s')).stdout, /every-2s {2}paused {2}every 2000ms/);
    await cli('schedule', 'delete', 'every-2s');
    await assert.rejects(cli('schedule', 'describe', 'every-2s'), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 4);
      assert.match(err.stderr, /schedule every-2s not found/);
      return true;
    });
  });

  test('a schedule needs exactly one of --cron and --every', async () => {
    await assert.rejects(cli('schedule', 'create', 'neither', '1'), /a schedule needs exactly one of cron or every/);
  });
});

test("list --parent lists a run's children", async () => {
  const { runId } = await kit.client.submit({ runId: 'family', input: null, runner: 'parent' });
  assert.equal((await kit.client.result(runId)).result, 2);
  await eventually(async () => (await kit.client.list({ parent: runId })).length === 2, 30_000);
  const { stdout } = await cli('list', '--parent', runId, '--json');
  assert.deepEqual((JSON.parse(stdout) as Array<{ runId: string }>).map((r) => r.runId).sort(), [
    'family-0-0',
    'family-0-1',
  ]);
});

describe('fairness and priority (dev server with matching.enableFairness=true)', () => {
  /**
   * The order in which the server hands out a backlog: the runs are all submitted before a worker
   * polls their task queue, and the worker runs one step at a time, so the order of completions
   * is the order of dispatch (the dev server keeps one partition, which holds the fair order).
   * Returns one letter per completed run, its tenant: e.g. "ABAB…".
   */
  let env: TestEnv;
  let queues = 0;
  before(async () => {
    env = await createTestEnv('local');
  });
  after(async () => {
    await env?.teardown();
  });
  async function dispatchOrder(runs: Array<{ tenant: string } & RunScheduling>): Promise<string> {
    const taskQueue = `fairness-${++queues}`;
    const client = RunsClient.fromClient(env.client, taskQueue);
    for (const [i, { tenant, ...scheduling }] of runs.entries())
      await client.submit({
        runId: `${taskQueue}-${i}`,
        input: null,
        runner: 'work',
        headers: { tenant },
        ...scheduling,
      });
    completions.length = 0;
    const k = await createTestKit({
      runners,
      env,
      taskQueue,
      webhook: false,
      tuning: { maxConcurrentWorkflowTaskExecutions: 2, maxConcurrentActivityTaskExecutions: 1 },
    });
    try {
      await eventually(() => completions.length === runs.length, 120_000, `all ${runs.length} runs finish`);
    } finally {
      await k.teardown();
    }
    return completions.map((c) => c.split(':')[0]).join('');
  }
  const many = (n: number, run: { tenant: string } & RunScheduling) => Array.from({ length: n }, () => run);

  test("fairness keys: tenant B's 10 runs, queued after A's 30, are served alternately with A's", async () => {
    const fair = await dispatchOrder([...many(30, { tenant: 'A' }), ...many(10, { tenant: 'B' })]);
    // The same backlog under one key for everyone: first come, first served.
    const fifo = await dispatchOrder([
      ...many(30, { tenant: 'A', fairnessKey: 'everyone' }),
      ...many(10, { tenant: 'B', fairnessKey: 'everyone' }),
    ]);
    process.stdout.write(`# dispatch order with tenant keys ${fair}, with one key ${fifo}\n`);
    // Alternating: all of B's within the first 22 (B's 10 and at most 12 of A's); without keys,
    // at least 25 of A's before B's first.
    assert.ok(fair.lastIndexOf('B') < 22, `with tenant keys: ${fair}`);
    assert.ok(fifo.indexOf('B') >= 25, `with one key: ${fifo}`);
  });

  test('priority: runs of priority 1 are served before a backlog of priority 3', async () => {
    const order = await dispatchOrder([
      ...many(20, { tenant: 'A', priority: 3 }),
      ...many(5, { tenant: 'B', priority: 1 }),
    ]);
    assert.equal(order.slice(0, 5), 'BBBBB', order);
  });

  test('fairnessWeight: a tenant of weight 3 is served about three times as often as one of weight 1', async () => {
    const order = await dispatchOrder([
      ...many(30, { tenant: 'A', fairnessWeight: 1 }),
      ...many(30, { tenant: 'B', fairnessWeight: 3 }),
    ]);
    // 15 of the first 20 at 3:1 (10 at equal weights, 0 first come first served); A not starved.
    const bInFirst20 = [...order.slice(0, 20)].filter((t) => t === 'B').length;
    assert.ok(bInFirst20 >= 13 && bInFirst20 <= 17, `${bInFirst20} of the first 20 are B's: ${order}`);
  });
});
