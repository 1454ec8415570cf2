/**
 * The process's Temporal Core runtime, installed once with everything it takes: Core has one per
 * process and reads its settings only when it starts, so the SDK's logger and the Prometheus
 * endpoint of `DURABLE_RUNS_METRICS` go in together, before any connection is made.
 */
import { DefaultLogger, type LogLevel, Runtime } from '@temporalio/worker';
import { loadMetricsConfig } from './config';
import { installMetrics } from './metrics';

/**
 * Installs the runtime with a logger at `logLevel` (to stderr) and, when `DURABLE_RUNS_METRICS` is
 * set, the metrics endpoint; `createWorker` then finds the runtime in place. A runtime the process
 * already has (a runners module's own `Runtime.install`, say) is kept, with its logger; with
 * metrics on that is refused, as {@link installMetrics} explains.
 */
export function installRuntime(logLevel: LogLevel, env: Record<string, string | undefined> = process.env): Runtime {
  const logger = new DefaultLogger(logLevel);
  const metrics = loadMetricsConfig(env);
  if (metrics) return installMetrics({ bindAddress: metrics.bindAddress, runtime: { logger } });
  return Runtime._instance ?? Runtime.install({ logger });
}
