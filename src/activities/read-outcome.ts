import { Context } from '@temporalio/activity';
import { OUTCOME_MEMO_KEY } from '../shared/names';
import type { RunOutcome } from '../shared/types';

/**
 * A closed run's outcome as it recorded it in its memo (without the result), for a parent whose
 * child was cancelled: Temporal does not pass a cancelled child's details on to its parent.
 */
export async function readRunOutcome(runId: string): Promise<Omit<RunOutcome, 'result'> | null> {
  const description = await Context.current().client.workflow.getHandle(runId).describe();
  const memo = description.memo?.[OUTCOME_MEMO_KEY] as (Omit<RunOutcome, 'result'> & { runner?: string }) | undefined;
  if (!memo || typeof memo !== 'object') return null;
  const { runner: _runner, ...outcome } = memo;
  return outcome;
}
