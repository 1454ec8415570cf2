/** `durable-runs worker`, and the worker `durable-runs dev` runs. */
import type { Command } from 'commander';
import { loadConnectionConfig } from '../config';
import { loadTracingConfig } from '../observability';
import { metricsAddress } from '../observability/metrics';
import { loadRunnersModule, RunnersModuleError } from '../runners-module';
import type { StepRunner } from '../shared/types';
import { createWorker } from '../worker';
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

/** Runs a worker with the runners of `runnersModule` until SIGINT or SIGTERM. */
export async function runWorker(runnersModule: string): Promise<void> {
  const runners = await loadRunners(runnersModule);
  const worker = await createWorker({ runners });
  const { address = 'localhost:7233', namespace, taskQueue } = loadConnectionConfig();
  process.stderr.write(
    `durable-runs worker: ${Object.keys(runners).length} runner(s) [${Object.keys(runners).join(', ')}] on task queue "${taskQueue}" at ${address} (namespace ${namespace})\n`,
  );
  const metrics = metricsAddress();
  const tracing = loadTracingConfig();
  if (metrics) process.stderr.write(`durable-runs worker: Prometheus metrics on http://${metrics}/metrics\n`);
  if (tracing) process.stderr.write(`durable-runs worker: spans to ${tracing.url}\n`);
  // The SDK shuts the worker down on SIGINT/SIGTERM, letting in-flight steps finish within the grace time.
  await worker.run();
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
    .option('--json', 'machine-readable output')
    .action(
      act(async (opts: { runners?: string }) => {
        if (!opts.runners) throw new CliError('worker needs --runners <module> (or DURABLE_RUNS_RUNNERS)');
        await runWorker(opts.runners);
      }),
    );
}
