// SDK internals, as no public API exports it: the SDK's own parser of duration strings ('5m', '1 day'),
// so that durations mean here what they mean in every Temporal option.
import { msToNumber } from '@temporalio/common/lib/time';
import { DEFAULT_RUNNER, RESERVED_HEADER_PREFIX } from './names';
import { type InboxCarry, validateCarriedEvent, validateEventNames, validateInboxCarry } from './events';
import { isUndecodable } from './payload-converter';
import {
  encodedSize,
  jsonDeeperThan,
  MAX_HEADERS_BYTES,
  MAX_JSON_DEPTH,
  MAX_RUN_SPEC_BYTES,
  MAX_VALUE_DEPTH,
  overflow,
  showBytes,
} from './limits';
import type { CancelOrigin, ForkOrigin, RunEvent, RunHeaders, RunOutcome } from './types';
import { describeType, ValidationError } from './validation-error';
import { budgetValue, readUsage, type RunUsage, type UsageBudget } from './usage';
import { groupNameProblem } from './limit-groups';

export { describeType, ValidationError };

/** What the step after a wait gets: the event, a timeout, or the outcomes of its children. */
export type Delivered = { event: RunEvent } | { timedOut: true } | { children: RunOutcome[] };

const ORIGINS: readonly string[] = ['signal', 'temporal', 'runner', 'parent'];
export const isOrigin = (value: unknown): value is CancelOrigin => typeof value === 'string' && ORIGINS.includes(value);

const RUN_ID = /^[A-Za-z0-9_-]{1,128}$/;
/** Upper bound for `maxAttemptsPerStep`: beyond this a "retry budget" is a loop. */
export const MAX_ATTEMPTS_LIMIT = 1000;
/** Longest `continueAfter` delay accepted (about 10 years): catches unit mix-ups like seconds vs ms. */
export const MAX_DELAY_MS = 10 * 365 * 24 * 3600 * 1000;

export const DEFAULT_MAX_ATTEMPTS = 3;
export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 30_000;
/**
 * The least `maxHistoryEvents`: an execution's first workflow task already holds 3 events, and a
 * limit below that would hand over at once in every execution, for ever.
 */
export const MIN_HISTORY_EVENTS = 5;
export const DEFAULT_STEP_TIMEOUT_MS = 24 * 3600 * 1000;
export const DEFAULT_MAX_HISTORY_EVENTS = 10_000;

/** A `RunSpec` with every default applied. */
export interface NormalizedRunSpec {
  input: unknown;
  headers: RunHeaders;
  runner: string;
  maxAttemptsPerStep: number;
  heartbeatTimeoutMs: number;
  stepTimeoutMs: number;
  maxHistoryEvents: number;
  maxSteps?: number;
  /** The time budget from submission, in ms. */
  deadlineMs?: number;
  /**
   * Set only to `'park'`: a run that fails when its retries are spent (the default) has no such
   * field, so its continue-as-new input is what it was before the option existed.
   */
  onExhausted?: 'park';
  maxCostUsd?: number;
  maxTokens?: number;
}

