/**
 * A run's state and its transitions, without Temporal: what the `durableRun` workflow knows (step,
 * attempt, cancel, pending events, wait, memos), what `status` says, and what each signal or step
 * result does to it. The workflow is a thin driver around it that awaits activities, timers and
 * conditions; unit tests drive it directly.
 */
import type { RunStepInput } from '../activities/run-step';
import { EventInbox, type Receipt } from './events';
import { MAX_COMMAND_BYTES, overflow } from './limits';
import { ErrorType } from './names';
import { isUndecodable } from './payload-converter';
import type { CancelOrigin, ForkOrigin, RunEvent, RunOutcome, RunState, RunStatus } from './types';
import { type CarriedWait, type Delivered, describeType, type NormalizedRunSpec, type RunCarry } from './validate';
import { addUsage, budgetPassed, budgetValue, readUsage, type RunUsage, type UsageBudget } from './usage';

/**
 * History length past which a run that cannot continue-as-new (a step or its children run) is
 * stopped and fails: Temporal terminates a run at 51,200 events, with no outcome and no webhook.
 * The 11,200 events left are room for what ending takes: cancelling up to 1,000 children (a signal
 * and its close each, and the tasks around them), the signals that keep arriving meanwhile and
 * the terminal hooks.
 */
export const HISTORY_CEILING = 40_000;

/** How much of a parked step's error its Temporal memo shows (the `status` query has all of it). */
const PARKED_MEMO_ERROR_CHARS = 1000;

/** Failure types that end the run at once instead of being retried. */
const FATAL_STEP_ERRORS: ReadonlySet<string> = new Set([
  ErrorType.StepPermanent,
  ErrorType.InvalidOutcome,
  ErrorType.UnknownRunner,
  ErrorType.InvalidStepInput,
]);

export function isTerminal(state: RunState): boolean {
  return state === 'succeeded' || state === 'failed' || state === 'cancelled';
}

/** What the driver does after a step's attempt failed. */
export type AfterFailure = { kind: 'fail'; error: string } | { kind: 'retry'; attempt: number };

export class RunModel {
  state: RunState = 'running';
  step: number;
  payload: unknown;
  attempt = 1;
  lastError: string | undefined;
  /** A cancel that arrived (signal, Temporal's cancel, the runner's verdict, the parent run), and its origin. */
  cancel: { reason: string | null; by?: CancelOrigin } | undefined;
  /** The run's deadline passed: the running step is interrupted and the run fails. */
  deadlineExceeded = false;
  /** When the deadline passes (ms since the epoch): from submission, carried across continue-as-new. */
  readonly deadlineAt: number | undefined;
  /** The history reached {@link HISTORY_CEILING} where the run could not continue-as-new. */
  historyFull = false;
  /** Set when the server holds a cancel request (Temporal's own cancel, or the run's self-request). */
  serverCancelled = false;
  /** A malformed `cancel` signal: the run fails with this message. */
  badSignal: string | undefined;
  /** Events received and not taken by a wait yet; they survive continue-as-new. */
  readonly inbox: EventInbox;
  /** What ended the last wait, for the next step (carried over continue-as-new too). */
  delivered: Delivered | undefined;
  /** While the step's children run: how many there are and how many have closed. */
  children: { total: number; closed: number } | undefined;
  /** What the current step journaled with `step.memo`, for its later attempts. */
  memos: Record<string, unknown> = {};
  /**
   * The proof the current step's attempts present to record a memo (in their input): undefined
   * until the step is first scheduled as an activity in this execution; null when it was
   * scheduled without one (a run begun by a version before tokens), whose attempts record with
   * the `durableRuns.memo` signal.
   */
  stepToken: string | null | undefined;
  /** The wait in progress: the names that end it and when it times out. */
  waiting: { names: string[]; deadline?: string } | undefined;
  /** A fork: the run and step it was forked from. */
  readonly forkedFrom: ForkOrigin | undefined;
  /**
   * The step is parked (`onExhausted: 'park'`): the attempt that failed last and why. `held`: it
   * parked on the run's budget after it returned, and goes on with what it returned once resumed.
   */
  parked: { attempt: number; error: string; held?: true } | undefined;
  /** What the steps reported with `step.usage`, carried across continue-as-new. */
  usage: RunUsage | undefined;
  /** The run's budgets: its spec's, unless a `resume` changed them. */
  budget: UsageBudget;
  /** The limit group the runner's steps go to (`limited()`), once a step said so; carried on. */
  group: string | undefined;

