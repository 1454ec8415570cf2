/**
 * The typed client of durable-runs: submit, watch, cancel and read runs; re-send webhooks.
 */
import {
  Client,
  Connection,
  WorkflowExecutionAlreadyStartedError,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  isGrpcServiceError,
  ServiceError,
} from '@temporalio/client';
import {
  ApplicationFailure,
  CancelledFailure,
  type Payload,
  type ProtoFailure,
  TerminatedFailure,
  TimeoutFailure,
} from '@temporalio/common';
// SDK internals, as no public API decodes a raw payload or failure (from a history or a description)
// through the data converter's codecs.
import {
  decodeOptionalFailureToOptionalError,
  decodeOptionalSinglePayload,
} from '@temporalio/common/lib/internal-non-workflow';
// No public API converts a proto Timestamp; the SDK's own helper (internal path) does.
import { optionalTsToDate } from '@temporalio/common/lib/time';
import { ulid } from 'ulid';
import { parseCallbackUrl } from '../activities/webhook/guard';
import { connectionTarget, loadConnectionConfig } from '../common/config';
import { type EncryptionOption, encryptionDataConverter, resolveEncryptionKeys } from '../payloads/encryption';
import { tenantFairnessKey } from '../common/fairness';
import { supportsEagerStart } from '../common/eager-start';
import { flushTracing, startTracing, tracingClientInterceptors } from '../observability';
import { cancelSignal, eventSignal, eventUpdate, resumeUpdate, statusQuery } from '../shared/definitions';
import { validateEventSignal } from '../shared/events';
import {
  ErrorType,
  OUTCOME_MEMO_KEY,
  PARKED_MEMO_KEY,
  WEBHOOK_WORKFLOW_TYPE,
  WORKFLOW_TYPE,
  webhookWorkflowId,
} from '../shared/names';
import { type RetryAnswer, retryRun } from './retry';
import { forkCarry, type ForkOptions } from './fork';
import { derivedRunId } from '../common/run-ids';
import { batchProgress, type BulkCancel, type BulkRetry, cancelMatching, retryMatching } from './bulk';
import { CLOSE_MEMO_KEY, type WebhookDeliveryInput, type WebhookDeliveryStatus } from '../shared/webhook';
import { RunSchedules } from './schedules';
import { toBase64 } from '../shared/payload-converter';
import type { ForkOrigin, RunOutcome, RunSpec, RunState, RunStatus, RunStatusKind } from '../shared/types';
import {
  type NormalizedRunSpec,
  parseDelay,
  type RunCarry,
  type RunScheduling,
  ValidationError,
  validatePriority,
  validateRunId,
  validateRunIdLookup,
  validateRunSpec,
  valueTooDeep,
  runSpecTooLarge,
} from '../shared/validate';

export { ValidationError };

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

