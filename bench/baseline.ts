/**
 * The floor: a minimal hand-written Temporal workflow that calls one no-op activity N times.
 * Nothing built on Temporal can do better per step on the same server.
 */
import { proxyActivities, workflowInfo } from '@temporalio/workflow';

export interface BaselineActivities {
  noop(runId: string, step: number): Promise<number>;
}

const { noop } = proxyActivities<BaselineActivities>({ startToCloseTimeout: '1m' });

export async function baselineLoop(steps: number): Promise<number> {
  const { workflowId } = workflowInfo();
  let last = 0;
  for (let i = 0; i < steps; i++) last = await noop(workflowId, i);
  return last;
}
