/**
 * examples/agent-ai-sdk.ts on a real dev server: the Vercel AI SDK's `streamText` with its own mock
 * language model (no network), its tokens read live through `runs.stream`, its tool call journaled
 * with `step.memo` so that a retried attempt does not call the tool again.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { simulateReadableStream } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import {
  aiSdkAgentRunner,
  answerFor,
  defaultModel,
  demoLookupOrder,
  type LookupOrder,
  mockOrderModel,
} from '../examples/agent-ai-sdk';
import runners from '../examples/runners';
import type { StreamEvent } from '../src';
import { createTestKit, type TestKit } from '../src/testing';

let kit: TestKit;
const lookups: string[] = [];
const countedLookup: LookupOrder = async (orderId, signal) => {
  lookups.push(orderId);
  return demoLookupOrder(orderId, signal);
};

/**
 * The mock model, except that its first answer breaks off after three tokens with an error: the
 * step's first attempt fails after its tool call.
 */
let modelCalls = 0;
const mock = mockOrderModel({ tokenDelayMs: 20 });
const flakyModel = new MockLanguageModelV3({
  doStream: async (options) => {
    modelCalls += 1;
    if (modelCalls !== 2) return mock.doStream(options);
    return {
      stream: simulateReadableStream({
        chunkDelayInMs: 150,
        chunks: [
          { type: 'text-start', id: 'answer' },
          ...['Order ', 'B-9 ', 'is '].map((delta) => ({ type: 'text-delta' as const, id: 'answer', delta })),
          { type: 'error', error: new Error('the model connection was reset') },
        ],
      }),
    };
  },
});

before(async () => {
  kit = await createTestKit({
    runners: { ...runners, flaky: aiSdkAgentRunner({ model: flakyModel, lookupOrder: countedLookup }) },
    server: 'local',
    webhook: false,
    encryptionKeys: false,
  });
});
after(async () => {
  await kit?.teardown();
});

/** Every event of a run's stream, with the time each arrived, until `closed` (60 s at most). */
async function follow(runId: string): Promise<Array<{ at: number; event: StreamEvent }>> {
  const got: Array<{ at: number; event: StreamEvent }> = [];
  for await (const event of kit.client.stream(runId, { signal: AbortSignal.timeout(60_000) })) {
    got.push({ at: Date.now(), event });
  }
  return got;
}

test("npm start's agent-ai-sdk runner: its tokens reach a live reader in order and join to the answer", async () => {
  const { runId } = await kit.client.submit({ input: 'Where is order A-17?', runner: 'agent-ai-sdk' });
  const got = await follow(runId);
  const events = got.map((g) => g.event);
  const last = events.at(-1);
  assert.ok(last?.type === 'closed', `the last event is closed, not ${last?.type}`);
  assert.equal(last.outcome.status, 'succeeded');
  const answer = answerFor(await demoLookupOrder('A-17', new AbortController().signal));
  assert.equal(last.outcome.result, answer);

  const chunks = events.filter((e) => e.type === 'chunk');
  assert.deepEqual(
    events.filter((e) => e.type !== 'chunk' && e.type !== 'closed'),
    [],
    'no gap, no retract',
  );
  assert.deepEqual(
    chunks.map((c) => [c.offset, c.step, c.attempt]),
    chunks.map((_, i) => [i, 0, 1]),
  );
  assert.equal(chunks.map((c) => c.data).join(''), answer);
  // Two model calls (the tool call, the answer) of 20 + 20 tokens each, at the mock's made-up price.
  assert.deepEqual((await kit.client.result(runId)).usage, {
    total: { inputTokens: 40, outputTokens: 40, costUsd: 0.0002 },
    byModel: { 'mock-order-agent': { inputTokens: 40, outputTokens: 40, costUsd: 0.0002 } },
  });
  assert.equal(chunks.length, answer.split(' ').length, 'a chunk a word');
  // Live: the first token came while the run was still open, not replayed after its close.
  const closedAt = (await kit.client.temporal.workflow.getHandle(runId).describe()).closeTime!.getTime();
  assert.ok(got[0]!.at < closedAt, `first token at ${got[0]!.at}, run closed at ${closedAt}`);
});

test('a first attempt that fails after the tool call: the retry gets the journaled order, the tool ran once, readers get a retract', async () => {
  const { runId } = await kit.client.submit({ input: 'Where is order B-9?', runner: 'flaky' });
  const events = (await follow(runId)).map((g) => g.event);
  const outcome = await kit.client.result(runId);
  const answer = answerFor(await demoLookupOrder('B-9', new AbortController().signal));
  assert.deepEqual([outcome.status, outcome.result, outcome.finalStep], ['succeeded', answer, 0]);
  assert.deepEqual(lookups, ['B-9'], 'lookupOrder ran once: the retry got the journaled order');
  // Three model calls reported their tokens: the failed attempt's first one counts too.
  assert.deepEqual(outcome.usage?.total, { inputTokens: 60, outputTokens: 60, costUsd: 0 });
  assert.equal(modelCalls, 4, 'two model calls an attempt: the tool call, then the answer');

  const retract = events.findIndex((e) => e.type === 'retract');
  assert.ok(retract > 0, 'a retract of the failed attempt');
  assert.deepEqual(events[retract], { type: 'retract', offset: 3, step: 0, attempt: 1 });
  // The failed attempt's tokens, each as a chunk, or in a gap where they came and went between
  // two polls of the reader: offsets 0 to 2 either way.
  const brokenOff = ['Order ', 'B-9 ', 'is '];
  const covered = events.slice(0, retract).flatMap((e) => {
    if (e.type === 'gap') return Array.from({ length: e.to - e.from + 1 }, (_, i) => e.from + i);
    assert.ok(e.type === 'chunk' && e.attempt === 1 && e.data === brokenOff[e.offset], JSON.stringify(e));
    return [e.offset];
  });
  assert.deepEqual(covered, [0, 1, 2]);
  const afterRetract = events.slice(retract + 1, -1);
  assert.ok(afterRetract.every((e) => e.type === 'chunk' && e.attempt === 2));
  assert.deepEqual(
    afterRetract.map((e) => e.type === 'chunk' && e.offset),
    afterRetract.map((_, i) => 4 + i),
  );
  assert.equal(afterRetract.map((e) => e.type === 'chunk' && e.data).join(''), answer);
  assert.equal(events.at(-1)?.type, 'closed');
});

test('the default model: the mock one, or a Vercel AI Gateway model ID when AI_SDK_MODEL and AI_GATEWAY_API_KEY are set', () => {
  assert.ok(defaultModel({}) instanceof MockLanguageModelV3);
  assert.ok(defaultModel({ AI_SDK_MODEL: 'openai/gpt-4o-mini' }) instanceof MockLanguageModelV3, 'no key: the mock');
  assert.equal(defaultModel({ AI_SDK_MODEL: 'openai/gpt-4o-mini', AI_GATEWAY_API_KEY: 'k' }), 'openai/gpt-4o-mini');
});
