/**
 * The limits of a run's stream, at the limit (issue 23): the 64 KiB heartbeat window, the 1 MiB a
 * step keeps in its result and a run keeps for late readers, and a step whose outcome leaves its
 * chunks less room than that. The window and the step's record are pure (AttemptStreamer); the
 * run's keep bound and the outcome's room are read back through a real dev server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type StepRunner, StepOutcome, type StreamEvent } from '../src';
import { AttemptStreamer } from '../src/activities/stream';
import { MAX_OUTCOME_BYTES } from '../src/activities/run-step';
import { MAX_CHUNK_BYTES, STREAM_KEEP_BYTES, STREAM_WINDOW_BYTES } from '../src/shared/stream';
import { createTestKit, type TestKit } from '../src/testing';

/** A chunk of exactly `bytes` as JSON, that names itself: `"<tag>:xxx…"`. */
const chunkOf = (tag: string, bytes: number): string => `${tag}:`.padEnd(bytes - 2, 'x');
const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

describe('AttemptStreamer at its limits', () => {
  test('the heartbeat window carries the latest chunks up to 64 KiB exactly, and always the last one', () => {
    const s = new AttemptStreamer(0, 1);
    const quarter = STREAM_WINDOW_BYTES / 4;
    for (let i = 0; i < 6; i++) s.push(chunkOf(`c${i}`, quarter));
    const w = s.window();
    // Four quarters fill the window to the byte: c2..c5; a fifth would pass it.
    assert.deepEqual(
      w.entries.map((e) => ('data' in e ? (e.data as string).slice(0, 2) : 'retract')),
      ['c2', 'c3', 'c4', 'c5'],
    );
    assert.equal(
      w.entries.reduce((n, e) => n + ('data' in e ? jsonBytes(e.data) : 0), 0),
      STREAM_WINDOW_BYTES,
    );
    assert.deepEqual([w.first, w.end], [2, 6]);
    // One byte more in the newest chunk: only three fit.
    s.push(chunkOf('c6', quarter + 1));
    assert.deepEqual([s.window().first, s.window().end], [4, 7]);
    // A chunk of the largest size alone is the window.
    s.push(chunkOf('c7', MAX_CHUNK_BYTES));
    assert.deepEqual([s.window().first, s.window().entries.length], [7, 1]);
  });

  test('an attempt keeps 1 MiB of chunks exactly: one byte more drops the oldest', () => {
    const s = new AttemptStreamer(3, 2);
    const count = STREAM_KEEP_BYTES / MAX_CHUNK_BYTES; // 16 chunks of 64 KiB are 1 MiB
    for (let i = 0; i < count; i++) s.push(chunkOf(`k${i}`, MAX_CHUNK_BYTES));
    const all = s.keptWithin(STREAM_KEEP_BYTES);
    assert.deepEqual([all.first, all.end, all.entries.length, all.step, all.attempt], [0, 16, 16, 3, 2]);
    s.push('z'); // a one-character string: 3 bytes as JSON
    const kept = s.keptWithin(STREAM_KEEP_BYTES);
    assert.deepEqual([kept.first, kept.end, kept.entries.length], [1, 17, 16]);
    // Within a smaller budget (the room an outcome leaves), the newest that fit.
    const room = s.keptWithin(2 * MAX_CHUNK_BYTES + 3);
    assert.deepEqual([room.first, room.end], [14, 17]);
    assert.deepEqual([s.keptWithin(0).first, s.keptWithin(0).entries], [17, []]);
  });

  test('a retried try numbers on after the window its predecessor heartbeated, behind one retract', () => {
    const first = new AttemptStreamer(0, 1);
    for (let i = 0; i < 5; i++) first.push(`a${i}`);
    const next = new AttemptStreamer(0, 1, first.window());
    next.push('b0');
    assert.deepEqual(next.window().entries, [
      { i: 5, retract: true },
      { i: 6, data: 'b0' },
    ]);
    // Its own successor does not retract twice.
    const third = new AttemptStreamer(0, 1, next.window());
    assert.deepEqual(third.window().entries.at(0), { i: 7, retract: true });
    assert.equal(third.counted()?.end, 8);
  });
});