  constructor(
    readonly runId: string,
    readonly spec: NormalizedRunSpec,
    carry?: RunCarry,
    /** When the run was submitted (ms), which the deadline counts from when no carry says when it passes. */
    submittedAtMs = 0,
    /** Whether the inbox's byte bounds apply (see EventInbox). */
    byteBounds: () => boolean = () => true,
  ) {
    this.step = carry?.step ?? 0;
    this.payload = carry ? carry.payload : spec.input;
    this.cancel = carry?.cancel;
    if (this.cancel) this.state = 'cancelling';
    this.inbox = new EventInbox(carry?.events, byteBounds);
    this.delivered = carry?.delivered;
    // A step in backoff stays on its attempt across continue-as-new, so retries stay bounded.
    if (carry?.attempt !== undefined) this.attempt = carry.attempt;
    this.lastError = carry?.lastError;
    // A memoised effect stays recorded across continue-as-new, for the step's later attempts.
    if (carry?.memos) this.memos = carry.memos;
    this.deadlineAt =
      carry?.deadlineAt !== undefined
        ? Date.parse(carry.deadlineAt)
        : spec.deadlineMs !== undefined
          ? submittedAtMs + spec.deadlineMs
          : undefined;
    if (carry?.wait?.kind === 'backoff' && !this.cancel) this.state = 'sleeping';
    this.forkedFrom = carry?.forkedFrom;
    this.usage = carry?.usage;
    this.budget = carry?.budget ?? {
      ...(spec.maxCostUsd !== undefined ? { maxCostUsd: spec.maxCostUsd } : {}),
      ...(spec.maxTokens !== undefined ? { maxTokens: spec.maxTokens } : {}),
    };
    this.group = carry?.group;
    // Parked from the start, so that a resume taken before the wait begins again is not lost.
    if (carry?.wait?.kind === 'parked') this.park(carry.wait.attempt, carry.wait.error);
  }

  /** A cancel or a malformed cancel signal waits to interrupt what runs. */
  get interruptPending(): boolean {
    return this.cancel !== undefined || this.badSignal !== undefined || this.deadlineExceeded || this.historyFull;
  }

  /** A limit that ends the run failed, if one was reached: the deadline, or the history ceiling. */
  limitReached(): string | undefined {
    if (this.deadlineExceeded) return 'deadline exceeded';
    if (this.historyFull) {
      return `history limit: the run's history passed ${HISTORY_CEILING} events while a step or its children ran (Temporal ends a run at 51,200): send fewer events, or run fewer children per step`;
    }
    return undefined;
  }

  /** Why the run must end now instead of running its next step, if it must. */
  budgetSpent(): string | undefined {
    const limit = this.limitReached();
    if (limit) return limit;
    const { maxSteps } = this.spec;
    if (maxSteps !== undefined && this.step >= maxSteps)
      return `step budget of ${maxSteps} step${maxSteps === 1 ? '' : 's'} used up`;
    return undefined;
  }

  /** The history passed {@link HISTORY_CEILING}. Returns whether what runs must be interrupted. */
  onHistoryCeiling(): boolean {
    if (isTerminal(this.state) || this.historyFull) return false;
    this.historyFull = true;
    return true;
  }

  /** The deadline passed. Returns whether what runs must be interrupted. */
  onDeadline(): boolean {
    if (isTerminal(this.state)) return false;
    this.deadlineExceeded = true;
    return true;
  }

  /** The run ends cancelled by `by` (unless a cancel with its own origin came first). */
  cancelledBy(): CancelOrigin {
    return this.cancel?.by ?? 'temporal';
  }

