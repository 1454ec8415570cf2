import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { EventSignal } from './events';
import type { RunStatus } from './types';

/** Argument of the `cancel` signal. */
export interface CancelRequest {
  reason?: string;
}

/** Cancels a run; optional `{ reason }` ends up in `RunOutcome.error`. */
export const cancelSignal = defineSignal<[CancelRequest?]>('cancel');

/** Where a run stands. */
export const statusQuery = defineQuery<RunStatus>('status');

/** Delivers an event to a run: `{ name, data?, id? }`; a `waitForEvent` naming it takes it. */
export const eventSignal = defineSignal<[EventSignal]>('event');
