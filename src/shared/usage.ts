/**
 * Usage of model calls (DESIGN.md, "Flow control and usage for model calls"): what `step.usage`
 * records, a run's totals (all of it and per model), and its token and cost budgets.
 * Sandbox-safe: the workflow adds and checks with it.
 */
import { describeType, ValidationError } from './validation-error';

/** What one `step.usage(…)` call reports. */
export interface UsageRecord {
  /** The model the figures are for; without one they count in the total only. */
  model?: string;
  inputTokens?: number;
  outputTokens?: number;
  costUsd?: number;
}

export interface UsageFigures {
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

/** A run's usage: all of it, and per model (figures reported without a model are in `total` only). */
export interface RunUsage {
  total: UsageFigures;
  byModel: Record<string, UsageFigures>;
}

/** A run's budgets: it fails (or parks) once its totals pass one. */
export interface UsageBudget {
  maxCostUsd?: number;
  maxTokens?: number;
}

/** The longest model name a record may carry (it becomes a metric label and a key of the totals). */
const MAX_MODEL_CHARS = 200;
/** The most distinct models a run keeps apart; further ones count in the total only. */
export const MAX_MODELS = 100;

/** Cost sums are kept to a nano-dollar, so that 0.1 + 0.2 is 0.3 and totals compare exactly. */
const roundCost = (usd: number): number => Math.round(usd * 1e9) / 1e9;

const zero = (): UsageFigures => ({ inputTokens: 0, outputTokens: 0, costUsd: 0 });

/** Why `record` is not a usage record, naming the field; undefined when it is one. */
export function usageRecordProblem(record: unknown): string | undefined {
  if (record === null || typeof record !== 'object' || Array.isArray(record)) {
    return `step.usage takes an object like { model, inputTokens, outputTokens, costUsd }, got ${describeType(record)}`;
  }
  const r = record as Record<string, unknown>;
  for (const key of Object.keys(r)) {
    if (!['model', 'inputTokens', 'outputTokens', 'costUsd'].includes(key)) {
      return `step.usage: unknown field "${key}" (it takes model, inputTokens, outputTokens and costUsd)`;
    }
  }
  if (
    r.model !== undefined &&
    (typeof r.model !== 'string' || r.model.length === 0 || r.model.length > MAX_MODEL_CHARS)
  ) {
    return `step.usage: model must be a string of 1–${MAX_MODEL_CHARS} characters, got ${describeType(r.model)}`;
  }
  for (const key of ['inputTokens', 'outputTokens'] as const) {
    const v = r[key];
    if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)) {
      return `step.usage: ${key} must be a whole number ≥ 0, got ${typeof v === 'number' ? String(v) : describeType(v)}`;
    }
  }
  const cost = r.costUsd;
  if (cost !== undefined && (typeof cost !== 'number' || !Number.isFinite(cost) || cost < 0)) {
    return `step.usage: costUsd must be a finite number ≥ 0, got ${typeof cost === 'number' ? String(cost) : describeType(cost)}`;
  }
  return undefined;
}

function addFigures(a: UsageFigures, b: Partial<UsageFigures>): UsageFigures {
  return {
    inputTokens: a.inputTokens + (b.inputTokens ?? 0),
    outputTokens: a.outputTokens + (b.outputTokens ?? 0),
    costUsd: roundCost(a.costUsd + (b.costUsd ?? 0)),
  };
}

/**
 * Adds `figures` of each model into `byModel`, past MAX_MODELS models in the total only. Built
 * with `Object.fromEntries`, so that a model named `__proto__` is a key like any other.
 */
function addModels(
  byModel: Record<string, UsageFigures>,
  more: Iterable<[string, Partial<UsageFigures>]>,
): Record<string, UsageFigures> {
  const models = new Map(Object.entries(byModel));
  for (const [model, figures] of more) {
    if (models.has(model) || models.size < MAX_MODELS)
      models.set(model, addFigures(models.get(model) ?? zero(), figures));
  }
  return Object.fromEntries(models);
}