  status(): RunStatus {
    const { state, waiting, inbox } = this;
    return {
      runId: this.runId,
      state,
      step: this.step,
      ...(state === 'running' || state === 'cancelling' || state === 'parked' ? { attempt: this.attempt } : {}),
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
      runner: this.spec.runner,
      ...(waiting ? { waitingFor: waiting.names } : {}),
      ...(waiting?.deadline ? { waitDeadline: waiting.deadline } : {}),
      ...(waiting || inbox.size > 0 ? { pendingEvents: inbox.size } : {}),
      ...(this.children ? { children: { ...this.children } } : {}),
      ...(this.forkedFrom ? { forkedFrom: this.forkedFrom } : {}),
      ...(this.usage ? { usage: this.usage } : {}),
      ...(Object.keys(this.budget).length > 0 ? { budget: { ...this.budget } } : {}),
    };
  }

  /**
   * Adds what a step's result or failure reports with `step.usage`. What is not usage (a result
   * an operator made by hand) adds nothing; its problem is returned, for the log.
   */
  addUsage(raw: unknown): string | undefined {
    const { usage, problem } = readUsage(raw);
    this.usage = addUsage(this.usage, usage);
    return problem;
  }

  /** Why the run must stop spending, once its usage passed a budget. */
  budgetPassed(): string | undefined {
    return budgetPassed(this.usage, this.budget);
  }

  /** The workflow's current details, as the UI shows them. */
  details(): string {
    const { state, waiting, inbox } = this;
    const parts = [`**${state}**`, `step ${this.step}`];
    if ((state === 'running' && this.attempt > 1) || state === 'parked')
      parts.push(`attempt ${this.attempt}/${this.spec.maxAttemptsPerStep}`);
    if (waiting) {
      parts.push(`waiting for ${waiting.names.join(' or ')}${waiting.deadline ? ` until ${waiting.deadline}` : ''}`);
    }
    if (inbox.size > 0) parts.push(`${inbox.size} pending event${inbox.size === 1 ? '' : 's'}`);
    if (this.children) parts.push(`children ${this.children.closed}/${this.children.total} closed`);
    if (this.lastError !== undefined) parts.push(`last error: ${this.lastError}`);
    if (this.usage) {
      const { costUsd, inputTokens, outputTokens } = this.usage.total;
      parts.push(`used ${inputTokens + outputTokens} tokens, $${costUsd}`);
    }
    return parts.join(' · ');
  }

  /**
   * The `cancel` signal. Returns whether what runs must be interrupted. `fromParent` tells whether
   * a request that says `by: "parent"` carries the parent's proof (its `token`); asked only then.
   */
  onCancelSignal(request: unknown, fromParent: (token: unknown) => boolean): boolean {
    if (this.cancel || isTerminal(this.state)) return false;
    if (isUndecodable(request)) {
      this.badSignal = `cancel signal argument: ${request.reason}`;
      return true;
    }
    const reason: unknown =
      request === undefined || request === null ? undefined : (request as { reason?: unknown }).reason;
    if (request !== undefined && request !== null && (typeof request !== 'object' || Array.isArray(request))) {
      this.badSignal = `cancel signal argument must be an object like {"reason": "…"}, got ${describeType(request)}`;
    } else if (reason !== undefined && reason !== null && typeof reason !== 'string') {
      this.badSignal = `cancel signal reason must be a string, got ${describeType(reason)}`;
    }
    if (this.badSignal) return true;
    // The parent run cancels its children with this signal, `by: "parent"` and its token; anyone
    // else who says `by: "parent"` cancels as any signal does.
    const claim = request as { by?: unknown; token?: unknown } | null | undefined;
    const by = claim?.by === 'parent' && fromParent(claim.token) ? 'parent' : 'signal';
    this.cancel = { reason: typeof reason === 'string' ? reason : null, by };
    this.state = 'cancelling';
    return true;
  }

  /** The server holds a cancel request for the run (Temporal's own cancel, or the run's self-request). */
  onServerCancel(): void {
    this.serverCancelled = true;
    if (!this.cancel && !isTerminal(this.state)) {
      this.cancel = { reason: null, by: 'temporal' };
      this.state = 'cancelling';
    }
  }

