/**
 * DurableRunsPlugin on a team's existing worker: its own workflow and activity and durable runs
 * served by one worker on one task queue (the example in examples/existing-worker), on the
 * time-skipping server; the plugin refuses options it cannot work with, saying what to change.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { DurableRunsPlugin, PluginConflict, RunsClient, StepOutcome } from '../src';
import { createTestEnv } from '../src/testing';
import { createAppWorker, durableRunsPlugin, TASK_QUEUE } from '../examples/existing-worker/worker';

let env: TestWorkflowEnvironment;
let worker: Worker;
let running: Promise<void>;
let client: Client;

before(async () => {
  env = await createTestEnv();
  const plugin = durableRunsPlugin();
  worker = await createAppWorker(env.nativeConnection, plugin);
  running = worker.run();
  client = new Client({ connection: env.connection, plugins: [plugin] });
});

after(async () => {
  worker?.shutdown();
  await running;
  await env?.teardown();
});

test("one worker, one task queue: the team's own workflow and a durable run", async () => {
  const hello = await client.workflow.execute('greeting', {
    taskQueue: TASK_QUEUE,
    workflowId: 'greeting-1',
    args: ['Ada'],
  });
  assert.equal(hello, 'Hello, Ada!');
  const runs = RunsClient.fromClient(client, TASK_QUEUE);
  const { runId } = await runs.submit({ runId: 'plugin-run-1', input: 'three little words' });
  const outcome = await runs.result(runId);
  assert.equal(outcome.status, 'succeeded');
  assert.deepEqual(outcome.result, { text: 'three little words', words: 3 });
  assert.equal(outcome.finalStep, 1);
  const described = await client.workflow.getHandle(runId).describe();
  assert.equal(described.taskQueue, TASK_QUEUE);
  assert.equal(described.type, 'durableRun');
});

test('the plugin refuses what it cannot serve beside, naming it', () => {
  const plugin = new DurableRunsPlugin({ runners: { default: async () => StepOutcome.succeed(null) }, webhook: false });
  assert.throws(
    () => plugin.configureWorker({ taskQueue: 'q', activities: { runStep: async () => undefined } }),
    (e: unknown) => e instanceof PluginConflict && /activities named runStep/.test(e.message),
  );
  assert.throws(
    () => plugin.configureWorker({ taskQueue: 'q', dataConverter: { payloadConverterPath: '/elsewhere.js' } }),
    (e: unknown) => e instanceof PluginConflict && /payloadConverterPath/.test(e.message),
  );
  assert.throws(
    () => plugin.configureClient({ dataConverter: { payloadConverterPath: '/elsewhere.js' } }),
    (e: unknown) => e instanceof PluginConflict && /payloadConverterPath/.test(e.message),
  );
});
