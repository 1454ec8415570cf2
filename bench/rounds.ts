/**
 * The round runner of `npm run bench`: what every workload shares (the server, the clients, the two
 * worker processes), submitting and finishing runs by variant, measured batches, step marks and
 * history sizes, and the table rows made from rounds.
 */
import { readFileSync } from 'node:fs';
import type { Client } from '@temporalio/client';
import type { RunsClient } from '../src/client';
import { now, type Side } from './protocol';
import { QUEUE, type SideWorker } from './side-worker';
import { spread, type Spread } from './stats';

export const SIDES: readonly Side[] = ['base', 'ours'];
/** What runs are compared: the baseline, and durable-runs three ways (see bench/run.ts). */
export type Variant = 'base' | 'ours' | 'fast' | 'eager' | 'limited';
/** The worker process a variant's runs go to. */
const sideOf = (v: Variant): Side => (v === 'base' ? 'base' : 'ours');
/** The variants in order, then backwards: each one's mean position in a round is the same. */
export const mirrored = <T>(xs: readonly T[]): T[] => [...xs, ...[...xs].reverse()];

export async function pool<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/**
 * CPU seconds a process has used so far (user + system), from /proc on Linux; NaN elsewhere.
 * Ticks are 1/100 s on every Linux that Node supports.
 */
export function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

export const range = (n: number, name: (i: number) => string) => Array.from({ length: n }, (_, i) => name(i));
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Everything the workloads share. */
export interface Bench {
  serverAddress: string;
  /** Our prebuilt workflow bundle. */
  bundle: string;
  serverPid: number | undefined;
  /** The dev server's Prometheus endpoint (`/metrics`). */
  serverMetrics: string;
  temporal: Client;
  runs: RunsClient;
  workers: Record<Side, SideWorker>;
  submitted: Map<string, number>;
}

export async function submit(b: Bench, v: Variant, id: string, steps: number, callbackUrl?: string): Promise<void> {
  if (v === 'eager') throw new Error('eager runs are submitted by the worker process (runBatch)');
  b.submitted.set(id, now());
  if (v === 'base') {
    await b.temporal.workflow.start(callbackUrl ? 'baselineWebhook' : 'baselineLoop', {
      workflowId: id,
      taskQueue: QUEUE.base,
      args: [callbackUrl ?? steps],
    });
    return;
  }
  await b.runs.submit({
    runId: id,
    runner: v === 'fast' ? 'noopFast' : v === 'limited' ? 'noopLimited' : 'noop',
    input: { steps },
    ...(callbackUrl ? { headers: { callback_url: callbackUrl } } : {}),
  });
}

/** Waits for a run to close; a run that did not succeed stops the bench (it would measure nothing). */
export async function finish(b: Bench, v: Variant, id: string): Promise<void> {
  if (v === 'base') {
    await b.temporal.workflow.getHandle(id).result();
    return;
  }
  const outcome = await b.runs.result(id);
  if (outcome.status !== 'succeeded') throw new Error(`run ${id} ended ${outcome.status}: ${outcome.error ?? ''}`);
}

/** Eager starts asked for and granted, over the whole bench. */
export const eagerStarts = { asked: 0, granted: 0 };

/** Runs `ids` to their end, `concurrency` at a time. */
export async function runBatch(b: Bench, v: Variant, ids: string[], steps: number, concurrency: number): Promise<void> {
  if (v === 'eager') {
    const reply = await b.workers.ours.batch(ids, steps, concurrency, 'noop');
    for (const [id, at] of reply.submitted) b.submitted.set(id, at);
    eagerStarts.asked += ids.length;
    eagerStarts.granted += reply.eager;
    return;
  }
  await pool(ids, concurrency, async (id) => {
    await submit(b, v, id, steps);
    await finish(b, v, id);
  });
}

export interface Batch {
  seconds: number;
  serverCpu: number;
  workerCpu: number;
}

/** Runs a batch and measures its wall time and the CPU the server and the variant's worker used. */
export async function measuredBatch(
  b: Bench,
  v: Variant,
  ids: string[],
  steps: number,
  concurrency: number,
): Promise<Batch> {
  const pid = b.workers[sideOf(v)].child.pid;
  const t0 = now();
  const cpu0 = [cpuSeconds(b.serverPid), cpuSeconds(pid)];
  await runBatch(b, v, ids, steps, concurrency);
  return {
    seconds: (now() - t0) / 1000,
    serverCpu: cpuSeconds(b.serverPid) - cpu0[0]!,
    workerCpu: cpuSeconds(pid) - cpu0[1]!,
  };
}

/** Step start times by run since the last call, from both worker processes. */
export async function allMarks(b: Bench): Promise<Map<string, number[]>> {
  const [base, ours] = await Promise.all(SIDES.map((side) => b.workers[side].marks()));
  return new Map([...base!, ...ours!]);
}

/** Events of a workflow ID across its continue-as-new chain, and how many executions it took. */
export async function chainEvents(b: Bench, workflowId: string): Promise<{ events: number; executions: number }> {
  let events = 0;
  let executions = 0;
  let runId: string | undefined;
  do {
    const list = (await b.temporal.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
    events += list.length;
    executions += 1;
    runId = list[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
  } while (runId);
  return { events, executions };
}

export async function eventsPerStep(b: Bench, ids: readonly string[], steps: number, sample = 20): Promise<number> {
  const chosen = ids.slice(0, sample);
  let events = 0;
  for (const id of chosen) events += (await chainEvents(b, id)).events;
  return events / (chosen.length * steps);
}

/**
 * A row of the table: a variant's figure and the baseline's (medians over the rounds) and their
 * ratio, taken in each round: its median, min and max.
 */
export interface Row {
  figure: string;
  ours: number;
  base: number;
  ratio: Spread;
}
/** One round's figures by variant (and, for peers, by peer setting). */
export type Round = Record<string, Record<string, number>>;

/** A row from rounds: `v`'s `key` against `against`'s, ratio per round. */
export function roundRow(figure: string, rounds: readonly Round[], v: string, key: string, against = 'base'): Row {
  const med = (who: string) => spread(rounds.map((r) => r[who]?.[key] ?? NaN)).median;
  return {
    figure,
    ours: med(v),
    base: med(against),
    ratio: spread(rounds.map((r) => (r[v]?.[key] ?? NaN) / (r[against]?.[key] ?? NaN))),
  };
}

/** A row from one measurement of each side. */
export function singleRow(figure: string, ours: number, base: number): Row {
  const ratio = ours / base;
  return { figure, ours, base, ratio: { median: ratio, min: ratio, max: ratio } };
}
