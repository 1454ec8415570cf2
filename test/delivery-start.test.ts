/**
 * Starting a run's webhook delivery is as durable as the run: while the frontend refuses to
 * start workflows (gRPC UNAVAILABLE, injected by a loopback proxy between the worker and a real
 * dev server), the run keeps trying, and the webhook is delivered once the frontend answers again.
 * Earlier versions gave up after three attempts and the delivery was lost without a trace.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { createWorker, RunsClient, StepOutcome } from '../src';
import { dataConverter } from '../src/client';
import { webhookWorkflowId } from '../src/shared/names';
import { workflowBundle } from '../src/testing';
import { startDevServer, type DevServer } from '../src/local/dev-server';
import { startGrpcFaultProxy, type GrpcFaultProxy } from './helpers/grpc-fault-proxy';
import { startReceiver, type Receiver } from '../support/receiver';
import { eventually } from '../support/wait';

/** Earlier versions gave up after three attempts, 29 s into such an outage. */
const OUTAGE_MS = Number(process.env.OUTAGE_MS ?? 45_000);

let server: DevServer;
let proxy: GrpcFaultProxy;
let receiver: Receiver;
let connection: NativeConnection;
let worker: Worker;
let running: Promise<void>;
let clientConnection: Connection;
let runs: RunsClient;

before(async () => {
  server = await startDevServer({ dbFile: false });
  proxy = await startGrpcFaultProxy(server.address);
  receiver = await startReceiver();
  // The worker reaches Temporal only through the proxy; the test's client goes direct.
  connection = await NativeConnection.connect({ address: proxy.address });
  worker = await createWorker({
    runners: { default: async () => StepOutcome.succeed('done') },
    connection,
    taskQueue: 'delivery-start',
    webhook: { allowPrivate: true },
    workflowBundle: await workflowBundle(),
  });
  running = worker.run();
  clientConnection = await Connection.connect({ address: server.address });
  runs = RunsClient.fromClient(new Client({ connection: clientConnection, dataConverter }), 'delivery-start');
});

after(async () => {
  if (process.env.DEBUG_REFUSALS)
    console.log('REFUSALS', proxy.refusals.map((r) => r.at - proxy.refusals[0]!.at).join(' '));
  proxy?.refuse([]);
  worker?.shutdown();
  await running;
  await connection?.close();
  await clientConnection?.close();
  await proxy?.close();
  await receiver?.close();
  await server?.stop();
});

test('the frontend refuses to start the delivery for 45 s: the webhook still arrives, once', async () => {
  proxy.refuse(['StartWorkflowExecution']);
  const { runId } = await runs.submit({
    runId: 'outage-1',
    input: null,
    headers: { callback_url: `${receiver.url}/outage` },
  });
  // The run has its outcome; starting its delivery is refused, again and again.
  await eventually(() => proxy.refusals.length > 0, 60_000, 'a refused delivery start');
  const first = proxy.refusals[0]!.at;
  await eventually(
    () => proxy.refusals.at(-1)!.at - first >= OUTAGE_MS,
    OUTAGE_MS + 60_000,
    `delivery starts still tried ${OUTAGE_MS} ms into the outage`,
  );
  assert.equal(receiver.requests.length, 0);
  if (process.env.DEBUG_REFUSALS) console.log(proxy.refusals.map((r) => r.at - first).join(' '));
  proxy.refuse([]);

  await eventually(() => receiver.to('/outage').length === 1, 60_000, 'the webhook delivered');
  const outcome = await runs.result(runId);
  assert.equal(outcome.status, 'succeeded');
  const [request] = receiver.to('/outage');
  assert.equal(request!.headers['workflow-run-status'], 'succeeded');
  assert.equal(request!.body.toString(), 'done');
  const delivery = runs.temporal.workflow.getHandle(webhookWorkflowId(runId));
  await delivery.result();
  assert.equal((await delivery.describe()).status.name, 'COMPLETED');
  assert.ok(
    proxy.refusals.every((r) => r.method === 'StartWorkflowExecution'),
    'only delivery starts were refused',
  );
  assert.equal(receiver.to('/outage').length, 1, 'delivered once');
});
