/**
 * Live streams on a real dev server (issue 23): `step.stream` chunks reach `runs.stream` readers
 * through Temporal alone (heartbeat details while the step runs, the step's result when it ends),
 * with no history event per chunk; offsets hold across readers, resumes, late readers, a worker
 * SIGKILL and encryption.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RunNotFound, RunsClient, type StreamEvent, ValidationError } from '../src';
import { resolveTemporalCli } from '../src/local/temporal-binaries';
import { createTestKit, type TestKit, workflowBundle } from '../src/testing';
import { eventually } from '../support/wait';
import { type StreamPayload, streamRunners } from './fixtures/stream-runners';
import { durableRunsCli } from './helpers/durable-runs-cli';
import { startStreamWorker } from './fixtures/start-stream-worker';

const durableRuns = durableRunsCli(() => ({ address: kit.env.address, taskQueue: kit.taskQueue }));

let kit: TestKit;
let bundlePath: string;
const workers = new Set<ChildProcess>();
before(async () => {
  kit = await createTestKit({ runners: streamRunners('main'), server: 'local', encryptionKeys: false });
  bundlePath = join(mkdtempSync(join(tmpdir(), 'bundle-')), 'workflows.js');
  writeFileSync(bundlePath, (await workflowBundle()).code);
});
after(async () => {
  for (const w of workers) w.kill('SIGKILL');
  await kit?.teardown();
});

/** Reads a run's stream to its end (or until `until` holds), collecting every event. */
async function readAll(
  runId: string,
  options: { from?: number; until?: (events: StreamEvent[]) => boolean } = {},
): Promise<StreamEvent[]> {
  const events: StreamEvent[] = [];
  const stop = new AbortController();
  const reading = (async () => {
    for await (const event of kit.client.stream(runId, { from: options.from, signal: stop.signal })) {
      events.push(event);
      if (options.until?.(events)) stop.abort();
    }
  })();
  const timeout = setTimeout(() => stop.abort(), 120_000);
  try {
    await reading;
  } finally {
    clearTimeout(timeout);
  }
  return events;
}
const chunks = (events: StreamEvent[]) => events.filter((e) => e.type === 'chunk');
const offsets = (events: StreamEvent[]) => events.flatMap((e) => ('offset' in e ? [e.offset] : []));

/** Every offset carries one event, in increasing order. */
function assertOrdered(events: StreamEvent[]): void {
  const seen = offsets(events);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! > seen[i - 1]!, `offset ${seen[i]} after ${seen[i - 1]}`);
}

/** Events as [offset, data], [offset, 'retract'], [from, to, 'gap'] or 'closed', for comparing. */
const shape = (events: StreamEvent[]) =>
  events.map((e) =>
    e.type === 'chunk'
      ? [e.offset, e.data]
      : e.type === 'retract'
        ? [e.offset, 'retract']
        : e.type === 'gap'
          ? [e.from, e.to, 'gap']
          : e.type,
  );

/** Across readers, an offset never carries two different events. */
function assertOneEventPerOffset(readers: StreamEvent[][]): void {
  const byOffset = new Map<number, StreamEvent>();
  for (const events of readers) {
    for (const e of events) {
      if (!('offset' in e)) continue;
      const seen = byOffset.get(e.offset);
      if (seen) assert.deepEqual(e, seen, `offset ${e.offset}`);
      else byOffset.set(e.offset, e);
    }
  }
}

async function historyLength(runId: string): Promise<number> {
  return ((await kit.client.temporal.workflow.getHandle(runId).fetchHistory()).events ?? []).length;
}

/** `temporal workflow reset --type FirstWorkflowTask` of the run's `execution` (else its latest). */
function resetToFirstTask(runId: string, reason: string, execution?: string): void {
  execFileSync(resolveTemporalCli()!, [
    'workflow',
    'reset',
    '--address',
    kit.env.address,
    '--workflow-id',
    runId,
    ...(execution ? ['--run-id', execution] : []),
    '--type',
    'FirstWorkflowTask',
    '--reason',
    reason,
    '--yes',
  ]);
}

const submit = (runner: string, payload: unknown, extra: Record<string, unknown> = {}) =>
  kit.client.submit({ input: payload, runner, ...extra });

