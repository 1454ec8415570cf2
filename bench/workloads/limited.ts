/**
 * A limited runner (`limited(runner, group)`, issue 25) with no limit set against the same runner
 * registered plainly, both on durable-runs' worker: what the group's own task queue, its worker
 * and the run's first-step reroute cost. Target: ≥ 0.95× the plain runner's steps/s.
 */
import { N } from '../options';
import { type Bench, measuredBatch, mirrored, range, type Round, roundRow, type Row, runBatch } from '../rounds';

export async function limitedRunner(b: Bench, rows: Row[], results: Record<string, unknown>): Promise<void> {
  const variants = ['ours', 'limited'] as const;
  for (const v of variants)
    await runBatch(
      b,
      v,
      range(10, (i) => `limited-warm-${v}-${i}`),
      N.steps,
      10,
    );
  const rounds: Round[] = [];
  for (let r = 0; r < N.rounds; r++) {
    const round: Round = {};
    for (const [k, v] of mirrored(variants).entries()) {
      const ids = range(N.limited / 2, (i) => `limited-${v}-${r}-${k}-${i}`);
      const { seconds } = await measuredBatch(b, v, ids, N.steps, N.concurrency);
      const seen = round[v] ?? { steps: 0, seconds: 0 };
      round[v] = { steps: seen.steps! + ids.length * N.steps, seconds: seen.seconds! + seconds };
    }
    for (const v of variants) round[v]!.stepsPerSecond = round[v]!.steps! / round[v]!.seconds!;
    rounds.push(round);
  }
  results.limited = { rounds };
  rows.push(
    roundRow(
      `steps/s, a limited runner with no limit set against the same runner plain (${N.limited} runs × ${N.steps} steps, ${N.concurrency} at once)`,
      rounds,
      'limited',
      'stepsPerSecond',
      'ours',
    ),
  );
}
