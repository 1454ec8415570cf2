/**
 * Short runs: many at once, every variant against the baseline, round after round; with --peers,
 * taquba-workflow on the same workload.
 */
import { flags, N } from '../options';
import { runTaquba, type TaqubaSettings } from '../peers';
import type { Batch, Bench, Round, Row, Variant } from '../rounds';
import { allMarks, eventsPerStep, measuredBatch, mirrored, range, roundRow, runBatch, singleRow } from '../rounds';
import { latencies } from '../stats';

const PEER_SETTINGS = ['default', 'fastest'] as const;

/**
 * Many short runs, `N.concurrency` in flight: per round each variant runs `N.runs` runs in two
 * batches, in mirrored order; with --peers, taquba-workflow runs the same workload at each of its
 * settings in the middle of every round.
 */
export async function shortRuns(b: Bench, rows: Row[], results: Record<string, unknown>): Promise<void> {
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
/** The peer's versions, once it has run. */
export const peerVersions = { workflow: '', taquba: '' };
