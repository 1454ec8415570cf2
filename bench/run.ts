/**
 * `npm run bench`: durable-runs against a bare-Temporal baseline on the same local dev server,
 * same worker settings, same run. Prints a table and writes bench/results/<date>.json.
 *
 * Flags (defaults in brackets): --runs [200] --steps [10] --concurrency [50] --long [5000]
 * --webhooks [500] --memory [10000]; 0 skips a workload.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker, DefaultLogger, Runtime } from '@temporalio/worker';
import { StepOutcome, type StepRunner } from '../src';
import { RunsClient, dataConverter } from '../src/client';
import { resolveTemporalCli } from '../src/temporal-binaries';
import { createWorker } from '../src/worker';
import { startDevServer } from '../test/helpers/dev-server';
import { startReceiver } from '../test/helpers/receiver';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '200' },
    steps: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '50' },
    long: { type: 'string', default: '5000' },
    webhooks: { type: 'string', default: '500' },
    memory: { type: 'string', default: '10000' },
  },
});
const N = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Number(v)])) as Record<
  keyof typeof values,
  number
>;

Runtime.install({ logger: new DefaultLogger('ERROR') });

/** Step start times (ms) by run, recorded by both sides' step code. */
const starts = new Map<string, number[]>();
const submitted = new Map<string, number>();
function mark(runId: string): void {
  const list = starts.get(runId) ?? [];
  list.push(performance.now());
  starts.set(runId, list);
}

const noopRunner: StepRunner<{ steps: number }> = async (step) => {
  mark(step.runId);
  return step.stepNumber + 1 >= step.payload.steps ? StepOutcome.succeed(null) : StepOutcome.continue(step.payload);
};