/** The server asks to try again later: too many updates of one workflow in flight, or one aborted. */
function serverBusy(err: unknown): boolean {
  const cause = err instanceof ServiceError ? err.cause : err;
  return isGrpcServiceError(cause) && (cause.code === 8 || cause.code === 14); // RESOURCE_EXHAUSTED, UNAVAILABLE
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

export interface RunsClientOptions {
  /** An open connection; by default one is made from the `TEMPORAL_*` environment. */
  connection?: Connection;
  /** @default TEMPORAL_ADDRESS or "localhost:7233" */
  address?: string;
  /** @default TEMPORAL_NAMESPACE or "default" */
  namespace?: string;
  /** @default TEMPORAL_TASK_QUEUE or "durable-runs" */
  taskQueue?: string;
  /**
   * Header that carries the callback URL, checked at submission (must match the workers').
   * @default DURABLE_RUNS_WEBHOOK_URL_HEADER or "callback_url"
   */
  webhookUrlHeader?: string;
  /**
   * Payload encryption keys (`id:base64key[,…]`, the first encrypts) or `false` for none; they must
   * decrypt what the workers encrypt and the other way round.
   * @default DURABLE_RUNS_ENCRYPTION_KEYS; unset, payloads are plain JSON
   */
  encryptionKeys?: EncryptionOption;
}

export interface SubmitOptions extends RunSpec, RunScheduling {
  /** 1–128 characters of `[A-Za-z0-9_-]`. @default a new ULID */
  runId?: string;
  /** Start the run this much later (ms or `'10m'`): Temporal's start delay; `status()` says `scheduled` until then. */
  startDelay?: number | string;
}

export interface Submission {
  runId: string;
  /** `false` when the run already existed with the same input and headers. */
  newlySubmitted: boolean;
  /**
   * The server handed the run's first workflow task straight to a worker in this process (eager
   * start: a client on a worker's `NativeConnection`, that worker serving the task queue).
   */
  eagerlyStarted?: boolean;
}

export interface RunListing {
  runId: string;
  state: RunState;
  startTime: Date;
  closeTime?: Date;
}

const CLOSED_STATE: Record<string, RunStatusKind | undefined> = {
  COMPLETED: 'succeeded',
  FAILED: 'failed',
  CANCELLED: 'cancelled',
  TERMINATED: 'failed',
  TIMED_OUT: 'failed',
};

/** The close statuses of each state: Terminated and TimedOut runs read as failed in status(), so they list as failed. */
const LIST_FILTER: Record<string, string> = {
  running: `ExecutionStatus = 'Running'`,
  // Running executions, of which list() keeps those whose memo says they are parked.
  parked: `ExecutionStatus = 'Running'`,
  succeeded: `ExecutionStatus = 'Completed'`,
  failed: `ExecutionStatus IN ('Failed', 'Terminated', 'TimedOut')`,
  cancelled: `ExecutionStatus = 'Canceled'`,
};

type OutcomeMemo = Omit<RunOutcome, 'result'> & { runner?: string };
/** What a parked run holds in its Temporal memo (see {@link PARKED_MEMO_KEY}). */
type ParkedMemo = { step: number; attempt: number; lastError: string };

/** What {@link RunsClient.resumeRun} answers. */
export type ResumeAnswer = { resumed: true; step: number } | { resumed: false; reason: string };

/** How long `resume` waits for the run's answer (it answers through a worker). */
export const RESUME_TIMEOUT_MS = 30_000;

/** `<runId>-fork-<n>` is tried for n up to this; past it a fork needs a run ID of its own. */
const MAX_FORKS = 1000;

/**
 * The visibility-query condition for "child of `parent`", for any workflow ID: quotes can neither
 * break the query nor add conditions to it. A `'` is escaped (`\'`); the dev server's SQL
 * visibility matches no literal holding `"` or `\` as it was written (measured on Temporal 1.32),
 * so for such an ID the query selects by the prefix before the first of them and the caller keeps
 * only exact matches ({@link RunsClient.list} always checks the parent it reads back).
 */
export function parentCondition(parent: string): string {
  const literal = (value: string) => `'${value.replace(/'/g, "\\'")}'`;
  const cut = parent.search(/["\\]/);
  if (cut < 0) return `ParentWorkflowId = ${literal(parent)}`;
  return cut === 0 ? 'ParentWorkflowId IS NOT NULL' : `ParentWorkflowId STARTS_WITH ${literal(parent.slice(0, cut))}`;
}

/** A stable text for comparing submissions (key order ignored, bytes compared by content). */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Uint8Array) return { $bytes: toBase64(v) };
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)));
    }
    return v;
  });
}

/** The data converter clients must use to read and write durable-runs payloads. */
export const dataConverter = { payloadConverterPath: require.resolve('../shared/payload-converter') };

export class RunsClient {
  private constructor(
    /** The underlying Temporal client, for anything this one does not cover. */
    readonly temporal: Client,
    readonly taskQueue: string,
    private readonly ownsConnection: boolean,
    private readonly webhookUrlHeader = process.env.DURABLE_RUNS_WEBHOOK_URL_HEADER || 'callback_url',
  ) {
    this.schedules = new RunSchedules(temporal, taskQueue);
  }

  /** Schedules of runs (Temporal Schedules): create, list, describe, pause, unpause, trigger, delete. */
  readonly schedules: RunSchedules;

  private readonly eventsInFlight = new KeyedLimit(EVENTS_IN_FLIGHT_PER_RUN);

  /**
   * Wraps an existing Temporal client. It must use durable-runs' payload converter and, with
   * encryption, its codec and failure converter: `dataConverter: { ...dataConverter,
   * ...encryptionDataConverter(keys) }`.
   */
  static fromClient(temporal: Client, taskQueue: string): RunsClient {
    return new RunsClient(temporal, taskQueue, false);
  }

