/**
 * An agent loop as a durable run: each step asks the model what to do next; the model either
 * calls a tool (the next step runs it and feeds the result back) or answers (the run succeeds).
 * The model sits behind an interface: a deterministic scripted model by default, or any
 * OpenAI-compatible chat endpoint when OPENAI_BASE_URL and OPENAI_API_KEY are set.
 */
import { StepError, StepOutcome, type StepRunner } from '../src';

export interface Message {
  role: 'user' | 'assistant' | 'tool';
  content: string;
}

/** What the model decides: call a tool, or answer. */
export type Decision = { tool: string; args: Record<string, unknown> } | { answer: string };

export interface Model {
  decide(messages: Message[], signal: AbortSignal): Promise<Decision>;
}

/** The agent's state, carried from step to step (the step payload). */
export interface AgentState {
  messages: Message[];
}

const tools: Record<string, (args: Record<string, unknown>) => Promise<string>> = {
  calculator: async ({ expression }) => {
    const text = String(expression);
    if (!/^[\d\s+\-*/().]+$/.test(text)) throw StepError.permanent(`calculator refuses ${JSON.stringify(text)}`);
    return String(Function(`"use strict"; return (${text});`)());
  },
  clock: async () => new Date(0).toISOString(),
};

/** A model that needs no network: asks the calculator once, then answers with its result. */
export const scriptedModel: Model = {
  async decide(messages) {
    const toolReply = messages.find((m) => m.role === 'tool');
    if (!toolReply) {
      const question = messages[0]?.content ?? '';
      const numbers = question.match(/\d+/g) ?? ['6', '7'];
      return { tool: 'calculator', args: { expression: numbers.slice(0, 2).join(' * ') } };
    }
    return { answer: `The answer is ${toolReply.content}.` };
  },
};

/** Any OpenAI-compatible chat-completions endpoint (JSON-mode decisions). */
export function openAiModel(baseUrl: string, apiKey: string, model = process.env.OPENAI_MODEL ?? 'gpt-4o-mini'): Model {
  return {
    async decide(messages, signal) {
      const response = await fetch(`${baseUrl.replace(/\/$/, '')}/chat/completions`, {
        method: 'POST',
        signal,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
        body: JSON.stringify({
          model,
          response_format: { type: 'json_object' },
          messages: [
            {
              role: 'system',
              content: `Reply with JSON: {"tool": name, "args": {...}} to call one of [${Object.keys(tools).join(', ')}] (calculator takes {"expression"}), or {"answer": text}.`,
            },
            ...messages.map((m) => ({
              role: m.role === 'tool' ? 'user' : m.role,
              content: m.role === 'tool' ? `tool result: ${m.content}` : m.content,
            })),
          ],
        }),
      });
      if (response.status === 429 || response.status >= 500)
        throw StepError.transient(`model endpoint answered ${response.status}`);
      if (!response.ok)
        throw StepError.permanent(`model endpoint answered ${response.status}: ${await response.text()}`);
      const body = (await response.json()) as { choices: Array<{ message: { content: string } }> };
      return JSON.parse(body.choices[0]?.message.content ?? '{}') as Decision;
    },
  };
}

export function defaultModel(): Model {
  const { OPENAI_BASE_URL, OPENAI_API_KEY } = process.env;
  return OPENAI_BASE_URL && OPENAI_API_KEY ? openAiModel(OPENAI_BASE_URL, OPENAI_API_KEY) : scriptedModel;
}

/** Step 0 gets the question; later steps get the conversation so far. */
export function agentRunner(model: Model = defaultModel(), maxTurns = 10): StepRunner<string | AgentState> {
  return async (step) => {
    const state: AgentState =
      typeof step.payload === 'string' ? { messages: [{ role: 'user', content: step.payload }] } : step.payload;
    if (step.stepNumber >= maxTurns) return StepOutcome.fail(`no answer after ${maxTurns} turns`);
    const decision = await model.decide(state.messages, step.signal);
    if ('answer' in decision) return StepOutcome.succeed(decision.answer);
    const tool = tools[decision.tool];
    if (!tool) return StepOutcome.fail(`model asked for unknown tool "${decision.tool}"`);
    const result = await tool(decision.args);
    return StepOutcome.continue({
      messages: [
        ...state.messages,
        { role: 'assistant', content: JSON.stringify(decision) },
        { role: 'tool', content: result },
      ],
    });
  };
}
