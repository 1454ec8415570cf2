/** Listing runs through Temporal's visibility: by state, by parent, newest first. */
import type { Client } from '@temporalio/client';
import { PARKED_MEMO_KEY, WORKFLOW_TYPE } from '../shared/names';
import type { RunState, RunStatusKind } from '../shared/types';
import { ValidationError, validateRunIdLookup } from '../shared/validate';
import { STATE_ATTRIBUTES, STATE_KEYS } from '../shared/run-story';
import { CLOSED_STATE } from './read';
import { hasStateAttributes } from './state-attributes';

export interface RunListing {
  runId: string;
  state: RunState;
  startTime: Date;
  closeTime?: Date;
}

/** The close statuses of each state: Terminated and TimedOut runs read as failed in status(), so they list as failed. */
const LIST_FILTER: Record<string, string> = {
  running: `ExecutionStatus = 'Running'`,
  // Running executions, of which list() keeps those whose memo says they are parked.
  parked: `ExecutionStatus = 'Running'`,
  succeeded: `ExecutionStatus = 'Completed'`,
  failed: `ExecutionStatus IN ('Failed', 'Terminated', 'TimedOut')`,
  cancelled: `ExecutionStatus = 'Canceled'`,
};

/** States only the `DurableRunsState` search attribute can tell apart (open runs). */
const ATTRIBUTE_STATES = ['waiting', 'sleeping', 'cancelling', 'scheduled'] as const;
export type ListState = 'running' | 'parked' | RunStatusKind | (typeof ATTRIBUTE_STATES)[number];
const isAttributeState = (state: string): state is (typeof ATTRIBUTE_STATES)[number] =>
  (ATTRIBUTE_STATES as readonly string[]).includes(state);

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

/** {@link RunsClient.list} */
export async function listRuns(
  temporal: Client,
  options: { state?: ListState; limit?: number; parent?: string },
): Promise<RunListing[]> {
  let query = `WorkflowType = '${WORKFLOW_TYPE}'`;
  if (options.parent !== undefined) {
    query += ` AND ${parentCondition(validateRunIdLookup(options.parent))}`;
  }
  if (options.state && isAttributeState(options.state)) {
    if (!(await hasStateAttributes(temporal))) {
      throw new ValidationError(
        `list by state "${options.state}" needs the search attribute ${STATE_ATTRIBUTES.state}, which namespace ` +
          `"${temporal.options.namespace}" does not have registered (durable-runs dev registers it; on a cluster: ` +
          `temporal operator search-attribute create --name ${STATE_ATTRIBUTES.state} --type Keyword, see README)`,
      );
    }
    query += ` AND ExecutionStatus = 'Running' AND ${STATE_ATTRIBUTES.state} = '${options.state}'`;
  } else if (options.state) {
    const status = LIST_FILTER[options.state];
    if (!status)
      throw new ValidationError(
        `unknown state "${options.state}" (running, waiting, sleeping, parked, cancelling, scheduled, succeeded, failed, cancelled)`,
      );
    query += ` AND ${status}`;
  }
  const limit = options.limit ?? 100;
  const out: RunListing[] = [];
  for await (const execution of temporal.workflow.list({ query })) {
    if (options.parent !== undefined && execution.parentExecution?.workflowId !== options.parent) continue;
    // Parked runs are Running executions whose memo says so: the listing carries each one's memo.
    const open = execution.status.name === 'RUNNING';
    const parked = open && execution.memo?.[PARKED_MEMO_KEY] != null;
    if ((options.state === 'parked' && !parked) || (options.state === 'running' && parked)) continue;
    // An open run's state, where its namespace keeps it in a search attribute.
    const shown = open ? (execution.typedSearchAttributes.get(STATE_KEYS.state) as RunState | undefined) : undefined;
    out.push({
      runId: execution.workflowId,
      state: parked ? 'parked' : (CLOSED_STATE[execution.status.name] ?? shown ?? 'running'),
      startTime: execution.startTime,
      ...(execution.closeTime ? { closeTime: execution.closeTime } : {}),
    });
    if (out.length >= limit) break;
  }
  return out;
}