export function validateRunId(runId: unknown): string {
  if (typeof runId !== 'string' || !RUN_ID.test(runId)) {
    const shown =
      typeof runId === 'string'
        ? JSON.stringify(runId.length > 40 ? `${runId.slice(0, 40)}…` : runId)
        : describeType(runId);
    throw new ValidationError(
      `invalid run ID ${shown}${typeof runId === 'string' ? ` (length ${runId.length})` : ''}: use 1–128 characters of [A-Za-z0-9_-]`,
    );
  }
  return runId;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Temporal's default limit on a workflow ID (`limit.maxIDLength`), in bytes. */
export const MAX_WORKFLOW_ID_BYTES = 1000;

/**
 * Checks a run ID given to look a run up (status, send, cancel, list --parent, …). Looser than
 * {@link validateRunId}, which only submit applies: a schedule's runs (`nightly-2026-12-04T14:09:48Z`),
 * runs started with the Temporal CLI and children given their own IDs may use any workflow ID
 * Temporal accepts, and must stay reachable. Refuses what no workflow can have: an empty ID, one
 * past Temporal's length limit, or text that is not valid UTF-8.
 */
export function validateRunIdLookup(runId: unknown): string {
  if (typeof runId !== 'string') throw new ValidationError(`run ID must be a string, got ${describeType(runId)}`);
  if (runId.length === 0) throw new ValidationError('run ID must not be empty');
  const bytes = new TextEncoder().encode(runId).length;
  if (bytes > MAX_WORKFLOW_ID_BYTES) {
    throw new ValidationError(
      `invalid run ID ${JSON.stringify(`${runId.slice(0, 40)}…`)} (${bytes} bytes): Temporal's workflow IDs are at most ${MAX_WORKFLOW_ID_BYTES} bytes`,
    );
  }
  if (LONE_SURROGATE.test(runId)) {
    throw new ValidationError(`invalid run ID ${JSON.stringify(runId.slice(0, 40))}: not valid Unicode text`);
  }
  return runId;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

export function validateHeaders(headers: unknown): RunHeaders {
  if (headers === undefined || headers === null) return {};
  if (!isPlainObject(headers)) throw new ValidationError('headers must be an object of string→string');
  const out: RunHeaders = {};
  for (const [key, value] of Object.entries(headers)) {
    if (key.startsWith(RESERVED_HEADER_PREFIX)) {
      throw new ValidationError(`header "${key}" uses the reserved prefix "${RESERVED_HEADER_PREFIX}"`);
    }
    if (key.length === 0) throw new ValidationError('header names must not be empty');
    if (typeof value !== 'string') {
      throw new ValidationError(`header "${key}" must be a string, got ${describeType(value)}`);
    }
    if (/[\r\n\0]/.test(key) || /[\r\n\0]/.test(value)) {
      throw new ValidationError(`header "${key}" contains CR, LF or NUL`);
    }
    // Defined, not assigned: a header named "__proto__" stays a header.
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function positiveInt(name: string, value: unknown, fallback: number, max: number, min = 1): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ValidationError(
      `${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value) ?? describeType(value)}`,
    );
  }
  return value;
}

/** Checks the `durableRun` workflow input, whoever sent it (client, Temporal CLI, UI). */
export function validateRunSpec(spec: unknown): NormalizedRunSpec {
  if (isUndecodable(spec)) throw new ValidationError(`workflow input: ${spec.reason}`);
  if (!isPlainObject(spec)) {
    throw new ValidationError(
      `workflow input must be an object like {"input": …, "runner": "default"}, got ${describeType(spec)}`,
    );
  }
  const known = new Set([
    'input',
    'headers',
    'runner',
    'maxAttemptsPerStep',
    'heartbeatTimeoutMs',
    'stepTimeoutMs',
    'maxHistoryEvents',
    'maxSteps',
    'deadline',
    // The normalized spec a run hands to its next execution at continue-as-new carries the
    // deadline in milliseconds (its duration string already parsed).
    'deadlineMs',
    'onExhausted',
    'maxCostUsd',
    'maxTokens',
  ]);
  for (const key of Object.keys(spec)) {
    if (!known.has(key)) throw new ValidationError(`unknown field "${key}" in workflow input`);
  }
  if (!('input' in spec) || spec.input === undefined) {
    throw new ValidationError('workflow input has no "input" field (the first step\'s payload)');
  }
  const runner = spec.runner ?? DEFAULT_RUNNER;
  if (typeof runner !== 'string' || runner.length === 0 || runner.length > 200) {
    throw new ValidationError(`runner must be a non-empty string, got ${describeType(spec.runner)}`);
  }
  return {
    input: spec.input,
    headers: validateHeaders(spec.headers),
    runner,
    maxAttemptsPerStep: positiveInt(
      'maxAttemptsPerStep',
      spec.maxAttemptsPerStep,
      DEFAULT_MAX_ATTEMPTS,
      MAX_ATTEMPTS_LIMIT,
    ),
    heartbeatTimeoutMs: positiveInt(
      'heartbeatTimeoutMs',
      spec.heartbeatTimeoutMs,
      DEFAULT_HEARTBEAT_TIMEOUT_MS,
      3600_000,
    ),
    stepTimeoutMs: positiveInt('stepTimeoutMs', spec.stepTimeoutMs, DEFAULT_STEP_TIMEOUT_MS, 30 * 24 * 3600_000),
    maxHistoryEvents: positiveInt(
      'maxHistoryEvents',
      spec.maxHistoryEvents,
      DEFAULT_MAX_HISTORY_EVENTS,
      50_000,
      MIN_HISTORY_EVENTS,
    ),
    ...(spec.maxSteps !== undefined && spec.maxSteps !== null
      ? { maxSteps: positiveInt('maxSteps', spec.maxSteps, 1, 1_000_000_000) }
      : {}),
    ...deadlineOf(spec),
    ...onExhaustedOf(spec.onExhausted),
    ...(spec.maxCostUsd !== undefined && spec.maxCostUsd !== null
      ? { maxCostUsd: budgetValue('maxCostUsd', spec.maxCostUsd) }
      : {}),
    ...(spec.maxTokens !== undefined && spec.maxTokens !== null
      ? { maxTokens: budgetValue('maxTokens', spec.maxTokens) }
      : {}),
  };
}

/** `onExhausted`: `'fail'` (the default, left out of the normalized spec) or `'park'`. */
function onExhaustedOf(value: unknown): { onExhausted?: 'park' } {
  if (value === undefined || value === null || value === 'fail') return {};
  if (value === 'park') return { onExhausted: 'park' };
  throw new ValidationError(`onExhausted must be "fail" or "park", got ${describeType(value)}`);
}

/** `deadline` as the submitter gave it, or `deadlineMs` as a continued execution gets it; not both. */
function deadlineOf(spec: Record<string, unknown>): { deadlineMs?: number } {
  const given = (v: unknown) => v !== undefined && v !== null;
  if (given(spec.deadline) && given(spec.deadlineMs)) {
    throw new ValidationError('workflow input has both "deadline" and "deadlineMs": give one');
  }
  if (given(spec.deadline)) return { deadlineMs: parseDelay(spec.deadline, 'deadline') };
  if (!given(spec.deadlineMs)) return {};
  if (typeof spec.deadlineMs !== 'number' || !Number.isSafeInteger(spec.deadlineMs)) {
    throw new ValidationError(
      `deadlineMs must be a whole number of milliseconds, got ${describeType(spec.deadlineMs)}`,
    );
  }
  return { deadlineMs: parseDelay(spec.deadlineMs, 'deadlineMs') };
}

/**
 * Why a run's input is too large to run, naming the field and the limit; undefined when it fits.
 * Not part of {@link validateRunSpec}, which runs in flight replay: the workflow asks it of new
 * runs only.
 */
export function runSpecTooLarge(spec: NormalizedRunSpec): string | undefined {
  const headers = encodedSize(spec.headers);
  if (headers > MAX_HEADERS_BYTES) {
    return `headers take ${showBytes(headers)} together, above the ${showBytes(MAX_HEADERS_BYTES)} limit`;
  }
  return overflow('the workflow input', { input: spec.input, headers: spec.headers }, MAX_RUN_SPEC_BYTES);
}

/**
 * Why `value` (named `what`) nests too deeply for a run to carry, naming the limit; undefined when
 * it does not. Asked at the door (submit, schedules, sendEvent) and of a runner's outcome, not in
 * {@link validateRunSpec}: that runs in the workflow, and in replay, where runs in flight may hold
 * such a value. A run started around the client with a deeper input still runs, and fails by name
 * where it would carry the value past MAX_JSON_DEPTH.
 */
export function valueTooDeep(what: string, value: unknown): string | undefined {
  let deep: boolean;
  try {
    // Bytes as the converter writes them, one level: `{"$bytes": "…"}`. Undefined writes nothing.
    const text = JSON.stringify(value, (_key, v: unknown) => (v instanceof Uint8Array ? { $bytes: '' } : v));
    deep = text !== undefined && jsonDeeperThan(text, MAX_VALUE_DEPTH);
  } catch (err) {
    // Only a stack overflow says something of the depth; the converter names any other problem.
    deep = (err as Error)?.name === 'RangeError' && /call stack/i.test((err as Error).message);
  }
  if (!deep) return undefined;
  return `${what} nests arrays and objects deeper than ${MAX_VALUE_DEPTH} levels, the most a run carries: it wraps a value up to 4 levels further down, within the ${MAX_JSON_DEPTH} levels a payload may nest (MAX_JSON_DEPTH)`;
}

/** Where a run's workflow and step tasks stand in line (Temporal task priority and fairness). */
export interface RunScheduling {
  /** 1 (first) … 5 (last). @default 3 */
  priority?: number;
  /** Runs with different keys share the task queue in proportion to their weights. @default the run's `tenant` header */
  fairnessKey?: string;
  /** This key's share relative to others. @default 1 */
  fairnessWeight?: number;
}

/** Temporal's `Priority` for a run, or undefined when nothing is set. */
export function validatePriority(
  options: RunScheduling,
  headers: RunHeaders,
): { priorityKey?: number; fairnessKey?: string; fairnessWeight?: number } | undefined {
  const { priority, fairnessWeight } = options;
  const fairnessKey = options.fairnessKey ?? headers.tenant;
  if (
    priority !== undefined &&
    (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 1 || priority > 5)
  ) {
    throw new ValidationError(`priority must be an integer from 1 (first) to 5 (last), got ${describeType(priority)}`);
  }
  if (
    fairnessKey !== undefined &&
    (typeof fairnessKey !== 'string' || fairnessKey.length === 0 || new TextEncoder().encode(fairnessKey).length > 64)
  ) {
    throw new ValidationError(`fairnessKey must be a string of 1–64 bytes, got ${describeType(fairnessKey)}`);
  }
  if (
    fairnessWeight !== undefined &&
    (typeof fairnessWeight !== 'number' || !(fairnessWeight > 0) || fairnessWeight > 1000)
  ) {
    throw new ValidationError(
      `fairnessWeight must be a number above 0 and at most 1000, got ${describeType(fairnessWeight)}`,
    );
  }
  if (priority === undefined && fairnessKey === undefined && fairnessWeight === undefined) return undefined;
  return {
    ...(priority !== undefined ? { priorityKey: priority } : {}),
    ...(fairnessKey !== undefined ? { fairnessKey } : {}),
    ...(fairnessWeight !== undefined ? { fairnessWeight } : {}),
  };
}

/** At most this many children per `runChildren`. */
export const MAX_CHILDREN = 1000;

/** A child as the runner gave it, checked: its own run ID (if given) and run spec fields. */
export interface CheckedChild {
  runId?: string;
  input: unknown;
  runner?: string;
  headers?: RunHeaders;
  maxAttemptsPerStep?: number;
}

function validateChildren(value: Record<string, unknown>): CheckedOutcome {
  const { children, maxConcurrent } = value;
  if (!Array.isArray(children) || children.length === 0) {
    throw new ValidationError(`runChildren needs a non-empty list of children, got ${describeType(children)}`);
  }
  if (children.length > MAX_CHILDREN) {
    throw new ValidationError(`runChildren: at most ${MAX_CHILDREN} children per step, got ${children.length}`);
  }
  const ids = new Set<string>();
  const checked = children.map((child: unknown, i): CheckedChild => {
    if (!isPlainObject(child))
      throw new ValidationError(
        `runChildren: child ${i} must be an object like {"input": …}, got ${describeType(child)}`,
      );
    for (const key of Object.keys(child)) {
      if (!['input', 'runner', 'headers', 'runId', 'maxAttemptsPerStep'].includes(key)) {
        throw new ValidationError(`runChildren: child ${i} has an unknown field "${key}"`);
      }
    }
    try {
      const { runId, ...spec } = child;
      validateRunSpec(spec);
      if (runId !== undefined) {
        validateRunId(runId);
        if (ids.has(runId as string)) throw new ValidationError(`run ID ${JSON.stringify(runId)} is given twice`);
        ids.add(runId as string);
      }
    } catch (err) {
      throw new ValidationError(`runChildren: child ${i}: ${(err as Error).message}`);
    }
    return {
      input: child.input,
      ...(child.runId !== undefined ? { runId: child.runId as string } : {}),
      ...(child.runner !== undefined ? { runner: child.runner as string } : {}),
      ...(child.headers !== undefined ? { headers: validateHeaders(child.headers) } : {}),
      ...(child.maxAttemptsPerStep !== undefined ? { maxAttemptsPerStep: child.maxAttemptsPerStep as number } : {}),
    };
  });
  return {
    kind: 'runChildren',
    payload: value.payload ?? null,
    children: checked,
    maxConcurrent: positiveInt('runChildren maxConcurrent', maxConcurrent, checked.length, MAX_CHILDREN),
  };
}

/** What a run hands to its next execution when it continues-as-new. */
export interface RunCarry {
  step: number;
  payload: unknown;
  /** A cancel that arrived but was not acted on yet. */
  cancel?: { reason: string | null; by?: CancelOrigin };
  /** Events received and not consumed, and the IDs seen. */
  events?: InboxCarry;
  /** What ended the last wait, for the step about to run. */
  delivered?: Delivered;
  /** The attempt the step about to run is on, when a failed attempt came before (and its error). */
  attempt?: number;
  lastError?: string;
  /** What the step about to run (or its next attempt) journaled with `step.memo`. */
  memos?: Record<string, unknown>;
  /** When the run's deadline passes (ISO time): counted from submission, whatever the execution. */
  deadlineAt?: string;
  /**
   * The wait the run was in when it handed over to this execution, which resumes it: `payload`
   * is then what the step after the wait gets (for a backoff, the step's own payload again).
   */
  wait?: CarriedWait;
  /** A fork (a run started at a later step of another): where it came from, for its status. */
  forkedFrom?: ForkOrigin;
  /** What the steps reported with `step.usage` so far. */
  usage?: RunUsage;
  /** The budgets, when a `resume` changed them from the spec's. */
  budget?: UsageBudget;
  /** The limit group the runner's steps go to, once a step said so. */
  group?: string;
}

/** A wait handed over at continue-as-new: its names and absolute end, not a fresh timeout. */
export type CarriedWait =
  | { kind: 'event'; names: string[]; until?: string }
  | { kind: 'sleep'; until: string }
  | { kind: 'backoff'; until: string }
  /** A parked step (`onExhausted: 'park'`): the attempt that failed last and why it parked. */
  | { kind: 'parked'; attempt: number; error: string };

function isoTime(value: unknown, what: string): string {
  if (typeof value !== 'string' || !Number.isFinite(Date.parse(value))) {
    throw new ValidationError(`continue-as-new carry: ${what} must be an ISO time, got ${describeType(value)}`);
  }
  return value;
}

function validateCarriedWait(raw: unknown): CarriedWait | undefined {
  if (raw === undefined || raw === null) return undefined;
  const wait = raw as { kind?: unknown; names?: unknown; until?: unknown };
  if (!isPlainObject(raw))
    throw new ValidationError(`continue-as-new carry: wait must be an object, got ${describeType(raw)}`);
  switch (wait.kind) {
    case 'event':
      return {
        kind: 'event',
        names: validateEventNames(wait.names),
        ...(wait.until !== undefined ? { until: isoTime(wait.until, 'wait.until') } : {}),
      };
    case 'sleep':
    case 'backoff':
      return { kind: wait.kind, until: isoTime(wait.until, 'wait.until') };
    case 'parked': {
      const { attempt, error } = raw as { attempt?: unknown; error?: unknown };
      if (typeof attempt !== 'number' || !Number.isSafeInteger(attempt) || attempt < 1) {
        throw new ValidationError(
          `continue-as-new carry: wait.attempt must be a whole number ≥ 1, got ${describeType(attempt)}`,
        );
      }
      if (typeof error !== 'string') {
        throw new ValidationError(`continue-as-new carry: wait.error must be a string, got ${describeType(error)}`);
      }
      return { kind: 'parked', attempt, error };
    }
    default:
      throw new ValidationError(`continue-as-new carry: wait has an unknown kind ${describeType(wait.kind)}`);
  }
}

/**
 * Checks the second workflow argument, which only a continue-as-new should send but anyone who
 * starts a `durableRun` by hand can.
 */
export function validateCarry(carry: unknown): RunCarry | undefined {
  if (carry === undefined || carry === null) return undefined;
  if (isUndecodable(carry)) throw new ValidationError(`continue-as-new carry: ${carry.reason}`);
  if (!isPlainObject(carry)) {
    throw new ValidationError(
      `continue-as-new carry must be an object like {"step": 3, "payload": …}, got ${describeType(carry)}`,
    );
  }
  const { step, payload, cancel, events, delivered, attempt, lastError, memos, deadlineAt, wait, forkedFrom } = carry;
  const { usage, budget, group } = carry;
  if (typeof step !== 'number' || !Number.isSafeInteger(step) || step < 0) {
    throw new ValidationError(`continue-as-new carry: step must be a whole number ≥ 0, got ${describeType(step)}`);
  }
  let reason: string | null | undefined;
  if (cancel !== undefined && cancel !== null) {
    reason = isPlainObject(cancel) ? (cancel.reason as string | null | undefined) : undefined;
    if (!isPlainObject(cancel) || (reason !== undefined && reason !== null && typeof reason !== 'string')) {
      throw new ValidationError(
        `continue-as-new carry: cancel must be {"reason": string | null}, got ${describeType(cancel)}`,
      );
    }
  }
  const inbox = validateInboxCarry(events);
  let wake: RunCarry['delivered'];
  if (delivered !== undefined && delivered !== null) {
    const d = delivered as { event?: unknown; timedOut?: unknown; children?: unknown };
    if (d.timedOut === true) wake = { timedOut: true };
    else if (Array.isArray(d.children)) wake = { children: d.children as RunOutcome[] };
    else wake = { event: validateCarriedEvent(d.event, 'the event that ended the last wait') };
  }
  return {
    step,
    payload: payload === undefined ? null : payload,
    ...(cancel !== undefined && cancel !== null
      ? {
          cancel: {
            reason: reason ?? null,
            ...(isOrigin((cancel as { by?: unknown }).by) ? { by: (cancel as { by: CancelOrigin }).by } : {}),
          },
        }
      : {}),
    ...(inbox ? { events: inbox } : {}),
    ...(wake ? { delivered: wake } : {}),
    // Not worth failing a run over: an attempt count that is not a whole number ≥ 2 starts at 1.
    ...(typeof attempt === 'number' && Number.isSafeInteger(attempt) && attempt > 1 ? { attempt } : {}),
    ...(typeof lastError === 'string' ? { lastError } : {}),
    ...(isPlainObject(memos) && Object.keys(memos).length > 0 ? { memos } : {}),
    ...(deadlineAt !== undefined && deadlineAt !== null ? { deadlineAt: isoTime(deadlineAt, 'deadlineAt') } : {}),
    ...(wait !== undefined && wait !== null ? { wait: validateCarriedWait(wait)! } : {}),
    ...(forkedFrom !== undefined && forkedFrom !== null ? { forkedFrom: validateForkOrigin(forkedFrom) } : {}),
    ...(usage !== undefined && usage !== null ? { usage: validateCarriedUsage(usage) } : {}),
    ...(budget !== undefined && budget !== null ? { budget: validateCarriedBudget(budget) } : {}),
    // Not worth failing a run over: a group it cannot use is learnt again from the next step.
    ...(groupNameProblem(group) === undefined ? { group: group as string } : {}),
  };
}

function validateCarriedUsage(raw: unknown): RunUsage {
  const { usage, problem } = readUsage(raw);
  if (!usage) throw new ValidationError(`continue-as-new carry: ${problem ?? 'usage is malformed'}`);
  return usage;
}

function validateCarriedBudget(raw: unknown): UsageBudget {
  if (!isPlainObject(raw)) {
    throw new ValidationError(`continue-as-new carry: budget must be an object, got ${describeType(raw)}`);
  }
  try {
    return {
      ...(raw.maxCostUsd !== undefined ? { maxCostUsd: budgetValue('maxCostUsd', raw.maxCostUsd) } : {}),
      ...(raw.maxTokens !== undefined ? { maxTokens: budgetValue('maxTokens', raw.maxTokens) } : {}),
    };
  } catch (err) {
    throw new ValidationError(`continue-as-new carry: budget: ${(err as Error).message}`);
  }
}

function validateForkOrigin(raw: unknown): ForkOrigin {
  const { runId, step } = (isPlainObject(raw) ? raw : {}) as { runId?: unknown; step?: unknown };
  if (typeof runId !== 'string' || typeof step !== 'number' || !Number.isSafeInteger(step) || step < 0) {
    throw new ValidationError(
      `continue-as-new carry: forkedFrom must be {"runId": string, "step": whole number ≥ 0}, got ${describeType(raw)}`,
    );
  }
  return { runId, step };
}

/** Parses a `continueAfter` delay (ms or duration string) into milliseconds. */
export function parseDelay(delay: unknown, what = 'continueAfter delay'): number {
  let ms: number;
  if (typeof delay === 'number') {
    ms = delay;
  } else if (typeof delay === 'string' && delay.trim() !== '') {
    try {
      ms = msToNumber(delay.trim() as never);
    } catch {
      throw new ValidationError(`${what} ${JSON.stringify(delay)} is not a duration (try 5000 or '5m')`);
    }
  } else {
    throw new ValidationError(`${what} must be milliseconds or a duration string, got ${describeType(delay)}`);
  }
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_DELAY_MS) {
    throw new ValidationError(`${what} must be between 0 and ${MAX_DELAY_MS} ms, got ${JSON.stringify(delay)}`);
  }
  return Math.round(ms);
}

/** Checks what a runner returned; the delay of `continueAfter` comes back in milliseconds. */
/** A runner's outcome, checked, with durations in milliseconds. */
export type CheckedOutcome =
  | { kind: 'continue'; payload: unknown }
  | { kind: 'continueAfter'; payload: unknown; delay: number | string; delayMs: number }
  | { kind: 'waitForEvent'; payload: unknown; events: string[]; timeoutMs?: number }
  | { kind: 'runChildren'; payload: unknown; children: CheckedChild[]; maxConcurrent: number }
  | { kind: 'succeed'; result: unknown }
  | { kind: 'fail'; reason: string }
  | { kind: 'cancel'; reason: string };

export function validateOutcome(value: unknown): CheckedOutcome {
  if (!isPlainObject(value) || typeof value.kind !== 'string') {
    throw new ValidationError(
      `runner returned ${describeType(value)}, not a step outcome: return StepOutcome.continue/continueAfter/succeed/fail/cancel(…)`,
    );
  }
  switch (value.kind) {
    case 'continue':
      return { kind: 'continue', payload: value.payload ?? null };
    case 'continueAfter':
      return {
        kind: 'continueAfter',
        payload: value.payload ?? null,
        delay: value.delay as number,
        delayMs: parseDelay(value.delay),
      };
    case 'waitForEvent':
      return {
        kind: 'waitForEvent',
        payload: value.payload ?? null,
        events: validateEventNames(value.events),
        ...(value.timeout !== undefined && value.timeout !== null
          ? { timeoutMs: parseDelay(value.timeout, 'waitForEvent timeout') }
          : {}),
      };
    case 'runChildren':
      return validateChildren(value);
    case 'succeed':
      return { kind: 'succeed', result: value.result };
    case 'fail':
    case 'cancel':
      if (typeof value.reason !== 'string') {
        throw new ValidationError(`${value.kind} outcome needs a string reason, got ${describeType(value.reason)}`);
      }
      return { kind: value.kind, reason: value.reason };
    default:
      throw new ValidationError(`runner returned an outcome of unknown kind ${JSON.stringify(value.kind)}`);
  }
}
