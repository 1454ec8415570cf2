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
 *   --runs [150] --steps [10] --concurrency [50]  short runs, per variant and round (two batches)
 *   --sequential [5]                              runs one at a time per batch: first-step latency
 *                                                 on an idle server, and steps/s
 *   --long [1500]                                 one long run per side, alone (crosses continue-as-new)
 *   --webhooks [60]                               terminal deliveries per side and round, to 127.0.0.1
 *   --fairness [200]                              tenant A's runs, then tenant B's 10, one step slot:
 *                                                 with fairness keys ("ours") and without ("base")
 *   --streams [5000]                              chunks one step streams (durable-runs only): latency
 *                                                 to a reader, chunks/s, history, server CPU and
 *                                                 heartbeats against a silent step of the same length
 *   --http [10]                                   runs per way (HTTP, RunsClient) and round, one at a
 *                                                 time: submit → result; and one streamed run each
 *   --limited [40]                                runs of a limited runner with no limit set, and of
 *                                                 the same runner plain, per round
 *   --waking [30]                                 waiting runs per side and round, woken one at a time:
 *                                                 event → next step p50/p99 against a bare workflow
 *   --agent [100]                                 steps of the agent-shaped run (50 ms each, memo,
 *                                                 progress, stream, usage) against a loop of sleeps
 *   --waiting [1000]                              runs waiting at once per side: worker RSS per 1,000,
 *                                                 then events/s to wake them all (the soak: 10000)
 *   --no-fast                                     leave fast steps out (a CPU profile of default steps)
 *   --peers                                       taquba-workflow on the same box in every short-run
 *                                                 round (bench/peers.ts; built by cargo)
 *   --soak                                        the long ones instead: --memory [10000] one-step
 *                                                 runs per side, both at once, worker RSS sampled;
 *                                                 then --waiting [10000] runs waiting at once (issue
 *                                                 26's size); writes bench/results/soak-<date>.json
 *   --cpu-prof                                    V8 CPU profile of both workers, summarised
 *   --out <file>                                  [bench/results/<date>.json]
 *
 * Here: the bench's frame (the server, the workers, the workloads in order). Beside it: the
 * flags (options.ts), the worker processes (side-worker.ts), the round runner and the rows it
 * gives (rounds.ts), one module per workload (workloads/), and the report (report.ts).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { RunsClient, dataConverter } from '../src/client';
import { payloadConverterPath, workflowsPath } from '../src/worker';
import { freePort, STATE_ATTRIBUTE_ARGS, startDevServer, type DevServer } from '../src/local/dev-server';
import { flags, N } from './options';
import { buildTaquba } from './peers';
import { type Side, now } from './protocol';
import { readProfiles, report } from './report';
import { type Bench, type Row, SIDES, singleRow } from './rounds';
import { QUEUE, SideWorker } from './side-worker';
import type { ProfileSummary } from './stats';
import { fairness } from './workloads/fairness';
import { http } from './workloads/http';
import { limitedRunner } from './workloads/limited';
import { waking } from './workloads/waking';
import { agentShaped } from './workloads/agent';
import { manyWaiting } from './workloads/waiting';
import { longRun } from './workloads/long-run';
import { memory } from './workloads/memory';
import { sequential } from './workloads/sequential';
import { shortRuns } from './workloads/short-runs';
import { streams } from './workloads/streams';
import { webhooks } from './workloads/webhooks';

async function main(): Promise<void> {
  const started = now();
  // Built before anything is timed: the first cargo build takes minutes.
  if (flags.peers && !flags.soak) await buildTaquba();
  // Its Prometheus endpoint counts requests by operation (heartbeats, describes) for the stream workload.
  const metricsPort = await freePort();
  // As `durable-runs dev`: the run-state search attributes registered, so their upserts are measured.
  const server: DevServer = await startDevServer({
    dbFile: false,
    extraArgs: ['--metrics-port', String(metricsPort), ...STATE_ATTRIBUTE_ARGS],
  });
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
    serverMetrics: `http://127.0.0.1:${metricsPort}/metrics`,
    temporal,
    runs: RunsClient.fromClient(temporal, QUEUE.ours),
    workers,
    submitted: new Map(),
  };

  const rows: Row[] = [];
  const results: Record<string, unknown> = {};
  const seconds: Record<string, number> = {};
  const workloads: Array<[string, boolean, typeof shortRuns]> = flags.soak
    ? [
        ['memory', N.memory > 0, memory],
        ['waiting', N.waiting > 0, manyWaiting],
      ]
    : [
        ['short', N.runs > 0, shortRuns],
        ['sequential', N.sequential > 0, sequential],
        ['long', N.long > 0, longRun],
        ['webhooks', N.webhooks > 0, webhooks],
        ['fairness', N.fairness > 0, fairness],
        ['streams', N.streams > 0, streams],
        ['http', N.http > 0, http],
        ['limited', N.limited > 0, limitedRunner],
        ['waking', N.waking > 0, waking],
        ['agent', N.agent > 0, agentShaped],
        ['waiting', N.waiting > 0, manyWaiting],
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

  report({ started, rows, results, seconds, profiles });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
