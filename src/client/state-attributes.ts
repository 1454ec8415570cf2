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
/**
 * How long a failed ask is kept when the server may answer soon (unavailable, timed out): runs
 * started meanwhile go without the attributes for good, so it is asked again soon.
 */
const RETRY_MS = 5_000;

const known = new WeakMap<Client, { until: number; has: Promise<boolean> }>();

/**
 * Asks the server (`ListSearchAttributes`) once a minute per client. A refusal (a key without
 * operator rights, as on Temporal Cloud) reads as "not registered" for a minute too; any other
 * failure for {@link RETRY_MS}.
 */
export function hasStateAttributes(temporal: Client): Promise<boolean> {
  const cached = known.get(temporal);
  if (cached && Date.now() < cached.until) return cached.has;
  const entry = { until: Date.now() + CACHE_MS, has: Promise.resolve(false) };
  entry.has = temporal.connection.operatorService.listSearchAttributes({ namespace: temporal.options.namespace }).then(
    (answer) => Object.keys(STATE_ATTRIBUTE_TYPES).every((name) => answer.customAttributes?.[name] !== undefined),
    (err: unknown) => {
      if (!isRefusal(err)) entry.until = Math.min(entry.until, Date.now() + RETRY_MS);
      return false;
    },
  );
  known.set(temporal, entry);
  return entry.has;
}

/** gRPC codes that asking again will not change: PERMISSION_DENIED, UNIMPLEMENTED, UNAUTHENTICATED. */
const REFUSALS: ReadonlySet<unknown> = new Set([7, 12, 16]);
const isRefusal = (err: unknown): boolean => REFUSALS.has((err as { code?: unknown } | null)?.code);

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
