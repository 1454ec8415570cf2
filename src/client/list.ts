/** Listing runs through Temporal's visibility: by state, by parent, newest first. */
import type { Client } from '@temporalio/client';
import { PARKED_MEMO_KEY, WORKFLOW_TYPE } from '../shared/names';
import type { RunState, RunStatusKind } from '../shared/types';
import { ValidationError, validateRunIdLookup } from '../shared/validate';
import { CLOSED_STATE } from './read';

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
  options: { state?: 'running' | 'parked' | RunStatusKind; limit?: number; parent?: string },
): Promise<RunListing[]> {
  let query = `WorkflowType = '${WORKFLOW_TYPE}'`;
  if (options.parent !== undefined) {
    query += ` AND ${parentCondition(validateRunIdLookup(options.parent))}`;
  }
  if (options.state) {
    const status = LIST_FILTER[options.state];
    if (!status)
      throw new ValidationError(`unknown state "${options.state}" (running, parked, succeeded, failed, cancelled)`);
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
    out.push({
      runId: execution.workflowId,
      state: parked ? 'parked' : (CLOSED_STATE[execution.status.name] ?? 'running'),
      startTime: execution.startTime,
      ...(execution.closeTime ? { closeTime: execution.closeTime } : {}),
    });
    if (out.length >= limit) break;
  }
  return out;
}
