/**
 * Live streams on a real multi-service cluster (../shared/cluster: frontend, history, matching and
 * worker services on PostgreSQL), checked by hand: too slow to build for CI.
 *
 *   addr=$(bash ../shared/cluster/start.sh)
 *   TEMPORAL_ADDRESS=$addr node --import tsx scripts/check-streams-cluster.ts
 *
 * Two worker processes, four runs each streaming 300 chunks, three readers a run: every reader
 * gets the same chunks at the same offsets, and a streaming step's history is as long as a silent
 * one's. Then a worker is SIGKILLed mid-stream: readers get its chunks, a retract, the retry's.
 * Prints what it saw; exits 1 on the first broken expectation.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunsClient, type StreamEvent } from '../src';
import { workflowBundle } from '../src/testing';
import { startStreamWorker } from '../test/fixtures/start-stream-worker';

const address = process.env.TEMPORAL_ADDRESS;
if (!address) throw new Error('TEMPORAL_ADDRESS: the cluster frontend (bash ../shared/cluster/start.sh prints it)');
const taskQueue = `streams-cluster-${Date.now()}`;
const workers = new Set<ChildProcess>();

const startWorker = (name: string, bundlePath: string) => startStreamWorker({ name, taskQueue, bundlePath, workers });

async function read(runs: RunsClient, runId: string, signal?: AbortSignal): Promise<StreamEvent[]> {
  const events: StreamEvent[] = [];
  for await (const e of runs.stream(runId, signal ? { signal } : {})) events.push(e);
  return events;
}
const chunks = (events: StreamEvent[]) => events.filter((e) => e.type === 'chunk');

async function main(): Promise<void> {
  const bundlePath = join(mkdtempSync(join(tmpdir(), 'bundle-')), 'workflows.js');
  writeFileSync(bundlePath, (await workflowBundle()).code);
  const runs = await RunsClient.connect({ address, taskQueue, encryptionKeys: false });
  try {
    const [a] = await Promise.all([startWorker('a', bundlePath), startWorker('b', bundlePath)]);
    const submitted = await Promise.all(
      Array.from({ length: 4 }, () => runs.submit({ input: { n: 300, everyMs: 20, batch: 5 }, runner: 'streamer' })),
    );
    const reads = await Promise.all(
      submitted.flatMap(({ runId }) => [0, 1, 2].map(async () => ({ runId, events: await read(runs, runId) }))),
    );
    const servedBy = new Set<string>();
    for (const { runId } of submitted) {
      const three = reads.filter((r) => r.runId === runId).map((r) => chunks(r.events));
      assert.equal(three[0]!.length, 300, `${runId}: 300 chunks`);
      assert.deepEqual(three[1], three[0]);
      assert.deepEqual(three[2], three[0]);
      assert.deepEqual(
        three[0]!.map((c) => c.type === 'chunk' && c.offset),
        Array.from({ length: 300 }, (_, i) => i),
      );
      servedBy.add(String((three[0]![0] as { data: unknown }).data).split(':')[0]!);
    }
    const silent = await runs.submit({ input: { n: 300 }, runner: 'silent' });
    await runs.result(silent.runId);
    const lengths = async (runId: string) => (await runs.temporal.workflow.getHandle(runId).describe()).historyLength;
    const streaming = await lengths(submitted[0]!.runId);
    const quiet = await lengths(silent.runId);
    assert.ok(streaming <= quiet + 2, `history: ${streaming} streaming, ${quiet} silent`);
    console.log(
      `4 runs × 3 readers: the same 300 chunks at offsets 0–299 for every reader; served by worker(s) ${[...servedBy].join(', ')}; history ${streaming} events streaming, ${quiet} silent`,
    );

    // A worker SIGKILLed mid-stream: only `a` runs this one's first try.
    const [b] = [...workers].filter((w) => w !== a);
    b!.kill('SIGKILL');
    const { runId } = await runs.submit({
      input: { n: 200, everyMs: 50, batch: 2 },
      runner: 'streamer',
      heartbeatTimeoutMs: 2000,
    });
    const live: StreamEvent[] = [];
    const stop = new AbortController();
    const reading = (async () => {
      for await (const e of runs.stream(runId, { signal: stop.signal })) live.push(e);
    })();
    for (let i = 0; i < 600 && chunks(live).length < 20; i++) await new Promise((r) => setTimeout(r, 100));
    a.kill('SIGKILL');
    await startWorker('c', bundlePath);
    const timeout = setTimeout(() => stop.abort(), 120_000);
    await reading;
    clearTimeout(timeout);
    const retract = live.find((e) => e.type === 'retract');
    assert.ok(retract && retract.type === 'retract', 'a retract after the kill');
    const after = chunks(live.slice(live.indexOf(retract) + 1));
    assert.equal(after.length, 200);
    assert.ok(after.every((c) => c.type === 'chunk' && String(c.data).startsWith('c:') && c.offset > retract.offset));
    const late = await read(runs, runId);
    const byOffset = new Map(live.flatMap((e) => ('offset' in e ? [[e.offset, e]] : [])));
    for (const e of late) if ('offset' in e) assert.deepEqual(e, byOffset.get(e.offset));
    console.log(
      `SIGKILL mid-stream: ${chunks(live.slice(0, live.indexOf(retract))).length} chunks from worker a, a retract at offset ${retract.offset}, 200 from worker c; a late reader agrees on every offset`,
    );
  } finally {
    for (const w of workers) w.kill('SIGKILL');
    await runs.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    for (const w of workers) w.kill('SIGKILL');
    process.exit(1);
  },
);