  /** Connects to Temporal (options first, then the `TEMPORAL_*` environment). */
  static async connect(options: RunsClientOptions = {}): Promise<RunsClient> {
    const env = loadConnectionConfig();
    const encryptionKeys = resolveEncryptionKeys(options.encryptionKeys);
    // With OTEL_EXPORTER_OTLP_ENDPOINT set, a submit starts the run's trace.
    const tracing = startTracing();
    const connection =
      options.connection ??
      (await Connection.connect(
        connectionTarget({ ...env, ...(options.address ? { address: options.address } : {}) }),
      ));
    const temporal = new Client({
      connection,
      namespace: options.namespace ?? env.namespace,
      dataConverter: { ...dataConverter, ...encryptionDataConverter(encryptionKeys) },
      ...(tracing ? { interceptors: { workflow: tracingClientInterceptors(tracing) } } : {}),
    });
    return new RunsClient(temporal, options.taskQueue ?? env.taskQueue, !options.connection, options.webhookUrlHeader);
  }

  /** Starts a run, or returns the existing one for a repeated submission with the same input and headers. */
  async submit(options: SubmitOptions): Promise<Submission> {
    const { runId: given, startDelay, priority, fairnessKey, fairnessWeight, ...rest } = options;
    const runId = given === undefined ? ulid() : validateRunId(given);
    const spec = validateRunSpec(rest);
    const tooDeep = valueTooDeep('input', spec.input);
    if (tooDeep) throw new ValidationError(tooDeep);
    const tooLarge = runSpecTooLarge(spec);
    if (tooLarge) throw new ValidationError(tooLarge);
    const delayMs = startDelay === undefined ? undefined : parseDelay(startDelay, 'startDelay');
    const taskPriority = validatePriority(
      { priority, fairnessKey: fairnessKey ?? tenantFairnessKey(this.temporal, spec.headers), fairnessWeight },
      spec.headers,
    );
    const callback = spec.headers[this.webhookUrlHeader];
    if (callback !== undefined) {
      try {
        parseCallbackUrl(callback);
      } catch (err) {
        throw new ValidationError(`header "${this.webhookUrlHeader}": ${(err as Error).message}`);
      }
    }
    try {
      const handle = await this.temporal.workflow.start(WORKFLOW_TYPE, {
        workflowId: runId,
        taskQueue: this.taskQueue,
        args: [rest],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        workflowIdConflictPolicy: 'FAIL',
        ...(delayMs ? { startDelay: delayMs } : {}),
        ...(taskPriority ? { priority: taskPriority } : {}),
        // Eager start: the server hands the first workflow task straight back to a worker in this
        // process (when one serves the task queue with a free slot), saving a matching round trip.
        ...(!delayMs && supportsEagerStart(this.temporal) ? { requestEagerStart: true } : {}),
      });
      return { runId, newlySubmitted: true, ...(handle.eagerlyStarted ? { eagerlyStarted: true } : {}) };
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
    const existing = await this.firstInput(runId);
    if (canonical([existing.input, existing.headers]) !== canonical([spec.input, spec.headers])) {
      throw new InputMismatch(runId);
    }
    return { runId, newlySubmitted: false };
  }

  /** Where a run stands; answers for closed runs too (no worker needed for those). */
  async status(runId: string): Promise<RunStatus> {
    validateRunIdLookup(runId);
    const description = await this.describe(runId);
    const closed = CLOSED_STATE[description.status.name];
    if (!closed) {
      // A delayed start: the run exists, but its first workflow task waits for executionTime.
      const startsAt = optionalTsToDate(description.raw.workflowExecutionInfo?.executionTime);
      if (startsAt && startsAt.getTime() > Date.now() && (await this.notStartedYet(description))) {
        const input = await this.firstInput(runId).catch(() => undefined);
        return {
          runId,
          state: 'scheduled',
          step: 0,
          runner: input?.runner ?? 'default',
          startsAt: startsAt.toISOString(),
        };
      }
      try {
        const status = await this.temporal.workflow.getHandle(runId).query(statusQuery);
        const progress = await this.progressOf(description);
        return progress === undefined ? status : { ...status, progress };
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) throw new RunNotFound(runId);
        // No worker to answer the query (all down, or none yet): read what the server knows.
        return this.statusFromServer(runId, description);
      }
    }
    const memo = description.memo?.[OUTCOME_MEMO_KEY] as OutcomeMemo | undefined;
    const forkedFrom = await this.forkOrigin(runId);
    if (memo) {
      return {
        runId,
        state: memo.status,
        step: memo.finalStep,
        ...(memo.error ? { lastError: memo.error } : {}),
        runner: memo.runner ?? 'default',
        ...(forkedFrom ? { forkedFrom } : {}),
      };
    }
    const input = await this.firstInput(runId).catch(() => undefined);
    if (description.status.name === 'COMPLETED') {
      const outcome = await this.result(runId);
      return {
        runId,
        state: outcome.status,
        step: outcome.finalStep,
        runner: input?.runner ?? 'default',
        ...(forkedFrom ? { forkedFrom } : {}),
      };
    }
    return {
      runId,
      state: closed,
      step: 0,
      lastError: `workflow ${description.status.name.toLowerCase().replace('_', ' ')}`,
      runner: input?.runner ?? 'default',
    };
  }

