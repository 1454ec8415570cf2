/**
 * `npm run bench`: durable-runs against a bare-Temporal baseline (bench/baseline.ts) on one local
 * dev server, in the same run. Each side has a worker process of its own (bench/worker.ts) with the
 * same settings, so memory and CPU profiles are per side. Prints a table and writes
 * bench/results/<date>.json.
 *
 * Order effects: short runs and webhooks run in rounds base, ours, ours, base; the sequential
 * runs, the long run and the memory workload run both sides at the same time.
 *
 * Flags (defaults in brackets; 0 skips a workload):
 *   --runs [200] --steps [10] --concurrency [50]  many short runs
 *   --sequential [20]                             10-step runs one at a time: the long run's reference
 *   --long [5000]                                 one long run (crosses continue-as-new)
 *   --webhooks [500]                              terminal deliveries to a receiver on 127.0.0.1
 *   --memory [10000]                              one-step runs, worker RSS sampled
 *   --fairness [300]                              tenant A's runs, then tenant B's 10, one worker slot:
 *                                                 with fairness keys ("ours") and without ("base")
 *   --cpu-prof                                    V8 CPU profile of both workers, summarised
 *   --out <file>                                  [bench/results/<date>.json]
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection } from '@temporalio/worker';
import { StepOutcome } from '../src';
import { RunsClient, dataConverter } from '../src/client';
import { resolveTemporalCli } from '../src/temporal-binaries';
import { createWorker, payloadConverterPath, workflowsPath } from '../src/worker';
import { DEV_SERVER_ARGS, startDevServer, type DevServer } from '../src/dev-server';
import { startReceiver, type Receiver } from '../support/receiver';
import { eventually } from '../support/wait';
import { NOTES } from './notes';
import { type Memory, type Reply, type Request, type Side, TUNING, now } from './protocol';
import {
  edgeRates,
  latencies,
  meets,
  summarizeProfile,
  type CpuProfile,
  type ProfileSummary,
  type Target,
} from './stats';

const { values: flags } = parseArgs({
  options: {
    runs: { type: 'string', default: '200' },
    steps: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '50' },
    sequential: { type: 'string', default: '20' },
    long: { type: 'string', default: '5000' },
    webhooks: { type: 'string', default: '500' },
    memory: { type: 'string', default: '10000' },
    fairness: { type: 'string', default: '300' },
    'cpu-prof': { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const SIZE_FLAGS = ['runs', 'steps', 'concurrency', 'sequential', 'long', 'webhooks', 'memory', 'fairness'] as const;
const N = Object.fromEntries(
  SIZE_FLAGS.map((k) => {
    const n = Number(flags[k]);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${k} must be a whole number ≥ 0, got ${flags[k]}`);
    return [k, n];
  }),
) as Record<(typeof SIZE_FLAGS)[number], number>;
if (N.concurrency < 1) throw new Error('--concurrency must be at least 1');

const SIDES: readonly Side[] = ['base', 'ours'];
/** Base, ours, ours, base: each side runs first once. */
const ROUNDS: readonly Side[] = ['base', 'ours', 'ours', 'base'];
const QUEUE: Record<Side, string> = { ours: 'bench-ours', base: 'bench-base' };
const DELIVERY_TIMEOUT_MS = 10 * 60_000;

/** A side's worker process and the requests it answers. */
class SideWorker {
  private nextId = 1;
  private readonly pending = new Map<number, (reply: Reply) => void>();
  /** Steps started so far, as last reported. */
  steps = 0;

  private constructor(
    readonly side: Side,
    readonly child: ChildProcess,
  ) {
    child.on('message', (reply: Reply) => {
      if (reply.type === 'progress') this.steps = reply.steps;
      this.pending.get(reply.id)?.(reply);
      this.pending.delete(reply.id);
    });
  }

