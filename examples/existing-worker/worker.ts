/**
 * Adding durable-runs to a worker you already have: one plugin on your `Worker.create` and your
 * `Client`. Your workflows and activities stay as they are, on your task queue; durable runs share
 * it. Run against any Temporal server (`TEMPORAL_ADDRESS`, profiles as the Temporal CLI reads them):
 *
 *   npx tsx examples/existing-worker/worker.ts
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { DurableRunsPlugin, RunsClient, StepOutcome, type StepRunner } from '../../src';
import * as activities from './activities';

export const TASK_QUEUE = 'my-app';

const summarize: StepRunner = async (step) =>
  step.stepNumber === 0
    ? StepOutcome.continue({ text: step.payload, words: String(step.payload).split(/\s+/).length })
    : StepOutcome.succeed(step.payload);

/** The plugin with this app's runners; make it before connecting (metrics need that order). */
export function durableRunsPlugin(): DurableRunsPlugin {
  return new DurableRunsPlugin({ runners: { default: summarize } });
}

/** The team's worker, with durable-runs added by the plugin. */
export function createAppWorker(connection: NativeConnection, plugin: DurableRunsPlugin, taskQueue = TASK_QUEUE) {
  return Worker.create({
    connection,
    taskQueue,
    workflowsPath: require.resolve('./workflows'),
    activities,
    plugins: [plugin],
  });
}

async function main(): Promise<void> {
  const address = process.env.TEMPORAL_ADDRESS ?? 'localhost:7233';
  const plugin = durableRunsPlugin();
  const worker = await createAppWorker(await NativeConnection.connect({ address }), plugin);
  const client = new Client({ connection: await Connection.connect({ address }), plugins: [plugin] });
  const runs = RunsClient.fromClient(client, TASK_QUEUE);
  await worker.runUntil(async () => {
    const hello = await client.workflow.execute('greeting', {
      taskQueue: TASK_QUEUE,
      workflowId: `greeting-${Date.now()}`,
      args: ['Ada'],
    });
    const { runId } = await runs.submit({ input: 'durable runs beside my own workflows' });
    console.log(hello, JSON.stringify(await runs.result(runId)));
  });
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
