/**
 * OpenTelemetry tracing, on when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set:
 * Temporal's OpenTelemetry interceptors make the spans (client: `StartWorkflow:durableRun`, the
 * submit; workflow: `RunWorkflow:durableRun`, the run, and `StartActivity:*`; activity:
 * `RunActivity:runStep`, a step, with the run's ID, step number and runner; and the delivery's
 * `RunWorkflow:webhookDelivery` and `RunActivity:deliverWebhook`), carrying one trace from the
 * submitter through the run to its webhook. Spans go over OTLP/HTTP (JSON) to `<endpoint>/v1/traces`.
 */
import { readFileSync } from 'node:fs';
import { context, trace, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { envDetectorSync, Resource } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
  type OpenTelemetrySinks,
} from '@temporalio/interceptors-opentelemetry';
import type {
  ActivityExecuteInput,
  ActivityInboundCallsInterceptor,
  ActivityInterceptorsFactory,
  InjectedSinks,
  Next,
  WorkflowBundleOption,
} from '@temporalio/worker';
import { ConfigError } from '../config';
import { AsyncLocalStorageContextManager } from './context-manager';

/** `service.name` of every span, unless `OTEL_SERVICE_NAME` or `OTEL_RESOURCE_ATTRIBUTES` say otherwise. */
export const SERVICE_NAME = 'durable-runs';

/** The workflow interceptor module that makes workflow spans; a workflow bundle must include it. */
export const TRACING_WORKFLOW_MODULE =
  require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');

export interface TracingConfig {
  /** Where spans are POSTed (OTLP/HTTP, JSON). */
  url: string;
}

type Env = Record<string, string | undefined>;