  static async start(
    side: Side,
    address: string,
    bundle: string,
    env: NodeJS.ProcessEnv,
    cpuProfDir?: string,
  ): Promise<SideWorker> {
    const child = fork(join(__dirname, 'worker.ts'), [side, address, QUEUE[side], bundle], {
      execArgv: [
        '--import',
        'tsx',
        '--expose-gc',
        ...(cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : []),
      ],
      env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`the ${side} worker exited with ${code} before it was ready`)));
    });
    child.removeAllListeners('exit');
    return new SideWorker(side, child);
  }

  private ask<T extends Reply>(request: Omit<Request, 'id'>): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const onExit = () => reject(new Error(`the ${this.side} worker exited while asked for ${request.type}`));
      this.child.once('exit', onExit);
      this.pending.set(id, (reply) => {
        this.child.off('exit', onExit);
        resolve(reply as T);
      });
      this.child.send({ ...request, id } as Request);
    });
  }

  /** Step start times by run since the last call. */
  async marks(): Promise<Map<string, number[]>> {
    return new Map((await this.ask<Extract<Reply, { type: 'marks' }>>({ type: 'marks' })).marks);
  }

  async record(on: boolean): Promise<void> {
    await this.ask({ type: 'record', on } as Omit<Request, 'id'>);
  }

  async memory(): Promise<Memory> {
    return (await this.ask<Extract<Reply, { type: 'memory' }>>({ type: 'memory' })).memory;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    await this.ask({ type: 'stop' });
    await exited;
  }
}

async function pool<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/**
 * CPU seconds a process has used so far (user + system), from /proc on Linux; NaN elsewhere.
 * Ticks are 1/100 s on every Linux that Node supports.
 */
function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

const range = (n: number, name: (i: number) => string) => Array.from({ length: n }, (_, i) => name(i));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Everything the workloads share. */
interface Bench {
  serverAddress: string;
  /** Our prebuilt workflow bundle. */
  bundle: string;
  serverPid: number | undefined;
  temporal: Client;
  runs: RunsClient;
  workers: Record<Side, SideWorker>;
  submitted: Map<string, number>;
}

async function submit(b: Bench, side: Side, id: string, steps: number, callbackUrl?: string): Promise<void> {
  b.submitted.set(id, now());
  if (side === 'ours') {
    await b.runs.submit({
      runId: id,
      runner: 'noop',
      input: { steps },
      ...(callbackUrl ? { headers: { callback_url: callbackUrl } } : {}),
    });
  } else {
    await b.temporal.workflow.start(callbackUrl ? 'baselineWebhook' : 'baselineLoop', {
      workflowId: id,
      taskQueue: QUEUE.base,
      args: [callbackUrl ?? steps],
    });
  }
}

/** Waits for a run to close; a run that did not succeed stops the bench (it would measure nothing). */
async function finish(b: Bench, side: Side, id: string): Promise<void> {
  if (side === 'base') {
    await b.temporal.workflow.getHandle(id).result();
    return;
  }
  const outcome = await b.runs.result(id);
  if (outcome.status !== 'succeeded') throw new Error(`run ${id} ended ${outcome.status}: ${outcome.error ?? ''}`);
}

/** Submits a run and waits for it to close. */
async function runToEnd(b: Bench, side: Side, id: string, steps: number): Promise<void> {
  await submit(b, side, id, steps);
  await finish(b, side, id);
}

