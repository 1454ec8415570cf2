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
import { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  bundleWorkflowCode,
  DefaultLogger,
  type LogLevel,
  Runtime,
  type Worker,
  type WorkflowBundle,
} from '@temporalio/worker';
import { dataConverter, RunsClient } from './client';
import { TRACING_WORKFLOW_MODULE } from './observability';
import type { StepRunner, TerminalHook, WebhookOptions } from './shared/types';
import { devServerExecutable, FAIRNESS_ARGS, testServerExecutable } from './temporal-binaries';
import { createWorker, payloadConverterPath, workflowsPath } from './worker';

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
}

export interface TestKit {
  env: TestWorkflowEnvironment;
  client: RunsClient;
  worker: Worker;
  taskQueue: string;
  /** Stops the worker, then the server (if the kit started it). */
  teardown(): Promise<void>;
}

const bundles = new Map<boolean, Promise<WorkflowBundle>>();

/**
 * The workflow bundle, built once per process. `tracing: true` builds in the tracing workflow
 * interceptors (for workers with `OTEL_EXPORTER_OTLP_ENDPOINT`; workers without it run it too).
 */
export function workflowBundle(options: { tracing?: boolean } = {}): Promise<WorkflowBundle> {
  const tracing = options.tracing ?? false;
  let bundle = bundles.get(tracing);
  if (!bundle) {
    bundle = bundleWorkflowCode({
      workflowsPath,
      payloadConverterPath,
      logger: Runtime.instance().logger,
      ...(tracing ? { workflowInterceptorModules: [TRACING_WORKFLOW_MODULE] } : {}),
    });
    bundles.set(tracing, bundle);
  }
  return bundle;
}

/** Starts a Temporal test server with the resolved binary (env, PATH, project `.temporal/`, SDK download). */
export async function createTestEnv(
  server: 'time-skipping' | 'local' = 'time-skipping',
): Promise<TestWorkflowEnvironment> {
  installQuietRuntime();
  return server === 'local'
    ? TestWorkflowEnvironment.createLocal({
        server: { executable: devServerExecutable(), ip: '127.0.0.1', extraArgs: [...FAIRNESS_ARGS] },
        client: { dataConverter },
      })
    : TestWorkflowEnvironment.createTimeSkipping({
        server: { executable: testServerExecutable() },
        client: { dataConverter },
      });
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
  const env = options.env ?? (await createTestEnv(options.server));
  const taskQueue = options.taskQueue ?? `test-${process.pid}-${++counter}`;
  const worker = await createWorker({
    runners: options.runners,
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    ...(options.hooks ? { hooks: options.hooks } : {}),
    ...(options.webhook !== undefined ? { webhook: options.webhook } : {}),
    workflowBundle: await workflowBundle(),
    shutdownGraceTime: '1s',
    ...(options.tuning ? { tuning: options.tuning } : {}),
  });
  const running = worker.run();
  // The environment's own client lets time skip while a test waits on a result.
  const client = RunsClient.fromClient(env.client, taskQueue);
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
