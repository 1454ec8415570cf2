/**
 * Metrics and tracing: what clients and the CLI need, kept light. The OpenTelemetry SDK
 * (`./tracing`) loads only once tracing is on; the worker side is `./plugin` and `./metrics`.
 */
import type { WorkflowClientInterceptor } from '@temporalio/client';
import { loadTracingConfig, type TracingConfig } from './config';
import type { Tracing } from './tracing';

export {
  LOG_LEVEL_VARIABLE,
  loadLogLevel,
  loadMetricsConfig,
  loadTracingConfig,
  METRICS_VARIABLE,
  type MetricsConfig,
  type TracingConfig,
} from './config';
export type { Tracing };

/**
 * The workflow interceptor module that makes the run's spans inside the workflow sandbox. A worker
 * with tracing adds it to `interceptors.workflowModules`; a prebuilt bundle must be built with it
 * (`bundleWorkflowCode({ workflowInterceptorModules: [TRACING_WORKFLOW_MODULE] })`).
 */
// A path inside the package, as its README instructs: the module has no public entry point of its own.
export const TRACING_WORKFLOW_MODULE =
  require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');

let sdk: typeof import('./tracing') | undefined;

/** The tracing SDK, loaded the first time tracing is on (it is not small). */
function tracingSdk(): typeof import('./tracing') {
  sdk ??= require('./tracing') as typeof import('./tracing');
  return sdk;
}

/**
 * Starts this process's tracer provider (once; later calls get the same one), registered as
 * OpenTelemetry's global with a context manager and the W3C propagators, so that spans a runner
 * makes with `trace.getTracer(…)` nest under its step's span. `undefined` when tracing is off.
 */
export function startTracing(config: TracingConfig | undefined = loadTracingConfig()): Tracing | undefined {
  return config ? tracingSdk().startTracing(config) : undefined;
}

/** Exports the spans this process still buffers (waiting at most 10 s); nothing when tracing is off. */
export async function flushTracing(): Promise<void> {
  await sdk?.flushTracing();
}

/** Client interceptors that make the submit span and carry its context into the run. */
export function tracingClientInterceptors(tracing: Tracing): WorkflowClientInterceptor[] {
  return tracingSdk().tracingClientInterceptors(tracing);
}