  /** The `event` signal. Returns whether the run's details changed. */
  onEvent(raw: unknown, receivedAt: string, fallbackId: string): boolean {
    if (isTerminal(this.state)) return false;
    const receipt = this.inbox.receive(raw, receivedAt, fallbackId);
    if (receipt.kind === 'refused') this.lastError = `event ignored: ${receipt.reason}`;
    return receipt.kind !== 'duplicate';
  }

  /**
   * What the `event` update would do with an event, without taking it (its validator asks this):
   * `closing` once the run has its outcome.
   */
  checkEvent(raw: unknown): Receipt | { kind: 'closing' } {
    return isTerminal(this.state) ? { kind: 'closing' } : this.inbox.check(raw, '');
  }

  /** The `event` update, once its validator accepted the event: takes it in. */
  takeEvent(raw: unknown, receivedAt: string, fallbackId: string): Receipt | { kind: 'closing' } {
    return isTerminal(this.state) ? { kind: 'closing' } : this.inbox.receive(raw, receivedAt, fallbackId);
  }

  /**
   * The `durableRuns.memo` signal of earlier versions: it takes effect only for a step scheduled
   * without a token (a run begun before tokens); a late one from an earlier step, or anything
   * malformed, is ignored. Returns whether it was recorded.
   */
  onMemo(record: unknown): boolean {
    const r = record as Partial<{ step: unknown; key: unknown; value: unknown }> | null;
    if (this.stepToken !== null) return false;
    if (!r || typeof r !== 'object' || isUndecodable(record) || r.step !== this.step || typeof r.key !== 'string')
      return false;
    this.memos = { ...this.memos, [r.key]: r.value ?? null };
    return true;
  }

  /** Why the memo update must refuse this request, if it must (its validator asks this). */
  checkMemo(raw: unknown): string | undefined {
    const r = raw as Partial<{ step: unknown; key: unknown; token: unknown }> | null;
    if (!r || typeof r !== 'object' || isUndecodable(raw))
      return `memo request must be an object, got ${describeType(raw)}`;
    if (typeof this.stepToken !== 'string' || r.token !== this.stepToken) {
      return `memo refused: the request does not carry the token of step ${this.step}`;
    }
    if (r.step !== this.step) return `memo for step ${String(r.step)} refused: the run is at step ${this.step}`;
    if (typeof r.key !== 'string' || r.key.length === 0 || r.key.length > 200) {
      return `memo key must be a string of 1–200 characters, got ${describeType(r.key)}`;
    }
    if (isTerminal(this.state)) return 'memo refused: the run is closing';
    return undefined;
  }

  /**
   * The memo update, once its validator accepted it: the first value recorded for a key wins.
   * Returns the value the run holds for the key.
   */
  recordMemo(request: { key: string; value?: unknown }): unknown {
    if (!Object.hasOwn(this.memos, request.key)) {
      this.memos = { ...this.memos, [request.key]: request.value ?? null };
    }
    return this.memos[request.key];
  }

  memosFor(step: unknown): Record<string, unknown> {
    return step === this.step ? this.memos : {};
  }

  /** The input of the current step's next attempt. */
  stepInput(): RunStepInput {
    return {
      runId: this.runId,
      stepNumber: this.step,
      payload: this.payload,
      headers: this.spec.headers,
      runner: this.spec.runner,
      attempt: this.attempt,
      ...this.delivered,
      ...(Object.keys(this.memos).length > 0 ? { memos: this.memos } : {}),
      ...(typeof this.stepToken === 'string' ? { token: this.stepToken } : {}),
    };
  }

