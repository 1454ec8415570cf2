/** Terminal webhooks: durable-runs' delivery workflow against the baseline's inline POST. */
import { startReceiver, type Receiver } from '../../support/receiver';
import { eventually } from '../../support/wait';
import { N } from '../options';
import { now } from '../protocol';
import { allMarks, type Bench, mirrored, pool, range, type Round, roundRow, type Row, SIDES, submit } from '../rounds';

const DELIVERY_TIMEOUT_MS = 10 * 60_000;

/** Terminal webhooks against the baseline's inline POST, rounds base, ours, ours, base. */
export async function webhooks(b: Bench, rows: Row[], results: Record<string, unknown>): Promise<void> {
  const receiver: Receiver = await startReceiver();
  const per = Math.ceil(N.webhooks / 2);
  const rounds: Round[] = [];
  try {
    for (let r = 0; r < N.rounds; r++) {
      const seconds: Record<string, number> = {};
      for (const [k, side] of mirrored(SIDES).entries()) {
        const path = `/${side}-${r}-${k}`;
        const t0 = now();
        await pool(
          range(per, (i) => `hook-${side}-${r}-${k}-${i}`),
          N.concurrency,
          (id) => submit(b, side, id, 1, `${receiver.url}${path}`),
        );
        await eventually(() => receiver.to(path).length >= per, DELIVERY_TIMEOUT_MS, `${per} ${side} webhooks`);
        seconds[side] = (seconds[side] ?? 0) + (now() - t0) / 1000;
      }
      rounds.push(Object.fromEntries(SIDES.map((side) => [side, { deliveriesPerSecond: (2 * per) / seconds[side]! }])));
    }
    const signed = receiver.requests.filter((r) => r.path.startsWith('/ours') && r.headers['webhook-signature']);
    if (signed.length !== per * 2 * N.rounds) {
      throw new Error(`${signed.length}/${per * 2 * N.rounds} of our webhooks were signed`);
    }
  } finally {
    await receiver.close();
  }
  await allMarks(b);
  results.webhooks = { rounds };
  rows.push(
    roundRow(`webhooks: deliveries/s (${2 * per} one-step runs a round)`, rounds, 'ours', 'deliveriesPerSecond'),
  );
}
