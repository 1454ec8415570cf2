import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { memoSignal, memosQuery, memoUpdate } from '../shared/definitions';
import { isFastRunner, MAX_RETRY_AFTER_MS, StepError } from '../shared/outcome';
import { isUndecodable, payloadConverter } from '../shared/payload-converter';
import { DEFAULT_RUNNER, ErrorType } from '../shared/names';
import type { RunEvent, RunHeaders, RunOutcome, RunSpec, Step, StepRunner } from '../shared/types';
import { MAX_VALUE_DEPTH } from '../shared/limits';
import { type CheckedChild, describeType, validateOutcome, valueTooDeep } from '../shared/validate';
import { tenantFairnessKey } from '../common/fairness';
import { derivedRunId } from '../common/run-ids';
import {
  LINK_SECRET_VARIABLE,
  type LinkOptions,
  linkSecretProblem,
  linkUrl,
  newLinkClaims,
  PUBLIC_URL_VARIABLE,
  signLink,
} from '../common/links';
import {
  type AttemptStream,
  STREAM_FLUSH_MS,
  STREAM_KEEP_BYTES,
  STREAM_KEY,
  streamOfHeartbeat,
  USAGE_KEY,
  usageOfHeartbeat,
} from '../shared/stream';
import { AttemptStreamer } from './stream';
import { addRecord, addUsage, readUsage, type RunUsage, usageRecordProblem } from '../shared/usage';
import { limitGroupOf } from '../limits/groups';
import { GroupRouter } from '../limits/router';
import { countUsage } from '../observability/usage-metrics';

/** What the workflow passes to `runStep`. */
export interface RunStepInput {
  runId: string;
  stepNumber: number;
  payload: unknown;
  headers: RunHeaders;
  runner: string;
  attempt: number;
  /** The event that ended the previous step's wait. */
  event?: RunEvent;
  /** The previous step's wait timed out. */
  timedOut?: true;
  /** The outcomes of the children the previous step started. */
  children?: RunOutcome[];
  /** Values this step journaled with `step.memo` in earlier attempts. */
  memos?: Record<string, unknown>;
  /**
   * The proof the step's attempts present to record a memo (the memo update refuses any other).
   * Absent for steps scheduled by versions before it, which record with a signal.
   */
  token?: string;
  /**
   * For a runner registered with fastSteps(): go on with the next steps in this same call while
   * they return `continue`, up to this many steps and this much time (see {@link StepResult}).
   * Other runners ignore it.
   */
  chain?: { maxSteps: number; maxMs: number };
}

/** A child run ready to start: its run ID and its workflow input. */
export interface ResolvedChild {
  runId: string;
  spec: RunSpec;
  /**
   * The child's own fairness key, when it names its own `tenant` header (hashed with encryption
   * on, as submit does); otherwise the child shares its parent's.
   */
  fairnessKey?: string;
}

/** `<parent>-<step>-<index>`, or with the parent's ID shortened and hashed when that passes 128 characters. */
export function childRunId(parentRunId: string, step: number, index: number): string {
  return derivedRunId(parentRunId, `-${step}-${index}`);
}

/**
 * Children inherit the parent's headers (except the callback URL header); their runner defaults to
 * `default`, as any run's. A child that names its own `tenant` gets that tenant's fairness key.
 */
function resolveChildren(
  input: RunStepInput,
  children: CheckedChild[],
  urlHeader: string,
  ctx: Context,
): ResolvedChild[] {
  const { [urlHeader]: _callback, ...inherited } = input.headers;
  return children.map((child, index) => {
    const tenant = child.headers?.tenant;
    let fairnessKey: string | undefined;
    try {
      fairnessKey = tenant === undefined ? undefined : tenantFairnessKey(ctx.client, { tenant });
    } catch (err) {
      throw stepFailure(ErrorType.InvalidOutcome, `runChildren: child ${index}: ${(err as Error).message}`);
    }
    return {
      runId: child.runId ?? childRunId(input.runId, input.stepNumber, index),
      spec: {
        input: child.input,
        runner: child.runner ?? DEFAULT_RUNNER,
        headers: { ...inherited, ...child.headers },
        ...(child.maxAttemptsPerStep !== undefined ? { maxAttemptsPerStep: child.maxAttemptsPerStep } : {}),
      },
      ...(fairnessKey !== undefined ? { fairnessKey } : {}),
    };
  });
}