interface LimitsPayload {
  /** Chunks per step, each `size` bytes as JSON. */
  steps: number[];
  size: number;
  /** A result of about this many bytes (the outcome's room for the chunks shrinks). */
  resultBytes?: number;
}

const runners: Record<string, StepRunner> = {
  bigChunks: async (step) => {
    const { steps, size, resultBytes } = step.payload as LimitsPayload;
    for (let i = 0; i < steps[step.stepNumber]!; i++) step.stream(chunkOf(`${step.stepNumber}.${i}`, size));
    if (step.stepNumber + 1 < steps.length) return StepOutcome.continue(step.payload);
    return StepOutcome.succeed(resultBytes ? 'r'.repeat(resultBytes) : 'done');
  },
};

describe('a run’s stream at its limits, on a dev server', () => {
  let kit: TestKit;
  before(async () => {
    kit = await createTestKit({ runners, server: 'local', encryptionKeys: false });
  });
  after(async () => {
    await kit?.teardown();
  });

  const lateRead = async (payload: LimitsPayload) => {
    const { runId } = await kit.client.submit({ input: payload, runner: 'bigChunks' });
    const outcome = await kit.client.result(runId);
    assert.equal(outcome.status, 'succeeded', outcome.error ?? undefined);
    const events: StreamEvent[] = [];
    for await (const e of kit.client.stream(runId)) events.push(e);
    return events;
  };
  const tags = (events: StreamEvent[]) =>
    events.map((e) =>
      e.type === 'chunk'
        ? `${e.offset}=${(e.data as string).split(':')[0]}`
        : e.type === 'gap'
          ? `gap ${e.from}-${e.to}`
          : e.type,
    );

  test('1 MiB exactly is kept whole for a late reader; one chunk more and the oldest is a gap', async () => {
    const whole = await lateRead({ steps: [16], size: MAX_CHUNK_BYTES });
    assert.deepEqual(tags(whole), [...Array.from({ length: 16 }, (_, i) => `${i}=0.${i}`), 'closed']);
    const over = await lateRead({ steps: [17], size: MAX_CHUNK_BYTES });
    assert.deepEqual(tags(over), ['gap 0-0', ...Array.from({ length: 16 }, (_, i) => `${i + 1}=0.${i + 1}`), 'closed']);
  });

  test('the run keeps its last 1 MiB across steps: a late reader gets a gap, then the newest 1 MiB', async () => {
    // Two steps of 10 chunks of 64 KiB: 20 chunks, 1.25 MiB; the last 16 are kept.
    const events = await lateRead({ steps: [10, 10], size: MAX_CHUNK_BYTES });
    assert.deepEqual(tags(events), [
      'gap 0-3',
      ...Array.from({ length: 6 }, (_, i) => `${i + 4}=0.${i + 4}`),
      ...Array.from({ length: 10 }, (_, i) => `${i + 10}=1.${i}`),
      'closed',
    ]);
  });

  test('an outcome that leaves its chunks less room than 1 MiB: the newest that fit, a gap before them, the run succeeds', async () => {
    // The result takes all but about 200 KiB of the outcome's room: three 64 KiB chunks fit, not four.
    const resultBytes = MAX_OUTCOME_BYTES - 4096 - 3 * MAX_CHUNK_BYTES - 10_000;
    const events = await lateRead({ steps: [8], size: MAX_CHUNK_BYTES, resultBytes });
    assert.deepEqual(tags(events), ['gap 0-4', '5=0.5', '6=0.6', '7=0.7', 'closed']);
    const last = events.at(-1)!;
    assert.ok(last.type === 'closed' && (last.outcome.result as string).length === resultBytes);
  });
});