  /**
   * Sends an event to a run and waits for the run's answer (the `event` update): a `waitForEvent`
   * naming it takes it, now or later. The run itself accepts or refuses it, and a refused event
   * leaves nothing in the run.
   * @returns `true`: the run has the event (taken now, or earlier with the same `id`: a retried
   * send lands here and changes nothing). `false`: the run is unknown, closed or closing.
   * @throws `ValidationError` for a bad name, ID or payload; `EventRefused` when the run already
   * keeps its limit of unconsumed events; `RunNotResponding` when no worker answered within
   * `options.timeout`.
   */
  async sendEvent(runId: string, name: string, data?: unknown, options: SendEventOptions = {}): Promise<boolean> {
    return (await this.deliverEvent(runId, name, data, options)) !== 'not-running';
  }

  /**
   * {@link sendEvent}, telling apart an event the run took now (`'accepted'`) from one it already
   * had by its `id` (`'duplicate'`: nothing changed); `'not-running'` for an unknown, closed or
   * closing run. Throws as `sendEvent` does.
   */
  async deliverEvent(
    runId: string,
    name: string,
    data?: unknown,
    options: SendEventOptions = {},
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
      return await this.eventsInFlight.run(runId, send);
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

  /**
   * Cancels a running run. Returns `false` (and changes nothing) when the run is unknown or already closed.
   * @param reason ends up in `RunOutcome.error`
   */
  async cancel(runId: string, reason?: string): Promise<boolean> {
    validateRunIdLookup(runId);
    if (reason !== undefined && typeof reason !== 'string') throw new ValidationError('cancel reason must be a string');
    try {
      const description = await this.temporal.workflow.getHandle(runId).describe();
      if (description.status.name !== 'RUNNING') return false;
      await this.temporal.workflow.getHandle(runId).signal(cancelSignal, reason === undefined ? {} : { reason });
      return true;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }

  /** Waits for a run to close and tells how it ended, whatever its close status. */
  async result(runId: string): Promise<RunOutcome> {
    validateRunIdLookup(runId);
    const handle = this.temporal.workflow.getHandle<(spec: RunSpec) => Promise<RunOutcome>>(runId);
    try {
      return await handle.result();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new RunNotFound(runId);
      if (!(err instanceof WorkflowFailedError)) throw err;
      const description = await handle.describe();
      const memo = description.memo?.[OUTCOME_MEMO_KEY] as OutcomeMemo | undefined;
      if (memo) {
        const { runner: _runner, ...outcome } = memo;
        return outcome;
      }
      const cause = err.cause;
      const headers = (await this.firstInput(runId).catch(() => undefined))?.headers ?? {};
      const base = { runId, headers, finalStep: 0 };
      if (cause instanceof CancelledFailure) return { ...base, status: 'cancelled', error: null };
      const error =
        cause instanceof TerminatedFailure
          ? `terminated${cause.message ? `: ${cause.message}` : ''}`
          : cause instanceof TimeoutFailure
            ? 'workflow timed out'
            : cause instanceof ApplicationFailure
              ? cause.message
              : (cause?.message ?? err.message);
      return { ...base, status: 'failed', error };
    }
  }

  /** Lists runs, newest first, optionally by state. */
  async list(
    options: { state?: 'running' | 'parked' | RunStatusKind; limit?: number; parent?: string } = {},
  ): Promise<RunListing[]> {
    let query = `WorkflowType = '${WORKFLOW_TYPE}'`;
    if (options.parent !== undefined) {
      query += ` AND ${parentCondition(validateRunIdLookup(options.parent))}`;
    }
    if (options.state) {
      const status = LIST_FILTER[options.state];
      if (!status)
        throw new ValidationError(`unknown state "${options.state}" (running, parked, succeeded, failed, cancelled)`);
      query += ` AND ${status}`;
    }
    const limit = options.limit ?? 100;
    const out: RunListing[] = [];
    for await (const execution of this.temporal.workflow.list({ query })) {
      if (options.parent !== undefined && execution.parentExecution?.workflowId !== options.parent) continue;
      // Parked runs are Running executions whose memo says so: the listing carries each one's memo.
      const open = execution.status.name === 'RUNNING';
      const parked = open && execution.memo?.[PARKED_MEMO_KEY] != null;
      if ((options.state === 'parked' && !parked) || (options.state === 'running' && parked)) continue;
      out.push({
        runId: execution.workflowId,
        state: parked ? 'parked' : (CLOSED_STATE[execution.status.name] ?? 'running'),
        startTime: execution.startTime,
        ...(execution.closeTime ? { closeTime: execution.closeTime } : {}),
      });
      if (out.length >= limit) break;
    }
    return out;
  }

  /**
   * Runs a failed run again from the step that ended it, under the same run ID, at attempt 1; the
   * steps before it do not run again (Temporal's reset to the workflow task that scheduled that
   * step). Its new close is delivered with a new `webhook-id`.
   * @returns `false` for an unknown run, one that is running or did not fail, or one whose failing
   * step has no attempt to go back to ({@link retryRun} says why).
   */
  async retry(runId: string): Promise<boolean> {
    return (await this.retryRun(runId)).retried;
  }

  /** {@link retry}, with the step it runs again from, or the reason it cannot. */
  async retryRun(runId: string): Promise<RetryAnswer> {
    validateRunIdLookup(runId);
    return retryRun(this.temporal, runId);
  }

  /**
   * Forks a run: a new run whose first step is number `fromStep` of `runId`, with the payload that
   * step had (or `payload`), the same runner, headers, options and priority. The original is only
   * read, running or closed. The fork's status says `forkedFrom: { runId, step }`.
   * @returns the fork's run ID (`<runId>-fork-<n>`, the first free, unless `options.runId`).
   * @throws RunNotFound for an unknown run; ValidationError for a step that is not a whole number
   * ≥ 0, beyond the run's last step, or without a recorded input when no payload is given, and
   * for a run ID that is taken.
   */
  async fork(runId: string, options: ForkOptions): Promise<{ runId: string }> {
    validateRunIdLookup(runId);
    if (options.runId !== undefined) validateRunId(options.runId);
    const description = await this.describe(runId);
    const carry = await forkCarry(this.temporal, runId, options);
    const spec = await this.firstInput(runId);
    const priority = description.raw.workflowExecutionInfo?.priority;
    const ids =
      options.runId !== undefined
        ? [options.runId]
        : Array.from({ length: MAX_FORKS }, (_, i) => derivedRunId(runId, `-fork-${i + 1}`));
    for (const id of ids) {
      try {
        await this.temporal.workflow.start(WORKFLOW_TYPE, {
          workflowId: id,
          taskQueue: this.taskQueue,
          args: [spec, carry],
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          workflowIdConflictPolicy: 'FAIL',
          ...(priority
            ? {
                priority: {
                  ...(priority.priorityKey ? { priorityKey: priority.priorityKey } : {}),
                  ...(priority.fairnessKey ? { fairnessKey: priority.fairnessKey } : {}),
                  ...(priority.fairnessWeight ? { fairnessWeight: priority.fairnessWeight } : {}),
                },
              }
            : {}),
        });
        return { runId: id };
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      }
    }
    throw new ValidationError(
      options.runId !== undefined
        ? `fork: run ID ${options.runId} is taken`
        : `fork: run ${runId} has ${MAX_FORKS} forks already; give the fork a run ID`,
    );
  }

  /**
   * Runs a parked run's step again from attempt 1 (`onExhausted: 'park'`), with `payload` if
   * given, else the step's own; the step's memos stay. A run that is not parked changes nothing.
   * @returns `false` for an unknown, closed or not parked run ({@link resumeRun} says why).
   */
  async resume(runId: string, options: { payload?: unknown } = {}): Promise<boolean> {
    return (await this.resumeRun(runId, options)).resumed;
  }

  /**
   * {@link resume}, with the step that runs again or the reason it cannot (the run's own answer:
   * the `durableRuns.resume` update, whose validator refuses without writing history).
   * @throws an `Error` saying so when no worker answered within {@link RESUME_TIMEOUT_MS}.
   */
  async resumeRun(runId: string, options: { payload?: unknown } = {}): Promise<ResumeAnswer> {
    validateRunIdLookup(runId);
    const handle = this.temporal.workflow.getHandle(runId);
    let description: WorkflowExecutionDescription;
    try {
      description = await handle.describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return { resumed: false, reason: `run ${runId} is unknown` };
      throw err;
    }
    const closed = CLOSED_STATE[description.status.name];
    if (closed) return { resumed: false, reason: `run ${runId} is closed ${closed}: only a parked run can be resumed` };
    const request = Object.hasOwn(options, 'payload') ? { payload: options.payload ?? null } : {};
    try {
      const { step } = await this.temporal.withDeadline(Date.now() + RESUME_TIMEOUT_MS, () =>
        handle.executeUpdate(resumeUpdate, { args: [request] }),
      );
      return { resumed: true, step };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return { resumed: false, reason: `run ${runId} is closed` };
      if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || serverBusy(err)) {
        throw new Error(
          `run ${runId} did not answer within ${RESUME_TIMEOUT_MS} ms: is a worker polling its task queue? It may still resume: see its status`,
          { cause: err },
        );
      }
      const cause = err instanceof WorkflowUpdateFailedError ? err.cause : undefined;
      // The run's refusal (not parked), or a worker of a version without resume.
      if (cause instanceof ApplicationFailure) return { resumed: false, reason: cause.message };
      throw err;
    }
  }

  /**
   * Cancels every running run a visibility query selects (search attributes, e.g.
   * `StartTime < '2026-12-01T00:00:00Z'`), through a Temporal batch job that sends each the
   * `cancel` signal (server-side: it goes on without this client); `dryRun` only counts them.
   * @throws ValidationError for a query the server cannot parse, naming it.
   */
  async cancelMatching(query: string, options: { reason?: string; dryRun?: boolean } = {}): Promise<BulkCancel> {
    return cancelMatching(this.temporal, query, options);
  }

  /** How a batch job of {@link cancelMatching} stands. */
  async batchProgress(jobId: string): Promise<{ state: string; total: number; completed: number; failed: number }> {
    return batchProgress(this.temporal, jobId);
  }

  /** {@link retry} for every failed run a visibility query selects; `dryRun` only counts them. */
  async retryMatching(query: string, options: { dryRun?: boolean } = {}): Promise<BulkRetry> {
    return retryMatching(this.temporal, query, options);
  }

  /**
   * Sends the terminal webhook of the run's latest close again, with its `webhook-id`, in a new execution of its
   * `<runId>.webhook` workflow. Fails if the run never had a webhook or a delivery is in progress.
   */
  async redeliver(runId: string): Promise<void> {
    validateRunIdLookup(runId);
    const workflowId = webhookWorkflowId(runId);
    const input = await this.startInput<WebhookDeliveryInput>(workflowId).catch((err: unknown) => {
      if (err instanceof RunNotFound) throw new RunNotFound(runId, `run ${runId} has no terminal webhook to redeliver`);
      throw err;
    });
    // The latest close's delivery, again: its memo names that close, so that a terminal hook of
    // the same close that runs late still finds it.
    const { memo } = await this.temporal.workflow.getHandle(workflowId).describe();
    try {
      await this.temporal.workflow.start(WEBHOOK_WORKFLOW_TYPE, {
        workflowId,
        taskQueue: this.taskQueue,
        args: [input],
        ...(memo?.[CLOSE_MEMO_KEY] !== undefined ? { memo: { [CLOSE_MEMO_KEY]: memo[CLOSE_MEMO_KEY] } } : {}),
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        workflowIdConflictPolicy: 'FAIL',
      });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        throw new ValidationError(`the webhook of run ${runId} is still being delivered`);
      }
      throw err;
    }
  }

