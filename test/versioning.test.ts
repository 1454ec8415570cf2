/**
 * Worker Deployment Versioning on a real dev server, driven with the operator's own commands
 * (`temporal worker deployment …`): version 1 and version 2 of a deployment run different workflow
 * code. Runs started on v1 finish correctly after v2 becomes current, and new runs go to v2. With
 * the default behaviour (auto-upgrade) a waiting v1 run moves to v2 at its next workflow task; a
 * pinned one stays on v1.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { createWorker, RunsClient, StepOutcome, type StepRunner } from '../src';
import { dataConverter } from '../src/client';
import type { VersioningConfig } from '../src/common/config';
import { payloadConverterPath } from '../src/worker';
import { workflowBundle } from '../src/testing';
import { startDevServer, type DevServer } from '../src/local/dev-server';
import { temporalCli } from './helpers/temporal-cli';
import { eventually } from '../support/wait';

const runners: Record<string, StepRunner> = {
  default: async (s) =>
    s.stepNumber === 0
      ? StepOutcome.waitForEvent(s.payload, { events: ['go'] })
      : StepOutcome.succeed({ input: s.payload, event: s.event?.data ?? null }),
};

let server: DevServer;
let connection: NativeConnection;
let clientConnection: Connection;
let temporal: Client;
const workers: { worker: Worker; running: Promise<void> }[] = [];
let cli: ReturnType<typeof temporalCli>['temporal'];

before(async () => {
  server = await startDevServer({ dbFile: false });
  connection = await NativeConnection.connect({ address: server.address });
  clientConnection = await Connection.connect({ address: server.address });
  temporal = new Client({ connection: clientConnection, dataConverter });
  cli = temporalCli(() => server.address).temporal;
});

after(async () => {
  for (const { worker } of workers) worker.shutdown();
  await Promise.all(workers.map((w) => w.running));
  await connection?.close();
  await clientConnection?.close();
  await server?.stop();
});

let v2Bundle: ReturnType<typeof bundleWorkflowCode> | undefined;

async function startWorker(taskQueue: string, versioning: VersioningConfig, code: 'v1' | 'v2'): Promise<void> {
  v2Bundle ??= bundleWorkflowCode({
    workflowsPath: require.resolve('./fixtures/workflows-v2'),
    payloadConverterPath,
    logger: Runtime.instance().logger,
  });
  const worker = await createWorker({
    runners,
    connection,
    taskQueue,
    webhook: false,
    versioning,
    workflowBundle: code === 'v1' ? await workflowBundle() : await v2Bundle,
  });
  workers.push({ worker, running: worker.run() });
}

/** What an operator runs: wait until the version has pollers, then make it current. */
async function makeCurrent(deploymentName: string, buildId: string): Promise<void> {
  await eventually(
    async () => {
      try {
        await cli(
          'worker',
          'deployment',
          'set-current-version',
          '--deployment-name',
          deploymentName,
          '--build-id',
          buildId,
          '--yes',
        );
        return true;
      } catch {
        return false;
      }
    },
    60_000,
    `${deploymentName} ${buildId} current`,
  );
}

/** The build IDs of the workers that completed each workflow task of a run, in order. */
async function taskBuildIds(runId: string): Promise<string[]> {
  const history = await temporal.workflow.getHandle(runId).fetchHistory();
  return (history.events ?? []).flatMap((e) => {
    const a = e.workflowTaskCompletedEventAttributes;
    if (!a) return [];
    return [a.deploymentVersion?.buildId ?? a.workerVersion?.buildId ?? '?'];
  });
}

async function memoOf(runId: string): Promise<Record<string, unknown>> {
  return ((await temporal.workflow.getHandle(runId).describe()).memo ?? {}) as Record<string, unknown>;
}

for (const behavior of ['auto-upgrade', 'pinned'] as const) {
  test(`${behavior}: v1's runs finish correctly after v2 becomes current; new runs go to v2`, async () => {
    const deploymentName = `dr-${behavior}`;
    const taskQueue = `versioning-${behavior}`;
    const runs = RunsClient.fromClient(temporal, taskQueue);
    await startWorker(taskQueue, { deploymentName, buildId: 'v1', behavior }, 'v1');
    await makeCurrent(deploymentName, 'v1');

    const old = await runs.submit({ runId: `${behavior}-old`, input: 'started on v1' });
    await eventually(async () => (await runs.status(old.runId)).state === 'waiting', 60_000, 'v1 run waiting');

    await startWorker(taskQueue, { deploymentName, buildId: 'v2', behavior }, 'v2');
    await makeCurrent(deploymentName, 'v2');
    const described = await cli('worker', 'deployment', 'describe', '--name', deploymentName, '-o', 'json');
    assert.equal(JSON.parse(described).routingConfig.currentVersionBuildID, 'v2', described);

    const fresh = await runs.submit({ runId: `${behavior}-new`, input: 'started on v2' });
    await eventually(async () => (await runs.status(fresh.runId)).state === 'waiting', 60_000, 'v2 run waiting');
    assert.equal((await memoOf(fresh.runId)).codeVersion, 'v2', 'a new run runs v2 code');
    assert.equal((await memoOf(old.runId)).codeVersion, undefined, 'the old run started on v1 code');

    assert.equal(await runs.sendEvent(old.runId, 'go', 'yes'), true);
    assert.equal(await runs.sendEvent(fresh.runId, 'go', 'yes'), true);
    assert.deepEqual((await runs.result(old.runId)).result, { input: 'started on v1', event: 'yes' });
    assert.deepEqual((await runs.result(fresh.runId)).result, { input: 'started on v2', event: 'yes' });

    const oldTasks = await taskBuildIds(old.runId);
    assert.equal(oldTasks[0], 'v1');
    assert.equal(oldTasks.at(-1), behavior === 'pinned' ? 'v1' : 'v2', oldTasks.join(' '));
    assert.deepEqual([...new Set(await taskBuildIds(fresh.runId))], ['v2']);
  });
}
