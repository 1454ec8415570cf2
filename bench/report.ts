/**
 * The report of `npm run bench`: the targets checked against the workloads' figures, the table
 * printed, and bench/results/<date>.json (or soak-<date>.json) written.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { DEV_SERVER_ARGS } from '../src/local/dev-server';
import { resolveTemporalCli } from '../src/local/temporal-binaries';
import { NOTES } from './notes';
import { flags, N } from './options';
import { type Memory, type Side, TUNING, now } from './protocol';
import { type Round, type Row, SIDES } from './rounds';
import { meets, spread, summarizeProfile, type CpuProfile, type ProfileSummary, type Target } from './stats';
import { peerVersions } from './workloads/short-runs';

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
  const streams = (results.streams as { rounds: Round[] } | undefined)?.rounds;
  const agent = (results.agent as { rounds: Round[] } | undefined)?.rounds;
  const streamMedian = (key: string, against?: string) =>
    streams ? spread(streams.map((r) => r.streaming![key]! - (against ? r[against]![key]! : 0))).median : NaN;
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
      name: 'streams: chunk → reader latency p50 ≤ 250 ms',
      value: streamMedian('latencyP50'),
      op: '<=',
      limit: 250,
    },
    {
      name: "streams: a streaming step's history ≤ a silent one's + 2 events",
      value: streamMedian('historyEvents', 'silent'),
      op: '<=',
      limit: 2,
    },
    {
      // The first flush goes out with the first chunk, then one every 100 ms at most.
      name: 'streams: heartbeats/s while a step streams, its first flush aside, ≤ 10',
      value: streams
        ? spread(streams.map((r) => (r.streaming!.heartbeats! - 1) / r.streaming!.stepSeconds!)).median
        : NaN,
      op: '<=',
      limit: 10,
    },
    {
      name: "fairness: all of B's runs finish before half of A's (share of A done before B's last ≤ 0.5)",
      value: (results.fairness as Record<Side, { aDoneBeforeLastB: number }> | undefined)?.ours.aDoneBeforeLastB ?? NaN,
      op: '<=',
      limit: 0.5,
    },
    ...wakingTargets(results),
    {
      name: 'agent-shaped run: ms per step ≤ 1.05 × the bare loop of the same sleeps',
      value: medianRatio(agent, 'ours', 'msPerStep'),
      op: '<=',
      limit: 1.05,
    },
  ];
}

/** Issue 26's targets for waiting runs: waking one (p50, p99) and waking many (events/s). */
function wakingTargets(results: Record<string, unknown>): Target[] {
  const waking = (results.waking as { rounds: Round[] } | undefined)?.rounds;
  const waiting = results.waiting as { runs: number; figures: Record<Side, { wakeSeconds: number }> } | undefined;
  return [
    ...(['p50', 'p99'] as const).map((p): Target => ({
      name: `waking: event → next step ${p} ≤ 1.1 × a bare workflow woken by a signal`,
      value: medianRatio(waking, 'ours', p),
      op: '<=',
      limit: 1.1,
    })),
    {
      name: `${waiting?.runs ?? 'many'} waiting runs: events/s to wake them all ≥ 0.9 × the bare signal workflow`,
      value: waiting ? waiting.figures.base.wakeSeconds / waiting.figures.ours.wakeSeconds : NaN,
      op: '>=',
      limit: 0.9,
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
    // The 10,000 waiting runs of issue 26, when the soak ran them.
    ...(results.waiting ? wakingTargets(results).slice(2) : []),
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
    const range =
      ratio.min === ratio.max || Number.isNaN(ratio.min) ? '' : ` (${format(ratio.min)}–${format(ratio.max)})`;
    lines.push(`| ${figure} | ${format(ours)} | ${format(base)} | ${format(ratio.median)}${range} |`);
  }
  return lines.join('\n');
}

export function readProfiles(dir: string): ProfileSummary | undefined {
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

/** What the bench measured: the table's rows, each workload's figures, its seconds, CPU profiles. */
export interface Measured {
  /** When the bench started (`now()`). */
  started: number;
  rows: Row[];
  results: Record<string, unknown>;
  seconds: Record<string, number>;
  profiles: Partial<Record<Side, ProfileSummary>>;
}

/** Checks the targets, prints the table, and writes the results file. */
export function report({ started, rows, results, seconds, profiles }: Measured): void {
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
