import type { StepRunner, TerminalHook } from '../shared/types';
import { createRunStep } from './run-step';
import { requestCancellation } from './request-cancellation';
import { createRunTerminalHooks } from './terminal-hooks';

export type { RunStepInput, StepResult } from './run-step';

/** What the activities need from the worker, read and validated once at start-up. */
export interface ActivityDeps {
  runners: Readonly<Record<string, StepRunner>>;
  hooks: readonly TerminalHook[];
}

/** The activities of durable-runs, with their dependencies injected. */
export function createActivities(deps: ActivityDeps) {
  return {
    runStep: createRunStep(deps.runners),
    runTerminalHooks: createRunTerminalHooks(deps.hooks),
    requestCancellation,
  };
}
