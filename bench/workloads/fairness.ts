/** Fairness: a second tenant's runs get through a first tenant's flood when runs carry fairness keys. */
import { NativeConnection } from '@temporalio/worker';
import { StepOutcome } from '../../src';
import { RunsClient } from '../../src/client';
import { createWorker } from '../../src/worker';
import { eventually } from '../../support/wait';
import { N } from '../options';
import type { Side } from '../protocol';
import { type Bench, pool, type Row, singleRow } from '../rounds';

/**
 * Fairness (durable-runs only): tenant A submits N runs, then tenant B 10, to one worker with a
 * single step slot, so the queue backs up. "ours" gives the runs their tenant as fairness key (the
 * default), "base" one key for everybody. Figures: B's mean position in the order of completions,
 * and the share of A's runs done before B's last.
 */
export async function fairness(b: Bench, rows: Row[], results: Record<string, unknown>): Promise<void> {
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
