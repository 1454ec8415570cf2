import { ApplicationFailure, Context, log } from '@temporalio/activity';
import { isGrpcServiceError } from '@temporalio/client';
import { MetricName, type WebhookMetricResult } from '../shared/metrics';
import { ErrorType } from '../shared/names';
import type { RunOutcome, TerminalHook } from '../shared/types';

/** Attempts a failing user hook gets before the run closes without it. */
export const USER_HOOK_ATTEMPTS = 3;

/** gRPC codes that no retry will change: INVALID_ARGUMENT (e.g. an outcome too large to carry), UNIMPLEMENTED. */
const PERMANENT_GRPC_CODES = new Set([3, 12]);

/**
 * gRPC codes that do not heal by themselves, though an operator may mend them (a new API key, a
 * namespace created): NOT_FOUND (the namespace), PERMISSION_DENIED, FAILED_PRECONDITION (e.g. a
 * namespace that is not active here), UNAUTHENTICATED. Retried for the give-up time, then given up.
 */
const CONFIGURATION_GRPC_CODES = new Set([5, 7, 9, 16]);

const GRPC_CODE_NAMES: Readonly<Record<number, string>> = {
  3: 'INVALID_ARGUMENT',
  5: 'NOT_FOUND',
  7: 'PERMISSION_DENIED',
  9: 'FAILED_PRECONDITION',
  12: 'UNIMPLEMENTED',
  16: 'UNAUTHENTICATED',
};

/** Give-up time for a refusal that does not heal by itself (`DURABLE_RUNS_WEBHOOK_START_GIVE_UP_MS`). */
export const DEFAULT_START_GIVE_UP_MS = 5 * 60_000;

/**
 * Give-up time for every other error (UNAVAILABLE, DEADLINE_EXCEEDED, a lost connection): a
 * frontend outage heals, so the run waits it out, for a day at most, then closes all the same.
 */
export const TRANSIENT_START_GIVE_UP_MS = 24 * 3600_000;

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** How a failed delivery start is retried, and what it says: the server's own words, when it answered. */
type StartError = { kind: 'permanent' | 'configuration' | 'transient'; code?: string; message: string };

function classify(err: unknown): StartError {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (isGrpcServiceError(e)) {
      const code = GRPC_CODE_NAMES[e.code];
      const message = `${messageOf(err)}: ${code ?? `gRPC status ${e.code}`}: ${e.details || e.message}`;
      const kind = PERMANENT_GRPC_CODES.has(e.code)
        ? 'permanent'
        : CONFIGURATION_GRPC_CODES.has(e.code)
          ? 'configuration'
          : 'transient';
      return { kind, ...(code ? { code } : {}), message };
    }
  }
  return { kind: 'transient', message: messageOf(err) };
}

function countDelivery(result: WebhookMetricResult): void {
  Context.current()
    .metricMeter.createCounter(MetricName.WebhookDeliveriesTotal, '', 'Terminal webhook delivery attempts')
    .add(1, { result });
}

/**
 * Runs the terminal hooks of a run, once per attempt of the local activity (whose retry policy has
 * no attempt limit).
 *
 * `delivery` (the webhook hook: it starts the run's delivery workflow) goes first and is retried
 * while the frontend refuses it, for a bounded time: an error no retry can mend (a gRPC
 * INVALID_ARGUMENT, such as an outcome too large to carry) ends it at once; a refusal that needs
 * an operator (PERMISSION_DENIED, UNAUTHENTICATED, NOT_FOUND, FAILED_PRECONDITION) after
 * `startGiveUpMs`; any other error after {@link TRANSIENT_START_GIVE_UP_MS}, counted from the
 * first attempt. A delivery given up is logged as an error, counted as
 * `durable_runs_webhook_deliveries_total{result="not_started"}`, and kept in the run's history as
 * the local activity's failure (type `WebhookNotStarted`), where `webhookStatus` reads it.
 *
 * User hooks then run; they are at-least-once, and a failing one makes the activity try again,
 * up to {@link USER_HOOK_ATTEMPTS} attempts, after which it is logged and the run closes. The
 * workflow never lets a hook change the run's outcome.
 */
export function createRunTerminalHooks(
  hooks: readonly TerminalHook[],
  delivery?: TerminalHook,
  startGiveUpMs = DEFAULT_START_GIVE_UP_MS,
) {
  return async function runTerminalHooks(outcome: RunOutcome): Promise<void> {
    const { attempt, scheduledTimestampMs } = Context.current().info;
    let undeliverable: string | undefined;
    if (delivery) {
      try {
        await delivery.onTermination(outcome);
      } catch (err) {
        const error = classify(err);
        const elapsedMs = Date.now() - scheduledTimestampMs;
        const bound = error.kind === 'configuration' ? startGiveUpMs : TRANSIENT_START_GIVE_UP_MS;
        if (error.kind !== 'permanent' && elapsedMs < bound) {
          log.warn('starting the webhook delivery failed; trying again', {
            runId: outcome.runId,
            attempt,
            error: error.message,
            givesUpInMs: bound - elapsedMs,
          });
          throw ApplicationFailure.retryable(
            `starting the webhook delivery failed: ${error.message}`,
            'DeliveryStartError',
          );
        }
        undeliverable =
          error.kind === 'permanent'
            ? `the webhook delivery cannot be started: ${error.message}`
            : `the webhook delivery could not be started in ${Math.round(elapsedMs / 1000)} s (${attempt} attempts), gave up: ${error.message}`;
        log.error('the webhook delivery cannot be started; the run closes without it', {
          runId: outcome.runId,
          attempts: attempt,
          ...(error.code ? { code: error.code } : {}),
          error: undeliverable,
        });
        countDelivery('not_started');
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
    // A delivery given up stays given up: a user hook's retry does not start it again.
    if (failed.length > 0 && attempt < USER_HOOK_ATTEMPTS && !undeliverable) {
      throw ApplicationFailure.retryable(`terminal hooks failed: ${failed.join('; ')}`, 'TerminalHookError');
    }
    if (undeliverable) {
      throw ApplicationFailure.create({
        type: ErrorType.WebhookNotStarted,
        message: [`webhook: ${undeliverable}`, ...failed].join('; '),
        nonRetryable: true,
        details: [{ attempts: attempt }],
      });
    }
    if (failed.length > 0) {
      throw ApplicationFailure.nonRetryable(`terminal hooks gave up: ${failed.join('; ')}`, 'TerminalHookError');
    }
  };
}
