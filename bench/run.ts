/**
 * `npm run bench`: durable-runs against a bare-Temporal baseline (bench/baseline.ts) on one local
 * dev server, in the same run. The baseline and durable-runs each have a worker process of their
 * own (bench/worker.ts) with the same settings, so CPU and memory are per side. Prints a table and
 * writes bench/results/<date>.json, every round included.
 *
 * What is compared with the baseline (the bare loop, "base"):
 *   ours   durable-runs, steps as activities (the default)
 *   fast   durable-runs, a runner registered with fastSteps(): steps as local activities
 *   eager  ours, submitted from the worker's own process on its NativeConnection (eager start)
 *
 * Rounds: each comparing workload runs --rounds times; within a round the variants run one after
 * another in a mirrored order (base, ours, fast, fast, ours, base), so drift on a shared machine
 * falls on each alike. A ratio is taken per round; the table shows its median and min–max.
 *
 * Flags (defaults in brackets; 0 skips a workload):
 *   --rounds [5]
 *   --runs [200] --steps [10] --concurrency [50]  short runs, per variant and round (two batches)
 *   --sequential [5]                              runs one at a time per batch: first-step latency
 *                                                 on an idle server, and steps/s
 *   --long [1500]                                 one long run per side, alone (crosses continue-as-new)
 *   --webhooks [100]                              terminal deliveries per side and round, to 127.0.0.1
 *   --fairness [200]                              tenant A's runs, then tenant B's 10, one step slot:
 *                                                 with fairness keys ("ours") and without ("base")
 *   --no-fast                                     leave fast steps out (a CPU profile of default steps)
 *   --peers                                       taquba-workflow on the same box in every short-run
 *                                                 round (bench/peers.ts; built by cargo)
 *   --soak                                        only the memory soak instead: --memory [10000]
 *                                                 one-step runs per side, both at once, worker RSS
 *                                                 sampled; writes bench/results/soak-<date>.json
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
import { resolveTemporalCli } from '../src/local/temporal-binaries';
import { createWorker, payloadConverterPath, workflowsPath } from '../src/worker';
import { DEV_SERVER_ARGS, startDevServer, type DevServer } from '../src/local/dev-server';
import { startReceiver, type Receiver } from '../support/receiver';
import { eventually } from '../support/wait';
import { NOTES } from './notes';
import { buildTaquba, runTaquba, type TaqubaSettings } from './peers';
import { type Memory, type Reply, type Request, type Side, TUNING, now } from './protocol';
import {
  edgeRates,
  latencies,
  meets,
  spread,
  summarizeProfile,
  type Spread,
  type CpuProfile,
  type ProfileSummary,
  type Target,
} from './stats';

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    runs: { type: 'string', default: '200' },
    steps: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '50' },
    sequential: { type: 'string', default: '5' },
    long: { type: 'string', default: '1500' },
    webhooks: { type: 'string', default: '100' },
    memory: { type: 'string', default: '10000' },
    fairness: { type: 'string', default: '200' },
    peers: { type: 'boolean', default: false },
    'no-fast': { type: 'boolean', default: false },
    soak: { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const SIZE_FLAGS = [
  'rounds',
  'runs',
  'steps',
  'concurrency',
  'sequential',
  'long',
  'webhooks',
  'memory',
  'fairness',
] as const;
const N = Object.fromEntries(
  SIZE_FLAGS.map((k) => {
    const n = Number(flags[k]);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${k} must be a whole number ≥ 0, got ${flags[k]}`);
    return [k, n];
  }),
) as Record<(typeof SIZE_FLAGS)[number], number>;
if (N.concurrency < 1) throw new Error('--concurrency must be at least 1');
if (N.rounds < 1) throw new Error('--rounds must be at least 1');

const SIDES: readonly Side[] = ['base', 'ours'];
/** What runs are compared: the baseline, and durable-runs three ways (see the header). */
type Variant = 'base' | 'ours' | 'fast' | 'eager';
/** The worker process a variant's runs go to. */
const sideOf = (v: Variant): Side => (v === 'base' ? 'base' : 'ours');
/** The variants in order, then backwards: each one's mean position in a round is the same. */
const mirrored = <T>(xs: readonly T[]): T[] => [...xs, ...[...xs].reverse()];
const QUEUE: Record<Side, string> = { ours: 'bench-ours', base: 'bench-base' };
const DELIVERY_TIMEOUT_MS = 10 * 60_000;

