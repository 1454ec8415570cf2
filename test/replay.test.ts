/**
 * Upgrades never break runs in flight: every recorded history under test/histories/ (one folder
 * per version that recorded them; `npm run histories:record` writes the current version's) replays
 * with today's workflow code and worker payload converter, without a non-determinism error, and
 * emits the recorded commands with the recorded inputs (helpers/strict-replay.ts: Core compares
 * command types only).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../src/testing';
import { payloadConverterPath } from '../src/worker';
import { strictReplay } from './helpers/strict-replay';

const HISTORIES = join(__dirname, 'histories');

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}
type JsonEvent = { eventId: string; eventType: string } & Record<string, unknown>;
interface JsonHistory {
  events: JsonEvent[];
}

/** `<version>/<workflowId>[@<n>].json`: the workflow ID is the file name without the execution number. */
function histories(): Array<{ file: string; workflowId: string; history: JsonHistory }> {
  return readdirSync(HISTORIES, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => ({
      file,
      workflowId: basename(file, '.json').replace(/@\d+$/, ''),
      history: JSON.parse(readFileSync(join(HISTORIES, file), 'utf8')) as JsonHistory,
    }));
}

const recorded = (file: string) => {
  const found = histories().find((h) => h.file === file);
  assert.ok(found, `no recorded history ${file}`);
  return found;
};

/**
 * A copy of `history` whose `n`-th payload (counting from 0) of the first event of `eventType`
 * (`attributes` names its attributes, `field` the Payloads inside them) is `change`d as JSON.
 */
function alterPayload(
  history: JsonHistory,
  eventType: string,
  path: [attributes: string, field: string],
  change: (value: Record<string, unknown>) => void,
  { occurrence = 0, n = 0 } = {},
): JsonHistory {
  const copy = structuredClone(history);
  const event = copy.events.filter((e) => e.eventType === eventType)[occurrence];
  assert.ok(event, `no ${eventType} #${occurrence}`);
  const payloads = (event[path[0]] as Record<string, { payloads: JsonPayload[] }>)[path[1]]!.payloads;
  const payload = payloads[n]!;
  const value = JSON.parse(Buffer.from(payload.data!, 'base64').toString('utf8')) as Record<string, unknown>;
  change(value);
  payload.data = Buffer.from(JSON.stringify(value)).toString('base64');
  return copy;
}

const replayOptions = async () => ({ workflowBundle: await workflowBundle(), dataConverter: { payloadConverterPath } });

test('every recorded history replays with the current workflow code, command inputs included', async () => {
  const all = histories();
  assert.ok(all.length >= 20, `recorded histories found: ${all.length}`);
  const types = new Set(
    all.map(
      ({ history }) =>
        (history.events[0]?.workflowExecutionStartedEventAttributes as { workflowType?: { name?: string } } | undefined)
          ?.workflowType?.name,
    ),
  );
  assert.deepEqual([...types].sort(), ['durableRun', 'webhookDelivery']);
  const results = await strictReplay(all);
  assert.equal(results.length, all.length);
  const failures = results.flatMap((result, i) => [
    ...(result.error ? [`${all[i]!.file}: ${result.error.name}: ${result.error.message}`] : []),
    ...result.drift.map((d) => `${all[i]!.file}: ${d}`),
  ]);
  assert.deepEqual(failures, []);
});

test('replay notices a workflow that emits different commands (the check is live)', async () => {
  // The recorded success, with its first step's activity type renamed: the code schedules
  // `runStep` where the history says another activity, which must be a non-determinism error.
  const { workflowId, history } = recorded('0.1.0/succeeded.json');
  const altered = JSON.parse(
    JSON.stringify(history).replace(/"name":"runStep"/, '"name":"someOtherActivity"'),
  ) as unknown;
  assert.notDeepEqual(altered, history);
  await assert.rejects(
    Worker.runReplayHistory(await replayOptions(), altered, workflowId),
    (err: Error) => err.name === 'DeterminismViolationError',
  );
});

test('strict replay notices a command whose input differs from the recorded one (the input check is live)', async () => {
  // What the code would emit had it drifted, written into the history instead: the code emits
  // the true values, the history says otherwise. Core replays each of these without an error.
  const succeeded = recorded('0.1.0/succeeded.json');
  const stepInput = alterPayload(
    succeeded.history,
    'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED',
    ['activityTaskScheduledEventAttributes', 'input'],
    (input) => {
      input.payload = { n: 2, bytes: 'changed' };
    },
    { occurrence: 1 },
  );
  const result = alterPayload(
    succeeded.history,
    'EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED',
    ['workflowExecutionCompletedEventAttributes', 'result'],
    (outcome) => {
      outcome.finalStep = 7;
    },
  );
  const carry = recorded('0.1.0/carry-attempt@1.json');
  // The drift of fast-chain-continue-as-new@1: continued-as-new at another step than recorded.
  const continued = alterPayload(
    carry.history,
    'EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW',
    ['workflowExecutionContinuedAsNewEventAttributes', 'input'],
    (next) => {
      next.step = 1;
    },
    { n: 1 },
  );
  const children = recorded('0.1.0/children.json');
  const child = alterPayload(
    children.history,
    'EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED',
    ['startChildWorkflowExecutionInitiatedEventAttributes', 'input'],
    (spec) => {
      spec.runner = 'someoneElse';
    },
  );
  const cases = [
    { workflowId: succeeded.workflowId, history: stepInput, expect: /event 11 \(activity 2\): recorded .*'changed'/ },
    { workflowId: succeeded.workflowId, history: result, expect: /\(close\): recorded .*finalStep: 7/ },
    { workflowId: carry.workflowId, history: continued, expect: /\(continue-as-new\): recorded .*step: 1,.*step: 60/ },
    { workflowId: children.workflowId, history: child, expect: /\(child children-0-0\): recorded .*someoneElse/ },
  ];
  for (const { workflowId, history } of cases)
    await Worker.runReplayHistory(await replayOptions(), history, workflowId); // Core sees nothing
  const results = await strictReplay(cases);
  results.forEach((r, i) => {
    assert.equal(r.error, undefined);
    assert.equal(r.drift.length, 1, r.drift.join('\n'));
    assert.match(r.drift[0]!, cases[i]!.expect);
  });
  // And the unaltered recordings have none.
  const clean = await strictReplay([succeeded, carry, children]);
  assert.deepEqual(
    clean.map((r) => r.drift),
    [[], [], []],
  );
});
