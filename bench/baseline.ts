/**
 * The floor: minimal hand-written Temporal workflows, run by `npm run bench` beside durable-runs on
 * the same server with the same worker settings. Nothing built on Temporal can do better per step.
 */
import { condition, defineSignal, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';

export interface BaselineActivities {
  /** Does nothing; the bench's worker records when it started. */
  noop(runId: string, step: number): Promise<number>;
  /** One plain JSON POST, the least a terminal webhook can be. */
  post(url: string, body: string): Promise<void>;
  /** Sleeps `ms`, as a model call would take: the agent-shaped workload's step. */
  work(runId: string, step: number, ms: number): Promise<number>;
}

const { noop, post, work } = proxyActivities<BaselineActivities>({ startToCloseTimeout: '1m' });

/** The signal that wakes {@link baselineWake}: named as durable-runs' own, so the bench sends both alike. */
const wake = defineSignal<[unknown]>('event');

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

/** Waits for a signal, then runs one no-op step: the baseline for waking a waiting run. */
export async function baselineWake(): Promise<number> {
  const { workflowId } = workflowInfo();
  let woken = false;
  setHandler(wake, () => void (woken = true));
  await noop(workflowId, 0);
  await condition(() => woken);
  return noop(workflowId, 1);
}

/** `steps` steps that each take `ms` (a stand-in for a model call): the agent-shaped baseline. */
export async function baselineAgent(steps: number, ms: number): Promise<number> {
  const { workflowId } = workflowInfo();
  for (let i = 0; i < steps; i++) await work(workflowId, i, ms);
  return steps;
}
