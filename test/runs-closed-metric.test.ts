/**
 * `durable_runs_runs_closed_total` counts a close exactly once, even when the workflow task that
 * closes the run fails and runs again (not replaying): here the worker's payload codec fails once
 * on the run's outcome as the closing task is completed. Metrics served in this process, scraped
 * on loopback; the time-skipping server.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { DefaultLogger } from '@temporalio/worker';
import { StepOutcome } from '../src';
import { freePort } from '../src/local/dev-server';
import { installMetrics } from '../src/observability/metrics';
import { MetricName } from '../src/shared/metrics';
import { createTestKit, type TestKit } from '../src/testing';
import { parsePrometheus, sum } from './helpers/prometheus';
import { eventually } from '../support/wait';

const MARKER = 'explode-once';

/**
 * Passes payloads through, except that it throws on the third payload carrying MARKER it encodes:
 * the step's result (1), the terminal hooks' input (2), then the run's result as the closing
 * workflow task completes (3), which fails that task once.
 */
class FailOnceCodec implements PayloadCodec {
  seen = 0;
  async encode(payloads: Payload[]): Promise<Payload[]> {
    for (const p of payloads) {
      if (p.data && Buffer.from(p.data).toString('utf8').includes(MARKER) && ++this.seen === 3) {
        throw new Error('injected: the closing task fails once');
      }
    }
    return payloads;
  }
  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads;
  }
}

const codec = new FailOnceCodec();
let kit: TestKit;
let metricsUrl: string;
before(async () => {
  const address = `127.0.0.1:${await freePort()}`;
  installMetrics({ bindAddress: address, runtime: { logger: new DefaultLogger('ERROR') } });
  metricsUrl = `http://${address}/metrics`;
  kit = await createTestKit({
    runners: { default: async (step) => StepOutcome.succeed(step.payload) },
    webhook: false,
    tuning: { dataConverter: { payloadCodecs: [codec] } },
  });
});
after(async () => {
  await kit?.teardown();
});

const closed = async () =>
  sum(parsePrometheus(await (await fetch(metricsUrl)).text()), MetricName.RunsClosedTotal, { status: 'succeeded' });

test('a run whose closing workflow task fails once is counted closed once', async () => {
  const { runId } = await kit.client.submit({ input: MARKER });
  assert.equal((await kit.client.result(runId)).result, MARKER);
  assert.ok(codec.seen >= 4, `the closing task failed once and ran again (${codec.seen} encodes)`);
  const events = (await kit.client.temporal.workflow.getHandle(runId).fetchHistory()).events ?? [];
  assert.equal(events.filter((e) => e.workflowTaskFailedEventAttributes).length, 1, 'one failed workflow task');
  await eventually(async () => (await closed()) >= 1, 10_000, 'the close counted');
  // Another run closes plainly: the count is exactly one per run.
  const plain = await kit.client.submit({ input: 'plain' });
  await kit.client.result(plain.runId);
  await eventually(async () => (await closed()) >= 2, 10_000, 'the second close counted');
  assert.equal(await closed(), 2);
});