  /** A step's attempt failed with `message` (and an `ApplicationFailure` type, if any). */
  stepFailed(type: string | undefined, message: string): AfterFailure {
    this.lastError = message;
    if (type !== undefined && FATAL_STEP_ERRORS.has(type)) {
      return { kind: 'fail', error: type === ErrorType.StepPermanent ? message : `step ${this.step}: ${message}` };
    }
    if (this.attempt >= this.spec.maxAttemptsPerStep) {
      const n = this.attempt;
      return { kind: 'fail', error: `step ${this.step} failed after ${n} attempt${n === 1 ? '' : 's'}: ${message}` };
    }
    this.state = 'sleeping';
    return { kind: 'retry', attempt: this.attempt };
  }

  /**
   * The step parks instead of failing the run (`onExhausted: 'park'`): `attempt` failed last, and
   * `error` is what the run would have failed with.
   */
  park(attempt: number, error: string, held = false): void {
    this.parked = { attempt, error, ...(held ? { held: true as const } : {}) };
    this.attempt = attempt;
    this.lastError = error;
    if (!this.cancel) this.state = 'parked';
  }

  /** Why the resume update must refuse this request, if it must (its validator asks this). */
  checkResume(raw: unknown): string | undefined {
    if (isUndecodable(raw)) return `resume request: ${raw.reason}`;
    if (raw !== undefined && raw !== null && (typeof raw !== 'object' || Array.isArray(raw))) {
      return `resume request must be an object like {"payload": …}, got ${describeType(raw)}`;
    }
    if (!this.parked || this.interruptPending || isTerminal(this.state)) {
      const state = this.interruptPending && !isTerminal(this.state) ? 'closing' : this.state;
      return `run ${this.runId} is not parked (it is ${state}): only a parked run can be resumed`;
    }
    const request = (raw ?? {}) as { payload?: unknown; maxCostUsd?: unknown; maxTokens?: unknown };
    let budget: UsageBudget;
    try {
      budget = this.resumedBudget(request);
    } catch (err) {
      return `resume: ${(err as Error).message}`;
    }
    const still = budgetPassed(this.usage, budget);
    if (still) {
      return `run ${this.runId} cannot go on: ${still}; resume it with a higher maxCostUsd or maxTokens (--max-cost-usd, --max-tokens)`;
    }
    if (this.parked.held && Object.hasOwn(request, 'payload')) {
      return `run ${this.runId} parked on its budget after step ${this.step} returned, and goes on with what it returned: resume it without a payload`;
    }
    const { payload } = request;
    if (isUndecodable(payload)) return `resume payload: ${payload.reason}`;
    // As for any step's input, with room for its other fields.
    return overflow('the resume payload', { payload }, MAX_COMMAND_BYTES - 4096);
  }

  /**
   * The resume update, once its validator accepted it: the parked step runs again from attempt 1,
   * with the payload given (else its own). Its memos stay: a memo records an effect that happened,
   * and every later attempt of the step gets it (see README, "Park instead of fail").
   */
  resume(raw: { payload?: unknown; maxCostUsd?: unknown; maxTokens?: unknown } | null | undefined): { step: number } {
    if (raw && Object.hasOwn(raw, 'payload')) this.payload = raw.payload ?? null;
    this.budget = this.resumedBudget(raw ?? {});
    this.parked = undefined;
    this.attempt = 1;
    this.lastError = undefined;
    this.state = 'running';
    return { step: this.step };
  }

  /** The budget a resume asks for: the run's own, with the figures it gives in their place. */
  private resumedBudget(request: { maxCostUsd?: unknown; maxTokens?: unknown }): UsageBudget {
    const given = (v: unknown) => v !== undefined && v !== null;
    return {
      ...this.budget,
      ...(given(request.maxCostUsd) ? { maxCostUsd: budgetValue('maxCostUsd', request.maxCostUsd) } : {}),
      ...(given(request.maxTokens) ? { maxTokens: budgetValue('maxTokens', request.maxTokens) } : {}),
    };
  }

  /** What a parked run shows in its Temporal memo (for `list --state parked`, and `status()` with no worker). */
  parkedMemo(): { step: number; attempt: number; lastError: string } {
    const error = this.parked?.error ?? '';
    return {
      step: this.step,
      attempt: this.attempt,
      lastError: error.length > PARKED_MEMO_ERROR_CHARS ? `${error.slice(0, PARKED_MEMO_ERROR_CHARS)}…` : error,
    };
  }

