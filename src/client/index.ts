/**
 * The typed client of durable-runs: submit, watch, cancel and read runs; re-send webhooks. A thin
 * facade: each part of its work lives in a module of its own beside this one.
 */
import type { Client } from '@temporalio/client';
import { flushTracing } from '../observability';
import { dataConverter } from '../payloads/data-converter';
import type { RunOutcome, RunStatus } from '../shared/types';
import { ValidationError, validateRunIdLookup } from '../shared/validate';
import type { WebhookDeliveryStatus } from '../shared/webhook';
import { batchProgress, type BulkCancel, type BulkRetry, cancelMatching, retryMatching } from './bulk';
import { EventSender, type SendEventOptions } from './events';
import { type ForkOptions, forkRun } from './fork';
import { type ListState, listRuns, type RunListing } from './list';
import { cancelRun, runResult } from './outcome';
import { type ResumeAnswer, type ResumeOptions, resumeRun } from './resume';
import { type RetryAnswer, retryRun } from './retry';
import { RunSchedules } from './schedules';
import { RunLimits } from '../limits/admin';
import { runStatus } from './status';
import { type Submission, type SubmitOptions, submitRun } from './submit';
import { redeliverWebhook, webhookStatus } from './webhooks';
import { readStream, type StreamEvent, type StreamOptions } from '../streams/reader';
import { RunNotFound } from './errors';
import { openTemporalClient, type RunsClientOptions } from './connect';

export { ValidationError, dataConverter };
export { EventRefused, InputMismatch, RunNotFound, RunNotResponding } from './errors';
export { SEND_EVENT_TIMEOUT_MS, type SendEventOptions } from './events';
export { parentCondition, type RunListing } from './list';
export { RESUME_TIMEOUT_MS, type ResumeAnswer, type ResumeOptions } from './resume';
export type { Submission, SubmitOptions } from './submit';
export type { RunsClientOptions } from './connect';
export { StreamOutOfRange, type StreamEvent, type StreamOptions } from '../streams/reader';

export class RunsClient {
  private constructor(
    /** The underlying Temporal client, for anything this one does not cover. */
    readonly temporal: Client,
    readonly taskQueue: string,
    private readonly ownsConnection: boolean,
    private readonly webhookUrlHeader = process.env.DURABLE_RUNS_WEBHOOK_URL_HEADER || 'callback_url',
  ) {
    this.schedules = new RunSchedules(temporal, taskQueue);
    this.limits = new RunLimits(temporal, taskQueue);
    this.events = new EventSender(temporal);
  }

  /** Schedules of runs (Temporal Schedules): create, list, describe, pause, unpause, trigger, delete. */
  readonly schedules: RunSchedules;

  /**
   * The rates of limit groups (`limited(runner, group)`), kept by the Temporal server for the whole
   * cluster: set, get, list.
   */
  readonly limits: RunLimits;

  private readonly events: EventSender;

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
    const { temporal, taskQueue, ownsConnection } = await openTemporalClient(options);
    return new RunsClient(temporal, taskQueue, ownsConnection, options.webhookUrlHeader);
  }

  /** Starts a run, or returns the existing one for a repeated submission with the same input and headers. */
  async submit(options: SubmitOptions): Promise<Submission> {
    return submitRun(this, this.webhookUrlHeader, options);
  }

  /** Where a run stands; answers for closed runs too (no worker needed for those). */
  async status(runId: string): Promise<RunStatus> {
    return runStatus(this.temporal, runId);
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
    return this.events.deliver(runId, name, data, options);
  }

  /**
   * Cancels a running run. Returns `false` (and changes nothing) when the run is unknown or already closed.
   * @param reason ends up in `RunOutcome.error`
   */
  async cancel(runId: string, reason?: string): Promise<boolean> {
    return cancelRun(this.temporal, runId, reason);
  }

  /** Waits for a run to close and tells how it ended, whatever its close status. */
  async result(runId: string): Promise<RunOutcome> {
    return runResult(this.temporal, runId);
  }

  /**
   * The run's live stream (what its steps give `step.stream`): `chunk`, `retract` and `gap`
   * events in offset order, then `closed` with the outcome. `from` resumes right after that offset;
   * a closed run replays the chunks it kept. Stop with `signal`, or by leaving the loop.
   */
  stream(runId: string, options: StreamOptions = {}): AsyncIterable<StreamEvent> {
    validateRunIdLookup(runId);
    return readStream(
      { temporal: this.temporal, outcome: (id) => this.result(id), notFound: (id) => new RunNotFound(id) },
      runId,
      options,
    );
  }

  /**
   * Lists runs, newest first, optionally by state. `waiting`, `sleeping`, `cancelling` and
   * `scheduled` need the run-state search attributes (`durable-runs dev` registers them).
   */
  async list(options: { state?: ListState; limit?: number; parent?: string } = {}): Promise<RunListing[]> {
    return listRuns(this.temporal, options);
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
    return forkRun(this, runId, options);
  }

  /**
   * Runs a parked run's step again from attempt 1 (`onExhausted: 'park'`), with `payload` if
   * given, else the step's own; the step's memos stay. A run that is not parked changes nothing.
   * A run parked on its budget (`maxCostUsd`, `maxTokens`) goes on once `options` raise it above
   * what the run has used, with what its last step returned (no payload then).
   * @returns `false` for an unknown, closed or not parked run ({@link resumeRun} says why).
   */
  async resume(runId: string, options: ResumeOptions = {}): Promise<boolean> {
    return (await this.resumeRun(runId, options)).resumed;
  }

  /**
   * {@link resume}, with the step that runs again or the reason it cannot (the run's own answer:
   * the `durableRuns.resume` update, whose validator refuses without writing history).
   * @throws an `Error` saying so when no worker answered within `RESUME_TIMEOUT_MS` (30 s).
   */
  async resumeRun(runId: string, options: ResumeOptions = {}): Promise<ResumeAnswer> {
    return resumeRun(this.temporal, runId, options);
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
    return redeliverWebhook(this, runId);
  }

  /**
   * How the run's terminal webhook went (the latest delivery); `failed` with `attempts: 0` when the
   * run gave up starting its delivery (DURABLE_RUNS_WEBHOOK_START_GIVE_UP_MS); `undefined` if it has none.
   */
  async webhookStatus(runId: string): Promise<WebhookDeliveryStatus | undefined> {
    return webhookStatus(this.temporal, runId);
  }

  /** Closes the connection if this client opened it. */
  async close(): Promise<void> {
    if (this.ownsConnection) await this.temporal.connection.close();
    await flushTracing();
  }
}
