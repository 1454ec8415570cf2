/**
 * Runs whose IDs submit would not give (a schedule's `<scheduleId>-<time>`, any ID Temporal
 * accepts) are reachable by every lookup, through the CLI and the client, on a real dev server:
 * a scheduled run that waits for an event is woken by `durable-runs send`, and `list --parent`
 * finds the children of such a run; the visibility query escapes quotes.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { StepOutcome, type StepRunner } from '../src';
import { childRunId } from '../src/activities/run-step';
import { parentCondition } from '../src/client';
import { validateRunIdLookup, ValidationError } from '../src/shared/validate';
import { WORKFLOW_TYPE } from '../src/shared/names';
import { createTestKit, type TestKit } from '../src/testing';
import { eventually } from '../support/wait';

const exec = promisify(execFile);
const BIN = join(__dirname, '..', 'bin', 'durable-runs.js');

const runners: Record<string, StepRunner> = {
  approval: async (step) =>
    step.stepNumber === 0
      ? StepOutcome.waitForEvent(null, { events: 'approve' })
      : StepOutcome.succeed({ approvedBy: step.event?.data }),
  parent: async (step) =>
    step.stepNumber === 0
      ? StepOutcome.runChildren(null, [{ input: 'a' }, { input: 'b' }])
      : StepOutcome.succeed(step.children!.map((c) => c.status)),
  default: async () => StepOutcome.succeed(null),
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

/** Triggers a paused schedule once and returns the run ID of the run it started. */
async function triggeredRun(scheduleId: string, runner: string): Promise<string> {
  await cli('schedule', 'create', scheduleId, '{"n":1}', '--every', '1h', '--runner', runner, '--paused');
  await cli('schedule', 'trigger', scheduleId);
  await eventually(async () => (await kit.client.schedules.describe(scheduleId)).recentRuns.length === 1, 30_000);
  const [runId] = (await kit.client.schedules.describe(scheduleId)).recentRuns;
  // Temporal appends the scheduled time: `<scheduleId>-2026-12-04T14:09:48Z`, no valid submit run ID.
  assert.match(runId!, new RegExp(`^${scheduleId}-\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$`));
  return runId!;
}

test('a scheduled run that waits for an event is woken by `durable-runs send`; status, watch and result reach it', async () => {
  const runId = await triggeredRun('nightly', 'approval');
  await eventually(async () => (await kit.client.status(runId)).state === 'waiting', 30_000);
  const status = JSON.parse((await cli('status', runId, '--json')).stdout) as { runId: string; state: string };
  assert.deepEqual([status.runId, status.state], [runId, 'waiting']);
  const sent = JSON.parse((await cli('send', runId, 'approve', '"ana"', '--json')).stdout) as { sent: boolean };
  assert.equal(sent.sent, true);
  const outcome = JSON.parse((await cli('result', runId, '--json')).stdout) as { status: string; result: unknown };
  assert.deepEqual([outcome.status, outcome.result], ['succeeded', { approvedBy: 'ana' }]);
  // The client too: a closed run is reported as closed, not as a bad ID.
  assert.equal(await kit.client.sendEvent(runId, 'approve'), false);
  assert.equal(await kit.client.cancel(runId), false);
  const watched = (await cli('watch', runId, '--json')).stdout.trim().split('\n').at(-1)!;
  assert.equal((JSON.parse(watched) as { status: string }).status, 'succeeded');
  await cli('schedule', 'delete', 'nightly');
});

test('runs.sendEvent wakes a scheduled run', async () => {
  const runId = await triggeredRun('hourly', 'approval');
  await eventually(async () => (await kit.client.status(runId)).state === 'waiting', 30_000);
  assert.equal(await kit.client.sendEvent(runId, 'approve', 'bo'), true);
  assert.deepEqual((await kit.client.result(runId)).result, { approvedBy: 'bo' });
  await cli('schedule', 'delete', 'hourly');
});

test('list --parent finds the children of a scheduled run', async () => {
  const runId = await triggeredRun('fanout', 'parent');
  assert.deepEqual((await kit.client.result(runId)).result, ['succeeded', 'succeeded']);
  await eventually(async () => (await kit.client.list({ parent: runId })).length === 2, 30_000);
  const { stdout } = await cli('list', '--parent', runId, '--json');
  // The children's IDs are valid run IDs, made from the parent's (see childRunId).
  assert.deepEqual((JSON.parse(stdout) as Array<{ runId: string }>).map((r) => r.runId).sort(), [
    childRunId(runId, 0, 0),
    childRunId(runId, 0, 1),
  ]);
  await cli('schedule', 'delete', 'fanout');
});

test('list --parent escapes quotes: an ID with \' " and \\ lists its own children and nothing else', async () => {
  const parentId = `o'brien" OR WorkflowId != 'x\\`;
  await kit.client.temporal.workflow.start(WORKFLOW_TYPE, {
    workflowId: parentId,
    taskQueue: 'durable-runs',
    args: [{ input: null, runner: 'parent' }],
  });
  assert.deepEqual((await kit.client.result(parentId)).result, ['succeeded', 'succeeded']);
  await eventually(async () => (await kit.client.list({ parent: parentId })).length === 2, 30_000);
  const { stdout } = await cli('list', '--parent', parentId, '--json');
  assert.deepEqual((JSON.parse(stdout) as Array<{ runId: string }>).map((r) => r.runId).sort(), [
    childRunId(parentId, 0, 0),
    childRunId(parentId, 0, 1),
  ]);
  assert.deepEqual(await kit.client.list({ parent: `nobody' OR WorkflowId != '` }), []);
  // Only a quote: the exact condition, with the quote escaped.
  const quoted = `it's-mine`;
  await kit.client.temporal.workflow.start(WORKFLOW_TYPE, {
    workflowId: quoted,
    taskQueue: 'durable-runs',
    args: [{ input: null, runner: 'parent' }],
  });
  await kit.client.result(quoted);
  await eventually(async () => (await kit.client.list({ parent: quoted })).length === 2, 30_000);
});

test('lookups still refuse what no workflow ID can be, with a clear error; submit keeps the strict rule', async () => {
  await assert.rejects(kit.client.sendEvent('', 'approve'), /run ID must not be empty/);
  await assert.rejects(kit.client.status('x'.repeat(1001)), /Temporal's workflow IDs are at most 1000 bytes/);
  await assert.rejects(kit.client.list({ parent: '\uD800' }), /not valid Unicode text/);
  await assert.rejects(cli('send', '', 'approve'), (err: { code: number; stderr: string }) => {
    assert.equal(err.code, 2);
    assert.match(err.stderr, /run ID must not be empty/);
    return true;
  });
  await assert.rejects(kit.client.submit({ runId: 'nightly-2026-12-04T14:09:48Z', input: null }), /invalid run ID/);
});

test('validateRunIdLookup and parentCondition (unit)', () => {
  assert.equal(validateRunIdLookup('nightly-2026-12-04T14:09:48Z'), 'nightly-2026-12-04T14:09:48Z');
  assert.equal(validateRunIdLookup('é'.repeat(500)), 'é'.repeat(500));
  assert.throws(() => validateRunIdLookup('é'.repeat(501)), ValidationError);
  assert.throws(() => validateRunIdLookup(42), /run ID must be a string, got number 42/);
  assert.equal(parentCondition(`a'b`), `ParentWorkflowId = 'a\\'b'`);
  assert.equal(parentCondition(`a'b"c`), `ParentWorkflowId STARTS_WITH 'a\\'b'`);
  assert.equal(parentCondition(`\\x`), 'ParentWorkflowId IS NOT NULL');
});
