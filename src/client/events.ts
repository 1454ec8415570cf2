/**
 * Sending events to runs: each is the run's `event` update, which the run accepts or refuses
 * itself. One client sends a run only a few at once (see {@link EVENTS_IN_FLIGHT_PER_RUN}). A run
 * in its start delay gets the `event` signal instead, which waits for its start.
 */
import {
  type Client,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { ulid } from 'ulid';
import { eventSignal, eventUpdate } from '../shared/definitions';
import { validateEventSignal } from '../shared/events';
import { ErrorType } from '../shared/names';
import { parseDelay, ValidationError, validateRunIdLookup, valueTooDeep } from '../shared/validate';
import { EventRefused, RunNotResponding, serverBusy } from './errors';
import { isDelayed } from './outcome';

/** How long `sendEvent` waits for the run's answer by default. */
export const SEND_EVENT_TIMEOUT_MS = 30_000;

/** Options of {@link RunsClient.sendEvent}. */
export interface SendEventOptions {
  /** The event's ID: a second event with an ID the run has received is not taken. @default a new ULID */
  id?: string;
  /**
   * How long to wait for the run's answer (milliseconds or a duration like `'1m'`): the run
   * answers through a worker, so with none running the wait ends in `RunNotResponding`.
   * @default 30000
   */
  timeout?: number | string;
}

/**
 * How many events one client sends to one run at once; the others wait their turn. The server
 * lets ten updates of one workflow be in flight (`history.maxInFlightUpdates`), and one it
 * refuses for that limit aborts the updates in flight too (server 1.32): past the limit, senders
 * would mostly retry each other's aborted updates.
 */
const EVENTS_IN_FLIGHT_PER_RUN = 8;

/** At most `limit` tasks at once per key; the others wait their turn, in order. */
class KeyedLimit {
  private readonly lanes = new Map<string, { active: number; waiting: Array<() => void> }>();

  constructor(private readonly limit: number) {}

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    let lane = this.lanes.get(key);
    if (!lane) this.lanes.set(key, (lane = { active: 0, waiting: [] }));
    if (lane.active < this.limit) lane.active += 1;
    else await new Promise<void>((resolve) => lane.waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = lane.waiting.shift();
      // The slot passes to the next in line, or is freed.
      if (next) next();
      else if (--lane.active === 0) this.lanes.delete(key);
    }
  }
}

/** How many run IDs a client remembers as started (past any start delay), and for how long. */
const STARTED_REMEMBERED = 10_000;
const STARTED_FOR_MS = 10 * 60_000;

/** A client's event sending, with its per-run limit of events in flight. */
export class EventSender {
  private readonly inFlight = new KeyedLimit(EVENTS_IN_FLIGHT_PER_RUN);
  /** Runs seen past their start delay, and when: an update no longer wakes them early. */
  private readonly started = new Map<string, number>();

  constructor(private readonly temporal: Client) {}

  /**
   * Whether `runId` is in its start delay (`startDelay` not yet passed). An update wakes such a
   * run at once, cutting its delay short, while a plain signal waits for the delay. Asked once per
   * run (a describe); a run seen started is remembered for a while. Throws WorkflowNotFoundError
   * for an unknown run.
   */
  private async inStartDelay(runId: string): Promise<boolean> {
    const seen = this.started.get(runId);
    if (seen !== undefined && Date.now() - seen < STARTED_FOR_MS) return false;
    const description = await this.temporal.workflow.getHandle(runId).describe();
    if (description.status.name === 'RUNNING' && isDelayed(description)) return true;
    this.started.delete(runId);
    this.started.set(runId, Date.now());
    // The oldest goes first (a Map keeps insertion order).
    if (this.started.size > STARTED_REMEMBERED) this.started.delete(this.started.keys().next().value!);
    return false;
  }

  /** {@link RunsClient.deliverEvent} */
  async deliver(
    runId: string,
    name: string,
    data: unknown,
    options: SendEventOptions,
  ): Promise<'accepted' | 'duplicate' | 'not-running'> {
    validateRunIdLookup(runId);
    const timeoutMs =
      options.timeout === undefined ? SEND_EVENT_TIMEOUT_MS : parseDelay(options.timeout, 'sendEvent timeout');
    const id = options.id ?? ulid();
    const event = validateEventSignal({ name, id, ...(data !== undefined ? { data } : {}) });
    const tooDeep = valueTooDeep("the event's data", data);
    if (tooDeep) throw new ValidationError(tooDeep);
    const handle = this.temporal.workflow.getHandle(runId);
    const deadline = Date.now() + timeoutMs;
    const send = async (): Promise<'accepted'> => {
      for (let pause = 50; ; pause = Math.min(pause * 2, 1000)) {
        try {
          await this.temporal.withDeadline(deadline, () => handle.executeUpdate(eventUpdate, { args: [event] }));
          return 'accepted';
        } catch (err) {
          // The server lets only a few updates of one workflow be in flight and asks the others
          // (other clients' too) to come back; so does an update it aborted before the run took it.
          const wait = pause / 2 + Math.random() * pause;
          if (!serverBusy(err) || Date.now() + wait >= deadline) throw err;
          await new Promise((resolve) => setTimeout(resolve, wait));
        }
      }
    };
    try {
      // A run in its start delay gets the event as a signal: Temporal holds it, and the run takes
      // it when it starts (a duplicate ID is dropped then), its delay kept.
      if (await this.inStartDelay(runId)) {
        await handle.signal(eventSignal, event);
        return 'accepted';
      }
      return await this.inFlight.run(runId, send);
    } catch (err) {
      if (serverBusy(err)) throw new RunNotResponding(runId, id, timeoutMs);
      if (err instanceof WorkflowNotFoundError) return 'not-running';
      if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) throw new RunNotResponding(runId, id, timeoutMs);
      const cause = err instanceof WorkflowUpdateFailedError ? err.cause : undefined;
      if (!(cause instanceof ApplicationFailure)) throw err;
      switch (cause.type) {
        case ErrorType.DuplicateEvent:
          return 'duplicate';
        case ErrorType.RunClosing:
          return 'not-running';
        case ErrorType.EventRefused:
          throw new EventRefused(`run ${runId} refused event "${name}": ${cause.message}`);
        case ErrorType.InvalidEvent:
          throw new ValidationError(cause.message);
      }
      // A worker of a version before the update: the event goes as a signal, as it did then.
      if (/no registered handler for update/i.test(cause.message)) {
        await handle.signal(eventSignal, event);
        return 'accepted';
      }
      throw err;
    }
  }
}
