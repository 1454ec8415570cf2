import { DEFAULT_WEBHOOK_OPTIONS } from '../common/config';
import type { StepRunner, TerminalHook, WebhookOptions } from '../shared/types';
import { createRunnerMode, createRunStep } from './run-step';
import { readRunOutcome } from './read-outcome';
import { requestCancellation } from './request-cancellation';
import { createRunTerminalHooks } from './terminal-hooks';
import { createDeliverWebhook } from './webhook/deliver';
import { WebhookTerminalHook } from './webhook/hook';
import type { GroupWorkerLimits } from '../limits/groups';
import { GroupRouter } from '../limits/router';

export type { ResolvedChild, RunStepInput, StepResult } from './run-step';

/** What the activities need from the worker, read and validated once at start-up. */
export interface ActivityDeps {
  runners: Readonly<Record<string, StepRunner>>;
  hooks: readonly TerminalHook[];
  /** Terminal webhook settings; unset turns the webhook hook off. */
  webhook?: Readonly<WebhookOptions>;
  /** `DURABLE_RUNS_LIMITS`: the groups this worker holds to a concurrency. */
  groupLimits?: Readonly<Record<string, GroupWorkerLimits>>;
}

/** The activities of durable-runs, with their dependencies injected. */
export function createActivities(deps: ActivityDeps) {
  return {
    runnerMode: createRunnerMode(deps.runners),
    runStep: createRunStep(
      deps.runners,
      (deps.webhook ?? DEFAULT_WEBHOOK_OPTIONS).urlHeader,
      // Whether a run with these headers has a terminal hook to run on this worker.
      (headers) =>
        deps.hooks.length > 0 || (deps.webhook !== undefined && headers[deps.webhook.urlHeader] !== undefined),
      new GroupRouter(new Set(Object.keys(deps.groupLimits ?? {}))),
    ),
    runTerminalHooks: createRunTerminalHooks(
      deps.hooks,
      deps.webhook ? new WebhookTerminalHook(deps.webhook) : undefined,
      deps.webhook?.startGiveUpMs,
    ),
    requestCancellation,
    readRunOutcome,
    deliverWebhook: createDeliverWebhook(deps.webhook ?? DEFAULT_WEBHOOK_OPTIONS),
  };
}
