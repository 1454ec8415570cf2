/**
 * Waking (issue 26): a run waiting for an event, and the time from sending the event to its next
 * step's start, p50 and p99, against a bare workflow woken by a signal that then runs an activity.
 * Both are woken with the same raw signal (`event`), one run at a time, the sides alternating.
 * Target: p50 and p99 ≤ 1.1× the bare workflow's.
 */
import { N } from '../options';
import { now } from '../protocol';
import { allMarks, type Bench, range, type Round, roundRow, type Row, sleep } from '../rounds';
import { QUEUE } from '../side-worker';
import { percentile } from '../stats';

type Side = 'ours' | 'base';

/** Step start times by run, gathered from the workers' marks (which each call drains). */
class Marks {
  private readonly seen = new Map<string, number[]>();
  constructor(private readonly b: Bench) {}
  async poll(): Promise<void> {
    for (const [id, times] of await allMarks(this.b)) this.seen.set(id, [...(this.seen.get(id) ?? []), ...times]);
  }
  of(id: string): number[] {
    return this.seen.get(id) ?? [];
  }
  /** Polls until `id` has `n` marks (bounded: 60 s). */
  async until(id: string, n: number): Promise<number[]> {
    for (const started = now(); this.of(id).length < n; await sleep(1)) {
      if (now() - started > 60_000) throw new Error(`run ${id}: ${n} steps did not start within 60 s`);
      await this.poll();
    }
    return this.of(id);
  }
}

async function start(b: Bench, side: Side, id: string): Promise<void> {
  if (side === 'ours') await b.runs.submit({ runId: id, runner: 'wakes', input: null });
  else await b.temporal.workflow.start('baselineWake', { workflowId: id, taskQueue: QUEUE.base, args: [] });
}

export async function waking(b: Bench, rows: Row[], results: Record<string, unknown>): Promise<void> {
  const marks = new Marks(b);
  await marks.poll();
  const rounds: Round[] = [];
  for (let r = 0; r < N.rounds; r++) {
    const ids = {
      ours: range(N.waking, (i) => `wake-ours-${r}-${i}`),
      base: range(N.waking, (i) => `wake-base-${r}-${i}`),
    };
    for (const side of ['ours', 'base'] as const) await Promise.all(ids[side].map((id) => start(b, side, id)));
    for (const side of ['ours', 'base'] as const) for (const id of ids[side]) await marks.until(id, 1);
    // Every run is in its wait by now (its first step ended well before this).
    await sleep(500);
    const woke: Record<Side, number[]> = { ours: [], base: [] };
    for (let i = 0; i < N.waking; i++) {
      // The sides alternate, and which goes first alternates too.
      const order: Side[] = i % 2 === 0 ? ['ours', 'base'] : ['base', 'ours'];
      for (const side of order) {
        const id = ids[side][i]!;
        const sent = now();
        await b.temporal.workflow.getHandle(id).signal('event', { name: 'go' });
        const [, next] = await marks.until(id, 2);
        woke[side].push(next! - sent);
      }
    }
    for (const side of ['ours', 'base'] as const) {
      await Promise.all(ids[side].map((id) => b.temporal.workflow.getHandle(id).result()));
    }
    const round: Round = {};
    for (const side of ['ours', 'base'] as const) {
      round[side] = { p50: percentile(woke[side], 50), p99: percentile(woke[side], 99) };
    }
    rounds.push(round);
  }
  results.waking = { rounds };
  rows.push(
    roundRow(
      `event → next step starts, p50 (ms), ${N.waking} waiting runs a round, woken one at a time`,
      rounds,
      'ours',
      'p50',
    ),
    roundRow('event → next step starts, p99 (ms)', rounds, 'ours', 'p99'),
  );
}
