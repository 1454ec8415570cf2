/**
 * An agent-shaped run (issue 26): `N.agent` steps of about 50 ms each (a stand-in for a model
 * call), each with a memo, progress, three chunks of stream and usage, against the bare loop of
 * activities that sleep as long. Target: the overhead per step over the bare loop ≤ 5 %.
 *
 * A round runs one of each; which goes first alternates from round to round. The runner also
 * hands back how long each step's `step.memo` took to record its value (from the call's end until
 * `memo` returned), so the table shows what the journaled effect costs apart from the rest.
 */
import { N } from '../options';
import { type AgentResult, now } from '../protocol';
import { type Bench, type Round, type Row, roundRow } from '../rounds';
import { QUEUE } from '../side-worker';
import { percentile } from '../stats';

const STEP_MS = 50;

async function runOne(b: Bench, side: 'ours' | 'base', id: string): Promise<Record<string, number>> {
  const t0 = now();
  if (side === 'base') {
    await b.temporal.workflow.execute('baselineAgent', {
      workflowId: id,
      taskQueue: QUEUE.base,
      args: [N.agent, STEP_MS],
    });
    return { msPerStep: (now() - t0) / N.agent };
  }
  await b.runs.submit({ runId: id, runner: 'agent', input: { steps: N.agent, ms: STEP_MS } });
  const outcome = await b.runs.result(id);
  const msPerStep = (now() - t0) / N.agent;
  if (outcome.status !== 'succeeded') throw new Error(`run ${id} ended ${outcome.status}: ${outcome.error ?? ''}`);
  const recorded = (outcome.result as AgentResult).memoRecordMs;
  const mean = recorded.reduce((a, x) => a + x, 0) / recorded.length;
  return { msPerStep, memoP50: percentile(recorded, 50), withoutMemo: msPerStep - mean };
}

export async function agentShaped(b: Bench, rows: Row[], results: Record<string, unknown>): Promise<void> {
  const rounds: Round[] = [];
  for (let r = 0; r < N.rounds; r++) {
    const order = r % 2 === 0 ? (['base', 'ours'] as const) : (['ours', 'base'] as const);
    const round: Round = {};
    for (const side of order) round[side] = await runOne(b, side, `agent-${side}-${r}`);
    round.base!.withoutMemo = round.base!.msPerStep!;
    rounds.push(round);
  }
  results.agent = { rounds, stepMs: STEP_MS };
  rows.push(
    roundRow(
      `agent-shaped run: ms per step, ${N.agent} steps of ${STEP_MS} ms with a memo, progress, stream and usage`,
      rounds,
      'ours',
      'msPerStep',
    ),
    roundRow(
      "… less the time step.memo took to record (ms per step; the memo's record is one Update)",
      rounds,
      'ours',
      'withoutMemo',
    ),
  );
  const memo = roundRow('… step.memo: record time p50 (ms)', rounds, 'ours', 'memoP50');
  rows.push({ ...memo, base: NaN, ratio: { median: NaN, min: NaN, max: NaN } });
}