/** `usage` with one checked record added (a new object; `usage` is not changed). */
export function addRecord(usage: RunUsage | undefined, record: UsageRecord): RunUsage {
  const base = usage ?? { total: zero(), byModel: {} };
  const models: [string, Partial<UsageFigures>][] = record.model === undefined ? [] : [[record.model, record]];
  return { total: addFigures(base.total, record), byModel: addModels(base.byModel, models) };
}

/** `a` and `b` together (either may be absent). */
export function addUsage(a: RunUsage | undefined, b: RunUsage | undefined): RunUsage | undefined {
  if (!b) return a;
  if (!a) return b;
  return { total: addFigures(a.total, b.total), byModel: addModels(a.byModel, Object.entries(b.byModel)) };
}

const isFigure = (v: unknown, whole: boolean) =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 && (!whole || Number.isSafeInteger(v));

function figuresOf(raw: unknown): UsageFigures | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const { inputTokens, outputTokens, costUsd } = raw as Record<string, unknown>;
  if (!isFigure(inputTokens, true) || !isFigure(outputTokens, true) || !isFigure(costUsd, false)) return undefined;
  return { inputTokens: inputTokens as number, outputTokens: outputTokens as number, costUsd: costUsd as number };
}

/**
 * Reads usage that arrived from outside the workflow (a step's result or failure, a carry): a
 * malformed one reads as none, with its problem, so that it never fails a workflow task.
 */
export function readUsage(raw: unknown): { usage?: RunUsage; problem?: string } {
  if (raw === undefined || raw === null) return {};
  const total = figuresOf((raw as { total?: unknown }).total);
  const models = (raw as { byModel?: unknown }).byModel;
  if (!total || models === null || typeof models !== 'object' || Array.isArray(models)) {
    return {
      problem: `usage must be {"total": {inputTokens, outputTokens, costUsd}, "byModel": {…}}, got ${describeType(raw)}`,
    };
  }
  const byModel: [string, UsageFigures][] = [];
  for (const [model, value] of Object.entries(models as Record<string, unknown>).slice(0, MAX_MODELS)) {
    const figures = figuresOf(value);
    if (!figures)
      return { problem: `usage of model ${JSON.stringify(model)} is not {inputTokens, outputTokens, costUsd}` };
    byModel.push([model, figures]);
  }
  return { usage: { total, byModel: Object.fromEntries(byModel) } };
}

export const tokensOf = (f: UsageFigures): number => f.inputTokens + f.outputTokens;

const dollars = (usd: number): string => `$${String(roundCost(usd))}`;

/** Why the run must stop spending, when its totals passed a budget; undefined otherwise. */
export function budgetPassed(usage: RunUsage | undefined, budget: UsageBudget): string | undefined {
  if (!usage) return undefined;
  const { maxCostUsd, maxTokens } = budget;
  if (maxCostUsd !== undefined && usage.total.costUsd > maxCostUsd) {
    return `cost budget of ${dollars(maxCostUsd)} used up: the run has spent ${dollars(usage.total.costUsd)}`;
  }
  const tokens = tokensOf(usage.total);
  if (maxTokens !== undefined && tokens > maxTokens) {
    return `token budget of ${maxTokens} tokens used up: the run has used ${tokens}`;
  }
  return undefined;
}

/** Checks a budget field of a run spec or a resume: a positive number (tokens: a whole one). */
export function budgetValue(name: 'maxCostUsd' | 'maxTokens', value: unknown): number {
  const whole = name === 'maxTokens';
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || (whole && !Number.isSafeInteger(value))) {
    throw new ValidationError(
      `${name} must be a positive ${whole ? 'whole number' : 'number'}, got ${typeof value === 'number' ? String(value) : describeType(value)}`,
    );
  }
  return value;
}