describe('streams', () => {
  test('10,000 chunks: every one reaches a live reader in order, and the history is at most 2 events longer than a silent step', async () => {
    const payload: StreamPayload = { n: 10_000, everyMs: 20, batch: 100 };
    const { runId } = await submit('streamer', payload);
    const events = await readAll(runId);
    const got = chunks(events);
    assert.equal(got.length, 10_000);
    assert.deepEqual(
      got.map((c) => c.offset),
      Array.from({ length: 10_000 }, (_, i) => i),
    );
    assert.deepEqual(
      got.slice(0, 3).map((c) => c.data),
      ['main:1:0', 'main:1:1', 'main:1:2'],
    );
    assert.equal(got.at(-1)!.data, 'main:1:9999');
    const last = events.at(-1)!;
    assert.equal(last.type, 'closed');
    assert.deepEqual(last.type === 'closed' && [last.outcome.status, last.outcome.result], ['succeeded', 10_000]);

    const silent = await submit('silent', payload);
    await kit.client.result(silent.runId);
    const streaming = await historyLength(runId);
    const quiet = await historyLength(silent.runId);
    console.log(`# history: ${streaming} events streaming 10,000 chunks, ${quiet} silent`);
    assert.ok(streaming <= quiet + 2, `${streaming} events streaming, ${quiet} silent`);
  });

  test('two readers, one resuming from an offset, and a late reader after the close see the same chunks at the same offsets', async () => {
    const { runId } = await submit('streamer', { n: 300, everyMs: 20, batch: 10 });
    const first = readAll(runId);
    // The second reader stops after 50 chunks, then resumes after the last offset it got.
    const partial = await readAll(runId, { until: (events) => chunks(events).length >= 50 });
    const lastOffset = offsets(partial).at(-1)!;
    const resumed = await readAll(runId, { from: lastOffset });
    const whole = await first;
    await kit.client.result(runId);
    const late = await readAll(runId);
    const joined = [...chunks(partial), ...chunks(resumed)];
    assert.deepEqual(joined, chunks(whole));
    assert.deepEqual(chunks(late), chunks(whole));
    assert.equal(chunks(whole).length, 300);
    for (const events of [whole, resumed, late]) {
      assertOrdered(events);
      assert.equal(events.at(-1)!.type, 'closed');
    }
  });

  test('a failed attempt is retracted: its chunks, then a retract, then the retry’s chunks at new offsets', async () => {
    const { runId } = await submit('streamer', { n: 20, everyMs: 10, batch: 5, failFirst: true });
    const events = await readAll(runId);
    assertOrdered(events);
    const retract = events.find((e) => e.type === 'retract');
    assert.ok(retract && retract.type === 'retract');
    assert.deepEqual([retract.step, retract.attempt], [0, 1]);
    const before = chunks(events.slice(0, events.indexOf(retract)));
    const afterRetract = chunks(events.slice(events.indexOf(retract) + 1));
    assert.ok(before.every((c) => c.type === 'chunk' && c.attempt === 1));
    assert.equal(afterRetract.length, 20);
    assert.ok(afterRetract.every((c) => c.type === 'chunk' && c.attempt === 2 && c.offset > retract.offset));
    // A late reader agrees on every offset it shares with the live one.
    const late = await readAll(runId);
    const live = new Map(chunks(events).map((c) => [c.offset, c]));
    for (const c of chunks(late)) assert.deepEqual(c, live.get(c.offset));
    assert.deepEqual(
      late.filter((e) => e.type === 'retract'),
      [retract],
    );
  });

  test('chunks of two steps follow each other; a step that streams nothing leaves no gap', async () => {
    const { runId } = await submit('twoSteps', null);
    await kit.client.result(runId);
    const events = await readAll(runId);
    assert.deepEqual(
      chunks(events).map((c) => c.type === 'chunk' && [c.offset, c.step, c.data]),
      [
        [0, 0, { step: 0, i: 0 }],
        [1, 0, { step: 0, i: 1 }],
        [2, 0, { step: 0, i: 2 }],
        [3, 1, { step: 1, i: 0 }],
        [4, 1, { step: 1, i: 1 }],
        [5, 1, { step: 1, i: 2 }],
      ],
    );
    // Resuming after the last offset of a closed run gives only `closed`.
    assert.deepEqual(
      (await readAll(runId, { from: 5 })).map((e) => e.type),
      ['closed'],
    );
  });

  test('across continue-as-new: a live and a late reader get every step’s chunks at contiguous offsets', async () => {
    const { runId } = await submit('manySteps', { steps: 12 }, { maxHistoryEvents: 20 });
    const live = await readAll(runId);
    const late = await readAll(runId);
    const expected = Array.from({ length: 24 }, (_, i) => `${Math.floor(i / 2)}.${i % 2}@1`);
    for (const events of [live, late]) {
      assert.deepEqual(
        chunks(events).map((c) => c.type === 'chunk' && [c.offset, c.data]),
        expected.map((data, offset) => [offset, data]),
      );
      assert.equal(events.at(-1)!.type, 'closed');
    }
    const executions = (await kit.client.temporal.workflow.getHandle(runId).describe()).raw.workflowExecutionInfo;
    assert.notEqual(
      executions?.firstRunId,
      (await kit.client.temporal.workflow.getHandle(runId).describe()).runId,
      'it continued-as-new',
    );
  });

  test('retry (a Temporal reset) of a run that failed after streaming: the retried step’s chunks come after the failed attempt’s offsets', async () => {
    const { runId } = await submit('manySteps', { steps: 3, failAt: 1 }, { maxAttemptsPerStep: 1 });
    const before = await readAll(runId);
    assert.equal((await kit.client.result(runId)).status, 'failed');
    // 0.0, 0.1 at 0-1; the failed attempt's 1.0, 1.1 at 2-3 (live, or a gap: a failed attempt's
    // chunks are not kept) and its retract at 4.
    const failedPart = JSON.stringify(shape(before).slice(2, -2));
    assert.ok(
      [
        JSON.stringify([
          [2, '1.0@1'],
          [3, '1.1@1'],
        ]),
        JSON.stringify([[2, 3, 'gap']]),
      ].includes(failedPart),
      failedPart,
    );
    assert.deepEqual(shape(before).slice(0, 2), [
      [0, '0.0@1'],
      [1, '0.1@1'],
    ]);
    assert.deepEqual(shape(before).slice(-2), [[4, 'retract'], 'closed']);
    assert.equal(await kit.client.retry(runId), true);
    await eventually(
      async () => (await kit.client.status(runId)).state === 'succeeded',
      60_000,
      'retried run succeeds',
    );
    const after = await readAll(runId);
    assert.deepEqual(shape(after), [
      [0, '0.0@1'],
      [1, '0.1@1'],
      [2, 3, 'gap'],
      [4, 'retract'],
      [5, '1.0@1'],
      [6, '1.1@1'],
      [7, '2.0@1'],
      [8, '2.1@1'],
      'closed',
    ]);
    assertOneEventPerOffset([before, after]);
    const last = after.at(-1)!;
    assert.ok(last.type === 'closed' && last.outcome.status === 'succeeded');
  });

  test('`temporal workflow reset` while a step streams: a live reader follows the new execution, the cut attempt is retracted, no offset carries two events', async () => {
    const { runId } = await submit('streamer', { n: 40, everyMs: 100, batch: 1 } satisfies StreamPayload);
    const live: StreamEvent[] = [];
    const stop = new AbortController();
    const reading = (async () => {
      for await (const e of kit.client.stream(runId, { signal: stop.signal })) live.push(e);
    })();
    const timeout = setTimeout(() => stop.abort(), 120_000);
    await eventually(() => chunks(live).length >= 10, 60_000, '10 chunks before the reset');
    const replaced = (await kit.client.temporal.workflow.getHandle(runId).describe()).runId;
    resetToFirstTask(runId, 'a wrong prompt', replaced);
    await reading;
    clearTimeout(timeout);
    const current = (await kit.client.temporal.workflow.getHandle(runId).describe()).runId;
    assert.notEqual(current, replaced, 'the reset made a new execution');
    const last = live.at(-1)!;
    assert.ok(last.type === 'closed' && last.outcome.status === 'succeeded', JSON.stringify(live.slice(-3)));
    assertOrdered(live);
    const retracts = live.filter((e) => e.type === 'retract');
    assert.equal(retracts.length, 1, 'the attempt the reset cut short is retracted');
    const retract = retracts[0]!;
    const cut = chunks(live.slice(0, live.indexOf(retract)));
    const rerun = chunks(live.slice(live.indexOf(retract) + 1));
    assert.ok(cut.length >= 10 && cut.every((c) => c.type === 'chunk' && c.offset < retract.offset));
    assert.deepEqual(
      rerun.map((c) => c.type === 'chunk' && c.data),
      Array.from({ length: 40 }, (_, i) => `main:1:${i}`),
      'the new execution’s step streams again, every chunk after the retract',
    );
    assert.ok(rerun.every((c) => c.type === 'chunk' && c.offset > retract.offset));
    // A late reader: a gap where the cut attempt was, its retract, the new chunks at the same offsets.
    const late = await readAll(runId);
    assert.equal(late[0]!.type, 'gap');
    assert.deepEqual(
      late.filter((e) => e.type === 'retract'),
      retracts,
    );
    assert.deepEqual(chunks(late), rerun);
    assertOneEventPerOffset([live, late]);
  });

  test('`temporal workflow cancel` while a step streams: the live reader ends with closed (cancelled), a late reader agrees offset by offset', async () => {
    const { runId } = await submit('streamer', { n: 400, everyMs: 50, batch: 1 } satisfies StreamPayload);
    const live: StreamEvent[] = [];
    const stop = new AbortController();
    const reading = (async () => {
      for await (const e of kit.client.stream(runId, { signal: stop.signal })) live.push(e);
    })();
    const timeout = setTimeout(() => stop.abort(), 120_000);
    await eventually(() => chunks(live).length >= 5, 60_000, '5 chunks before the cancel');
    execFileSync(resolveTemporalCli()!, ['workflow', 'cancel', '--address', kit.env.address, '--workflow-id', runId]);
    await reading;
    clearTimeout(timeout);
    const last = live.at(-1)!;
    assert.ok(last.type === 'closed' && last.outcome.status === 'cancelled', JSON.stringify(live.slice(-3)));
    assert.ok(chunks(live).length < 400, 'the step was cut short');
    assertOrdered(live);
    const late = await readAll(runId);
    assert.equal(late.at(-1)!.type, 'closed');
    assertOneEventPerOffset([live, late]);
  });

  test('a run cancelled mid-stream, then reset: the cancelled attempt keeps its offsets, a retract, the new chunks after them', async () => {
    const { runId } = await submit('streamer', { n: 60, everyMs: 50, batch: 1 } satisfies StreamPayload);
    const live: StreamEvent[] = [];
    for await (const e of kit.client.stream(runId, { signal: AbortSignal.timeout(120_000) })) {
      live.push(e);
      // Temporal's own cancel: a reset does not apply it again, as it does the `cancel` signal.
      if (chunks(live).length === 5) {
        execFileSync(resolveTemporalCli()!, [
          'workflow',
          'cancel',
          '--address',
          kit.env.address,
          '--workflow-id',
          runId,
        ]);
      }
    }
    assert.ok(live.at(-1)!.type === 'closed', JSON.stringify(live.slice(-2)));
    const cancelled = chunks(live);
    assert.ok(cancelled.length >= 5 && cancelled.length < 60, `cut short after ${cancelled.length} chunks`);
    resetToFirstTask(runId, 'cancelled by mistake');
    assert.equal((await kit.client.result(runId)).status, 'succeeded');
    const late = await readAll(runId);
    const retracts = late.filter((e) => e.type === 'retract');
    assert.equal(retracts.length, 1, 'the reset dropped the cancelled attempt: one retract');
    const at = late.indexOf(retracts[0]!);
    // The cancelled attempt's chunks, as far as the cancel kept them, at the offsets the live reader had.
    const before = chunks(late.slice(0, at));
    assert.deepEqual(before, cancelled.slice(cancelled.length - before.length));
    const after = chunks(late.slice(at + 1));
    assert.deepEqual(
      after.map((c) => c.type === 'chunk' && c.data),
      Array.from({ length: 60 }, (_, i) => `main:1:${i}`),
    );
    assert.ok(
      after.every((c) => c.type === 'chunk' && c.offset > retracts[0]!.offset && c.offset > cancelled.at(-1)!.offset),
      'no offset the cancelled attempt used is used again',
    );
    assertOneEventPerOffset([live, late]);
  });

  test('bad input: a chunk over 64 KiB or not JSON fails its step with the reason; 64 KiB exactly passes', async () => {
    const outcomeOf = async (kind: string) => {
      const { runId } = await submit('oneChunk', { kind }, { maxAttemptsPerStep: 1 });
      return kit.client.result(runId);
    };
    assert.equal((await outcomeOf('limit')).status, 'succeeded');
    const large = await outcomeOf('large');
    assert.equal(large.status, 'failed');
    assert.match(large.error!, /step\.stream: the chunk is 65537 bytes as JSON, above the 65536-byte \(64 KiB\) limit/);
    const bigint = await outcomeOf('bigint');
    assert.match(bigint.error!, /step\.stream: the chunk cannot be serialized: .*BigInt/);
    const caught = await outcomeOf('caught');
    assert.equal(caught.status, 'failed', 'a refused chunk fails the step even if the runner catches the error');
    assert.match(caught.error!, /above the 65536-byte \(64 KiB\) limit/);
  });

  test('fast steps: step.stream is a clear error, not a silent loss', async () => {
    const { runId } = await submit('fastStreamer', null, { maxAttemptsPerStep: 1 });
    const outcome = await kit.client.result(runId);
    assert.equal(outcome.status, 'failed');
    assert.match(outcome.error!, /step\.stream is not available in fast steps \(runner "fastStreamer"/);
  });

  test('durable-runs watch --stream prints the chunks as they come, --json one event a line; --from resumes', async () => {
    const { runId } = await submit('streamer', { n: 5, everyMs: 50, batch: 1 });
    const text = await durableRuns('watch', runId, '--stream');
    assert.equal(text.code, 0, text.stderr);
    assert.equal(text.stdout.split('\n')[0], 'main:1:0main:1:1main:1:2main:1:3main:1:4');
    assert.match(text.stdout, /succeeded/);
    const json = await durableRuns('watch', runId, '--stream', '--json', '--from', '2');
    const lines = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as StreamEvent);
    assert.deepEqual(
      lines.map((e) => (e.type === 'chunk' ? e.offset : e.type)),
      [3, 4, 'closed'],
    );
    const bad = await durableRuns('watch', runId, '--stream', '--from', '-1');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /an offset is a whole number from 0, not "-1"|unknown option '-1'/);
    const beyond = await durableRuns('watch', runId, '--stream', '--from', '9');
    assert.equal(beyond.code, 2);
    assert.match(beyond.stderr, /from 9 is beyond the end of run .*'s stream \(its last offset is 4\)/);
  });

  test('bad reads: from negative or beyond the end, and an unknown run, are clear errors', async () => {
    const { runId } = await submit('twoSteps', null);
    await kit.client.result(runId);
    await assert.rejects(
      readAll(runId, { from: -1 }),
      (err: Error) => err instanceof ValidationError && /from must be/.test(err.message),
    );
    await assert.rejects(
      readAll(runId, { from: 6 }),
      (err: Error) =>
        err instanceof ValidationError &&
        /from 6 is beyond the end of run .*'s stream \(its last offset is 5\)/.test(err.message),
    );
    await assert.rejects(readAll('no-such-run-for-streams'), RunNotFound);
  });

  test('a reader that follows a step for seconds leaves no listener behind on its signal', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => {
      if (w.name === 'MaxListenersExceededWarning') warnings.push(w);
    };
    process.on('warning', onWarning);
    try {
      // Two seconds of a running step: about 20 polls of its window.
      const { runId } = await submit('streamer', { n: 20, everyMs: 100, batch: 1 });
      assert.equal(chunks(await readAll(runId)).length, 20);
    } finally {
      process.off('warning', onWarning);
    }
    assert.deepEqual(
      warnings.map((w) => w.message),
      [],
    );
  });
});

