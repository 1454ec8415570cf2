/** `durable-runs worker`, and the worker `durable-runs dev` runs. */
import type { Command } from 'commander';
import type { LogLevel } from '@temporalio/common';
import { loadConnectionConfig, loadShutdownGraceMs } from '../common/config';
import { LOG_LEVEL_VARIABLE, loadLogLevel, loadTracingConfig } from '../observability';
import { metricsAddress } from '../observability/metrics';
import { installRuntime } from '../observability/runtime';
import { loadRunnersModule, RunnersModuleError } from '../worker/runners-module';
import type { StepRunner } from '../shared/types';
import { createWorker, stopAtSecondSignal } from '../worker';
import { act, CliError } from './shared';

/** Loads a runners module (CommonJS, ESM or TypeScript); errors exit 2 naming the module and cause. */
export async function loadRunners(modulePath: string): Promise<Record<string, StepRunner>> {
  try {
    return await loadRunnersModule(modulePath);
  } catch (err) {
    if (err instanceof RunnersModuleError) throw new CliError(err.message);
    throw err;
  }
}

/** The help of `--log-level`: when it is not given, DURABLE_RUNS_LOG_LEVEL, else `fallback`. */
export function logLevelHelp(fallback: LogLevel): string {
  return `Temporal SDK log level: TRACE, DEBUG, INFO, WARN or ERROR (default: ${LOG_LEVEL_VARIABLE}, else ${fallback})`;
}

/** Runs a worker with the runners of `runnersModule` until SIGINT or SIGTERM, its SDK log at `logLevel`. */
export async function runWorker(runnersModule: string, logLevel: LogLevel): Promise<void> {
  const runners = await loadRunners(runnersModule);
  // Before createWorker connects: the runtime's logger and metrics are set when it is installed.
  installRuntime(logLevel);
  const worker = await createWorker({ runners });
  const { address = 'localhost:7233', namespace, taskQueue } = loadConnectionConfig();
  process.stderr.write(
    `durable-runs worker: ${Object.keys(runners).length} runner(s) [${Object.keys(runners).join(', ')}] on task queue "${taskQueue}" at ${address} (namespace ${namespace})\n`,
  );
  const metrics = metricsAddress();
  const tracing = loadTracingConfig();
  if (metrics) process.stderr.write(`durable-runs worker: Prometheus metrics on http://${metrics}/metrics\n`);
  if (tracing) process.stderr.write(`durable-runs worker: spans to ${tracing.url}\n`);
  // The SDK shuts the worker down on SIGINT/SIGTERM, letting in-flight steps finish within the
  // grace time; a second signal stops the process at once.
  const release = stopAtSecondSignal(loadShutdownGraceMs());
  try {
    await worker.run();
  } finally {
    release();
  }
}

export function addWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('run a worker for durable runs (connection from TEMPORAL_* env)')
    .option(
      '--runners <module>',
      'runners module (default export { name: StepRunner }); or DURABLE_RUNS_RUNNERS',
      process.env.DURABLE_RUNS_RUNNERS,
    )
    .option('--log-level <level>', logLevelHelp('INFO'))
    .option('--json', 'machine-readable output')
    .action(
      act(async (opts: { runners?: string; logLevel?: string }) => {
        if (!opts.runners) throw new CliError('worker needs --runners <module> (or DURABLE_RUNS_RUNNERS)');
        await runWorker(opts.runners, loadLogLevel(opts.logLevel, '--log-level', 'INFO'));
      }),
    );
}
