import { Context } from '@temporalio/activity';
import { isDeepStrictEqual } from 'node:util';
import { type Client, WorkflowExecutionAlreadyStartedError, type WorkflowStartOptions } from '@temporalio/client';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import { supportsEagerStart } from '../../common/eager-start';
import { WEBHOOK_WORKFLOW_TYPE, webhookWorkflowId } from '../../shared/names';
import type { RunOutcome, TerminalHook, WebhookOptions } from '../../shared/types';
import { CLOSE_MEMO_KEY, type WebhookDeliveryInput, webhookIdFor } from '../../shared/webhook';

/**
 * The terminal hook behind the webhook: when a run's headers hold the callback URL, it starts the
 * run's `webhookDelivery` workflow (ID `<runId>.webhook`) and returns, so the run closes at once.
 *
 * One delivery per close. A close is the workflow execution that closed the run: a hook that runs
 * twice for one close (a retried local activity, a worker that died after starting the delivery)
 * finds that close's delivery and starts nothing. A run that closes again (after a
 * `temporal workflow reset`, a `retry` or a `resume`) closes in another execution: its outcome gets
 * a delivery of its own, with a new `webhook-id`, and an earlier close's delivery still retrying
 * is ended (its news is stale). The delivery's memo names its close.
 */
export class WebhookTerminalHook implements TerminalHook {
  readonly name = 'webhook';

  constructor(private readonly options: Readonly<WebhookOptions>) {}

  async onTermination(outcome: RunOutcome): Promise<void> {
    const url = outcome.headers[this.options.urlHeader];
    if (url === undefined) return;
    const { client, info } = Context.current();
    // Always there for a hook: it runs as an activity of the run that closes.
    const close = info.workflowExecution?.runId ?? outcome.runId;
    const workflowId = webhookWorkflowId(outcome.runId);
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
    const start = (options: Pick<WorkflowStartOptions, 'workflowIdReusePolicy' | 'workflowIdConflictPolicy'>) =>
      client.workflow.start(WEBHOOK_WORKFLOW_TYPE, {
        workflowId,
        taskQueue: info.taskQueue,
        args: [input],
        memo: { [CLOSE_MEMO_KEY]: close },
        ...options,
        // The activity's client is on this worker's NativeConnection: the server hands the
        // delivery's first workflow task straight back to this worker (when it has a free slot)
        // instead of through the task queue. It falls back to the queue by itself.
        ...(supportsEagerStart(client) ? { requestEagerStart: true } : {}),
      });
    try {
      // The run's first close: `webhook-id` is `msg_<runId>`, as it has always been.
      await start({ workflowIdReusePolicy: 'REJECT_DUPLICATE' });
      return;
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
    const latest = await client.workflow.getHandle(workflowId).describe();
    const of = latest.memo?.[CLOSE_MEMO_KEY];
    // This close's delivery is there already. A delivery started before closes were told apart
    // names none: it stands for this close when it carries this outcome.
    if (of === close) return;
    if (of === undefined && isDeepStrictEqual((await startInput(client, workflowId)).outcome, outcome)) return;
    input.webhookId = webhookIdFor(outcome.runId, close);
    await start({ workflowIdReusePolicy: 'ALLOW_DUPLICATE', workflowIdConflictPolicy: 'TERMINATE_EXISTING' });
  }
}

/** The input a delivery started with (the first event of its latest execution). */
async function startInput(client: Client, workflowId: string): Promise<WebhookDeliveryInput> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const payloads = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads ?? [];
  return (await decodeFromPayloadsAtIndex(client.options.loadedDataConverter, 0, payloads)) as WebhookDeliveryInput;
}
