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
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
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
} from '@temporalio/worker';
import { ConfigError } from '../common/config';
import type { TracingConfig } from './config';

/** `service.name` of every span, unless `OTEL_SERVICE_NAME` or `OTEL_RESOURCE_ATTRIBUTES` say otherwise. */
export const SERVICE_NAME = 'durable-runs';

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
export function startTracing(config: TracingConfig): Tracing {
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

/** The sink through which workflow spans leave the sandbox, to the span processor. */
export function tracingSinks(tracing: Tracing): InjectedSinks<OpenTelemetrySinks> {
  return { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) };
}