const TUNING = {
  maxConcurrentActivityTaskExecutions: 200,
  maxConcurrentWorkflowTaskExecutions: 200,
  maxCachedWorkflows: 1000,
};

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function pool<T>(items: T[], concurrency: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

function latencies(ids: string[]) {
  const first: number[] = [];
  const between: number[] = [];
  for (const id of ids) {
    const s = starts.get(id) ?? [];
    if (s[0] !== undefined && submitted.has(id)) first.push(s[0] - submitted.get(id)!);
    for (let i = 1; i < s.length; i++) between.push(s[i]! - s[i - 1]!);
  }
  return { firstP50: pct(first, 50), firstP95: pct(first, 95), stepP50: pct(between, 50), stepP95: pct(between, 95) };
}

async function main(): Promise<void> {
  const server = await startDevServer();
  const connection = await NativeConnection.connect({ address: server.address });
  const clientConnection = await Connection.connect({ address: server.address });
  const temporal = new Client({ connection: clientConnection, dataConverter });
  const runs = RunsClient.fromClient(temporal, 'bench-ours');

  const ours = await createWorker({
    runners: { noop: noopRunner as StepRunner },
    connection,
    taskQueue: 'bench-ours',
    webhook: { allowPrivate: true },
    tuning: TUNING,
  });
  const baseline = await Worker.create({
    connection,
    taskQueue: 'bench-base',
    workflowBundle: await bundleWorkflowCode({
      workflowsPath: require.resolve('./baseline'),
      logger: new DefaultLogger('ERROR'),
    }),
    activities: {
      async noop(runId: string, step: number) {
        mark(runId);
        return step;
      },
    },
    ...TUNING,
  });

  const results: Record<string, unknown> = {};
  const rows: Array<[string, number, number]> = [];
  const row = (name: string, o: number, b: number) => rows.push([name, o, b]);

  const submitOurs = (id: string, steps: number, headers?: Record<string, string>) => {
    submitted.set(id, performance.now());
    return runs.submit({ runId: id, runner: 'noop', input: { steps }, ...(headers ? { headers } : {}) });
  };
  const submitBase = (id: string, steps: number) => {
    submitted.set(id, performance.now());
    return temporal.workflow.start('baselineLoop', { workflowId: id, taskQueue: 'bench-base', args: [steps] });
  };
  const eventsPerStep = async (ids: string[], steps: number) => {
    let events = 0;
    for (const id of ids.slice(0, 5)) {
      let token: Uint8Array | undefined;
      do {
        const page = await temporal.workflowService.getWorkflowExecutionHistory({
          namespace: 'default',
          execution: { workflowId: id },
          nextPageToken: token,
        });
        events += page.history?.events?.length ?? 0;
        token = page.nextPageToken?.length ? page.nextPageToken : undefined;
      } while (token);
    }
    return events / (Math.min(5, ids.length) * steps);
  };

  await Promise.all([
    ours.runUntil(async () => {
      await baseline.runUntil(async () => {
        const rss: Record<string, number> = {};
        const peak = { value: process.memoryUsage().rss };
        const sampler = setInterval(() => (peak.value = Math.max(peak.value, process.memoryUsage().rss)), 200);

        if (N.runs > 0) {
          for (const side of ['base', 'ours'] as const) {
            const ids = Array.from({ length: N.runs }, (_, i) => `short-${side}-${i}`);
            const t0 = performance.now();
            await pool(ids, N.concurrency, async (id) => {
              if (side === 'ours') {
                await submitOurs(id, N.steps);
                await runs.result(id);
              } else {
                await (await submitBase(id, N.steps)).result();
              }
            });
            const seconds = (performance.now() - t0) / 1000;
            results[`short.${side}`] = {
              seconds,
              stepsPerSecond: (N.runs * N.steps) / seconds,
              runsPerSecond: N.runs / seconds,
              ...latencies(ids),
              eventsPerStep: await eventsPerStep(ids, N.steps),
            };
          }
          const o = results['short.ours'] as Record<string, number>;
          const b = results['short.base'] as Record<string, number>;
          for (const k of [
            'stepsPerSecond',
            'runsPerSecond',
            'firstP50',
            'firstP95',
            'stepP50',
            'stepP95',
            'eventsPerStep',
          ])
            row(`short runs: ${k}`, o[k]!, b[k]!);
        }

        if (N.long > 0) {
          const t = { ours: 0, base: 0 };
          for (const side of ['base', 'ours'] as const) {
            const id = `long-${side}`;
            const t0 = performance.now();
            if (side === 'ours') {
              await submitOurs(id, N.long);
              await runs.result(id);
            } else await (await submitBase(id, N.long)).result();
            t[side] = N.long / ((performance.now() - t0) / 1000);
          }
          results.long = { stepsPerSecondOurs: t.ours, stepsPerSecondBase: t.base };
          row('long run: steps/s', t.ours, t.base);
        }

        if (N.webhooks > 0) {
          const receiver = await startReceiver();
          const ids = Array.from({ length: N.webhooks }, (_, i) => `hook-${i}`);
          const t0 = performance.now();
          await pool(
            ids,
            N.concurrency,
            async (id) => void (await submitOurs(id, 1, { callback_url: `${receiver.url}/bench` })),
          );
          while (receiver.to('/bench').length < ids.length) await new Promise((r) => setTimeout(r, 50));
          const perSecond = ids.length / ((performance.now() - t0) / 1000);
          results.webhooks = { deliveriesPerSecond: perSecond };
          row('webhooks: runs+deliveries/s', perSecond, NaN);
          await receiver.close();
        }

        if (N.memory > 0) {
          for (const side of ['base', 'ours'] as const) {
            const ids = Array.from({ length: N.memory }, (_, i) => `mem-${side}-${i}`);
            let done = 0;
            await pool(ids, N.concurrency, async (id) => {
              if (side === 'ours') {
                await submitOurs(id, 1);
                await runs.result(id);
              } else await (await submitBase(id, 1)).result();
              done += 1;
              if (done === Math.min(1000, N.memory)) rss[`${side}1k`] = process.memoryUsage().rss;
            });
            rss[`${side}End`] = process.memoryUsage().rss;
            starts.clear();
            submitted.clear();
          }
          results.memory = { ...rss, peakRss: peak.value };
          row('memory: RSS after 10k / after 1k', rss.oursEnd! / rss.ours1k!, rss.baseEnd! / rss.base1k!);
        }
        clearInterval(sampler);
        results.peakRssMb = peak.value / 2 ** 20;
      });
    }),
  ]);

  const cli = resolveTemporalCli();
  const machine = {
    cores: cpus().length,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    temporalCli: cli ? execFileSync(cli, ['--version']).toString().trim() : 'unknown',
  };
  const date = new Date().toISOString().slice(0, 10);
  console.log(
    `\ndurable-runs bench ${date} — ${machine.cores} cores, ${machine.memoryGb} GiB, node ${machine.node}, ${machine.temporalCli}`,
  );
  console.log(`${'figure'.padEnd(36)} ${'ours'.padStart(10)} ${'baseline'.padStart(10)} ${'ratio'.padStart(7)}`);
  for (const [name, o, b] of rows) {
    const f = (x: number) => (Number.isNaN(x) ? '—' : x.toFixed(x < 10 ? 2 : 1));
    console.log(`${name.padEnd(36)} ${f(o).padStart(10)} ${f(b).padStart(10)} ${f(o / b).padStart(7)}`);
  }
  mkdirSync(join(__dirname, 'results'), { recursive: true });
  const file = join(__dirname, 'results', `${date}.json`);
  writeFileSync(file, JSON.stringify({ date, machine, sizes: N, results, table: rows, notes: [] }, null, 2));
  console.log(`\nwrote ${file}`);
  await clientConnection.close();
  await connection.close();
  await server.stop();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
