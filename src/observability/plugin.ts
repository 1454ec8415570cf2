/**
 * Metrics and tracing for a worker, as one Temporal worker plugin: `createWorker` adds
 * `setUpObservability()`; a user's own `Worker.create` can add it to its `plugins` too.
 */
import { readFileSync } from 'node:fs';
import type {
  InjectedSinks,
  ReplayWorkerOptions,
  Worker,
  WorkerOptions,
  WorkerPlugin,
  WorkflowBundleOption,
} from '@temporalio/worker';
import { Runtime } from '@temporalio/worker';
import type { OpenTelemetrySinks } from '@temporalio/interceptors-opentelemetry';
import {
  flushTracing,
  loadMetricsConfig,
  loadTracingConfig,
  startTracing,
  TRACING_WORKFLOW_MODULE,
  type Tracing,
} from '.';
import { ClosedRunsCounter, installMetrics, metricsActivityInterceptor } from './metrics';

/** Loaded only by a worker with tracing on, which has loaded it already. */
const tracingSdk = () => require('./tracing') as typeof import('./tracing');

/**
 * The sink through which workflow spans leave the sandbox. Without tracing it drops them: a worker
 * then runs a bundle built with the tracing interceptors without logging an unknown sink per span.
 */
function workflowSpanSinks(tracing: Tracing | undefined): InjectedSinks<OpenTelemetrySinks> {
  return tracing ? tracingSdk().tracingSinks(tracing) : { exporter: { export: { fn: () => undefined } } };
}

/** Whether a prebuilt workflow bundle includes the tracing workflow interceptors. */
export function bundleHasTracing(bundle: WorkflowBundleOption): boolean {
  const code = 'code' in bundle ? bundle.code : readFileSync(bundle.codePath, 'utf8');
  return code.includes('interceptors-opentelemetry/lib/workflow-interceptors');
}

/**
 * Adds the step and delivery metrics (to whatever metrics the process's Temporal runtime exports;
 * nothing without an exporter) and, when tracing is on, the tracing interceptors and the workflow
 * span sink; flushes spans when the worker stops.
 */
export class ObservabilityPlugin implements WorkerPlugin {
  readonly name = 'durable-runs.observability';

  constructor(readonly tracing: Tracing | undefined) {}

  private readonly closedRuns = new ClosedRunsCounter();

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
            ? {
                ...interceptors.client,
                workflow: [...(clientWorkflow ?? []), ...tracingSdk().tracingClientInterceptors(tracing)],
              }
            : interceptors.client,
        activity: [
          ...(interceptors.activity ?? []),
          ...(tracing ? tracingSdk().tracingActivityInterceptors(tracing) : []),
          metricsActivityInterceptor,
        ],
        // A prebuilt bundle has its interceptor modules built in.
        workflowModules:
          tracing && !options.workflowBundle
            ? [...(interceptors.workflowModules ?? []), TRACING_WORKFLOW_MODULE]
            : interceptors.workflowModules,
      },
      sinks: { ...options.sinks, ...workflowSpanSinks(tracing), ...this.closedRuns.sinks() },
    };
  }

  configureReplayWorker(options: ReplayWorkerOptions): ReplayWorkerOptions {
    return {
      ...options,
      sinks: { ...options.sinks, ...workflowSpanSinks(undefined), ...this.closedRuns.sinks() },
    };
  }

  async runWorker(worker: Worker, next: (w: Worker) => Promise<void>): Promise<void> {
    this.closedRuns.watch(worker);
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
