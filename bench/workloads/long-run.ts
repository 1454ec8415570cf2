/** One long run per side: does a run slow down as its history grows (across continue-as-new)? */
import { N } from '../options';
import { type Side, now } from '../protocol';
import { allMarks, type Bench, chainEvents, type Row, runBatch, SIDES, singleRow } from '../rounds';
import { edgeRates } from '../stats';

/** One long run per side, alone (base, then ours): does a run slow down as its history grows? */
export async function longRun(b: Bench, rows: Row[], results: Record<string, unknown>): Promise<void> {
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