  /** The backoff before the next attempt is over (or was cut short). */
  backoffDone(): void {
    this.attempt += 1;
    if (!this.interruptPending) this.state = 'running';
  }

  beginSleep(): void {
    this.state = 'sleeping';
  }

  /** A wait for `names` begins (or resumes after continue-as-new); it times out at `untilMs`, if given. */
  beginWait(names: string[], untilMs: number | undefined): void {
    this.waiting = {
      names,
      ...(untilMs !== undefined ? { deadline: new Date(untilMs).toISOString() } : {}),
    };
    this.state = 'waiting';
  }

  /** The wait ended: with an event when one named in it arrived, else timed out. */
  endWait(arrived: boolean): { event: RunEvent } | { timedOut: true } {
    const names = this.waiting?.names ?? [];
    this.waiting = undefined;
    const event = arrived ? this.inbox.take(names) : undefined;
    return event ? { event } : { timedOut: true };
  }

  /** The step's children start; the run waits for them. */
  beginChildren(total: number): void {
    this.children = { total, closed: 0 };
    this.state = 'waiting';
  }

  childClosed(): void {
    if (this.children) this.children.closed += 1;
  }

  endChildren(): void {
    this.children = undefined;
  }

  /** The wait was interrupted by a cancel. */
  abandonWait(): void {
    this.waiting = undefined;
  }

  /** On to the next step with `payload` (and what ended a wait, if one did). */
  advance(payload: unknown, delivered?: Delivered): void {
    this.skipAhead(1);
    this.payload = payload;
    this.delivered = delivered;
    this.state = 'running';
  }

  /**
   * A chain of fast steps ran `n` steps that returned `continue` before the one whose outcome the
   * run handles next: on to that one, as `advance` would have `n` times.
   */
  skipAhead(n: number): void {
    this.step += n;
    this.memos = {};
    this.stepToken = undefined;
    this.delivered = undefined;
    this.attempt = 1;
    this.lastError = undefined;
  }

  /**
   * What the next execution gets at continue-as-new: between steps, or during `handover.wait`,
   * whose next step gets `handover.payload`. `memos` says whether to carry the step's memos.
   */
  carryForward(handover?: { wait: CarriedWait; payload: unknown }, memos = false): RunCarry {
    const events = this.inbox.carry();
    const backoff = handover?.wait.kind === 'backoff';
    return {
      step: this.step,
      payload: handover ? handover.payload : this.payload,
      ...(this.cancel ? { cancel: this.cancel } : {}),
      ...(events.pending.length > 0 || events.seen.length > 0 ? { events } : {}),
      ...(this.delivered ? { delivered: this.delivered } : {}),
      ...(this.attempt > 1 ? { attempt: this.attempt } : {}),
      ...((this.attempt > 1 || backoff) && this.lastError !== undefined ? { lastError: this.lastError } : {}),
      ...(memos && Object.keys(this.memos).length > 0 ? { memos: this.memos } : {}),
      ...(this.deadlineAt !== undefined ? { deadlineAt: new Date(this.deadlineAt).toISOString() } : {}),
      ...(handover ? { wait: handover.wait } : {}),
      ...(this.forkedFrom ? { forkedFrom: this.forkedFrom } : {}),
      ...(this.usage ? { usage: this.usage } : {}),
      ...(this.budgetChanged() ? { budget: this.budget } : {}),
      ...(this.group !== undefined ? { group: this.group } : {}),
    };
  }

  /** Whether a resume changed the budgets from the spec's (then the carry holds them). */
  private budgetChanged(): boolean {
    return this.budget.maxCostUsd !== this.spec.maxCostUsd || this.budget.maxTokens !== this.spec.maxTokens;
  }

  outcomeBase(): Pick<RunOutcome, 'runId' | 'headers' | 'finalStep' | 'usage'> {
    return {
      runId: this.runId,
      headers: this.spec.headers,
      finalStep: this.step,
      ...(this.usage ? { usage: this.usage } : {}),
    };
  }
}