/** Events of a workflow ID across its continue-as-new chain, and how many executions it took. */
async function chainEvents(b: Bench, workflowId: string): Promise<{ events: number; executions: number }> {
  let events = 0;
  let executions = 0;
  let runId: string | undefined;
  do {
    const list = (await b.temporal.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
    events += list.length;
    executions += 1;
    runId = list[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
  } while (runId);
  return { events, executions };
}

async function eventsPerStep(b: Bench, ids: readonly string[], steps: number, sample = 20): Promise<number> {
  const chosen = ids.slice(0, sample);
  let events = 0;
  for (const id of chosen) events += (await chainEvents(b, id)).events;
  return events / (chosen.length * steps);
}

type Row = { figure: string; ours: number; base: number };
type Figures = Record<Side, Record<string, number>>;

async function shortRuns(b: Bench, rows: Row[], results: Record<string, unknown>): Promise<void> {
  // Warm both workers up first (JIT, caches, pollers), or whichever side goes first pays for it.
  await Promise.all(
    SIDES.map((side) =>
      pool(
        range(N.concurrency, (i) => `warm-${side}-${i}`),
        N.concurrency,
        (id) => runToEnd(b, side, id, N.steps),
      ),
    ),
  );
  for (const side of SIDES) await b.workers[side].marks();
  const per = Math.ceil(N.runs / 2);
  const seconds = { ours: 0, base: 0 };
  const serverCpu = { ours: 0, base: 0 };
  const workerCpu = { ours: 0, base: 0 };
  const ids: Record<Side, string[]> = { ours: [], base: [] };
  for (const [round, side] of ROUNDS.entries()) {
    const batch = range(per, (i) => `short-${side}-${round}-${i}`);
    const t0 = now();
    const cpu0 = [cpuSeconds(b.serverPid), cpuSeconds(b.workers[side].child.pid)];
    await pool(batch, N.concurrency, (id) => runToEnd(b, side, id, N.steps));
    seconds[side] += (now() - t0) / 1000;
    serverCpu[side] += cpuSeconds(b.serverPid) - cpu0[0]!;
    workerCpu[side] += cpuSeconds(b.workers[side].child.pid) - cpu0[1]!;
    ids[side].push(...batch);
  }
  const figures = {} as Figures;
  for (const side of SIDES) {
    const steps = ids[side].length * N.steps;
    figures[side] = {
      seconds: seconds[side],
      stepsPerSecond: steps / seconds[side],
      runsPerSecond: ids[side].length / seconds[side],
      ...latencies(ids[side], b.submitted, await b.workers[side].marks()),
      eventsPerStep: await eventsPerStep(b, ids[side], N.steps),
      serverCpuMsPerStep: (serverCpu[side] * 1000) / steps,
      workerCpuMsPerStep: (workerCpu[side] * 1000) / steps,
      busyCores: (serverCpu[side] + workerCpu[side]) / seconds[side],
    };
  }
  results.short = figures;
  const { ours, base } = figures;
  rows.push(
    {
      figure: `steps/s (${N.runs} runs × ${N.steps} steps, concurrency ${N.concurrency})`,
      ours: ours.stepsPerSecond!,
      base: base.stepsPerSecond!,
    },
    { figure: 'runs/s', ours: ours.runsPerSecond!, base: base.runsPerSecond! },
    { figure: 'submit → first step p50 (ms)', ours: ours.firstP50!, base: base.firstP50! },
    { figure: 'submit → first step p95 (ms)', ours: ours.firstP95!, base: base.firstP95! },
    { figure: 'step → step p50 (ms)', ours: ours.stepP50!, base: base.stepP50! },
    { figure: 'step → step p95 (ms)', ours: ours.stepP95!, base: base.stepP95! },
    { figure: 'history events per step', ours: ours.eventsPerStep!, base: base.eventsPerStep! },
    { figure: 'server CPU ms per step', ours: ours.serverCpuMsPerStep!, base: base.serverCpuMsPerStep! },
    { figure: 'worker CPU ms per step', ours: ours.workerCpuMsPerStep!, base: base.workerCpuMsPerStep! },
    { figure: 'cores busy (server + worker)', ours: ours.busyCores!, base: base.busyCores! },
  );
}

/** Short runs one at a time, then one long run; both sides at once. */
async function longRun(b: Bench, rows: Row[], results: Record<string, unknown>): Promise<void> {
  const figures = {} as Figures;
  await Promise.all(
    SIDES.map(async (side) => {
      const f: Record<string, number> = {};
      if (N.sequential > 0) {
        const t0 = now();
        for (const id of range(N.sequential, (i) => `seq-${side}-${i}`)) await runToEnd(b, side, id, N.steps);
        f.sequentialStepsPerSecond = (N.sequential * N.steps) / ((now() - t0) / 1000);
      }
      if (N.long > 0) {
        const id = `long-${side}`;
        const t0 = now();
        await runToEnd(b, side, id, N.long);
        f.longStepsPerSecond = N.long / ((now() - t0) / 1000);
      }
      figures[side] = f;
    }),
  );
  for (const side of SIDES) {
    const marks = await b.workers[side].marks();
    const f = figures[side];
    if (N.long > 0) {
      const edges = edgeRates(marks.get(`long-${side}`) ?? []);
      f.longFirstTenthStepsPerSecond = edges.first;
      f.longLastTenthStepsPerSecond = edges.last;
      const chain = await chainEvents(b, `long-${side}`);
      f.longEventsPerStep = chain.events / N.long;
      f.longExecutions = chain.executions;
    }
  }
  results.long = figures;
  const { ours, base } = figures;
  if (N.sequential > 0)
    rows.push({
      figure: `steps/s, ${N.steps}-step runs one at a time`,
      ours: ours.sequentialStepsPerSecond!,
      base: base.sequentialStepsPerSecond!,
    });
  if (N.long > 0)
    rows.push(
      { figure: `steps/s, one ${N.long}-step run`, ours: ours.longStepsPerSecond!, base: base.longStepsPerSecond! },
      {
        figure: '… its last tenth ÷ its first tenth',
        ours: ours.longLastTenthStepsPerSecond! / ours.longFirstTenthStepsPerSecond!,
        base: base.longLastTenthStepsPerSecond! / base.longFirstTenthStepsPerSecond!,
      },
      { figure: '… history events per step', ours: ours.longEventsPerStep!, base: base.longEventsPerStep! },
      { figure: '… executions (continue-as-new)', ours: ours.longExecutions!, base: base.longExecutions! },
    );
}

async function webhooks(b: Bench, rows: Row[], results: Record<string, unknown>): Promise<void> {
  const receiver: Receiver = await startReceiver();
  const per = Math.ceil(N.webhooks / 2);
  const seconds = { ours: 0, base: 0 };
  try {
    for (const [round, side] of ROUNDS.entries()) {
      const path = `/${side}-${round}`;
      const t0 = now();
      await pool(
        range(per, (i) => `hook-${side}-${round}-${i}`),
        N.concurrency,
        (id) => submit(b, side, id, 1, `${receiver.url}${path}`),
      );
      await eventually(() => receiver.to(path).length >= per, DELIVERY_TIMEOUT_MS, `${per} ${side} webhooks`);
      seconds[side] += (now() - t0) / 1000;
    }
    const signed = receiver.requests.filter((r) => r.path.startsWith('/ours') && r.headers['webhook-signature']);
    if (signed.length !== per * 2) throw new Error(`${signed.length}/${per * 2} of our webhooks were signed`);
  } finally {
    await receiver.close();
  }
  for (const side of SIDES) await b.workers[side].marks();
  const perSecond = { ours: (per * 2) / seconds.ours, base: (per * 2) / seconds.base };
  results.webhooks = { deliveriesPerSecond: perSecond, seconds };
  rows.push({
    figure: `webhooks: deliveries/s (${per * 2} one-step runs)`,
    ours: perSecond.ours,
    base: perSecond.base,
  });
}

/** Resolves once no workflow whose ID starts with `prefix` is running. */
async function drained(b: Bench, prefix: string): Promise<void> {
  for (;;) {
    const { count } = await b.temporal.workflowService.countWorkflowExecutions({
      namespace: 'default',
      query: `WorkflowId STARTS_WITH '${prefix}' AND ExecutionStatus = 'Running'`,
    });
    if (Number(count ?? 0) === 0) return;
    await sleep(200);
  }
}

/**
 * One-step runs, both sides at once. Runs in flight are bounded by the steps the worker reports
 * started rather than by waiting on each result: 20,000 result long-polls cost the server more
 * than the runs they wait for. The workload ends when the server holds no running one.
 */
async function memory(b: Bench, rows: Row[], results: Record<string, unknown>): Promise<void> {
  const checkpoint = Math.min(1000, N.memory);
  const figures = {} as Record<Side, { after1k: Memory; afterAll: Memory; seconds: number }>;
  await Promise.all(SIDES.map((side) => b.workers[side].record(false)));
  await Promise.all(
    SIDES.map(async (side) => {
      const worker = b.workers[side];
      const from = worker.steps;
      const done = () => worker.steps - from;
      let after1k: Promise<Memory> | undefined;
      const t0 = now();
      for (let i = 0; i < N.memory; i++) {
        while (i - done() >= N.concurrency) await sleep(2);
        await submit(b, side, `mem-${side}-${i}`, 1);
        b.submitted.delete(`mem-${side}-${i}`);
        if (!after1k && done() >= checkpoint) after1k = worker.memory();
      }
      while (done() < N.memory) await sleep(10);
      after1k ??= worker.memory();
      await drained(b, `mem-${side}-`);
      const seconds = (now() - t0) / 1000;
      figures[side] = { after1k: await after1k, afterAll: await worker.memory(), seconds };
    }),
  );
  await Promise.all(SIDES.map((side) => b.workers[side].record(true)));
  results.memory = figures;
  const mb = (bytes: number) => bytes / 2 ** 20;
  const k = (n: number) => (n >= 1000 ? `${n / 1000}k` : String(n));
  const { ours, base } = figures;
  rows.push(
    { figure: `worker RSS after ${k(checkpoint)} runs (MB)`, ours: mb(ours.after1k.rss), base: mb(base.after1k.rss) },
    { figure: `worker RSS after ${k(N.memory)} runs (MB)`, ours: mb(ours.afterAll.rss), base: mb(base.afterAll.rss) },
    {
      figure: `… RSS after ${k(N.memory)} ÷ after ${k(checkpoint)}`,
      ours: ours.afterAll.rss / ours.after1k.rss,
      base: base.afterAll.rss / base.after1k.rss,
    },
    {
      figure: `… heap after ${k(N.memory)} ÷ after ${k(checkpoint)}`,
      ours: ours.afterAll.heapUsed / ours.after1k.heapUsed,
      base: base.afterAll.heapUsed / base.after1k.heapUsed,
    },
    { figure: 'one-step runs/s (both sides at once)', ours: N.memory / ours.seconds, base: N.memory / base.seconds },
  );
}

/**
 * Fairness (durable-runs only): tenant A submits N runs, then tenant B 10, to one worker with a
 * single step slot, so the queue backs up. "ours" gives the runs their tenant as fairness key (the
 * default), "base" one key for everybody. Figures: B's mean position in the order of completions,
 * and the share of A's runs done before B's last.
 */
async function fairness(b: Bench, rows: Row[], results: Record<string, unknown>): Promise<void> {
  const figures = {} as Record<Side, { meanPositionOfB: number; aDoneBeforeLastB: number; aDoneWhenBArrived: number }>;
  const connection = await NativeConnection.connect({ address: b.serverAddress });
  try {
    for (const side of ['base', 'ours'] as const) {
      const taskQueue = `bench-fairness-${side}`;
      const completions: string[] = [];
      const worker = await createWorker({
        runners: {
          work: async (step) => {
            completions.push(step.headers.tenant!);
            return StepOutcome.succeed(null);
          },
        },
        connection,
        taskQueue,
        webhook: false,
        workflowBundle: { codePath: b.bundle },
        tuning: { maxConcurrentActivityTaskExecutions: 1, maxConcurrentWorkflowTaskExecutions: 2 },
      });
      const running = worker.run();
      const runs = RunsClient.fromClient(b.temporal, taskQueue);
      const submitOne = (tenant: string, i: number) =>
        runs.submit({
          runId: `fair-${side}-${tenant}-${i}`,
          input: null,
          runner: 'work',
          headers: { tenant },
          ...(side === 'base' ? { fairnessKey: 'everyone' } : {}),
        });
      const ids = Array.from({ length: N.fairness }, (_, i) => i);
      await pool(ids, 50, (i) => submitOne('A', i).then(() => undefined));
      const aDoneWhenBArrived = completions.length;
      await Promise.all(Array.from({ length: 10 }, (_, i) => submitOne('B', i)));
      await eventually(() => completions.length === N.fairness + 10, 600_000, 'fairness runs');
      worker.shutdown();
      await running;
      const positions = completions.flatMap((t, i) => (t === 'B' ? [i + 1] : []));
      const lastB = positions.at(-1)!;
      figures[side] = {
        meanPositionOfB: positions.reduce((a, p) => a + p, 0) / positions.length,
        aDoneBeforeLastB: completions.slice(0, lastB).filter((t) => t === 'A').length / N.fairness,
        aDoneWhenBArrived: aDoneWhenBArrived / N.fairness,
      };
    }
  } finally {
    await connection.close();
  }
  results.fairness = figures;
  rows.push(
    {
      figure: `fairness: B's mean completion position of ${N.fairness + 10} (ours: keys, base: one key)`,
      ours: figures.ours.meanPositionOfB,
      base: figures.base.meanPositionOfB,
    },
    {
      figure: "fairness: share of A's runs done when B submitted",
      ours: figures.ours.aDoneWhenBArrived,
      base: figures.base.aDoneWhenBArrived,
    },
    {
      figure: "fairness: share of A's runs done before B's last",
      ours: figures.ours.aDoneBeforeLastB,
      base: figures.base.aDoneBeforeLastB,
    },
  );
}

/** The issue's targets, from the workloads' figures; a workload that did not run gives NaN. */
function targets(results: Record<string, unknown>): Target[] {
  const short = results.short as Figures | undefined;
  const long = results.long as Figures | undefined;
  const memory = results.memory as Record<Side, { after1k: Memory; afterAll: Memory }> | undefined;
  const ratio = (f: Figures | undefined, key: string) => (f ? f.ours[key]! / f.base[key]! : NaN);
  return [
    { name: 'steps/s ≥ 0.95 × baseline', value: ratio(short, 'stepsPerSecond'), op: '>=', limit: 0.95 },
    {
      name: 'history events per step ≤ baseline + 0.5',
      value: short ? short.ours.eventsPerStep! - short.base.eventsPerStep! : NaN,
      op: '<=',
      limit: 0.5,
    },
    { name: 'submit → first step p50 ≤ 1.1 × baseline', value: ratio(short, 'firstP50'), op: '<=', limit: 1.1 },
    {
      name: 'RSS after 10k runs ≤ 1.1 × after 1k (ours)',
      value: memory ? memory.ours.afterAll.rss / memory.ours.after1k.rss : NaN,
      op: '<=',
      limit: 1.1,
    },
    {
      name: 'long-run steps/s ≥ 0.9 × short runs one at a time (ours)',
      value: long ? long.ours.longStepsPerSecond! / long.ours.sequentialStepsPerSecond! : NaN,
      op: '>=',
      limit: 0.9,
    },
    {
      name: "fairness: all of B's runs finish before half of A's (share of A done before B's last ≤ 0.5)",
      value: (results.fairness as Record<Side, { aDoneBeforeLastB: number }> | undefined)?.ours.aDoneBeforeLastB ?? NaN,
      op: '<=',
      limit: 0.5,
    },
  ];
}

function format(x: number): string {
  if (!Number.isFinite(x)) return '—';
  if (Number.isInteger(x) && Math.abs(x) < 1e6) return String(x);
  return x.toFixed(Math.abs(x) < 10 ? 2 : 1);
}

function table(rows: Row[]): string {
  const lines = ['| figure | durable-runs | baseline | ratio |', '| --- | --- | --- | --- |'];
  for (const r of rows)
    lines.push(`| ${r.figure} | ${format(r.ours)} | ${format(r.base)} | ${format(r.ours / r.base)} |`);
  return lines.join('\n');
}

function readProfiles(dir: string): ProfileSummary | undefined {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) return undefined;
  return summarizeProfile(files.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile));
}

