import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { EventSignal, RunStatus } from './types';

/** Argument of the `cancel` signal. */
export interface CancelRequest {
  reason?: string;
  /**
   * Set by a parent run cancelling its children (their outcome's `cancelledBy` is then `parent`).
   * It counts only with the {@link CancelRequest.token} the parent gave the child at start;
   * without it, the cancel is an ordinary one (`cancelledBy: 'signal'`).
   */
  by?: 'parent';
  /** Internal: the proof that the parent sent it (see {@link PARENT_TOKEN_MEMO_KEY}). */
  token?: string;
}

/** Cancels a run; optional `{ reason }` ends up in `RunOutcome.error`. */
export const cancelSignal = defineSignal<[CancelRequest?]>('cancel');

/** Where a run stands. */
export const statusQuery = defineQuery<RunStatus>('status');

/**
 * Delivers an event to a run: `{ name, data?, id? }`; a `waitForEvent` naming it takes it.
 * Fire-and-forget (Temporal CLI and UI): a refused event is reported in `status().lastError`.
 */
export const eventSignal = defineSignal<[EventSignal]>('event');

/** What the `event` update answers when the run took the event. */
export interface EventAck {
  /** The event's ID (a fresh one when the sender gave none). */
  id: string;
  /** How many events the run keeps unconsumed, this one included. */
  pendingEvents: number;
}

/**
 * Delivers an event and answers whether the run took it: the same argument as the `event` signal.
 * The run's validator refuses, without writing history, a malformed event, an event past the
 * pending limit, an ID the run has already received, and any event once the run is closing; the
 * refusal is an `ApplicationFailure` whose `type` says which (see `ErrorType`).
 */
export const eventUpdate = defineUpdate<EventAck, [EventSignal]>('event');

/** A value a step journaled with `step.memo(key, fn)`, recorded in the run before `memo` returns. */
export interface MemoRecord {
  step: number;
  key: string;
  value: unknown;
}

/** Argument of the memo update: a record, with the token of the step that records it. */
export interface MemoRequest extends MemoRecord {
  /** The token the run gave the step in its input (`RunStepInput.token`). */
  token: string;
}

/**
 * Internal: the step wrapper records a memo in its run and gets back the value the run holds for
 * that key: the first one recorded wins, so an attempt that lost the race uses the winner's.
 * The validator refuses a request without the step's token, or for another step.
 */
export const memoUpdate = defineUpdate<unknown, [MemoRequest]>('durableRuns.recordMemo');

/**
 * Internal, replaced by {@link memoUpdate}: how earlier versions recorded a memo. It still takes
 * effect for a step scheduled without a token (runs begun before that version), and nowhere else.
 */
export const memoSignal = defineSignal<[MemoRecord]>('durableRuns.memo');

/** Internal: the memos the run holds for a step (for an attempt Temporal retried with stale input). */
export const memosQuery = defineQuery<Record<string, unknown>, [number]>('durableRuns.memos');

/**
 * Key of a child run's Temporal memo that holds the token its parent proves itself with when it
 * cancels it. Memos go through the payload codec: with encryption keys set, it is encrypted.
 */
export const PARENT_TOKEN_MEMO_KEY = 'durableRuns.parentToken';

/** Argument of the resume update: the payload the parked step runs with (else its own). */
export interface ResumeRequest {
  payload?: unknown;
  /** Raises (or sets) the run's cost budget: a run parked on it goes on once its totals fit. */
  maxCostUsd?: number;
  /** Raises (or sets) the run's token budget. */
  maxTokens?: number;
}

/**
 * Runs a parked step again from attempt 1 (`onExhausted: 'park'`), with `payload` if given, and
 * answers the step it runs. Its validator refuses, without writing history, a run that is not
 * parked (an `ApplicationFailure` of type `ResumeRefused` saying why). `runs.resume` and
 * `durable-runs resume` send it; so can `temporal workflow update execute --name durableRuns.resume`.
 */
export const resumeUpdate = defineUpdate<{ step: number }, [ResumeRequest]>('durableRuns.resume');