/** The largest value `step.memo` records (it travels in the run's history and in later step inputs). */
export const MAX_MEMO_BYTES = 256 * 1024;

/**
 * A checked step outcome; `continueAfter` carries its delay in milliseconds. For a runner
 * registered with fastSteps():
 * - `fast` says so, and the run sends it its later steps as local activities;
 * - `chained` is how many steps this call ran (when asked for a chain): the outcome is the last
 *   one's, every earlier one returned `continue`;
 * - `nextFailed`: the step after the last one in `chained` failed its first attempt (the outcome
 *   is then the last good step's `continue`);
 * - `elapsedMs`: how long the step ran (one step a local activity, the first fast-steps version).
 */
export type StepResult = (StepOutcomeResult | Reroute) & {
  /** The chunks the attempt streamed (the last ones kept): for stream readers; the run ignores them. */
  stream?: AttemptStream;
  /** What the step reported with `step.usage` (a chain: all its steps; a retried try: its earlier tries too). */
  usage?: RunUsage;
  elapsedMs?: number;
  /**
   * `false`: this worker has no terminal hook for the run (no user hooks, and no webhook or no
   * callback URL header), so the run may close without running the terminal-hooks local activity.
   */
  hooks?: false;
  fast?: true;
  chained?: number;
  nextFailed?: { type: string; message: string; retryAfterMs?: number };
};

/**
 * Not an outcome: the runner is in limit group `group` (`limited()`), and this call came on the
 * run's own task queue; the run schedules the step again on the group's queue. The runner did not run.
 */
export type Reroute = { kind: 'reroute'; group: string };

type StepOutcomeResult =
  | { kind: 'continue'; payload: unknown }
  | { kind: 'continueAfter'; payload: unknown; delayMs: number }
  | { kind: 'waitForEvent'; payload: unknown; events: string[]; timeoutMs?: number }
  | { kind: 'runChildren'; payload: unknown; children: ResolvedChild[]; maxConcurrent: number }
  | { kind: 'succeed'; result: unknown }
  | { kind: 'fail'; reason: string }
  | { kind: 'cancel'; reason: string };

/**
 * Temporal refuses payloads above 2 MB (the server's blob size limit); an outcome larger than
 * this margin below it is refused here, with a message, before the server refuses it less kindly.
 */
export const MAX_OUTCOME_BYTES = 2 * 1024 * 1024 - 64 * 1024;

/**
 * After a cancel reaches the step, how long the runner may still return its own verdict
 * (a runner's `cancel` wins over an outside cancel) before the step stops waiting for it:
 * a tenth of the heartbeat timeout, at most a second, so a cancel lands within that timeout.
 */
export function abortGraceMs(heartbeatTimeoutMs: number | undefined): number {
  return Math.min(1000, (heartbeatTimeoutMs ?? 10_000) / 10);
}

/**
 * How often the wrapper heartbeats on the runner's behalf (for liveness, and so that a cancel
 * reaches the step): a fraction of the heartbeat timeout, between 1 and 10 seconds.
 */
export function keepAliveMs(heartbeatTimeoutMs: number | undefined): number {
  return Math.min(10_000, Math.max(1000, 0.4 * (heartbeatTimeoutMs ?? 30_000)));
}

/** What a failed attempt tells beside its message (its failure's details). */
export interface AttemptFailureDetails {
  /** How much room the attempt's chunks take, for readers' offsets. */
  stream?: AttemptStream;
  /** What the attempt reported with `step.usage`: it counts although the attempt failed. */
  usage?: RunUsage;
  /** `StepError.retryAfter`: the next attempt starts after this many milliseconds, not the backoff. */
  retryAfterMs?: number;
}

function stepFailure(type: string, message: string, extras: AttemptFailureDetails = {}): ApplicationFailure {
  // Non-retryable for Temporal: the workflow owns step retries (attempt numbers, backoff, status).
  const details = Object.fromEntries(Object.entries(extras).filter(([, v]) => v !== undefined));
  return ApplicationFailure.create({
    type,
    message,
    nonRetryable: true,
    ...(Object.keys(details).length > 0 ? { details: [details] } : {}),
  });
}

