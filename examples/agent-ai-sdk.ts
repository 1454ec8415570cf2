/**
 * An agent on the Vercel AI SDK (`ai`), streaming its answer live: one step calls `streamText`,
 * pushes every text token into `step.stream`, so `runs.stream(runId)` and `durable-runs watch
 * <runId> --stream` show the words as the model writes them, and journals its tool call with
 * `step.memo`, so an attempt that fails after the tool ran (the model's connection dropped
 * mid-answer) is retried without running the tool again: readers get a `retract` of the failed
 * attempt's tokens, then the retry's.
 *
 * The model is injectable: by default a deterministic mock model (the AI SDK's own
 * `MockLanguageModelV3`, no network, no API key); any AI SDK model otherwise, such as
 * `openai('gpt-4o-mini')` from `@ai-sdk/openai`, or a Vercel AI Gateway model ID with
 * AI_SDK_MODEL and AI_GATEWAY_API_KEY set.
 */
import { type LanguageModel, simulateReadableStream, stepCountIs, streamText, tool } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import { z } from 'zod';
import { StepOutcome, type StepRunner, type UsageRecord } from '../src';

export interface Order {
  orderId: string;
  status: string;
  shippedOn: string;
  arrivesOn: string;
}

/** A stand-in for an order system's API: replace it with yours. */
export type LookupOrder = (orderId: string, signal: AbortSignal) => Promise<Order>;

export const demoLookupOrder: LookupOrder = async (orderId) => ({
  orderId,
  status: 'shipped',
  shippedOn: '2026-12-04',
  arrivesOn: '2026-12-08',
});

/** What the mock model answers once it has the order: the tokens a reader sees, joined. */
export function answerFor(order: Order): string {
  return `Order ${order.orderId} is ${order.status}: it left the warehouse on ${order.shippedOn} and arrives on ${order.arrivesOn}.`;
}

const usage = {
  inputTokens: { total: 20, noCache: 20, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: 20, text: 20, reasoning: 0 },
};

type MockStream = Awaited<ReturnType<MockLanguageModelV3['doStream']>>;
type CallOptions = Parameters<MockLanguageModelV3['doStream']>[0];

/** The order the mock model's tool call returned, if the prompt already holds its result. */
function orderInPrompt(options: CallOptions): Order | undefined {
  for (const message of options.prompt) {
    if (message.role !== 'tool') continue;
    for (const part of message.content) {
      if (part.type === 'tool-result' && part.toolName === 'lookupOrder' && part.output.type === 'json') {
        return part.output.value as unknown as Order;
      }
    }
  }
  return undefined;
}

/**
 * A deterministic model that needs no network: asked about an order (`A-17`), it first calls
 * `lookupOrder`, then streams `answerFor(order)` a word at a time, `tokenDelayMs` apart.
 */
export function mockOrderModel(options: { tokenDelayMs?: number } = {}): MockLanguageModelV3 {
  const { tokenDelayMs = 40 } = options;
  return new MockLanguageModelV3({
    provider: 'durable-runs-example',
    modelId: 'mock-order-agent',
    doStream: async (call): Promise<MockStream> => {
      const order = orderInPrompt(call);
      if (!order) {
        const question = call.prompt
          .filter((m) => m.role === 'user')
          .flatMap((m) => m.content.flatMap((p) => (p.type === 'text' ? [p.text] : [])))
          .join(' ');
        const orderId = /\b[A-Z]+-\d+\b/.exec(question)?.[0] ?? 'A-17';
        return {
          stream: simulateReadableStream({
            chunks: [
              { type: 'tool-call', toolCallId: 'call-1', toolName: 'lookupOrder', input: JSON.stringify({ orderId }) },
              { type: 'finish', finishReason: { unified: 'tool-calls', raw: undefined }, usage },
            ],
          }),
        };
      }
      const tokens = answerFor(order).match(/\S+\s*/g) ?? [];
      return {
        stream: simulateReadableStream({
          chunkDelayInMs: tokenDelayMs,
          chunks: [
            { type: 'text-start', id: 'answer' },
            ...tokens.map((delta) => ({ type: 'text-delta' as const, id: 'answer', delta })),
            { type: 'text-end', id: 'answer' },
            { type: 'finish', finishReason: { unified: 'stop', raw: undefined }, usage },
          ],
        }),
      };
    },
  });
}