function printProfile(side: Side, p: ProfileSummary): void {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  console.log(
    `\n${side} worker CPU profile: ${(p.busyMs / 1000).toFixed(1)} s busy (all threads); shares of busy time`,
  );
  const shown = p.byArea.filter((a) => a.share >= 0.005);
  console.log(`  by area (≥ 0.5%): ${shown.map((a) => `${a.area} ${pct(a.share)}`).join(', ')}`);
  for (const f of p.top) console.log(`  ${pct(f.share).padStart(6)}  ${f.fn}  ${f.where}`);
}

async function main(): Promise<void> {
  const started = now();
  const server: DevServer = await startDevServer({ dbFile: false });
  const scratch = mkdtempSync(join(tmpdir(), 'durable-runs-bench-'));
  // Prebuilt bundles: workers start in a second, and webpack stays out of their CPU profiles.
  const bundles = {} as Record<Side, string>;
  for (const side of SIDES) {
    const { code } = await bundleWorkflowCode({
      workflowsPath: side === 'ours' ? workflowsPath : join(__dirname, 'baseline.ts'),
      ...(side === 'ours' ? { payloadConverterPath } : {}),
      logger: new DefaultLogger('ERROR'),
    });
    bundles[side] = join(scratch, `${side}-workflows.js`);
    writeFileSync(bundles[side], code);
  }
  const profileRoot = flags['cpu-prof'] ? join(scratch, 'profiles') : undefined;
  const env = { ...process.env, BENCH_WEBHOOK_SECRET: `whsec_${randomBytes(24).toString('base64')}` };
  const workers = Object.fromEntries(
    await Promise.all(
      SIDES.map(async (side) => {
        const dir = profileRoot && join(profileRoot, side);
        if (dir) mkdirSync(dir, { recursive: true });
        return [side, await SideWorker.start(side, server.address, bundles[side], env, dir)] as const;
      }),
    ),
  ) as Record<Side, SideWorker>;
  const connection = await Connection.connect({ address: server.address });
  const temporal = new Client({ connection, dataConverter });
  const b: Bench = {
    serverAddress: server.address,
    bundle: bundles.ours,
    serverPid: server.process.pid,
    temporal,
    runs: RunsClient.fromClient(temporal, QUEUE.ours),
    workers,
    submitted: new Map(),
  };

  const rows: Row[] = [];
  const results: Record<string, unknown> = {};
  const seconds: Record<string, number> = {};
  const workloads: Array<[string, boolean, typeof shortRuns]> = [
    ['short', N.runs > 0, shortRuns],
    ['long', N.long > 0 || N.sequential > 0, longRun],
    ['webhooks', N.webhooks > 0, webhooks],
    ['memory', N.memory > 0, memory],
    ['fairness', N.fairness > 0, fairness],
  ];
  const peaks = {} as Record<Side, number>;
  const profiles: Partial<Record<Side, ProfileSummary>> = {};
  try {
    for (const [name, enabled, run] of workloads) {
      if (!enabled) continue;
      const t0 = now();
      console.error(`bench: ${name} …`);
      await run(b, rows, results);
      seconds[name] = (now() - t0) / 1000;
    }
    for (const side of SIDES) peaks[side] = (await workers[side].memory()).peakRss;
    rows.push({ figure: 'worker peak RSS, whole bench (MB)', ours: peaks.ours / 2 ** 20, base: peaks.base / 2 ** 20 });
  } finally {
    await Promise.all(SIDES.map((side) => workers[side].stop()));
    await connection.close();
    await server.stop();
  }
  if (profileRoot) {
    for (const side of SIDES) {
      const p = readProfiles(join(profileRoot, side));
      if (p) profiles[side] = p;
    }
  }
  rmSync(scratch, { recursive: true, force: true });

  const cli = resolveTemporalCli();
  const machine = {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    temporalCli: cli ? execFileSync(cli, ['--version']).toString().trim() : 'unknown',
    server: `temporal server start-dev, in-memory SQLite, ${DEV_SERVER_ARGS.join(' ')}`,
    workerTuning: TUNING,
  };
  const checked = targets(results).map((t) => ({ ...t, met: meets(t) }));
  const date = new Date().toISOString().slice(0, 10);
  const totalSeconds = (now() - started) / 1000;

  console.log(
    `\ndurable-runs bench ${date}: ${machine.cores} cores (${machine.cpu}), ${machine.memoryGb} GiB, node ${machine.node}, ${machine.temporalCli}\n`,
  );
  console.log(table(rows));
  console.log('\ntargets:');
  for (const t of checked) {
    const verdict = t.met === undefined ? 'not measured' : t.met ? 'met' : 'NOT MET';
    console.log(`  ${t.name}: ${format(t.value)} (${verdict})`);
  }
  for (const side of SIDES) if (profiles[side]) printProfile(side, profiles[side]);
  console.log(
    `\nworkload seconds: ${Object.entries(seconds)
      .map(([k, v]) => `${k} ${v.toFixed(0)}`)
      .join(', ')}; total ${totalSeconds.toFixed(0)}`,
  );

  const file = flags.out ?? join(__dirname, 'results', `${date}.json`);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(
    file,
    `${JSON.stringify({ date, machine, sizes: N, seconds: { ...seconds, total: totalSeconds }, results, table: rows, targets: checked, profiles, notes: NOTES }, null, 2)}\n`,
  );
  console.log(`wrote ${file}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
