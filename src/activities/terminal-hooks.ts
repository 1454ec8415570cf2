import { ApplicationFailure, log } from '@temporalio/activity';
import type { RunOutcome, TerminalHook } from '../shared/types';

export function createRunTerminalHooks(hooks: readonly TerminalHook[]) {
  /**
   * Runs every terminal hook once per attempt. A failing hook is logged and the activity is
   * retried (hooks are at-least-once); the workflow never lets a hook change the run's outcome.
   */
  return async function runTerminalHooks(outcome: RunOutcome): Promise<void> {
    const failed: string[] = [];
    for (const [i, hook] of hooks.entries()) {
      const name = hook.name ?? `hook #${i}`;
      try {
        await hook.onTermination(outcome);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        log.warn('terminal hook failed', { runId: outcome.runId, hook: name, error: message });
        failed.push(`${name}: ${message}`);
      }
    }
    if (failed.length > 0) {
      throw ApplicationFailure.retryable(`terminal hooks failed: ${failed.join('; ')}`, 'TerminalHookError');
    }
  };
}
