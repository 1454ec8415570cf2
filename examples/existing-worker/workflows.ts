/** The team's own workflows, unchanged: durable-runs' workflows join them through the plugin. */
import { proxyActivities } from '@temporalio/workflow';
import type * as activities from './activities';

const { greet } = proxyActivities<typeof activities>({ startToCloseTimeout: '10s' });

/** A workflow the team already had. */
export async function greeting(name: string): Promise<string> {
  return await greet(name);
}
