/**
 * Runs that start runs, on a real dev server: schedules (`--every` fires runs that complete;
 * pause, trigger, describe, list, delete, through the CLI and the client), `list --parent`, and
 * fairness: one tenant's flood does not hold back another tenant's runs.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { StepOutcome, type StepRunner } from '../src';
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

describe('fairness (dev server with matching.enableFairness=true)', () => {
  /**
   * Tenant A submits a flood, then tenant B submits a few. With fairness keys (the default: the
   * `tenant` header) B's runs share the backlogged queue with A's, so they finish far earlier in
   * the order of completions than without them. One slot per worker builds the backlog.
   */
  async function positionsOfB(withFairness: boolean): Promise<{ mean: number; aBeforeLastB: number }> {
    const env = await createTestEnv('local');
    const k = await createTestKit({
      runners,
      env,
      tuning: { maxConcurrentWorkflowTaskExecutions: 2, maxConcurrentActivityTaskExecutions: 1 },
    });
    completions.length = 0;
    try {
      const submit = (tenant: string, i: number) =>
        k.client.submit({
          runId: `${tenant}-${withFairness}-${i}`,
          input: null,
          runner: 'work',
          headers: { tenant },
          ...(withFairness ? {} : { fairnessKey: 'everyone' }),
        });
      for (let i = 0; i < 300; i += 50) await Promise.all(Array.from({ length: 50 }, (_, j) => submit('A', i + j)));
      await Promise.all(Array.from({ length: 10 }, (_, i) => submit('B', i)));
      await eventually(() => completions.length === 310, 300_000, 'all 310 runs finish');
      const positions = completions.flatMap((c, i) => (c.startsWith('B:') ? [i] : []));
      const lastB = positions.at(-1)!;
      return {
        mean: positions.reduce((a, b) => a + b, 0) / positions.length,
        aBeforeLastB: completions.slice(0, lastB).filter((c) => c.startsWith('A:')).length,
      };
    } finally {
      await k.teardown();
      await env.teardown();
    }
  }

  test("tenant B submitting after A's 300 runs finishes far earlier with fairness keys than without", async () => {
    const without = await positionsOfB(false);
    const fair = await positionsOfB(true);
    process.stdout.write(
      `# fairness: B's mean completion position ${fair.mean.toFixed(1)} with keys, ${without.mean.toFixed(1)} without (of 310); A's runs done before B's last: ${fair.aBeforeLastB} with keys, ${without.aBeforeLastB} without\n`,
    );
    assert.ok(fair.mean < without.mean, `with ${fair.mean}, without ${without.mean}`);
  });
});
