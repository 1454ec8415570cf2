import { Context } from '@temporalio/activity';

/**
 * Asks the server to cancel the calling run, so that a run cancelled by the `cancel` signal or by
 * its runner closes as Canceled: the SDK closes a workflow as Canceled only when the server holds
 * a cancel request for it, and the server refuses a workflow's request to cancel itself as an
 * "external" workflow. The client API has no such restriction.
 */
export async function requestCancellation(runId: string): Promise<void> {
  const { workflowExecution } = Context.current().info;
  if (!workflowExecution) throw new Error("requestCancellation runs only as a workflow's activity");
  await Context.current().client.workflow.getHandle(runId, workflowExecution.runId).cancel();
}