function set(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

/**
 * Reads the standard OpenTelemetry variables: tracing is on when `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
 * (used as is) or `OTEL_EXPORTER_OTLP_ENDPOINT` (`/v1/traces` appended) is set, unless
 * `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`. Spans are sent as OTLP/HTTP JSON, which
 * a collector's HTTP port takes whatever `OTEL_EXPORTER_OTLP_PROTOCOL` says, except `grpc`.
 * (The exporter itself reads `OTEL_EXPORTER_OTLP_HEADERS` and `..._TIMEOUT`, the batch processor
 * `OTEL_BSP_*`, the sampler `OTEL_TRACES_SAMPLER`.)
 */
export function loadTracingConfig(env: Env = process.env): TracingConfig | undefined {
  if (set(env, 'OTEL_SDK_DISABLED')?.toLowerCase() === 'true') return undefined;
  const exporter = set(env, 'OTEL_TRACES_EXPORTER')?.toLowerCase();
  if (exporter === 'none') return undefined;
  if (exporter !== undefined && exporter !== 'otlp') {
    throw new ConfigError(`OTEL_TRACES_EXPORTER: durable-runs exports spans with otlp (or none), not ${exporter}`);
  }
  const tracesEndpoint = set(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const endpoint = set(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  if (tracesEndpoint === undefined && endpoint === undefined) return undefined;
  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL']) {
    const protocol = set(env, name);
    if (protocol === undefined) continue;
    if (protocol === 'grpc') {
      throw new ConfigError(
        `${name}: durable-runs sends spans over OTLP/HTTP (JSON), not grpc: point the endpoint at the collector's HTTP port (usually 4318)`,
      );
    }
    break;
  }
  const name = tracesEndpoint !== undefined ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' : 'OTEL_EXPORTER_OTLP_ENDPOINT';
  const given = (tracesEndpoint ?? endpoint)!;
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw new ConfigError(`${name}: must be an http(s) URL, e.g. http://localhost:4318 (got ${JSON.stringify(given)})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`${name}: must be an http(s) URL, e.g. http://localhost:4318 (got ${JSON.stringify(given)})`);
  }
  return { url: tracesEndpoint !== undefined ? url.href : `${url.href.replace(/\/+$/, '')}/v1/traces` };
}

/** The process's tracer provider and what the interceptors need from it. */
export interface Tracing {
  readonly config: TracingConfig;
  readonly tracer: Tracer;
  readonly spanProcessor: SpanProcessor;
  readonly resource: Resource;
  /** Exports the spans still buffered. */
  flush(): Promise<void>;
}

let current: Tracing | undefined;

function packageVersion(): string {
  return (JSON.parse(readFileSync(require.resolve('../../package.json'), 'utf8')) as { version: string }).version;
}

/**
 * Starts the process's tracer provider (once; later calls get the same one) and registers it, with
 * a context manager and the W3C propagators, as OpenTelemetry's global: spans a runner makes with
 * `trace.getTracer(…)` then nest under its step's span. `undefined` when tracing is off.
 */
export function startTracing(config: TracingConfig | undefined = loadTracingConfig()): Tracing | undefined {
  if (config === undefined) return undefined;
  if (current) {
    if (current.config.url !== config.url) {
      throw new ConfigError(`OTEL_EXPORTER_OTLP_ENDPOINT: this process already sends spans to ${current.config.url}`);
    }
    return current;
  }
  const resource = Resource.default()
    .merge(new Resource({ 'service.name': SERVICE_NAME, 'service.version': packageVersion() }))
    .merge(envDetectorSync.detect());
  const spanProcessor = new BatchSpanProcessor(new OTLPTraceExporter({ url: config.url }));
  const provider = new BasicTracerProvider({ resource, spanProcessors: [spanProcessor] });
  provider.register({ contextManager: new AsyncLocalStorageContextManager() });
  current = {
    config,
    tracer: provider.getTracer('durable-runs', packageVersion()),
    spanProcessor,
    resource,
    flush: () => provider.forceFlush(),
  };
  return current;
}

/** Exports buffered spans, if tracing is on, waiting at most `timeoutMs` for the collector. */
export async function flushTracing(timeoutMs = 10_000): Promise<void> {
  if (!current) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    current.flush().catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
}

/** Span attributes of a step and a delivery, named after what a user searches for. */
export const SpanAttribute = {
  RunId: 'durable_runs.run_id',
  Step: 'durable_runs.step',
  Runner: 'durable_runs.runner',
  Attempt: 'durable_runs.attempt',
  WebhookId: 'durable_runs.webhook_id',
} as const;

/** Names the run, step and runner on the step's span (the activity span the interceptor before it started). */
class StepAttributesInbound implements ActivityInboundCallsInterceptor {
  constructor(private readonly activityType: string) {}

  execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const span = trace.getSpan(context.active());
    const arg = input.args[0] as Record<string, unknown> | undefined;
    if (span && arg && typeof arg === 'object') {
      if (this.activityType === 'runStep') {
        const { runId, stepNumber, runner, attempt } = arg;
        if (typeof runId === 'string') span.setAttribute(SpanAttribute.RunId, runId);
        if (typeof stepNumber === 'number') span.setAttribute(SpanAttribute.Step, stepNumber);
        if (typeof runner === 'string') span.setAttribute(SpanAttribute.Runner, runner);
        if (typeof attempt === 'number') span.setAttribute(SpanAttribute.Attempt, attempt);
      } else if (this.activityType === 'deliverWebhook') {
        const { outcome, webhookId } = arg as { outcome?: { runId?: unknown }; webhookId?: unknown };
        if (typeof outcome?.runId === 'string') span.setAttribute(SpanAttribute.RunId, outcome.runId);
        if (typeof webhookId === 'string') span.setAttribute(SpanAttribute.WebhookId, webhookId);
      }
    }
    return next(input);
  }
}

/** Client interceptors that start the submit span and carry its context into the run. */
export function tracingClientInterceptors(tracing: Tracing): WorkflowClientInterceptor[] {
  return [new OpenTelemetryWorkflowClientInterceptor({ tracer: tracing.tracer })];
}

/** Activity interceptors: Temporal's span per activity attempt, then the step's attributes on it. */
export function tracingActivityInterceptors(tracing: Tracing): ActivityInterceptorsFactory[] {
  return [
    (ctx) => ({
      inbound: new OpenTelemetryActivityInboundInterceptor(ctx, { tracer: tracing.tracer }),
      outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
    }),
    (ctx) => ({ inbound: new StepAttributesInbound(ctx.info.activityType) }),
  ];
}

/**
 * The sink through which workflow spans leave the sandbox. Without tracing it drops them: a worker
 * then runs a bundle built with the tracing interceptors without logging an unknown sink per span.
 */
export function tracingSinks(tracing: Tracing | undefined): InjectedSinks<OpenTelemetrySinks> {
  return {
    exporter: tracing
      ? makeWorkflowExporter(tracing.spanProcessor, tracing.resource)
      : { export: { fn: () => undefined } },
  };
}

/** Whether a prebuilt workflow bundle includes the tracing workflow interceptors. */
export function bundleHasTracing(bundle: WorkflowBundleOption): boolean {
  const code = 'code' in bundle ? bundle.code : readFileSync(bundle.codePath, 'utf8');
  return code.includes('interceptors-opentelemetry/lib/workflow-interceptors');
}