/** A request without its `id`, kind by kind (`Omit` on the union would merge the kinds). */
type RequestBody = Request extends infer R ? (R extends Request ? Omit<R, 'id'> : never) : never;

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

  private ask<T extends Reply>(request: RequestBody): Promise<T> {
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
    await this.ask({ type: 'record', on });
  }

  async memory(): Promise<Memory> {
    return (await this.ask<Extract<Reply, { type: 'memory' }>>({ type: 'memory' })).memory;
  }

  /** Ours only: runs a batch from the worker's own process (eager start). */
  async batch(
    ids: string[],
    steps: number,
    concurrency: number,
    runner: string,
  ): Promise<Extract<Reply, { type: 'batch' }>> {
    return this.ask({ type: 'batch', ids, steps, concurrency, runner });
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

async function submit(b: Bench, v: Variant, id: string, steps: number, callbackUrl?: string): Promise<void> {
  if (v === 'eager') throw new Error('eager runs are submitted by the worker process (runBatch)');
  b.submitted.set(id, now());
  if (v === 'base') {
    await b.temporal.workflow.start(callbackUrl ? 'baselineWebhook' : 'baselineLoop', {
      workflowId: id,
      taskQueue: QUEUE.base,
      args: [callbackUrl ?? steps],
    });
    return;
  }
  await b.runs.submit({
    runId: id,
    runner: v === 'fast' ? 'noopFast' : 'noop',
    input: { steps },
    ...(callbackUrl ? { headers: { callback_url: callbackUrl } } : {}),
  });
}

/** Waits for a run to close; a run that did not succeed stops the bench (it would measure nothing). */
async function finish(b: Bench, v: Variant, id: string): Promise<void> {
  if (v === 'base') {
    await b.temporal.workflow.getHandle(id).result();
    return;
  }
  const outcome = await b.runs.result(id);
  if (outcome.status !== 'succeeded') throw new Error(`run ${id} ended ${outcome.status}: ${outcome.error ?? ''}`);
}

/** Eager starts asked for and granted, over the whole bench. */
const eagerStarts = { asked: 0, granted: 0 };

/** Runs `ids` to their end, `concurrency` at a time. */
async function runBatch(b: Bench, v: Variant, ids: string[], steps: number, concurrency: number): Promise<void> {
  if (v === 'eager') {
    const reply = await b.workers.ours.batch(ids, steps, concurrency, 'noop');
    for (const [id, at] of reply.submitted) b.submitted.set(id, at);
    eagerStarts.asked += ids.length;
    eagerStarts.granted += reply.eager;
    return;
  }
  await pool(ids, concurrency, async (id) => {
    await submit(b, v, id, steps);
    await finish(b, v, id);
  });
}

interface Batch {
  seconds: number;
  serverCpu: number;
  workerCpu: number;
}

/** Runs a batch and measures its wall time and the CPU the server and the variant's worker used. */
async function measuredBatch(b: Bench, v: Variant, ids: string[], steps: number, concurrency: number): Promise<Batch> {
  const pid = b.workers[sideOf(v)].child.pid;
  const t0 = now();
  const cpu0 = [cpuSeconds(b.serverPid), cpuSeconds(pid)];
  await runBatch(b, v, ids, steps, concurrency);
  return {
    seconds: (now() - t0) / 1000,
    serverCpu: cpuSeconds(b.serverPid) - cpu0[0]!,
    workerCpu: cpuSeconds(pid) - cpu0[1]!,
  };
}

/** Step start times by run since the last call, from both worker processes. */
async function allMarks(b: Bench): Promise<Map<string, number[]>> {
  const [base, ours] = await Promise.all(SIDES.map((side) => b.workers[side].marks()));
  return new Map([...base!, ...ours!]);
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

/**
 * A row of the table: a variant's figure and the baseline's (medians over the rounds) and their
 * ratio, taken in each round: its median, min and max.
 */
interface Row {
  figure: string;
  ours: number;
  base: number;
  ratio: Spread;
}
/** One round's figures by variant (and, for peers, by peer setting). */
type Round = Record<string, Record<string, number>>;

/** A row from rounds: `v`'s `key` against `against`'s, ratio per round. */
function roundRow(figure: string, rounds: readonly Round[], v: string, key: string, against = 'base'): Row {
  const med = (who: string) => spread(rounds.map((r) => r[who]?.[key] ?? NaN)).median;
  return {
    figure,
    ours: med(v),
    base: med(against),
    ratio: spread(rounds.map((r) => (r[v]?.[key] ?? NaN) / (r[against]?.[key] ?? NaN))),
  };
}

/** A row from one measurement of each side. */
function singleRow(figure: string, ours: number, base: number): Row {
  const ratio = ours / base;
  return { figure, ours, base, ratio: { median: ratio, min: ratio, max: ratio } };
}

const PEER_SETTINGS = ['default', 'fastest'] as const;

/**
 * Many short runs, `N.concurrency` in flight: per round each variant runs `N.runs` runs in two
 * batches, in mirrored order; with --peers, taquba-workflow runs the same workload at each of its
 * settings in the middle of every round.
 */
async function shortRuns(b: Bench, rows: Row[], results: Record<string, unknown>): Promise<void> {
  const variants: Variant[] = flags['no-fast'] ? ['base', 'ours'] : ['base', 'ours', 'fast'];
  // Warm every variant up first (JIT, caches, pollers), or whichever goes first pays for it.
  for (const v of variants)
    await runBatch(
      b,
      v,
      range(N.concurrency, (i) => `warm-${v}-${i}`),
      N.steps,
      N.concurrency,
    );
  if (flags.peers) await runTaqubaShort('fastest');
  await allMarks(b);
  const per = Math.ceil(N.runs / 2);
  const order = mirrored(variants);
  const rounds: Round[] = [];
  const ids: Record<string, string[]> = {};
  for (let r = 0; r < N.rounds; r++) {
    const batches: Record<string, Batch[]> = {};
    const roundIds: Record<string, string[]> = {};
    const round: Round = {};
    for (const [k, v] of order.entries()) {
      if (flags.peers && k === variants.length) {
        for (const setting of PEER_SETTINGS) round[`taquba-${setting}`] = await runTaqubaShort(setting);
      }
      const batch = range(per, (i) => `short-${v}-${r}-${k}-${i}`);
      (batches[v] ??= []).push(await measuredBatch(b, v, batch, N.steps, N.concurrency));
      (roundIds[v] ??= []).push(...batch);
    }
    const marks = await allMarks(b);
    for (const v of variants) {
      const sum = (key: keyof Batch) => batches[v]!.reduce((a, x) => a + x[key], 0);
      const steps = roundIds[v]!.length * N.steps;
      const l = latencies(roundIds[v]!, b.submitted, marks);
      round[v] = {
        seconds: sum('seconds'),
        stepsPerSecond: steps / sum('seconds'),
        firstP50: l.firstP50,
        stepP50: l.stepP50,
        serverCpuMsPerStep: (sum('serverCpu') * 1000) / steps,
        workerCpuMsPerStep: (sum('workerCpu') * 1000) / steps,
        busyCores: (sum('serverCpu') + sum('workerCpu')) / sum('seconds'),
      };
      (ids[v] ??= []).push(...roundIds[v]!);
    }
    rounds.push(round);
    console.error(
      `bench: short runs, round ${r + 1}/${N.rounds}: steps/s ${Object.entries(round)
        .map(([v, f]) => `${v} ${f.stepsPerSecond!.toFixed(0)}`)
        .join(', ')}`,
    );
  }
  const events: Record<string, number> = {};
  for (const v of variants) events[v] = await eventsPerStep(b, ids[v]!, N.steps);
  results.short = { rounds, eventsPerStep: events };
  const shape = `${N.runs} runs × ${N.steps} steps, ${N.concurrency} in flight`;
  rows.push(
    roundRow(`steps/s, default steps (${shape})`, rounds, 'ours', 'stepsPerSecond'),
    roundRow('steps/s, fast steps', rounds, 'fast', 'stepsPerSecond'),
    singleRow('history events per step, default steps', events.ours!, events.base!),
    singleRow('history events per step, fast steps', events.fast!, events.base!),
    roundRow('server CPU ms per step, default steps', rounds, 'ours', 'serverCpuMsPerStep'),
    roundRow('server CPU ms per step, fast steps', rounds, 'fast', 'serverCpuMsPerStep'),
    roundRow('worker CPU ms per step, default steps', rounds, 'ours', 'workerCpuMsPerStep'),
    roundRow('worker CPU ms per step, fast steps', rounds, 'fast', 'workerCpuMsPerStep'),
    roundRow('submit → first step p50 under that load (ms), default steps', rounds, 'ours', 'firstP50'),
    roundRow('step → step p50 under that load (ms), default steps', rounds, 'ours', 'stepP50'),
    roundRow('step → step p50 under that load (ms), fast steps', rounds, 'fast', 'stepP50'),
  );
  if (flags.peers) {
    rows.push(
      roundRow('peer: taquba-workflow steps/s, its default settings', rounds, 'taquba-default', 'stepsPerSecond'),
      roundRow('peer: taquba-workflow steps/s, 1 ms flush and poll', rounds, 'taquba-fastest', 'stepsPerSecond'),
      roundRow('fast steps ÷ taquba-workflow at its defaults', rounds, 'fast', 'stepsPerSecond', 'taquba-default'),
      roundRow('fast steps ÷ taquba-workflow at 1 ms', rounds, 'fast', 'stepsPerSecond', 'taquba-fastest'),
    );
  }
}

/** taquba-workflow on the short-run workload, one invocation (its own process and store). */
async function runTaqubaShort(settings: TaqubaSettings): Promise<Record<string, number>> {
  const result = await runTaquba({ runs: N.runs, steps: N.steps, concurrency: N.concurrency, settings });
  peerVersions.workflow = result.version;
  peerVersions.taquba = result.taqubaVersion;
  return { seconds: result.seconds, stepsPerSecond: result.stepsPerSecond };
}
const peerVersions = { workflow: '', taquba: '' };

/**
 * Runs one at a time on an otherwise idle server: how long a user waits from submit to the first
 * step, with and without eager start, and steps/s when nothing overlaps.
 */
async function sequential(b: Bench, rows: Row[], results: Record<string, unknown>): Promise<void> {
  const variants: Variant[] = flags['no-fast'] ? ['base', 'ours', 'eager'] : ['base', 'ours', 'eager', 'fast'];
  for (const v of variants)
    await runBatch(
      b,
      v,
      range(3, (i) => `seq-warm-${v}-${i}`),
      N.steps,
      1,
    );
  await allMarks(b);
  const order = mirrored(variants);
  const rounds: Round[] = [];
  for (let r = 0; r < N.rounds; r++) {
    const seconds: Record<string, number> = {};
    const roundIds: Record<string, string[]> = {};
    for (const [k, v] of order.entries()) {
      const batch = range(N.sequential, (i) => `seq-${v}-${r}-${k}-${i}`);
      seconds[v] = (seconds[v] ?? 0) + (await measuredBatch(b, v, batch, N.steps, 1)).seconds;
      (roundIds[v] ??= []).push(...batch);
    }
    const marks = await allMarks(b);
    const round: Round = {};
    for (const v of variants) {
      round[v] = {
        firstP50: latencies(roundIds[v]!, b.submitted, marks).firstP50,
        stepsPerSecond: (roundIds[v]!.length * N.steps) / seconds[v]!,
      };
    }
    rounds.push(round);
  }
  results.sequential = { rounds, eagerStarts: { ...eagerStarts } };
  if (eagerStarts.granted < eagerStarts.asked) {
    console.error(`bench: the server started ${eagerStarts.granted} of ${eagerStarts.asked} eager runs eagerly`);
  }
  rows.push(
    roundRow('submit → first step p50, one run at a time (ms), default steps', rounds, 'ours', 'firstP50'),
    roundRow(
      `… with eager start (${eagerStarts.granted}/${eagerStarts.asked} started eagerly)`,
      rounds,
      'eager',
      'firstP50',
    ),
    roundRow('… fast steps', rounds, 'fast', 'firstP50'),
    roundRow(`steps/s, ${N.steps}-step runs one at a time, default steps`, rounds, 'ours', 'stepsPerSecond'),
    roundRow('… with eager start', rounds, 'eager', 'stepsPerSecond'),
    roundRow('… fast steps', rounds, 'fast', 'stepsPerSecond'),
  );
}

/** One long run per side, alone (base, then ours): does a run slow down as its history grows? */
async function longRun(b: Bench, rows: Row[], results: Record<string, unknown>): Promise<void> {
  const figures = {} as Record<Side, Record<string, number>>;
  for (const side of SIDES) {
    const id = `long-${side}`;
    const t0 = now();
    await runBatch(b, side, [id], N.long, 1);
    const seconds = (now() - t0) / 1000;
    const edges = edgeRates((await allMarks(b)).get(id) ?? []);
    const chain = await chainEvents(b, id);
    figures[side] = {
      stepsPerSecond: N.long / seconds,
      firstTenthStepsPerSecond: edges.first,
      lastTenthStepsPerSecond: edges.last,
      eventsPerStep: chain.events / N.long,
      executions: chain.executions,
    };
  }
  results.long = figures;
  const { ours, base } = figures;
  rows.push(
    singleRow(`steps/s, one ${N.long}-step run`, ours.stepsPerSecond!, base.stepsPerSecond!),
    singleRow(
      '… its last tenth ÷ its first tenth',
      ours.lastTenthStepsPerSecond! / ours.firstTenthStepsPerSecond!,
      base.lastTenthStepsPerSecond! / base.firstTenthStepsPerSecond!,
    ),
    singleRow('… history events per step', ours.eventsPerStep!, base.eventsPerStep!),
    singleRow('… executions (continue-as-new)', ours.executions!, base.executions!),
  );
}

/** Terminal webhooks against the baseline's inline POST, rounds base, ours, ours, base. */
async function webhooks(b: Bench, rows: Row[], results: Record<string, unknown>): Promise<void> {
  const receiver: Receiver = await startReceiver();
  const per = Math.ceil(N.webhooks / 2);
  const rounds: Round[] = [];
  try {
    for (let r = 0; r < N.rounds; r++) {
      const seconds: Record<string, number> = {};
      for (const [k, side] of mirrored(SIDES).entries()) {
        const path = `/${side}-${r}-${k}`;
        const t0 = now();
        await pool(
          range(per, (i) => `hook-${side}-${r}-${k}-${i}`),
          N.concurrency,
          (id) => submit(b, side, id, 1, `${receiver.url}${path}`),
        );
        await eventually(() => receiver.to(path).length >= per, DELIVERY_TIMEOUT_MS, `${per} ${side} webhooks`);
        seconds[side] = (seconds[side] ?? 0) + (now() - t0) / 1000;
      }
      rounds.push(Object.fromEntries(SIDES.map((side) => [side, { deliveriesPerSecond: (2 * per) / seconds[side]! }])));
    }
    const signed = receiver.requests.filter((r) => r.path.startsWith('/ours') && r.headers['webhook-signature']);
    if (signed.length !== per * 2 * N.rounds) {
      throw new Error(`${signed.length}/${per * 2 * N.rounds} of our webhooks were signed`);
    }
  } finally {
    await receiver.close();
  }
  await allMarks(b);
  results.webhooks = { rounds };
  rows.push(
    roundRow(`webhooks: deliveries/s (${2 * per} one-step runs a round)`, rounds, 'ours', 'deliveriesPerSecond'),
  );
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
    singleRow(`worker RSS after ${k(checkpoint)} runs (MB)`, mb(ours.after1k.rss), mb(base.after1k.rss)),
    singleRow(`worker RSS after ${k(N.memory)} runs (MB)`, mb(ours.afterAll.rss), mb(base.afterAll.rss)),
    singleRow(
      `… RSS after ${k(N.memory)} ÷ after ${k(checkpoint)}`,
      ours.afterAll.rss / ours.after1k.rss,
      base.afterAll.rss / base.after1k.rss,
    ),
    singleRow(
      `… heap after ${k(N.memory)} ÷ after ${k(checkpoint)}`,
      ours.afterAll.heapUsed / ours.after1k.heapUsed,
      base.afterAll.heapUsed / base.after1k.heapUsed,
    ),
    singleRow('one-step runs/s (both sides at once)', N.memory / ours.seconds, N.memory / base.seconds),
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
    singleRow(
      `fairness: B's mean completion position of ${N.fairness + 10} (ours: keys, base: one key)`,
      figures.ours.meanPositionOfB,
      figures.base.meanPositionOfB,
    ),
    singleRow(
      "fairness: share of A's runs done when B submitted",
      figures.ours.aDoneWhenBArrived,
      figures.base.aDoneWhenBArrived,
    ),
    singleRow(
      "fairness: share of A's runs done before B's last",
      figures.ours.aDoneBeforeLastB,
      figures.base.aDoneBeforeLastB,
    ),
  );
}

/** The median over rounds of `v`'s `key` ÷ `against`'s, taken per round; NaN when not measured. */
function medianRatio(rounds: readonly Round[] | undefined, v: string, key: string, against = 'base'): number {
  if (!rounds) return NaN;
  return spread(rounds.map((r) => (r[v]?.[key] ?? NaN) / (r[against]?.[key] ?? NaN))).median;
}

/** The targets (issue 15 and before), from the workloads' figures; a workload that did not run gives NaN. */
function targets(results: Record<string, unknown>): Target[] {
  const short = results.short as { rounds: Round[]; eventsPerStep: Record<string, number> } | undefined;
  const seq = (results.sequential as { rounds: Round[] } | undefined)?.rounds;
  const long = results.long as Record<Side, Record<string, number>> | undefined;
  const hooks = (results.webhooks as { rounds: Round[] } | undefined)?.rounds;
  const events = short?.eventsPerStep;
  return [
    {
      name: 'fast steps: steps/s ≥ 3 × the bare loop',
      value: medianRatio(short?.rounds, 'fast', 'stepsPerSecond'),
      op: '>=',
      limit: 3,
    },
    {
      name: "fast steps: history events per step ≤ 0.4 × the loop's",
      value: events ? events.fast! / events.base! : NaN,
      op: '<=',
      limit: 0.4,
    },
    {
      name: 'default steps: steps/s ≥ 0.97 × the loop',
      value: medianRatio(short?.rounds, 'ours', 'stepsPerSecond'),
      op: '>=',
      limit: 0.97,
    },
    {
      name: 'default steps: history events per step ≤ the loop’s + 0.5',
      value: events ? events.ours! - events.base! : NaN,
      op: '<=',
      limit: 0.5,
    },
    {
      name: "submit → first step p50 with eager start ≤ 0.7 × the loop's",
      value: medianRatio(seq, 'eager', 'firstP50'),
      op: '<=',
      limit: 0.7,
    },
    {
      name: "submit → first step p50 without eager start ≤ 1.05 × the loop's",
      value: medianRatio(seq, 'ours', 'firstP50'),
      op: '<=',
      limit: 1.05,
    },
    {
      name: "webhook deliveries/s ≥ 0.85 × the loop's inline POST",
      value: medianRatio(hooks, 'ours', 'deliveriesPerSecond'),
      op: '>=',
      limit: 0.85,
    },
    {
      name: "fast steps: steps/s ≥ taquba-workflow's at its default settings",
      value: flags.peers ? medianRatio(short?.rounds, 'fast', 'stepsPerSecond', 'taquba-default') : NaN,
      op: '>=',
      limit: 1,
    },
    {
      name: 'one long run: steps/s ≥ 0.9 × runs one at a time (default steps)',
      value: long && seq ? long.ours.stepsPerSecond! / spread(seq.map((r) => r.ours!.stepsPerSecond!)).median : NaN,
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

/** The soak's target (bench/results/soak-<date>.json). */
function soakTargets(results: Record<string, unknown>): Target[] {
  const memory = results.memory as Record<Side, { after1k: Memory; afterAll: Memory }> | undefined;
  return [
    {
      name: `RSS after ${N.memory} runs ≤ 1.1 × after 1k (ours)`,
      value: memory ? memory.ours.afterAll.rss / memory.ours.after1k.rss : NaN,
      op: '<=',
      limit: 1.1,
    },
  ];
}

function format(x: number): string {
  if (!Number.isFinite(x)) return '—';
  if (Number.isInteger(x) && Math.abs(x) < 1e6) return String(x);
  return x.toFixed(Math.abs(x) < 10 ? 2 : 1);
}

function table(rows: Row[]): string {
  const lines = [
    `| figure | durable-runs | baseline | ${flags.soak ? 'ratio' : `ratio: median of ${N.rounds} rounds (min–max)`} |`,
    '| --- | --- | --- | --- |',
  ];
  for (const { figure, ours, base, ratio } of rows) {
    const range = ratio.min === ratio.max ? '' : ` (${format(ratio.min)}–${format(ratio.max)})`;
    lines.push(`| ${figure} | ${format(ours)} | ${format(base)} | ${format(ratio.median)}${range} |`);
  }
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
  // Built before anything is timed: the first cargo build takes minutes.
  if (flags.peers && !flags.soak) await buildTaquba();
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
  const workloads: Array<[string, boolean, typeof shortRuns]> = flags.soak
    ? [['memory', N.memory > 0, memory]]
    : [
        ['short', N.runs > 0, shortRuns],
        ['sequential', N.sequential > 0, sequential],
        ['long', N.long > 0, longRun],
        ['webhooks', N.webhooks > 0, webhooks],
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
    rows.push(singleRow('worker peak RSS, whole bench (MB)', peaks.ours / 2 ** 20, peaks.base / 2 ** 20));
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
    ...(flags.peers && !flags.soak
      ? { peer: `taquba-workflow ${peerVersions.workflow} (taquba ${peerVersions.taquba}), local-filesystem store` }
      : {}),
  };
  const checked = (flags.soak ? soakTargets(results) : targets(results)).map((t) => ({ ...t, met: meets(t) }));
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

  const file = flags.out ?? join(__dirname, 'results', `${flags.soak ? 'soak-' : ''}${date}.json`);
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