describe('streams across worker processes', () => {
  const TASK_QUEUE = 'streams-processes';
  // A client for the processes' queue: no worker in this process polls it.
  let other: { client: RunsClient };
  before(() => {
    other = { client: RunsClient.fromClient(kit.client.temporal, TASK_QUEUE) };
  });

  const startWorker = (name: string, env?: Record<string, string>) =>
    startStreamWorker({ name, taskQueue: TASK_QUEUE, bundlePath, address: kit.env.address, workers, env });

  test('a worker SIGKILLed mid-stream: its heartbeated chunks stay, a retract, then the retry on another worker; no offset carries two chunks', async () => {
    const a = await startWorker('a');
    const { runId } = await other.client.submit({
      input: { n: 200, everyMs: 50, batch: 2 } satisfies StreamPayload,
      runner: 'streamer',
      heartbeatTimeoutMs: 2000,
    });
    const stop = new AbortController();
    const live: StreamEvent[] = [];
    const reading = (async () => {
      for await (const e of other.client.stream(runId, { signal: stop.signal })) live.push(e);
    })();
    await eventually(() => chunks(live).length >= 20, 60_000, '20 chunks from worker a');
    a.kill('SIGKILL');
    await startWorker('b');
    const timeout = setTimeout(() => stop.abort(), 120_000);
    await reading;
    clearTimeout(timeout);
    assertOrdered(live);
    const retract = live.find((e) => e.type === 'retract');
    assert.ok(retract && retract.type === 'retract', JSON.stringify(live.slice(-3)));
    const fromA = chunks(live.slice(0, live.indexOf(retract)));
    const fromB = chunks(live.slice(live.indexOf(retract) + 1));
    assert.ok(fromA.length >= 20 && fromA.every((c) => c.type === 'chunk' && String(c.data).startsWith('a:1:')));
    assert.equal(fromB.length, 200);
    assert.ok(fromB.every((c) => c.type === 'chunk' && String(c.data).startsWith('b:1:') && c.offset > retract.offset));
    assert.deepEqual(live.at(-1)!.type === 'closed' && live.at(-1)!.type, 'closed');
    // A late reader: the same offsets carry the same chunks.
    const late: StreamEvent[] = [];
    for await (const e of other.client.stream(runId)) late.push(e);
    const byOffset = new Map(live.flatMap((e) => ('offset' in e ? [[e.offset, e]] : [])));
    for (const e of late) if ('offset' in e) assert.deepEqual(e, byOffset.get(e.offset));
  });

  test('a worker SIGTERMed mid-stream (a deploy): after its grace the cut try flushes every chunk, a retract, then the same attempt on another worker numbers on with no gap', async () => {
    // The workers of the tests before leave the queue: a is the only one to take the step.
    await Promise.all(
      [...workers].map(
        (w) =>
          new Promise((resolve) =>
            w.exitCode !== null ? resolve(null) : (w.once('exit', resolve), w.kill('SIGKILL')),
          ),
      ),
    );
    const a = await startWorker('a', { DURABLE_RUNS_SHUTDOWN_GRACE: '1s' });
    const { runId } = await other.client.submit({
      input: { n: 200, everyMs: 50, batch: 2 } satisfies StreamPayload,
      runner: 'streamer',
    });
    const stop = new AbortController();
    const live: StreamEvent[] = [];
    const reading = (async () => {
      for await (const e of other.client.stream(runId, { signal: stop.signal })) live.push(e);
    })();
    await eventually(() => chunks(live).length >= 20, 60_000, '20 chunks from worker a');
    const exited = new Promise((resolve) => a.once('exit', resolve));
    let printed = '';
    a.stdout!.on('data', (b: Buffer) => (printed += b.toString()));
    a.kill('SIGTERM');
    await startWorker('b');
    const timeout = setTimeout(() => stop.abort(), 120_000);
    await reading;
    clearTimeout(timeout);
    await exited;
    assertOrdered(live);
    const last = live.at(-1)!;
    assert.ok(last.type === 'closed' && last.outcome.status === 'succeeded', JSON.stringify(live.slice(-3)));
    const retracts = live.filter((e) => e.type === 'retract');
    assert.equal(retracts.length, 1, JSON.stringify(retracts));
    const retract = retracts[0]!;
    const cut = live.slice(0, live.indexOf(retract));
    const rerun = chunks(live.slice(live.indexOf(retract) + 1));
    // The cut try went on streaming through its grace second, and its last heartbeat carried all
    // of it: the retract comes right after its last chunk, and the new try's first chunk right after.
    const fromA = chunks(cut);
    assert.ok(fromA.length >= 20 && fromA.every((c) => c.type === 'chunk' && String(c.data).startsWith('a:1:')));
    assert.ok(fromA.length < 200, 'the grace ran out before the step finished');
    // Its runner saw the abort after this many chunks: each reached the readers (the last flush).
    const streamed = Number(/aborted after (\d+)/.exec(printed)?.[1]);
    assert.equal(fromA.length, streamed, printed);
    assert.equal(retract.offset, fromA.at(-1)!.offset + 1, 'no chunk of the cut try is missing before its retract');
    assert.equal(rerun.length, 200);
    assert.ok(
      rerun.every((c) => c.type === 'chunk' && String(c.data).startsWith('b:1:')),
      'the same attempt, 1',
    );
    assert.equal(rerun[0]!.offset, retract.offset + 1);
    assert.equal(last.type === 'closed' && last.outcome.result, 200);
    const late: StreamEvent[] = [];
    for await (const e of other.client.stream(runId)) late.push(e);
    assertOneEventPerOffset([live, late]);
  });

  test('two workers and three readers: each reader gets every run’s chunks, the same at the same offsets', async () => {
    await startWorker('c');
    const runs = await Promise.all(
      Array.from({ length: 4 }, () =>
        other.client.submit({ input: { n: 100, everyMs: 20, batch: 5 } satisfies StreamPayload, runner: 'streamer' }),
      ),
    );
    const reads = await Promise.all(
      runs.flatMap(({ runId }) =>
        [0, 1, 2].map(async () => {
          const events: StreamEvent[] = [];
          for await (const e of other.client.stream(runId)) events.push(e);
          return { runId, events };
        }),
      ),
    );
    for (const { runId } of runs) {
      const three = reads.filter((r) => r.runId === runId).map((r) => chunks(r.events));
      assert.equal(three[0]!.length, 100);
      assert.deepEqual(three[1], three[0]);
      assert.deepEqual(three[2], three[0]);
    }
    const servedBy = new Set(
      reads.flatMap((r) => chunks(r.events).map((c) => String((c as { data: unknown }).data)[0])),
    );
    assert.ok(servedBy.size >= 1, `workers that served: ${[...servedBy].join(', ')}`);
  });
});