/** A cancel of the step, with what the attempt tells beside it (anything else as it is). */
function withDetails(err: unknown, extras: AttemptFailureDetails): unknown {
  if (!(err instanceof CancelledFailure)) return err;
  const details = Object.fromEntries(Object.entries(extras).filter(([, v]) => v !== undefined));
  return Object.keys(details).length === 0 ? err : new CancelledFailure(err.message, [details], err.cause);
}

/** The `retryAfterMs` a failed attempt's details carry, if any. */
function retryAfterOf(failure: ApplicationFailure | undefined): { retryAfterMs?: number } {
  const ms = (failure?.details?.[0] as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
  return typeof ms === 'number' ? { retryAfterMs: ms } : {};
}

/**
 * Whether the step's abort comes from its worker shutting down (the SDK cancels running
 * activities with `WORKER_SHUTDOWN` once the shutdown grace time is over), not from the run.
 */
function abortedByShutdown(ctx: Context): boolean {
  if (!ctx.cancellationSignal.aborted) return false;
  const reason: unknown = ctx.cancellationSignal.reason;
  return reason instanceof Error && reason.message === 'WORKER_SHUTDOWN';
}

/**
 * A step cut short by its worker's shutdown is interrupted, not finished: what the runner returns
 * after the abort is discarded, and the activity fails with a type Temporal retries
 * (`STEP_INFRA_RETRY` does not list it), so the step runs again on another worker with the
 * same input and attempt number, and the run sees no failed attempt.
 *
 * The step's last heartbeat goes out with its stream before it fails as interrupted, so the try
 * that runs it again numbers on after every chunk it streamed (Core sends what is pending).
 */
function interruptedAfter(flush: () => void): ApplicationFailure {
  flush();
  return interrupted();
}

function interrupted(): ApplicationFailure {
  return ApplicationFailure.create({
    type: ErrorType.StepInterrupted,
    message: 'step interrupted: its worker shut down before the step finished; it runs again on another worker',
    nonRetryable: false,
  });
}

function describeThrown(err: unknown): { message: string; permanent: boolean; retryAfterMs?: number } {
  if (err instanceof Error) {
    const stepError = err.name === 'StepError' ? (err as { retryable?: unknown; retryAfterMs?: unknown }) : {};
    const permanent = stepError.retryable === false;
    const { retryAfterMs } = stepError;
    const message = err.message || err.name;
    return {
      message: err.name && err.name !== 'Error' && err.name !== 'StepError' ? `${err.name}: ${message}` : message,
      permanent,
      ...(!permanent && typeof retryAfterMs === 'number' && retryAfterMs >= 0 && retryAfterMs <= MAX_RETRY_AFTER_MS
        ? { retryAfterMs: Math.round(retryAfterMs) }
        : {}),
    };
  }
  return { message: `runner threw ${describeType(err)} instead of an Error`, permanent: false };
}

/**
 * The values in an outcome that the run carries further: each must nest at most MAX_VALUE_DEPTH
 * levels (the run wraps them deeper: a result in its webhook's input, a child's input in its spec).
 */
function tooDeep(result: StepResult): string | undefined {
  if (result.kind === 'succeed') return valueTooDeep("the step's result", result.result);
  if (result.kind === 'fail' || result.kind === 'cancel' || result.kind === 'reroute') return undefined;
  const children = result.kind === 'runChildren' ? result.children : [];
  const bad = children.findIndex((child) => valueTooDeep('', child.spec.input) !== undefined);
  if (bad >= 0) return valueTooDeep(`runChildren: child ${bad}'s input`, children[bad]!.spec.input);
  return valueTooDeep("the step's payload", result.payload);
}

/** Checks the outcome's size and depth; returns its encoded size, for the room its stream may take beside it. */
function checkSize(result: StepResult, extras: () => AttemptFailureDetails): number {
  let size: number;
  try {
    size = payloadConverter.toPayload(result).data?.length ?? 0;
  } catch (err) {
    throw stepFailure(
      ErrorType.InvalidOutcome,
      `step outcome cannot be serialized: ${(err as Error).message}`,
      extras(),
    );
  }
  // Only a text longer than twice the bound can nest that deep: small outcomes skip the walk.
  const deep = size > 2 * MAX_VALUE_DEPTH + 1 ? tooDeep(result) : undefined;
  if (deep) throw stepFailure(ErrorType.InvalidOutcome, `step outcome: ${deep}`, extras());
  if (size > MAX_OUTCOME_BYTES) {
    throw stepFailure(
      ErrorType.InvalidOutcome,
      `step outcome is ${size} bytes, above Temporal's 2 MB payload limit: keep large data elsewhere and pass a reference`,
      extras(),
    );
  }
  return size;
}

/**
 * The result with the attempt's kept chunks, in the room the outcome leaves under
 * MAX_OUTCOME_BYTES (the oldest drop out first; readers then get a `gap`).
 */
function withStream(result: StepResult, size: number, streamer: AttemptStreamer | undefined): StepResult {
  if (!streamer?.active) return result;
  const room = MAX_OUTCOME_BYTES - size - 4096;
  return { ...result, stream: streamer.keptWithin(Math.max(0, Math.min(STREAM_KEEP_BYTES, room))) };
}

/**
 * `step.memo` for one attempt. A record goes to the run by update, which the run has persisted
 * once it answers: when `memo` returns, the value is in the run's history. The run keeps the first
 * value recorded for a key and answers with it, so an attempt that lost a race (a stale attempt
 * still running after Temporal retried it) returns the winner's value, as every later attempt
 * does. The run hands a step's memos to its next attempt; an attempt that Temporal itself retried
 * (heartbeat timeout, lost worker) still has its first input, so it asks the run once before it
 * runs `fn`. A step scheduled by an earlier version has no token and records by signal.
 */
function createMemo(input: RunStepInput, ctx: Context) {
  const recorded = new Map(Object.entries(input.memos ?? {}));
  let asked = ctx.info.attempt <= 1;
  const handle = () => ctx.client.workflow.getHandle(input.runId, ctx.info.workflowExecution?.runId);
  const record = async (key: string, value: unknown): Promise<unknown> => {
    if (input.token === undefined) {
      await handle().signal(memoSignal, { step: input.stepNumber, key, value });
      return value;
    }
    try {
      return await handle().executeUpdate(memoUpdate, {
        args: [{ step: input.stepNumber, key, value, token: input.token }],
      });
    } catch (err) {
      const cause = err instanceof WorkflowUpdateFailedError ? err.cause : undefined;
      if (cause instanceof ApplicationFailure && cause.type === ErrorType.MemoRefused) {
        throw new Error(`step.memo("${key}") was not recorded: ${cause.message}`, { cause: err });
      }
      throw err;
    }
  };
  return async <T>(key: string, fn: () => Promise<T> | T): Promise<T> => {
    if (typeof key !== 'string' || key.length === 0 || key.length > 200) {
      throw StepError.permanent(`step.memo key must be a string of 1–200 characters, got ${describeType(key)}`);
    }
    if (!recorded.has(key) && !asked) {
      asked = true;
      for (const [k, v] of Object.entries(await handle().query(memosQuery, input.stepNumber))) recorded.set(k, v);
    }
    if (recorded.has(key)) return recorded.get(key) as T;
    const value = await fn();
    let size: number;
    try {
      size = payloadConverter.toPayload(value ?? null).data?.length ?? 0;
    } catch (err) {
      throw StepError.permanent(`step.memo("${key}"): the value cannot be recorded: ${(err as Error).message}`);
    }
    if (size > MAX_MEMO_BYTES) {
      throw StepError.permanent(
        `step.memo("${key}"): the value is ${size} bytes, above the ${MAX_MEMO_BYTES} a memo may record: keep large data elsewhere and record a reference`,
      );
    }
    // The run carries memos two levels down, in the next attempt's input and its continue-as-new carry.
    const deep = size > 2 * MAX_VALUE_DEPTH + 1 ? valueTooDeep('the value', value) : undefined;
    if (deep) throw StepError.permanent(`step.memo("${key}"): ${deep}`);
    const kept = await record(key, value ?? null);
    recorded.set(key, kept);
    return kept as T;
  };
}

/** @param urlHeader the header that holds a run's callback URL: children do not inherit it. */
export function createRunStep(
  runners: Readonly<Record<string, StepRunner>>,
  urlHeader: string,
  hasTerminalHooks: (headers: RunHeaders) => boolean = () => true,
  router: GroupRouter = new GroupRouter(new Set()),
) {
  return async function runStep(input: RunStepInput): Promise<StepResult> {
    const result = await runSteps(input);
    // Only fast runs act on it (the run's other steps are the costly part of a regular run).
    return !result.fast || hasTerminalHooks(input.headers) ? result : { ...result, hooks: false };
  };

  async function runSteps(input: RunStepInput): Promise<StepResult> {
    // The worker's converter hands over what it could not read (e.g. nested deeper than this
    // thread's stack) as a marker; retrying would read it the same way.
    if (isUndecodable(input)) throw stepFailure(ErrorType.InvalidStepInput, `step input: ${input.reason}`);
    const runner = runners[input.runner];
    if (typeof runner !== 'function' || !Object.hasOwn(runners, input.runner)) {
      const known = Object.keys(runners).join(', ') || 'none';
      throw stepFailure(ErrorType.UnknownRunner, `unknown runner "${input.runner}" (this worker has: ${known})`);
    }
    const fast = isFastRunner(runner);
    const ctx = Context.current();
    // A limited runner's steps run on its group's queue, where the server holds them to its rate.
    const group = limitGroupOf(runner);
    if (
      group !== undefined &&
      !fast &&
      !ctx.info.isLocal &&
      !ctx.info.taskQueue.endsWith(`.limit.${group}`) &&
      (await router.toGroupQueue(ctx, group))
    ) {
      return { kind: 'reroute', group };
    }
    if (!fast || !input.chain) {
      const result = await runAttempt(runner, input, ctx, fast, urlHeader);
      return fast ? { ...result, fast: true } : result;
    }
    // A chain of fast steps in this one call: each later step is the first attempt of the next
    // step number, with the last one's payload. It stops at the first outcome other than
    // `continue`, at its bounds, at a cancel, or at a failure, which it hands back with the steps
    // done so far so that none runs twice for it.
    const { maxSteps, maxMs } = input.chain;
    const started = performance.now();
    let current: RunStepInput = input;
    /** What the chain's earlier steps reported with `step.usage`. */
    let used: RunUsage | undefined;
    const withUsage = (result: StepResult): StepResult => {
      const usage = addUsage(used, result.usage);
      return usage ? { ...result, usage } : result;
    };
    for (let done = 0; ;) {
      let result: StepResult;
      try {
        result = await runAttempt(runner, current, ctx, fast, urlHeader);
      } catch (err) {
        // Interrupted by the worker's shutdown: the steps done before it stand, this one runs again.
        if (done > 0 && abortedByShutdown(ctx))
          return withUsage({ kind: 'continue', payload: current.payload, fast: true, chained: done });
        if (done === 0 || ctx.cancellationSignal.aborted) throw err;
        const failure = err instanceof ApplicationFailure ? err : undefined;
        // The failed step's usage counts with the chain's.
        used = addUsage(used, readUsage((failure?.details?.[0] as { usage?: unknown } | undefined)?.usage).usage);
        const nextFailed = {
          type: failure?.type ?? ErrorType.StepTransient,
          message: (err as Error).message,
          ...retryAfterOf(failure),
        };
        return withUsage({ kind: 'continue', payload: current.payload, fast: true, chained: done, nextFailed });
      }
      done += 1;
      if (
        result.kind !== 'continue' ||
        done >= maxSteps ||
        performance.now() - started >= maxMs ||
        ctx.cancellationSignal.aborted
      ) {
        return withUsage({ ...result, fast: true, chained: done });
      }
      used = addUsage(used, result.usage);
      current = {
        runId: input.runId,
        stepNumber: current.stepNumber + 1,
        payload: result.payload,
        headers: input.headers,
        runner: input.runner,
        attempt: 1,
      };
    }
  }
}

/**
 * `step.eventUrl`: a signed link under DURABLE_RUNS_PUBLIC_URL that sends the run `name`; a missing
 * variable or a bad option fails the step for good, naming it.
 */
function makeEventUrl(runId: string, name: string, options?: LinkOptions): string {
  const secret = process.env[LINK_SECRET_VARIABLE];
  const problem = linkSecretProblem(secret);
  if (problem) throw StepError.permanent(`step.eventUrl: ${problem} on this worker: it signs approval links`);
  const publicUrl = process.env[PUBLIC_URL_VARIABLE];
  if (!publicUrl) {
    throw StepError.permanent(
      `step.eventUrl: ${PUBLIC_URL_VARIABLE} is not set on this worker: set it to the address people reach durable-runs serve at (https://runs.example.com)`,
    );
  }
  if (!/^https?:\/\//.test(publicUrl)) {
    throw StepError.permanent(
      `step.eventUrl: ${PUBLIC_URL_VARIABLE} must be an http(s) URL, got ${JSON.stringify(publicUrl)}`,
    );
  }
  try {
    return linkUrl(publicUrl, signLink(newLinkClaims(runId, name, options ?? {}), secret!));
  } catch (err) {
    throw StepError.permanent(`step.eventUrl("${String(name)}"): ${(err as Error).message}`);
  }
}

/** One attempt of one step: the runner called, its outcome checked. */
async function runAttempt(
  runner: StepRunner,
  input: RunStepInput,
  ctx: Context,
  fast: boolean,
  urlHeader: string,
): Promise<StepResult> {
  const started = performance.now();
  // A fast step has no heartbeats to carry progress or a stream (local activities have none) and
  // no way to journal a memo durably before it returns: each says so instead of silently doing less.
  let details: unknown;
  // An earlier try of this attempt (its worker died or shut down) left its stream in its last
  // heartbeat: this one retracts it and numbers on.
  const streamer = fast
    ? undefined
    : new AttemptStreamer(input.stepNumber, input.attempt, streamOfHeartbeat(ctx.info.heartbeatDetails));
  /** What this attempt reported with `step.usage`, an earlier try's (in its last heartbeat) included. */
  let usage = readUsage(usageOfHeartbeat(ctx.info.heartbeatDetails)).usage;
  let usageRefused: string | undefined;
  // The latest details ride on every heartbeat: the server keeps them on the pending activity,
  // where status(), stream readers and the UI read them, and no history event is written.
  const beatDetails = () =>
    streamer?.active || usage
      ? {
          ...(streamer?.active ? { [STREAM_KEY]: streamer.window() } : {}),
          ...(usage ? { [USAGE_KEY]: usage } : {}),
          ...(details !== undefined ? { progress: details } : {}),
        }
      : details;
  /** What a failure of this attempt carries beside its message. */
  const extras = (): AttemptFailureDetails => ({ stream: streamer?.counted(), usage });
  const beat = ctx.info.isLocal
    ? undefined
    : setInterval(() => ctx.heartbeat(beatDetails()), keepAliveMs(ctx.info.heartbeatTimeoutMs));
  /** Heartbeats now, or once STREAM_FLUSH_MS passed since the last flush: at most one in flight. */
  let flushTimer: NodeJS.Timeout | undefined;
  let flushedAt = 0;
  const flush = () => {
    flushTimer = undefined;
    flushedAt = performance.now();
    ctx.heartbeat(beatDetails());
  };
  const scheduleFlush = () => {
    flushTimer ??= setTimeout(flush, Math.max(0, flushedAt + STREAM_FLUSH_MS - performance.now()));
  };
  const notInFast = (what: string, todo: string) => () => {
    throw StepError.permanent(
      `step.${what} is not available in fast steps (runner "${input.runner}" is registered with fastSteps()): register it without fastSteps() to ${todo}`,
    );
  };
  const progress = fast
    ? notInFast('progress', 'report progress')
    : (d?: unknown) => {
        details = d;
        scheduleFlush();
      };
  const stream = streamer
    ? (chunk: unknown) => {
        streamer.push(chunk);
        scheduleFlush();
      }
    : notInFast('stream', 'stream its output');
  const journal: Step['memo'] = fast
    ? () =>
        Promise.reject(
          StepError.permanent(
            `step.memo is not available in fast steps (runner "${input.runner}" is registered with fastSteps()): a fast step cannot record an effect durably before it returns; register it without fastSteps()`,
          ),
        )
    : createMemo(input, ctx);
  const recordUsage: Step['usage'] = (record) => {
    const problem = usageRecordProblem(record);
    if (problem) {
      usageRefused ??= problem;
      throw StepError.permanent(problem);
    }
    usage = addRecord(usage, record);
    countUsage(ctx, input.runner, record);
    // A try that runs this attempt again (the worker died) counts on from the last heartbeat.
    if (!ctx.info.isLocal) scheduleFlush();
  };
  const eventUrl: Step['eventUrl'] = fast
    ? notInFast('eventUrl', 'make approval links')
    : (name, options) => makeEventUrl(input.runId, name, options);
  try {
    const running = Promise.resolve().then(() =>
      runner({
        runId: input.runId,
        stepNumber: input.stepNumber,
        payload: input.payload,
        headers: input.headers,
        attempt: input.attempt,
        signal: ctx.cancellationSignal,
        heartbeat: progress,
        progress,
        stream,
        memo: journal,
        eventUrl,
        usage: recordUsage,
        ...(input.event !== undefined ? { event: input.event } : {}),
        ...(input.timedOut ? { timedOut: true } : {}),
        ...(input.children !== undefined ? { children: input.children } : {}),
      }),
    );
    // A cancelled step gives the runner a moment to return its own verdict, then lets go of it.
    const abandoned = ctx.cancelled.catch(async (cancelled: unknown) => {
      if (abortedByShutdown(ctx)) throw interrupted();
      await Promise.race([
        running.catch(() => undefined),
        new Promise((r) => setTimeout(r, abortGraceMs(ctx.info.heartbeatTimeoutMs))),
      ]);
      throw cancelled;
    });
    let returned: unknown;
    try {
      returned = await Promise.race([running, abandoned]);
    } catch (err) {
      if (abortedByShutdown(ctx)) throw interruptedAfter(flush);
      // Cancelled: the cancel carries the room the attempt's chunks took (for readers' offsets) and
      // its usage (for the run's totals), as a failure does.
      if (ctx.cancellationSignal.aborted) throw withDetails(err, extras());
      const { message, permanent, retryAfterMs } = describeThrown(err);
      throw stepFailure(permanent ? ErrorType.StepPermanent : ErrorType.StepTransient, message, {
        ...extras(),
        retryAfterMs,
      });
    }
    // Returned after its worker's shutdown aborted it: the step did not finish.
    if (abortedByShutdown(ctx)) throw interruptedAfter(flush);
    // A chunk was refused, and the runner caught the error: the step fails all the same.
    if (streamer?.refused !== undefined) throw stepFailure(ErrorType.StepPermanent, streamer.refused, extras());
    // So was a usage record, and nothing of it was added.
    if (usageRefused !== undefined) throw stepFailure(ErrorType.StepPermanent, usageRefused, extras());
    let checked;
    try {
      checked = validateOutcome(returned);
    } catch (err) {
      throw stepFailure(ErrorType.InvalidOutcome, (err as Error).message, extras());
    }
    const result: StepResult =
      checked.kind === 'continueAfter'
        ? { kind: 'continueAfter', payload: checked.payload, delayMs: checked.delayMs }
        : checked.kind === 'runChildren'
          ? { ...checked, children: resolveChildren(input, checked.children, urlHeader, ctx) }
          : checked;
    const streamed = withStream(result, checkSize(result, extras), streamer);
    if (usage) streamed.usage = usage;
    return fast && ctx.info.isLocal ? { ...streamed, elapsedMs: Math.round(performance.now() - started) } : streamed;
  } finally {
    if (beat) clearInterval(beat);
    if (flushTimer) clearTimeout(flushTimer);
  }
}

/** Which way a run's steps go: `fast` for a runner registered with `fastSteps()` (local activities). */
export function createRunnerMode(runners: Readonly<Record<string, StepRunner>>) {
  return async function runnerMode(runner: string): Promise<'fast' | 'default'> {
    return Object.hasOwn(runners, runner) && isFastRunner(runners[runner]) ? 'fast' : 'default';
  };
}
