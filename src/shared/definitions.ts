import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { EventSignal } from './events';
import type { RunStatus } from './types';

/** Argument of the `cancel` signal. */
export interface CancelRequest {
  reason?: string;
  /** Set by a parent run cancelling its children (their outcome's `cancelledBy` is then `parent`). */
  by?: 'parent';
}

/** Cancels a run; optional `{ reason }` ends up in `RunOutcome.error`. */
export const cancelSignal = defineSignal<[CancelRequest?]>('cancel');

/** Where a run stands. */
export const statusQuery = defineQuery<RunStatus>('status');

/** Delivers an event to a run: `{ name, data?, id? }`; a `waitForEvent` naming it takes it. */
export const eventSignal = defineSignal<[EventSignal]>('event');

/** A value a step journaled with `step.memo(key, fn)`, recorded in the run before `memo` returns. */
export interface MemoRecord {
  step: number;
  key: string;
  value: unknown;
}

/**
 * Internal: the step wrapper records a memo in its run. The run keeps the current step's memos
 * and hands them to the step's next attempt.
 */
export const memoSignal = defineSignal<[MemoRecord]>('durableRuns.memo');

/** Internal: the memos the run holds for a step (for an attempt Temporal retried with stale input). */
export const memosQuery = defineQuery<Record<string, unknown>, [number]>('durableRuns.memos');
