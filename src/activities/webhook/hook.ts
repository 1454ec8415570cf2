import { Context } from '@temporalio/activity';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { supportsEagerStart } from '../../eager-start';
import { WEBHOOK_WORKFLOW_TYPE, webhookWorkflowId } from '../../shared/names';
import type { RunOutcome, TerminalHook, WebhookOptions } from '../../shared/types';
import { type WebhookDeliveryInput, webhookIdFor } from '../../shared/webhook';

/**
 * The terminal hook behind the webhook: when a run's headers hold the callback URL, it starts the
 * run's `webhookDelivery` workflow (ID `<runId>.webhook`) and returns, so the run closes at once.
 * Started at most once per run even if the hook runs twice: the workflow ID is never reused by it.
 */
export class WebhookTerminalHook implements TerminalHook {
  readonly name = 'webhook';

  constructor(private readonly options: Readonly<WebhookOptions>) {}

  async onTermination(outcome: RunOutcome): Promise<void> {
    const url = outcome.headers[this.options.urlHeader];
    if (url === undefined) return;
    const { client, info } = Context.current();
    const input: WebhookDeliveryInput = {
      runId: outcome.runId,
      url,
      outcome,
      webhookId: webhookIdFor(outcome.runId),
      retry: {
        maxRetries: this.options.maxRetries,
        baseDelayMs: this.options.baseDelayMs,
        maxDelayMs: this.options.maxDelayMs,
        timeoutMs: this.options.timeoutMs,
      },
    };
    try {
      await client.workflow.start(WEBHOOK_WORKFLOW_TYPE, {
        workflowId: webhookWorkflowId(outcome.runId),
        taskQueue: info.taskQueue,
        args: [input],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        // The activity's client is on this worker's NativeConnection: the server hands the
        // delivery's first workflow task straight back to this worker (when it has a free slot)
        // instead of through the task queue. It falls back to the queue by itself.
        ...(supportsEagerStart(client) ? { requestEagerStart: true } : {}),
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  }
}
