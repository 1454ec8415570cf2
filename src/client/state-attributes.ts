/**
 * Whether the namespace has the run-state search attributes (`DurableRunsState`, …; issue 27).
 * Runs start with them only where they are registered: elsewhere a start that names them would be
 * refused, and everything else works without them (only the filtering is gone).
 */
import type { Client } from '@temporalio/client';
import type { SearchAttributePair } from '@temporalio/common';
import { runDetails, runSummary, STATE_ATTRIBUTE_TYPES, startAttributes } from '../shared/run-story';
import type { RunSpec } from '../shared/types';

/** How long an answer is kept: an operator who registers them later sees new runs use them within this. */
const CACHE_MS = 60_000;

const known = new WeakMap<Client, { at: number; has: Promise<boolean> }>();

/** Asks the server (`ListSearchAttributes`) once a minute per client; any failure reads as "not registered". */
export function hasStateAttributes(temporal: Client): Promise<boolean> {
  const cached = known.get(temporal);
  if (cached && Date.now() - cached.at < CACHE_MS) return cached.has;
  const has = temporal.connection.operatorService.listSearchAttributes({ namespace: temporal.options.namespace }).then(
    (answer) => Object.keys(STATE_ATTRIBUTE_TYPES).every((name) => answer.customAttributes?.[name] !== undefined),
    // A key without operator rights (Temporal Cloud) cannot list them: start without.
    () => false,
  );
  known.set(temporal, { at: Date.now(), has });
  return has;
}

/** Forgets what was learnt, so the next start asks again (after registering them). */
export function forgetStateAttributes(temporal: Client): void {
  known.delete(temporal);
}

/**
 * What every start of a run carries for the Temporal UI: the static summary (runner and input) and
 * details (options, header names; no callback URL, no other header's value), and, where the
 * namespace has them, the run-state search attributes.
 */
export async function startStory(
  temporal: Client,
  spec: RunSpec,
  options: { scheduled?: boolean; step?: number; webhookUrlHeader?: string; origin?: string } = {},
): Promise<{ staticSummary: string; staticDetails: string; typedSearchAttributes?: SearchAttributePair[] }> {
  return {
    staticSummary: runSummary(spec),
    staticDetails: runDetails(spec, {
      ...(options.webhookUrlHeader ? { webhookUrlHeader: options.webhookUrlHeader } : {}),
      ...(options.origin ? { origin: options.origin } : {}),
    }),
    ...((await hasStateAttributes(temporal))
      ? { typedSearchAttributes: startAttributes(spec, options.scheduled ? 'scheduled' : 'running', options.step ?? 0) }
      : {}),
  };
}
