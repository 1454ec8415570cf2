/**
 * An agent-shaped run (issue 26): `N.agent` steps of about 50 ms each (a stand-in for a model
 * call), each with a memo, progress, three chunks of stream and usage, against the bare loop of
 * activities that sleep as long. Target: the overhead per step over the bare loop ≤ 5 %.
 */
import { N } from '../options';
import { now } from '../protocol';
import { type Bench, mirrored, type Round, type Row, roundRow } from '../rounds';
import { QUEUE } from '../side-worker';

const STEP_MS = 50;

async function runOne(b: Bench, side: 'ours' | 'base', id: string): Promise<number> {
  const t0 = now();
  if (side === 'ours') {
    await b.runs.submit({ runId: id, runner: 'agent', input: { steps: N.agent, ms: STEP_MS } });
    const outcome = await b.runs.result(id);
    if (outcome.status !== 'succeeded') throw new Error(`run ${id} ended ${outcome.status}: ${outcome.error ?? ''}`);
  } else {
    await b.temporal.workflow.execute('baselineAgent', {
      workflowId: id,
      taskQueue: QUEUE.base,
      args: [N.agent, STEP_MS],
    });
  }
  return (now() - t0) / N.agent;
}

export async function agentShaped(b: Bench, rows: Row[], results: Record<string, unknown>): Promise<void> {
  const rounds: Round[] = [];
  for (let r = 0; r < N.rounds; r++) {
    const perStep: Record<string, number[]> = { ours: [], base: [] };
    for (const [k, side] of mirrored(['base', 'ours'] as const).entries()) {
      perStep[side]!.push(await runOne(b, side, `agent-${side}-${r}-${k}`));
    }
    const round: Round = {};
    for (const side of ['ours', 'base']) {
      const ms = perStep[side]!.reduce((a, x) => a + x, 0) / perStep[side]!.length;
      round[side] = { msPerStep: ms, overheadMs: ms - STEP_MS };
    }
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
  );
}
