/**
 * Testing kit: test your own step runners on Temporal's time-skipping test server in a few lines.
 *
 * ```ts
 * const kit = await createTestKit({ runners: { default: myRunner } });
 * try {
 *   const { runId } = await kit.client.submit({ input: 'hello' });
 *   assert.equal((await kit.client.result(runId)).status, 'succeeded');
 * } finally {
 *   await kit.teardown();
 * }
 * ```
 */
// First: names @temporalio/testing and its install command when it is missing.
import './local/testing-peer';
import { readFileSync } from 'node:fs';
import { Client } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
// Not re-exported by the package's index: a client of the environment's kind, with another data converter.
import { TimeSkippingClient } from '@temporalio/testing/lib/client';
import { DefaultLogger, type LogLevel, Runtime, type Worker, type WorkflowBundle } from '@temporalio/worker';
import { RunsClient } from './client';
import { dataConverter } from './payloads/data-converter';
import { encryptionDataConverter, type EncryptionOption, resolveEncryptionKeys } from './payloads/encryption';
import type { StepRunner, TerminalHook, WebhookOptions } from './shared/types';
import { DEV_SERVER_ARGS } from './local/dev-server';
import { devServerExecutable, testServerExecutable } from './local/temporal-binaries';
import { createWorker } from './worker';
import { type BundleKind, bundleFileName, buildWorkflowBundle, prebuiltBundle } from './worker/workflow-bundle';

export interface TestKitOptions {
  runners: Readonly<Record<string, StepRunner>>;
  hooks?: readonly TerminalHook[];
  /** Webhook settings for the worker; `false` turns the webhook hook off. */
  webhook?: Partial<WebhookOptions> | false;
  /** `'time-skipping'` (default) skips timers; `'local'` runs a real dev server. */
  server?: 'time-skipping' | 'local';
  /** @default a fresh name per kit */
  taskQueue?: string;
  /** Further worker options. */
  tuning?: Parameters<typeof createWorker>[0]['tuning'];
  /** Reuse an environment (one server for several kits); the kit then does not tear it down. */
  env?: TestWorkflowEnvironment;
  /**
   * Payload encryption keys for the worker and client (`id:base64key[,…]`) or `false` for none.
   * Given with an `env`, the kit makes its own client with them instead of using `env.client`.
   * @default DURABLE_RUNS_ENCRYPTION_KEYS
   */
  encryptionKeys?: EncryptionOption;
}

export interface TestKit {
  env: TestWorkflowEnvironment;
  client: RunsClient;
  worker: Worker;
  taskQueue: string;
  /** Stops the worker, then the server (if the kit started it). */
  teardown(): Promise<void>;
}

const bundles = new Map<string, Promise<WorkflowBundle>>();

/**
 * The workflow bundle, built once per process (or `npm run build`'s): `encrypted` bundles the
 * failure converter that encryption needs (error messages in encrypted payloads), `tracing` the
 * tracing workflow interceptors (for workers with `OTEL_EXPORTER_OTLP_ENDPOINT`; workers without
 * it run such a bundle too).
 */
export function workflowBundle(options: BundleKind = {}): Promise<WorkflowBundle> {
  const key = bundleFileName(options);
  let bundle = bundles.get(key);
  if (!bundle) {
    const prebuilt = prebuiltBundle(options);
    bundle = prebuilt
      ? Promise.resolve({ code: readFileSync(prebuilt.codePath, 'utf8') })
      : buildWorkflowBundle(options);
    bundles.set(key, bundle);
  }
  return bundle;
}

/** Starts a Temporal test server with the resolved binary (env, PATH, project `.temporal/`, SDK download). */
export async function createTestEnv(
  server: 'time-skipping' | 'local' = 'time-skipping',
  options: { encryptionKeys?: EncryptionOption; extraArgs?: readonly string[] } = {},
): Promise<TestWorkflowEnvironment> {
  installQuietRuntime();
  const client = { dataConverter: clientDataConverter(options.encryptionKeys) };
  return server === 'local'
    ? TestWorkflowEnvironment.createLocal({
        server: {
          executable: devServerExecutable(),
          ip: '127.0.0.1',
          extraArgs: [...DEV_SERVER_ARGS, ...(options.extraArgs ?? [])],
        },
        client,
      })
    : TestWorkflowEnvironment.createTimeSkipping({ server: { executable: testServerExecutable() }, client });
}

function clientDataConverter(encryptionKeys: EncryptionOption) {
  return { ...dataConverter, ...encryptionDataConverter(resolveEncryptionKeys(encryptionKeys)) };
}

let runtimeInstalled = false;

/**
 * Keeps test output readable: the SDK's own log at `DURABLE_RUNS_TEST_LOG_LEVEL` (default WARN).
 * Does nothing if the process already set up a Temporal runtime.
 */
function installQuietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const level = (process.env.DURABLE_RUNS_TEST_LOG_LEVEL ?? 'WARN') as LogLevel;
  try {
    Runtime.install({ logger: new DefaultLogger(level) });
  } catch {
    // A runtime is already installed: keep it.
  }
}

let counter = 0;

/** Starts a server (unless given), a worker with your runners, and a `RunsClient`. */
export async function createTestKit(options: TestKitOptions): Promise<TestKit> {
  const encryptionKeys = resolveEncryptionKeys(options.encryptionKeys) ?? false;
  const env = options.env ?? (await createTestEnv(options.server, { encryptionKeys }));
  const taskQueue = options.taskQueue ?? `test-${process.pid}-${++counter}`;
  const worker = await createWorker({
    runners: options.runners,
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    ...(options.hooks ? { hooks: options.hooks } : {}),
    ...(options.webhook !== undefined ? { webhook: options.webhook } : {}),
    workflowBundle: await workflowBundle({ encrypted: encryptionKeys !== false }),
    encryptionKeys,
    shutdownGraceTime: '1s',
    ...(options.tuning ? { tuning: options.tuning } : {}),
  });
  const running = worker.run();
  // The environment's own client lets time skip while a test waits on a result; a client of the
  // same kind with the kit's keys when the environment was made for other keys.
  // Without time skipping, a client on the worker's NativeConnection: submissions then start
  // eagerly, the first workflow task handed straight to this worker.
  const temporal = !env.supportsTimeSkipping
    ? new Client({
        connection: env.nativeConnection,
        namespace: env.namespace ?? 'default',
        dataConverter: clientDataConverter(encryptionKeys),
      })
    : options.env && options.encryptionKeys !== undefined
      ? new TimeSkippingClient({
          connection: env.connection,
          namespace: env.namespace ?? 'default',
          dataConverter: clientDataConverter(encryptionKeys),
        })
      : env.client;
  const client = RunsClient.fromClient(temporal, taskQueue);
  return {
    env,
    client,
    worker,
    taskQueue,
    async teardown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      if (!options.env) await env.teardown();
    },
  };
}
