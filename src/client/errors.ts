/** The errors the client throws, beside `ValidationError` (a bad argument, from the shared checks). */
import { isGrpcServiceError, ServiceError } from '@temporalio/client';

/** A resubmission of an existing run ID with a different input or headers. */
export class InputMismatch extends Error {
  constructor(readonly runId: string) {
    super(`run ${runId} already exists with a different input or headers`);
    this.name = 'InputMismatch';
  }
}

/** A run refused an event: it already keeps its limit of unconsumed events. The run holds nothing of it. */
export class EventRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EventRefused';
  }
}

/**
 * No worker answered for the run in time (none polls its task queue, or all are busy). The event
 * may still reach the run when a worker takes it: send it again with the same `eventId` to learn
 * whether it did (`deliverEvent` then answers `'duplicate'`).
 */
export class RunNotResponding extends Error {
  constructor(
    readonly runId: string,
    readonly eventId: string,
    timeoutMs: number,
  ) {
    super(
      `run ${runId} did not answer within ${timeoutMs} ms: is a worker polling its task queue, or is the run flooded with messages? The event (id ${eventId}) may still reach the run; send it again with that id to find out`,
    );
    this.name = 'RunNotResponding';
  }
}

/** The run does not exist (or not in this namespace). */
export class RunNotFound extends Error {
  constructor(
    readonly runId: string,
    message = `run ${runId} not found`,
  ) {
    super(message);
    this.name = 'RunNotFound';
  }
}

/** The server asks to try again later: too many updates of one workflow in flight, or one aborted. */
export function serverBusy(err: unknown): boolean {
  const cause = err instanceof ServiceError ? err.cause : err;
  return isGrpcServiceError(cause) && (cause.code === 8 || cause.code === 14); // RESOURCE_EXHAUSTED, UNAVAILABLE
}
