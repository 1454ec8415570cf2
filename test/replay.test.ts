/**
 * Upgrades never break runs in flight: every recorded history under test/histories/ (one folder
 * per version that recorded them; `npm run histories:record` writes the current version's) replays
 * with today's workflow code and worker payload converter, without a non-determinism error.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../src/testing';
import { payloadConverterPath } from '../src/worker';

const HISTORIES = join(__dirname, 'histories');

/** `<version>/<workflowId>[@<n>].json`: the workflow ID is the file name without the execution number. */
function histories(): Array<{ file: string; workflowId: string; history: unknown }> {
  return readdirSync(HISTORIES, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => ({
      file,
      workflowId: basename(file, '.json').replace(/@\d+$/, ''),
      history: JSON.parse(readFileSync(join(HISTORIES, file), 'utf8')) as unknown,
    }));
}

test('every recorded history replays with the current workflow code', async () => {
  const all = histories();
  assert.ok(all.length >= 20, `recorded histories found: ${all.length}`);
  const types = new Set(
    all.map(
      ({ history }) =>
        (
          history as {
            events: Array<{ workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string } } }>;
          }
        ).events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name,
    ),
  );
  assert.deepEqual([...types].sort(), ['durableRun', 'webhookDelivery']);
  const results = Worker.runReplayHistories(
    { workflowBundle: await workflowBundle(), dataConverter: { payloadConverterPath } },
    all.map(({ workflowId, history }) => ({ workflowId, history })),
  );
  const failures: string[] = [];
  let replayed = 0;
  for await (const result of results) {
    replayed++;
    if (result.error) failures.push(`${result.workflowId}: ${result.error.name}: ${result.error.message}`);
  }
  assert.equal(replayed, all.length);
  assert.deepEqual(failures, []);
});

test('replay notices a workflow that emits different commands (the check is live)', async () => {
  // The recorded success, with its first step's activity type renamed: the code schedules
  // `runStep` where the history says another activity, which must be a non-determinism error.
  const { workflowId, history } = histories().find((h) => h.workflowId === 'succeeded')!;
  const altered = JSON.parse(
    JSON.stringify(history).replace(/"name":"runStep"/, '"name":"someOtherActivity"'),
  ) as unknown;
  assert.notDeepEqual(altered, history);
  await assert.rejects(
    Worker.runReplayHistory(
      { workflowBundle: await workflowBundle(), dataConverter: { payloadConverterPath } },
      altered,
      workflowId,
    ),
    (err: Error) => err.name === 'DeterminismViolationError',
  );
});
