/** Runs one at a time on an idle server: first-step latency, with and without eager start, and steps/s. */
import { flags, N } from '../options';
import type { Bench, Round, Row, Variant } from '../rounds';
import { allMarks, eagerStarts, measuredBatch, mirrored, range, roundRow, runBatch } from '../rounds';
import { latencies } from '../stats';

/**
 * Runs one at a time on an otherwise idle server: how long a user waits from submit to the first
 * step, with and without eager start, and steps/s when nothing overlaps.
 */
export async function sequential(b: Bench, rows: Row[], results: Record<string, unknown>): Promise<void> {
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
