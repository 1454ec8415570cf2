/**
 * `durable_runs_tokens_total{runner,model,kind}` and `durable_runs_cost_usd_total{runner,model}`:
 * what steps report with `step.usage`, counted when they report it (so an attempt that later
 * fails counts too), on the activity's metric meter (a no-op without `DURABLE_RUNS_METRICS`).
 */
import type { Context } from '@temporalio/activity';
import { MetricName } from '../shared/metrics';
import type { UsageRecord } from '../shared/usage';

/** The `model` label of usage reported without a model. */
export const NO_MODEL_LABEL = 'unspecified';

/**
 * Core's counters count whole numbers: the cost is a float gauge that this process only ever
 * raises, its running total per label set (Prometheus' `rate()` and `increase()` read it as a
 * counter; it starts again from 0 when the worker restarts, as a counter does).
 */
const costTotals = new Map<string, number>();

export function countUsage(ctx: Context, runner: string, record: UsageRecord): void {
  const meter = ctx.metricMeter;
  const model = record.model ?? NO_MODEL_LABEL;
  const tokens = meter.createCounter(MetricName.TokensTotal, '', 'Model tokens that steps reported with step.usage');
  if (record.inputTokens) tokens.add(record.inputTokens, { runner, model, kind: 'input' });
  if (record.outputTokens) tokens.add(record.outputTokens, { runner, model, kind: 'output' });
  if (record.costUsd) {
    const key = JSON.stringify([runner, model]);
    const total = Math.round(((costTotals.get(key) ?? 0) + record.costUsd) * 1e9) / 1e9;
    costTotals.set(key, total);
    meter
      .createGauge(MetricName.CostUsdTotal, 'float', '', 'US dollars that steps reported with step.usage')
      .set(total, { runner, model });
  }
}
