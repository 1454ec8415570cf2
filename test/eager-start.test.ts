/**
 * Eager workflow start on a real dev server: a client on a worker's NativeConnection (the testing
 * kit's, without time skipping) gets the run's first workflow task handed straight to that worker;
 * a client on a plain connection, a delayed run, or a queue no local worker serves start the
 * ordinary way, silently.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { RunsClient, StepOutcome } from '../src';
import { dataConverter } from '../src/client';
import { createTestKit, type TestKit } from '../src/testing';

let kit: TestKit;
let plain: Connection;

before(async () => {
  kit = await createTestKit({
    server: 'local',
    webhook: false,
    runners: {
      default: async (s) => (s.stepNumber < 1 ? StepOutcome.continue(s.payload) : StepOutcome.succeed('done')),
    },
  });
  plain = await Connection.connect({ address: kit.env.address });
});

after(async () => {
  await plain?.close();
  await kit?.teardown();
});

test("a client on the worker's NativeConnection starts runs eagerly", async () => {
  const submission = await kit.client.submit({ runId: 'eager-1', input: null });
  assert.deepEqual(submission, { runId: 'eager-1', newlySubmitted: true, eagerlyStarted: true });
  assert.equal((await kit.client.result('eager-1')).status, 'succeeded');
  // The repeated submission finds the run; no second start.
  assert.deepEqual(await kit.client.submit({ runId: 'eager-1', input: null }), {
    runId: 'eager-1',
    newlySubmitted: false,
  });
});

test('a plain connection, a delayed run, a queue with no local worker: ordinary starts, no error', async () => {
  const overPlain = RunsClient.fromClient(new Client({ connection: plain, dataConverter }), kit.taskQueue);
  assert.deepEqual(await overPlain.submit({ runId: 'plain-1', input: null }), {
    runId: 'plain-1',
    newlySubmitted: true,
  });
  assert.equal((await overPlain.result('plain-1')).status, 'succeeded');

  assert.deepEqual(await kit.client.submit({ runId: 'delayed-1', input: null, startDelay: '1s' }), {
    runId: 'delayed-1',
    newlySubmitted: true,
  });
  assert.equal((await kit.client.result('delayed-1')).status, 'succeeded');

  const elsewhere = RunsClient.fromClient(kit.client.temporal, `${kit.taskQueue}-elsewhere`);
  assert.deepEqual(await elsewhere.submit({ runId: 'elsewhere-1', input: null }), {
    runId: 'elsewhere-1',
    newlySubmitted: true,
  });
  assert.equal((await elsewhere.status('elsewhere-1')).state, 'running');
  await elsewhere.cancel('elsewhere-1');
});
