import { ApplicationFailure, Context, log } from '@temporalio/activity';
import { isGrpcServiceError } from '@temporalio/client';
import type { RunOutcome, TerminalHook } from '../shared/types';

/** Attempts a failing user hook gets before the run closes without it. */
export const USER_HOOK_ATTEMPTS = 3;

/** gRPC codes that no retry will change: INVALID_ARGUMENT (e.g. an outcome too large to carry), UNIMPLEMENTED. */
const PERMANENT_GRPC_CODES = new Set([3, 12]);

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isPermanent(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (isGrpcServiceError(e)) return PERMANENT_GRPC_CODES.has(e.code);
  }
  return false;
}

/**
 * Runs the terminal hooks of a run, once per attempt of the local activity (whose retry policy has
 * no attempt limit).
 *
 * `delivery` (the webhook hook: it starts the run's delivery workflow) goes first and is retried
 * until it succeeds, however long the frontend is unavailable: a delivery is never dropped. Only
 * an error no retry can mend (a gRPC INVALID_ARGUMENT, such as an outcome too large to carry) ends
 * it; it is then logged and kept in the run's history as the local activity's failure.
 *
 * User hooks then run; they are at-least-once, and a failing one makes the activity try again,
 * up to {@link USER_HOOK_ATTEMPTS} attempts, after which it is logged and the run closes. The
 * workflow never lets a hook change the run's outcome.
 */
export function createRunTerminalHooks(hooks: readonly TerminalHook[], delivery?: TerminalHook) {
  return async function runTerminalHooks(outcome: RunOutcome): Promise<void> {
    const { attempt } = Context.current().info;
    let undeliverable: string | undefined;
    if (delivery) {
      try {
        await delivery.onTermination(outcome);
      } catch (err) {
        if (!isPermanent(err)) {
          log.warn('starting the webhook delivery failed; trying again', {
            runId: outcome.runId,
            attempt,
            error: messageOf(err),
          });
          throw ApplicationFailure.retryable(
            `starting the webhook delivery failed: ${messageOf(err)}`,
            'DeliveryStartError',
          );
        }
        undeliverable = `webhook: ${messageOf(err)}`;
        log.error('the webhook delivery cannot be started', { runId: outcome.runId, error: messageOf(err) });
      }
    }
    const failed: string[] = [];
    for (const [i, hook] of hooks.entries()) {
      const name = hook.name ?? `hook #${i}`;
      try {
        await hook.onTermination(outcome);
      } catch (err) {
        log.warn('terminal hook failed', { runId: outcome.runId, hook: name, attempt, error: messageOf(err) });
        failed.push(`${name}: ${messageOf(err)}`);
      }
    }
    if (failed.length > 0 && attempt < USER_HOOK_ATTEMPTS) {
      throw ApplicationFailure.retryable(`terminal hooks failed: ${failed.join('; ')}`, 'TerminalHookError');
    }
    const given = [...(undeliverable ? [undeliverable] : []), ...failed];
    if (given.length > 0) {
      throw ApplicationFailure.nonRetryable(`terminal hooks gave up: ${given.join('; ')}`, 'TerminalHookError');
    }
  };
}
