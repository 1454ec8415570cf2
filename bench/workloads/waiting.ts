/**
 * Many waiting runs (issue 26): `N.waiting` runs waiting for an event at once on one worker (the
 * worker's RSS against its idle RSS, as MB per 1,000 waiting runs), then every one woken (events/s
 * until all have closed), against as many bare workflows waiting for a signal. Every run must
 * succeed. One side at a time, so that each worker's memory is its own runs'. 10,000 runs take
 * minutes: the default is smaller, `--waiting 10000` (or `--soak`) the issue's size.
 */
import { N } from '../options';
import { now, type Side } from '../protocol';
import { type Bench, pool, range, type Row, singleRow, sleep } from '../rounds';
import { QUEUE } from '../side-worker';

/** Polls until the side's worker has started `n` more steps than `from` (bounded: 30 min). */
async function stepsStarted(b: Bench, side: Side, from: number, n: number): Promise<void> {
  for (const t0 = now(); b.workers[side].steps - from < n; await sleep(20)) {
    if (now() - t0 > 30 * 60_000) throw new Error(`${side}: ${n} steps did not start within 30 min`);
  }
}

export async function manyWaiting(b: Bench, rows: Row[], results: Record<string, unknown>): Promise<void> {
  const figures = {} as Record<Side, { idleRss: number; waitingRss: number; wakeSeconds: number }>;
  await Promise.all((['ours', 'base'] as const).map((side) => b.workers[side].record(false)));
  for (const side of ['ours', 'base'] as const) {
    const worker = b.workers[side];
    // Warm: the worker's one-time costs (its workflow thread, the bundle) are not the runs'.
    const warm = range(20, (i) => `waiting-warm-${side}-${i}`);
    const warmFrom = worker.steps;
    for (const id of warm) {
      if (side === 'ours') await b.runs.submit({ runId: id, runner: 'wakes', input: null });
      else await b.temporal.workflow.start('baselineWake', { workflowId: id, taskQueue: QUEUE.base, args: [] });
    }
    await stepsStarted(b, side, warmFrom, warm.length);
    await sleep(500);
    for (const id of warm) await b.temporal.workflow.getHandle(id).signal('event', { name: 'go' });
    for (const id of warm) await b.temporal.workflow.getHandle(id).result();
    const ids = range(N.waiting, (i) => `waiting-${side}-${i}`);
    const idle = await worker.memory();
    const from = worker.steps;
    await pool(ids, N.concurrency, async (id) => {
      if (side === 'ours') await b.runs.submit({ runId: id, runner: 'wakes', input: null });
      else await b.temporal.workflow.start('baselineWake', { workflowId: id, taskQueue: QUEUE.base, args: [] });
    });
    // Each has run its first step; a moment more and each is in its wait.
    await stepsStarted(b, side, from, N.waiting);
    await sleep(1000);
    const waiting = await worker.memory();
    const t0 = now();
    await pool(ids, N.concurrency, async (id) => {
      await b.temporal.workflow.getHandle(id).signal('event', { name: 'go' });
    });
    await stepsStarted(b, side, from, 2 * N.waiting);
    await pool(ids, N.concurrency, async (id) => {
      await b.temporal.workflow.getHandle(id).result();
    });
    figures[side] = { idleRss: idle.rss, waitingRss: waiting.rss, wakeSeconds: (now() - t0) / 1000 };
  }
  await Promise.all((['ours', 'base'] as const).map((side) => b.workers[side].record(true)));
  results.waiting = { runs: N.waiting, figures };
  const perK = (side: Side) => ((figures[side].waitingRss - figures[side].idleRss) / 2 ** 20 / N.waiting) * 1000;
  rows.push(
    singleRow(
      `${N.waiting} runs waiting at once: worker RSS above idle, MB per 1,000 runs`,
      perK('ours'),
      perK('base'),
    ),
    singleRow(
      `… all woken: events/s until every run closed (every one succeeded)`,
      N.waiting / figures.ours.wakeSeconds,
      N.waiting / figures.base.wakeSeconds,
    ),
  );
}