/** A Vercel AI Gateway model ID when AI_SDK_MODEL and AI_GATEWAY_API_KEY are set; the mock model otherwise. */
export function defaultModel(env: NodeJS.ProcessEnv = process.env): LanguageModel {
  return env.AI_SDK_MODEL && env.AI_GATEWAY_API_KEY ? env.AI_SDK_MODEL : mockOrderModel();
}

export interface AiSdkAgentOptions {
  /** @default defaultModel(): the mock model unless AI_SDK_MODEL and AI_GATEWAY_API_KEY are set */
  model?: LanguageModel;
  /** @default demoLookupOrder */
  lookupOrder?: LookupOrder;
  /** Model calls in one step (each tool round trip takes one). @default 5 */
  maxModelCalls?: number;
  /**
   * US dollars per million tokens of each model, for `step.usage`'s `costUsd` (a model not in it
   * reports tokens only). @default the mock model's made-up price
   */
  prices?: Record<string, { input: number; output: number }>;
}

/** What the mock model costs: made up, for the example. */
export const MOCK_PRICES: Record<string, { input: number; output: number }> = {
  'mock-order-agent': { input: 1, output: 4 },
};

/** A model call's usage, as the AI SDK reports it, for `step.usage`. */
function usageOf(
  modelId: string,
  usage: { inputTokens: number | undefined; outputTokens: number | undefined },
  prices: Record<string, { input: number; output: number }>,
): UsageRecord {
  const inputTokens = usage.inputTokens ?? 0;
  const outputTokens = usage.outputTokens ?? 0;
  const price = Object.hasOwn(prices, modelId) ? prices[modelId] : undefined;
  return {
    model: modelId,
    inputTokens,
    outputTokens,
    ...(price ? { costUsd: (inputTokens * price.input + outputTokens * price.output) / 1e6 } : {}),
  };
}

/**
 * One step: the question (a string) goes to the model with a `lookupOrder` tool; every text token
 * goes to the run's live stream; the answer is the run's result.
 */
export function aiSdkAgentRunner(options: AiSdkAgentOptions = {}): StepRunner<string> {
  const { model = defaultModel(), lookupOrder = demoLookupOrder, maxModelCalls = 5, prices = MOCK_PRICES } = options;
  return async (step) => {
    const result = streamText({
      model,
      system: 'You answer questions about orders. Look an order up before you answer.',
      prompt: step.payload,
      abortSignal: step.signal,
      stopWhen: stepCountIs(maxModelCalls),
      // A model error fails the attempt (below), which the run's failure reports: no console print.
      onError: () => undefined,
      tools: {
        lookupOrder: tool({
          description: "Looks up an order's status and delivery dates by its ID",
          inputSchema: z.object({ orderId: z.string().describe('the order ID, such as A-17') }),
          // Journaled: a later attempt of this step gets the recorded order, without a second call.
          execute: ({ orderId }) => step.memo(`lookupOrder:${orderId}`, () => lookupOrder(orderId, step.signal)),
        }),
      },
    });
    for await (const part of result.fullStream) {
      if (part.type === 'text-delta') step.stream(part.text);
      // Each model call's tokens (and cost, at its model's price) add to the run's usage: they
      // count even if a later call fails this attempt.
      else if (part.type === 'finish-step') step.usage(usageOf(part.response.modelId, part.usage, prices));
      // The model failed mid-answer: this attempt fails, and the step is retried with backoff.
      else if (part.type === 'error') throw part.error;
    }
    return StepOutcome.succeed(await result.text);
  };
}