describe('streams, encrypted', () => {
  let secretKit: TestKit;
  before(async () => {
    secretKit = await createTestKit({
      runners: streamRunners('enc'),
      env: kit.env,
      taskQueue: 'streams-encrypted',
      encryptionKeys: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
    });
  });
  after(async () => {
    await secretKit?.teardown();
  });

  test('no chunk in plaintext on the server: not in `temporal workflow show`, not in describe while it streams', async () => {
    const secret = 'launch-code-0451-plaintext';
    const { runId } = await secretKit.client.submit({
      input: { n: 50, everyMs: 100, batch: 1, secret } satisfies StreamPayload,
      runner: 'streamer',
    });
    const events: StreamEvent[] = [];
    const stop = new AbortController();
    const reading = (async () => {
      for await (const e of secretKit.client.stream(runId, { signal: stop.signal })) events.push(e);
    })();
    await eventually(() => chunks(events).length >= 5, 60_000, 'the reader decrypts chunks');
    const cli = resolveTemporalCli()!;
    const run = (args: string[]) =>
      execFileSync(cli, [...args, '--workflow-id', runId, '--address', kit.env.address, '--output', 'json'], {
        encoding: 'utf8',
      });
    const described = run(['workflow', 'describe']);
    assert.match(described, /heartbeatDetails|heartbeat_details/i, 'the pending step has heartbeat details');
    assertNoPlaintext(described, [secret, 'enc:1:'], 'temporal workflow describe');
    const raw = await secretKit.client.temporal.workflowService.describeWorkflowExecution({
      namespace: 'default',
      execution: { workflowId: runId },
    });
    assert.ok((raw.pendingActivities?.[0]?.heartbeatDetails?.payloads?.length ?? 0) > 0, 'heartbeat details kept');
    assertNoPlaintext(raw, [secret, 'enc:1:'], 'DescribeWorkflowExecution');
    await reading;
    assert.deepEqual((chunks(events)[0] as { data: unknown }).data, { secret });
    assert.equal(chunks(events).length, 51);
    assertNoPlaintext(run(['workflow', 'show']), [secret, 'enc:1:'], 'temporal workflow show');
  });
});

/**
 * Fails if any of `needles` is in `haystack`: in its text, in any string in it read as base64 (how
 * the CLI prints payload bytes), or in its raw bytes.
 */
function assertNoPlaintext(haystack: unknown, needles: string[], where: string): void {
  const texts: string[] = [];
  const walk = (value: unknown): void => {
    if (typeof value === 'string') {
      texts.push(value);
      for (const candidate of value.match(/[A-Za-z0-9+/=]{16,}/g) ?? []) {
        texts.push(Buffer.from(candidate, 'base64').toString('latin1'));
      }
    } else if (value instanceof Uint8Array) texts.push(Buffer.from(value).toString('latin1'));
    else if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object') Object.values(value).forEach(walk);
  };
  walk(typeof haystack === 'string' ? JSON.parse(haystack) : haystack);
  if (typeof haystack === 'string') texts.push(haystack);
  for (const needle of needles) {
    assert.ok(!texts.some((t) => t.includes(needle)), `${where} holds "${needle}" in plaintext`);
  }
}
