/**
 * The durable-runs worker: runs the `durableRun` and `webhookDelivery` workflows and the step,
 * hook and delivery activities on one task queue. Many workers on one queue share the load.
 */
import { type Duration } from '@temporalio/common';
import { NativeConnection, Runtime, Worker, type WorkerOptions as TemporalWorkerOptions } from '@temporalio/worker';
import { createActivities } from './activities';
import { type ConnectionConfig, connectionTarget, loadConnectionConfig, loadWebhookOptions } from './config';
import { setUpObservability } from './observability/plugin';
import type { StepRunner, TerminalHook, WebhookOptions } from './shared/types';

export interface CreateWorkerOptions {
  /** Step runners by name; a run picks one with `runner` (default `"default"`). */
  runners: Readonly<Record<string, StepRunner>>;
  /** An open connection; by default one is made from the `TEMPORAL_*` environment. */
  connection?: NativeConnection;
  /** @default TEMPORAL_NAMESPACE or "default" */
  namespace?: string;
  /** @default TEMPORAL_TASK_QUEUE or "durable-runs" */
  taskQueue?: string;
  /** Extra terminal hooks, run after the built-in webhook hook. */
  hooks?: readonly TerminalHook[];
  /** Terminal webhook settings; `false` turns the webhook hook off. @default from DURABLE_RUNS_WEBHOOK_* */
  webhook?: Partial<WebhookOptions> | false;
  /** A prebuilt workflow bundle (tests, fast start); by default the workflows are bundled at start-up. */
  workflowBundle?: TemporalWorkerOptions['workflowBundle'];
  /**
   * How long in-flight steps may run on after shutdown begins before they are cancelled
   * (they are then retried on another worker).
   * @default '30s'
   */
  shutdownGraceTime?: Duration;
  /** Further Temporal worker tuning (concurrency, caches, …). */
  tuning?: Partial<
    Omit<
      TemporalWorkerOptions,
      'connection' | 'namespace' | 'taskQueue' | 'activities' | 'workflowsPath' | 'workflowBundle'
    >
  >;
}

export const workflowsPath = require.resolve('./workflows');
export const payloadConverterPath = require.resolve('./shared/worker-payload-converter');

async function connect(config: ConnectionConfig): Promise<NativeConnection> {
  const options = connectionTarget(config);
  try {
    return await NativeConnection.connect(options);
  } catch (err) {
    throw new Error(`cannot reach Temporal at ${options.address}: ${(err as Error).message}`, { cause: err });
  }
}

/** Creates a worker for durable runs; call `run()` on it. */
export async function createWorker(options: CreateWorkerOptions): Promise<Worker> {
  // All configuration is checked before anything connects.
  const env = loadConnectionConfig();
  const webhook = options.webhook === false ? undefined : { ...loadWebhookOptions(), ...options.webhook };
  // DURABLE_RUNS_METRICS and OTEL_*: the metrics runtime must exist before the connection.
  const observability = setUpObservability();
  const connection = options.connection ?? (await connect(env));
  const taskQueue = options.taskQueue ?? env.taskQueue;
  const activities = createActivities({
    runners: options.runners,
    hooks: options.hooks ?? [],
    ...(webhook ? { webhook } : {}),
  });
  return Worker.create({
    connection,
    namespace: options.namespace ?? env.namespace,
    taskQueue,
    activities,
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath }),
    dataConverter: { payloadConverterPath },
    shutdownGraceTime: options.shutdownGraceTime ?? '30s',
    ...options.tuning,
    plugins: [...(options.tuning?.plugins ?? []), observability],
  });
}

export { Runtime };
