/**
 * The floor: minimal hand-written Temporal workflows, run by `npm run bench` beside durable-runs on
 * the same server with the same worker settings. Nothing built on Temporal can do better per step.
 */
import { proxyActivities, workflowInfo } from '@temporalio/workflow';

export interface BaselineActivities {
  /** Does nothing; the bench's worker records when it started. */
  noop(runId: string, step: number): Promise<number>;
  /** One plain JSON POST, the least a terminal webhook can be. */
  post(url: string, body: string): Promise<void>;
}

const { noop, post } = proxyActivities<BaselineActivities>({ startToCloseTimeout: '1m' });

/** Calls the no-op activity `steps` times in a row. */
export async function baselineLoop(steps: number): Promise<number> {
  const { workflowId } = workflowInfo();
  let last = 0;
  for (let i = 0; i < steps; i++) last = await noop(workflowId, i);
  return last;
}

/** One no-op step, then tells `url` how it ended: the baseline for terminal webhooks. */
export async function baselineWebhook(url: string): Promise<void> {
  const { workflowId } = workflowInfo();
  const result = await noop(workflowId, 0);
  await post(url, JSON.stringify({ runId: workflowId, status: 'completed', result }));
}
