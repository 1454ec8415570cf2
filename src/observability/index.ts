/**
 * Metrics and tracing for a durable-runs worker, as one Temporal worker plugin: `createWorker`
 * adds it; a user's own `Worker.create` can add `setUpObservability()` to its `plugins`.
 */
import type { Worker, WorkerOptions, WorkerPlugin, ReplayWorkerOptions } from '@temporalio/worker';
import { Runtime } from '@temporalio/worker';
import { installMetrics, loadMetricsConfig, metricsActivityInterceptor } from './metrics';
import {
  bundleHasTracing,
  flushTracing,
  loadTracingConfig,
  startTracing,
  TRACING_WORKFLOW_MODULE,
  type Tracing,
  tracingActivityInterceptors,
  tracingClientInterceptors,
  tracingSinks,
} from './tracing';

export { installMetrics, loadMetricsConfig, metricsAddress, type InstallMetricsOptions } from './metrics';
export { flushTracing, loadTracingConfig, startTracing, TRACING_WORKFLOW_MODULE, type Tracing } from './tracing';

/**
 * Adds the step and delivery metrics (to whatever metrics the process's Temporal runtime exports;
 * nothing without an exporter) and, when tracing is on, the tracing interceptors and the workflow
 * span sink; flushes spans when the worker stops.
 */
export class ObservabilityPlugin implements WorkerPlugin {
  readonly name = 'durable-runs.observability';

  constructor(readonly tracing: Tracing | undefined) {}

  configureWorker(options: WorkerOptions): WorkerOptions {
    const { tracing } = this;
    const interceptors = options.interceptors ?? {};
    const clientWorkflow = interceptors.client?.workflow;
    if (tracing && options.workflowBundle && !bundleHasTracing(options.workflowBundle)) {
      Runtime.instance().logger.warn(
        'Tracing is on, but the workflow bundle was built without the tracing workflow interceptors: there will be no run spans. Bundle with workflowInterceptorModules: [TRACING_WORKFLOW_MODULE] (or workflowBundle({ tracing: true }) from durable-runs/testing).',
      );
    }
    return {
      ...options,
      interceptors: {
        ...interceptors,
        client:
          tracing && (clientWorkflow === undefined || Array.isArray(clientWorkflow))
            ? { ...interceptors.client, workflow: [...(clientWorkflow ?? []), ...tracingClientInterceptors(tracing)] }
            : interceptors.client,
        activity: [
          ...(interceptors.activity ?? []),
          ...(tracing ? tracingActivityInterceptors(tracing) : []),
          metricsActivityInterceptor,
        ],
        // A prebuilt bundle has its interceptor modules built in.
        workflowModules:
          tracing && !options.workflowBundle
            ? [...(interceptors.workflowModules ?? []), TRACING_WORKFLOW_MODULE]
            : interceptors.workflowModules,
      },
      sinks: { ...options.sinks, ...tracingSinks(tracing) },
    };
  }

  configureReplayWorker(options: ReplayWorkerOptions): ReplayWorkerOptions {
    return { ...options, sinks: { ...options.sinks, ...tracingSinks(undefined) } };
  }

  async runWorker(worker: Worker, next: (w: Worker) => Promise<void>): Promise<void> {
    try {
      await next(worker);
    } finally {
      await flushTracing();
    }
  }
}

/**
 * Reads and checks `DURABLE_RUNS_METRICS` and the `OTEL_*` variables, serves metrics (installing
 * the Core runtime: call it before any connection is made) and starts tracing as they say.
 */
export function setUpObservability(env: Record<string, string | undefined> = process.env): ObservabilityPlugin {
  const metrics = loadMetricsConfig(env);
  const tracing = loadTracingConfig(env);
  if (metrics) installMetrics({ bindAddress: metrics.bindAddress });
  return new ObservabilityPlugin(startTracing(tracing));
}
