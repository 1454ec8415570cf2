/**
 * The durable-runs worker: runs the `durableRun` and `webhookDelivery` workflows and the step,
 * hook and delivery activities on one task queue. Many workers on one queue share the load.
 */
import { type Duration } from '@temporalio/common';
import { NativeConnection, Runtime, Worker, type WorkerOptions as TemporalWorkerOptions } from '@temporalio/worker';
import {
  type ConnectionConfig,
  connectionTarget,
  loadConnectionConfig,
  loadShutdownGraceMs,
  loadVersioningConfig,
  type VersioningConfig,
} from '../common/config';
import type { EncryptionOption } from '../payloads/encryption';
import { DurableRunsPlugin } from './plugin';
import type { StepRunner, TerminalHook, WebhookOptions } from '../shared/types';
import { buildWorkflowBundle, payloadConverterPath, prebuiltBundle, workflowsPath } from './workflow-bundle';

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
  /**
   * Worker Deployment Versioning: this worker is `buildId` of `deploymentName`; `false` turns it
   * off. See README, "Upgrading". @default from DURABLE_RUNS_DEPLOYMENT, DURABLE_RUNS_BUILD_ID and
   * DURABLE_RUNS_VERSIONING_BEHAVIOR (unversioned when unset)
   */
  versioning?: VersioningConfig | false;
  /**
   * A prebuilt workflow bundle (tests, fast start); by default the one `npm run build` wrote
   * (`lib/bundles/`), else the workflows are bundled at start-up.
   * With encryption on, build it with the encrypting failure converter: `workflowBundle({ encrypted: true })`
   * from `durable-runs/testing`.
   */
  workflowBundle?: TemporalWorkerOptions['workflowBundle'];
  /**
   * Payload encryption keys (`id:base64key[,…]`, the first encrypts) or `false` for none.
   * @default DURABLE_RUNS_ENCRYPTION_KEYS; unset, payloads are plain JSON
   */
  encryptionKeys?: EncryptionOption;
  /**
   * How long in-flight steps may run on after shutdown begins. Then they are aborted as
   * interrupted: whatever their runner returns after the abort is discarded, and the step runs
   * again on another worker at the same attempt number (no retry budget used). Below an
   * orchestrator's usual 30 s kill, so that the abort happens before the kill.
   * @default DURABLE_RUNS_SHUTDOWN_GRACE or '25s'
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

export { payloadConverterPath, workflowsPath };

async function connect(config: ConnectionConfig): Promise<NativeConnection> {
  const options = connectionTarget(config);
  try {
    return await NativeConnection.connect(options);
  } catch (err) {
    throw new Error(`cannot reach Temporal at ${options.address}: ${(err as Error).message}`, { cause: err });
  }
}

/** Creates a worker for durable runs (a worker of its own with {@link DurableRunsPlugin}); call `run()` on it. */
export async function createWorker(options: CreateWorkerOptions): Promise<Worker> {
  // All configuration is checked before anything connects; the plugin installs the metrics
  // runtime (DURABLE_RUNS_METRICS), which must exist before the connection.
  const env = loadConnectionConfig();
  const shutdownGraceTime = options.shutdownGraceTime ?? loadShutdownGraceMs();
  const versioning = options.versioning === false ? undefined : (options.versioning ?? loadVersioningConfig());
  const plugin = new DurableRunsPlugin({
    runners: options.runners,
    ...(options.hooks ? { hooks: options.hooks } : {}),
    ...(options.webhook !== undefined ? { webhook: options.webhook } : {}),
    ...(options.encryptionKeys !== undefined ? { encryptionKeys: options.encryptionKeys } : {}),
  });
  const connection = options.connection ?? (await connect(env));
  return Worker.create({
    connection,
    namespace: options.namespace ?? env.namespace,
    taskQueue: options.taskQueue ?? env.taskQueue,
    // `npm run build`'s prebuilt bundle when there is one (no webpack at start), else bundled now
    // with the bundler's output below warnings.
    workflowBundle:
      options.workflowBundle ?? prebuiltBundle(plugin.bundleKind) ?? (await buildWorkflowBundle(plugin.bundleKind)),
    shutdownGraceTime,
    ...(versioning
      ? {
          workerDeploymentOptions: {
            version: { deploymentName: versioning.deploymentName, buildId: versioning.buildId },
            useWorkerVersioning: true,
            defaultVersioningBehavior: versioning.behavior === 'pinned' ? 'PINNED' : 'AUTO_UPGRADE',
          },
        }
      : {}),
    ...options.tuning,
    plugins: [plugin, ...(options.tuning?.plugins ?? [])],
  });
}

/**
 * A second SIGINT or SIGTERM while the worker shuts down stops the process at once (exit 130 or
 * 143) instead of waiting out the grace time; the steps still running are abandoned and run again
 * on another worker once their heartbeat times out. The first signal is the SDK's: it starts the
 * graceful shutdown. Both are said on stderr. Returns a function that removes the handler.
 */
export function stopAtSecondSignal(graceMs: number, write: (line: string) => void = (l) => process.stderr.write(l)) {
  let seen = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    seen += 1;
    if (seen === 1) {
      write(
        `durable-runs worker: ${signal}: shutting down; running steps have ${graceMs / 1000} s to finish (send it again to stop at once)\n`,
      );
      return;
    }
    write(
      `durable-runs worker: second ${signal}: stopping at once; the steps still running are abandoned and run again on another worker\n`,
    );
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

export { Runtime };