  /**
   * How the run's terminal webhook went (the latest delivery); `failed` with `attempts: 0` when the
   * run gave up starting its delivery (DURABLE_RUNS_WEBHOOK_START_GIVE_UP_MS); `undefined` if it has none.
   */
  async webhookStatus(runId: string): Promise<WebhookDeliveryStatus | undefined> {
    validateRunIdLookup(runId);
    const handle = this.temporal.workflow.getHandle(webhookWorkflowId(runId));
    let description: WorkflowExecutionDescription;
    try {
      description = await handle.describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return this.deliveryNotStarted(runId);
      throw err;
    }
    if (description.status.name === 'RUNNING') {
      const pending = description.raw.pendingActivities?.[0];
      // The first attempt of a delivery is a local activity (a marker in its short history): with
      // no pending activity it is running, or it failed and the delivery waits out the backoff;
      // the activity's attempts come after it.
      const local = await this.localAttempt(handle);
      const attempts = pending ? (pending.attempt ?? 1) + (local.ran ? 1 : 0) : 1;
      const lastError = await this.failureMessage(pending?.lastFailure ?? local.failure);
      return { runId, state: 'pending', attempts, ...(lastError ? { lastError } : {}) };
    }
    try {
      const done = (await handle.result()) as { attempts: number; lastStatus?: number };
      return {
        runId,
        state: 'delivered',
        attempts: done.attempts,
        ...(done.lastStatus !== undefined ? { lastStatus: done.lastStatus } : {}),
      };
    } catch (err) {
      const failure = err instanceof WorkflowFailedError ? err.cause : undefined;
      const details = (failure instanceof ApplicationFailure ? failure.details?.[0] : undefined) as
        { attempts?: number; lastStatus?: number; lastError?: string } | undefined;
      return {
        runId,
        state: 'failed',
        attempts: details?.attempts ?? 0,
        ...(details?.lastStatus !== undefined ? { lastStatus: details.lastStatus } : {}),
        lastError: details?.lastError ?? failure?.message ?? `delivery ${description.status.name.toLowerCase()}`,
      };
    }
  }

