/**
 * The pure arithmetic of `npm run bench`: percentiles, latencies from step start times, target
 * verdicts and the summary of a V8 CPU profile. Unit-tested in test/bench-stats.test.ts.
 */
import { parsePrometheus } from '../test/helpers/prometheus';

/** The p-th percentile (nearest rank) of `xs`; NaN when empty. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export interface Latencies {
  /** Submit → first step start, ms. */
  firstP50: number;
  firstP95: number;
  /** One step's start → the next step's start in the same run, ms. */
  stepP50: number;
  stepP95: number;
}

/**
 * Latencies from the submit time of each run and the start times of its steps (all ms on one
 * clock). Runs without a submit time or a first step count only for step-to-step.
 */
export function latencies(
  ids: readonly string[],
  submitted: ReadonlyMap<string, number>,
  starts: ReadonlyMap<string, readonly number[]>,
): Latencies {
  const first: number[] = [];
  const between: number[] = [];
  for (const id of ids) {
    const s = starts.get(id) ?? [];
    const at = submitted.get(id);
    if (s[0] !== undefined && at !== undefined) first.push(s[0] - at);
    for (let i = 1; i < s.length; i++) between.push(s[i]! - s[i - 1]!);
  }
  return {
    firstP50: percentile(first, 50),
    firstP95: percentile(first, 95),
    stepP50: percentile(between, 50),
    stepP95: percentile(between, 95),
  };
}

/**
 * Steps per second over the first and the last `fraction` of a long run's step start times: how
 * much slower a run gets as its history grows. NaN when there are too few steps.
 */
export function edgeRates(times: readonly number[], fraction = 0.1): { first: number; last: number } {
  const n = Math.floor(times.length * fraction);
  if (n < 2) return { first: NaN, last: NaN };
  const rate = (from: number, to: number) => (to - from) / ((times[to]! - times[from]!) / 1000);
  return { first: rate(0, n - 1), last: rate(times.length - n, times.length - 1) };
}

/**
 * Requests a Temporal server's frontend answered in one namespace, by operation, from its
 * Prometheus text (`service_requests{namespace, operation, service_name}` counters).
 */
export function frontendRequests(prometheusText: string, namespace = 'default'): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { name, labels, value } of parsePrometheus(prometheusText)) {
    const { operation } = labels;
    if (name !== 'service_requests' || !operation) continue;
    if (labels.service_name !== 'frontend' || labels.namespace !== namespace) continue;
    counts.set(operation, (counts.get(operation) ?? 0) + value);
  }
  return counts;
}

export interface Target {
  name: string;
  /** The measured value the target is about (a ratio or a difference). */
  value: number;
  /** `>=` or `<=` the limit. */
  op: '>=' | '<=';
  limit: number;
}

/** Whether a target holds; a NaN value (workload skipped) is `undefined`. */
export function meets(target: Target): boolean | undefined {
  if (Number.isNaN(target.value)) return undefined;
  return target.op === '>=' ? target.value >= target.limit : target.value <= target.limit;
}

/** The parts of a V8 `.cpuprofile` this summary reads. */
export interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
  }>;
  samples?: number[];
  timeDeltas?: number[];
}

export interface ProfileSummary {
  /** Sampled time, ms, across threads. */
  totalMs: number;
  /** Sampled time that was not idle, ms: the base of every `share`. */
  busyMs: number;
  /** Self time by where the code lives (`idle`, `gc`, `program`, `durable-runs`, a package name, `node`). */
  byArea: Array<{ area: string; ms: number; share: number }>;
  /** The functions with the most self time. */
  top: Array<{ fn: string; where: string; ms: number; share: number }>;
}

/** Where a call frame's code lives, for grouping self time. */
export function areaOf(functionName: string, url: string): string {
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(garbage collector)') return 'gc';
  if (functionName === '(program)' || functionName === '(root)') return 'program';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:') || url === '') return 'node';
  if (/\/(src|bench)\//.test(url)) return 'durable-runs';
  return 'other';
}

/**
 * Self time by area and by function, from the samples of V8 CPU profiles (one per thread: the
 * worker's main thread and its workflow threads), added up.
 */
export function summarizeProfile(profiles: readonly CpuProfile[], topN = 25): ProfileSummary {
  const areas = new Map<string, number>();
  const fns = new Map<string, { fn: string; where: string; ms: number }>();
  let totalMs = 0;
  for (const profile of profiles) {
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const samples = profile.samples ?? [];
    const deltas = profile.timeDeltas ?? [];
    for (let i = 0; i < samples.length; i++) {
      // A sample's time is the gap to the next one; the last sample has none.
      const ms = (deltas[i + 1] ?? 0) / 1000;
      const frame = byId.get(samples[i]!)?.callFrame;
      if (!frame) continue;
      totalMs += ms;
      const area = areaOf(frame.functionName, frame.url);
      areas.set(area, (areas.get(area) ?? 0) + ms);
      const fn = frame.functionName || '(anonymous)';
      const where = frame.url
        ? `${frame.url.replace(/^.*\/(node_modules|src|bench)\//, '$1/')}:${frame.lineNumber + 1}`
        : '';
      const key = `${fn}@${where}`;
      const entry = fns.get(key) ?? { fn, where, ms: 0 };
      entry.ms += ms;
      fns.set(key, entry);
    }
  }
  const busyMs = totalMs - (areas.get('idle') ?? 0);
  areas.delete('idle');
  fns.delete('(idle)@');
  const share = (ms: number) => (busyMs > 0 ? ms / busyMs : 0);
  return {
    totalMs,
    busyMs,
    byArea: [...areas].map(([area, ms]) => ({ area, ms, share: share(ms) })).sort((a, b) => b.ms - a.ms),
    top: [...fns.values()]
      .sort((a, b) => b.ms - a.ms)
      .slice(0, topN)
      .map((e) => ({ ...e, share: share(e.ms) })),
  };
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

/** Median (the mean of the middle two for an even count), min and max; NaN for each when empty. */
export function spread(xs: readonly number[]): Spread {
  const sorted = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (sorted.length === 0) return { median: NaN, min: NaN, max: NaN };
  const mid = sorted.length / 2;
  const median = Number.isInteger(mid) ? (sorted[mid - 1]! + sorted[mid]!) / 2 : sorted[Math.floor(mid)]!;
  return { median, min: sorted[0]!, max: sorted.at(-1)! };
}
