/**
 * A run that cannot start its webhook still closes: a worker whose key may not start workflows
 * (PERMISSION_DENIED, injected by a loopback proxy between the worker and a real dev server for
 * StartWorkflowExecution only) gives up after DURABLE_RUNS_WEBHOOK_START_GIVE_UP_MS, the run
 * closes with its outcome, and the failure shows in webhookStatus, the metrics and the log.
 * Earlier versions retried forever and the run never closed.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, type LogEntry, NativeConnection, type Worker } from '@temporalio/worker';
import { createWorker, RunsClient, StepOutcome } from '../src';
import { dataConverter } from '../src/client';
import { loadWebhookOptions } from '../src/common/config';
import { freePort, startDevServer, type DevServer } from '../src/local/dev-server';
import { installMetrics } from '../src/observability/metrics';
import { MetricName } from '../src/shared/metrics';
import { webhookWorkflowId } from '../src/shared/names';
import { workflowBundle } from '../src/testing';
import { startGrpcFaultProxy, type GrpcFaultProxy } from './helpers/grpc-fault-proxy';
import { parsePrometheus, sum } from './helpers/prometheus';
import { startReceiver, type Receiver } from '../support/receiver';
import { eventually } from '../support/wait';

const GIVE_UP_MS = 3000;

let server: DevServer;
let proxy: GrpcFaultProxy;
let receiver: Receiver;
let connection: NativeConnection;
let worker: Worker;
let running: Promise<void>;
let clientConnection: Connection;
let runs: RunsClient;
let metricsUrl: string;
const logs: LogEntry[] = [];

before(async () => {
  // Core's runtime, with a metrics endpoint and a logger the test reads, before any connection.
  const metricsAddress = `127.0.0.1:${await freePort()}`;
  installMetrics({
    bindAddress: metricsAddress,
    runtime: { logger: new DefaultLogger('WARN', (entry) => logs.push(entry)) },
  });
  metricsUrl = `http://${metricsAddress}/metrics`;
  server = await startDevServer({ dbFile: false });
  proxy = await startGrpcFaultProxy(server.address);
  receiver = await startReceiver();
  connection = await NativeConnection.connect({ address: proxy.address });
  worker = await createWorker({
    runners: { default: async () => StepOutcome.succeed('done') },
    connection,
    taskQueue: 'give-up',
    webhook: { allowPrivate: true, startGiveUpMs: GIVE_UP_MS },
    workflowBundle: await workflowBundle(),
  });
  running = worker.run();
  clientConnection = await Connection.connect({ address: server.address });
  runs = RunsClient.fromClient(new Client({ connection: clientConnection, dataConverter }), 'give-up');
});

after(async () => {
  proxy?.refuse([]);
  worker?.shutdown();
  await running;
  await connection?.close();
  await clientConnection?.close();
  await proxy?.close();
  await receiver?.close();
  await server?.stop();
});

test('PERMISSION_DENIED on starting the delivery: the run gives up after the give-up time and closes; status, metric and log show it', async () => {
  proxy.refuse(['StartWorkflowExecution'], { code: 7, message: 'Request unauthorized: may not start workflows' });
  const started = Date.now();
  const { runId } = await runs.submit({
    runId: 'denied-1',
    input: null,
    headers: { callback_url: `${receiver.url}/denied` },
  });
  const outcome = await runs.result(runId);
  const closedAfter = Date.now() - started;
  assert.deepEqual([outcome.status, outcome.result], ['succeeded', 'done']);
  assert.equal((await runs.temporal.workflow.getHandle(runId).describe()).status.name, 'COMPLETED');
  // Given up once the give-up time passed, well before the local activity's next 30 s retries would add up.
  assert.ok(closedAfter >= GIVE_UP_MS, `closed after ${closedAfter} ms`);
  assert.ok(closedAfter < GIVE_UP_MS + 40_000, `closed after ${closedAfter} ms`);
  assert.ok(proxy.refusals.length >= 2, `tried ${proxy.refusals.length} times before giving up`);
  assert.equal(receiver.requests.length, 0);

  // No delivery workflow exists, and webhookStatus still says what happened.
  await assert.rejects(runs.temporal.workflow.getHandle(webhookWorkflowId(runId)).describe(), /not found/i);
  const status = await runs.webhookStatus(runId);
  assert.equal(status?.state, 'failed');
  assert.equal(status?.attempts, 0);
  assert.match(
    status?.lastError ?? '',
    /could not be started in \d+ s \(\d+ attempts\), gave up: .*may not start workflows/,
  );

  await eventually(
    async () => {
      const series = parsePrometheus(await (await fetch(metricsUrl)).text());
      return sum(series, MetricName.WebhookDeliveriesTotal, { result: 'not_started' }) === 1;
    },
    30_000,
    'durable_runs_webhook_deliveries_total{result="not_started"} 1',
  );
  const error = logs.find((l) => l.level === 'ERROR' && /webhook delivery cannot be started/.test(l.message));
  assert.ok(error, 'an error log');
  assert.equal(error.meta?.runId, runId);
  assert.equal(error.meta?.code, 'PERMISSION_DENIED');

  // A run without trouble still delivers.
  proxy.refuse([]);
  const ok = await runs.submit({ runId: 'allowed-1', input: null, headers: { callback_url: `${receiver.url}/ok` } });
  await eventually(() => receiver.to('/ok').length === 1, 60_000, 'delivered');
  await eventually(async () => (await runs.webhookStatus(ok.runId))?.state === 'delivered', 30_000, 'delivered');
  assert.equal(await runs.webhookStatus('no-such-run'), undefined);
});

test('DURABLE_RUNS_WEBHOOK_START_GIVE_UP_MS: 5 minutes by default; a bad value is named', () => {
  assert.equal(loadWebhookOptions({}).startGiveUpMs, 300_000);
  assert.equal(loadWebhookOptions({ DURABLE_RUNS_WEBHOOK_START_GIVE_UP_MS: '2000' }).startGiveUpMs, 2000);
  assert.throws(
    () => loadWebhookOptions({ DURABLE_RUNS_WEBHOOK_START_GIVE_UP_MS: 'soon' }),
    /^ConfigError: DURABLE_RUNS_WEBHOOK_START_GIVE_UP_MS: /,
  );
});