  /** Closes the connection if this client opened it. */
  async close(): Promise<void> {
    if (this.ownsConnection) await this.temporal.connection.close();
    await flushTracing();
  }

  /** A payload read from a raw history or description: decrypted when it is encrypted, then converted. */
  private async fromRawPayload<T>(payload: Payload): Promise<T> {
    return (await decodeOptionalSinglePayload<T>(this.temporal.options.loadedDataConverter, payload)) as T;
  }

  /** A raw failure's message, decrypted when it is encrypted. */
  private async failureMessage(failure: ProtoFailure | null | undefined): Promise<string | undefined> {
    if (!failure) return undefined;
    try {
      return (await decodeOptionalFailureToOptionalError(this.temporal.options.loadedDataConverter, failure))?.message;
    } catch (err) {
      return `${failure.message ?? 'failure'} (${(err as Error).message})`;
    }
  }

  /** Whether a delivery's first attempt ran as a local activity, and its failure if it failed. */
  private async localAttempt(handle: WorkflowHandle): Promise<{ ran: boolean; failure?: ProtoFailure }> {
    const events = (await handle.fetchHistory()).events ?? [];
    const marker = events.find(
      (e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity',
    )?.markerRecordedEventAttributes;
    return { ran: marker !== undefined, ...(marker?.failure ? { failure: marker.failure as ProtoFailure } : {}) };
  }

  /**
   * A run that gave up starting its delivery (no `<runId>.webhook` workflow exists): the
   * terminal-hooks local activity's failure of type `WebhookNotStarted`, in the run's history.
   */
  private async deliveryNotStarted(runId: string): Promise<WebhookDeliveryStatus | undefined> {
    let events;
    try {
      events = (await this.temporal.workflow.getHandle(runId).fetchHistory()).events ?? [];
    } catch (err) {
      if (err instanceof WorkflowNotFoundError || (err as { code?: number }).code === 5) return undefined;
      throw err;
    }
    for (const event of events) {
      const marker = event.markerRecordedEventAttributes;
      if (marker?.markerName !== 'core_local_activity' || !marker.failure) continue;
      let failure: ProtoFailure | null | undefined = marker.failure as ProtoFailure;
      while (failure && failure.applicationFailureInfo?.type !== ErrorType.WebhookNotStarted) failure = failure.cause;
      if (!failure) continue;
      const error = await this.failureMessage(failure);
      return { runId, state: 'failed', attempts: 0, lastError: error ?? 'the webhook delivery could not be started' };
    }
    return undefined;
  }

  /**
   * Whether a delayed run still waits for its first workflow task. Signals sent meanwhile are
   * recorded but do not start it (measured on the dev server: its history is the start and the
   * signals, no workflow task); a signal-with-start does, and a workflow task follows its signal.
   * So the run has not started while its last event is its start or a signal.
   */
  private async notStartedYet(description: WorkflowExecutionDescription): Promise<boolean> {
    if ((description.historyLength ?? 0) <= 1) return true;
    let history;
    try {
      ({ history } = await this.temporal.workflowService.getWorkflowExecutionHistoryReverse({
        namespace: this.temporal.options.namespace,
        execution: { workflowId: description.workflowId, runId: description.runId },
        maximumPageSize: 1,
      }));
    } catch (err) {
      // The time-skipping test server has no reverse history: a started run has at least 3 events there.
      if ((err as { code?: number }).code === 12) return (description.historyLength ?? 0) <= 2;
      throw err;
    }
    const last = history?.events?.[0];
    return (
      last?.workflowExecutionSignaledEventAttributes != null || last?.workflowExecutionStartedEventAttributes != null
    );
  }

  /** The running step's latest heartbeat details: its progress. */
  private async progressOf(description: WorkflowExecutionDescription): Promise<unknown> {
    const pending = description.raw.pendingActivities?.find((a) => a.activityType?.name === 'runStep');
    const payload = pending?.heartbeatDetails?.payloads?.[0];
    if (!payload) return undefined;
    try {
      return await this.fromRawPayload(payload);
    } catch {
      return undefined;
    }
  }

  private async describe(runId: string): Promise<WorkflowExecutionDescription> {
    try {
      return await this.temporal.workflow.getHandle(runId).describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new RunNotFound(runId);
      throw err;
    }
  }

  /** Status of a running run from its history alone: the last scheduled step and its pending attempt. */
  private async statusFromServer(runId: string, description: WorkflowExecutionDescription): Promise<RunStatus> {
    const { history } = await this.temporal.workflowService.getWorkflowExecutionHistoryReverse({
      namespace: this.temporal.options.namespace,
      execution: { workflowId: runId, runId: description.runId },
      maximumPageSize: 50,
    });
    let step: { stepNumber?: number; runner?: string; attempt?: number } | undefined;
    for (const event of history?.events ?? []) {
      const scheduled = event.activityTaskScheduledEventAttributes;
      const payload = scheduled?.input?.payloads?.[0];
      if (scheduled?.activityType?.name === 'runStep' && payload) {
        step = await this.fromRawPayload(payload);
        break;
      }
    }
    const parked = description.memo?.[PARKED_MEMO_KEY] as ParkedMemo | null | undefined;
    if (parked) {
      const runner = step?.runner ?? (await this.firstInput(runId).catch(() => undefined))?.runner ?? 'default';
      return {
        runId,
        state: 'parked',
        step: parked.step,
        attempt: parked.attempt,
        lastError: parked.lastError,
        runner,
      };
    }
    const pending = description.raw.pendingActivities?.find((a) => a.activityType?.name === 'runStep');
    const lastError = await this.failureMessage(pending?.lastFailure);
    return {
      runId,
      state: 'running',
      step: step?.stepNumber ?? 0,
      attempt: step?.attempt ?? 1,
      ...(lastError ? { lastError } : {}),
      runner: step?.runner ?? (await this.firstInput(runId).catch(() => undefined))?.runner ?? 'default',
    };
  }

  /** The input of the run's current execution (what it was started or continued with). */
  private async firstInput(runId: string): Promise<NormalizedRunSpec> {
    return validateRunSpec(await this.startInput(runId));
  }

  /** Where a closed run was forked from: its current execution's carry says (a running run's status query does). */
  private async forkOrigin(runId: string): Promise<ForkOrigin | undefined> {
    const carry = await this.startInput<RunCarry | undefined>(runId, 1).catch(() => undefined);
    const origin = carry?.forkedFrom;
    return origin && typeof origin.runId === 'string' && typeof origin.step === 'number' ? origin : undefined;
  }

  /** The first (or the `index`th) argument of a workflow's current execution, read from its first history event. */
  private async startInput<T>(workflowId: string, index = 0): Promise<T> {
    let history;
    try {
      ({ history } = await this.temporal.workflowService.getWorkflowExecutionHistory({
        namespace: this.temporal.options.namespace,
        execution: { workflowId },
        maximumPageSize: 1,
      }));
    } catch (err) {
      if ((err as { code?: number }).code === 5) throw new RunNotFound(workflowId);
      throw err;
    }
    const payload = history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[index];
    if (!payload) {
      if (index > 0 && history?.events?.length) return undefined as T;
      throw new RunNotFound(workflowId);
    }
    return this.fromRawPayload<T>(payload);
  }
}
