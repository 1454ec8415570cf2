/** The memory soak (--soak): one-step runs on both sides at once, worker memory sampled. */
import { N } from '../options';
import { type Memory, type Side, now } from '../protocol';
import { type Bench, type Row, SIDES, singleRow, sleep, submit } from '../rounds';

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
export async function memory(b: Bench, rows: Row[], results: Record<string, unknown>): Promise<void> {
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
