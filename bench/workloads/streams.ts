/**
 * Live streams (durable-runs only): what `step.stream` costs the server and how soon a reader of
 * `runs.stream` gets each chunk. Its baseline is a silent step that runs as long.
 */
import { tsToMs } from '@temporalio/common/lib/time';
import { N } from '../options';
import { now, type StreamBenchPayload } from '../protocol';
import { type Bench, cpuSeconds, type Round, roundRow, type Row, sleep } from '../rounds';
import { frontendRequests, percentile } from '../stats';

/** The paced step: 100 chunks every 25 ms, 4,000 chunks/s. */
const BATCH = 100;
const EVERY_MS = 25;
const READ_TIMEOUT_MS = 5 * 60_000;

/** The dev server updates its Prometheus counters about once a second. */
const METRICS_SETTLE_MS = 1200;

/**
 * Requests the server's frontend has answered by now, by operation (its Prometheus counters),
 * read once the counters have caught up with every request before this call.
 */
async function requestCounts(b: Bench): Promise<Map<string, number>> {
  await sleep(METRICS_SETTLE_MS);
  return frontendRequests(await (await fetch(b.serverMetrics)).text());
}

/** What a reader saw of a run's stream, times in `now()` ms. */
interface Followed {
  /** Receive time minus emit time, per chunk. */
  latencies: number[];
  chunks: number;
  /** Chunks this reader never got (in `gap` events). */
  missed: number;
  firstEmit: number;
  lastReceived: number;
  /** The size of the step's heartbeat details halfway through, bytes. */
  heartbeatBytes: number;
}

/** Reads a run's stream to its close; halfway through, reads the size of its heartbeat details once. */
async function follow(b: Bench, runId: string, chunks: number): Promise<Followed> {
  const followed: Followed = {
    latencies: [],
    chunks: 0,
    missed: 0,
    firstEmit: NaN,
    lastReceived: NaN,
    heartbeatBytes: NaN,
  };
  let sized: Promise<void> | undefined;
  for await (const event of b.runs.stream(runId, { signal: AbortSignal.timeout(READ_TIMEOUT_MS) })) {
    const at = now();
    if (event.type === 'gap') followed.missed += event.to - event.from + 1;
    if (event.type === 'retract') throw new Error(`run ${runId}: a step attempt was retracted`);
    if (event.type !== 'chunk') continue;
    const { t } = event.data as { t: number };
    followed.latencies.push(at - t);
    followed.chunks += 1;
    followed.lastReceived = at;
    if (followed.chunks === 1) followed.firstEmit = t;
    // Not awaited here: the reader goes on reading meanwhile.
    if (followed.chunks === Math.floor(chunks / 2)) {
      sized = b.temporal.workflow
        .getHandle(runId)
        .describe()
        .then((d) => {
          const payload = d.raw.pendingActivities?.[0]?.heartbeatDetails?.payloads?.[0];
          followed.heartbeatBytes = payload?.data?.length ?? NaN;
        });
    }
  }
  await sized;
  return followed;
}

/** The run's history events, and how long its step's activity ran (ms). */
async function history(b: Bench, runId: string): Promise<{ events: number; stepMs: number }> {
  const events = (await b.temporal.workflow.getHandle(runId).fetchHistory()).events ?? [];
  const started = events.find((e) => e.activityTaskStartedEventAttributes);
  const completed = events.find((e) => e.activityTaskCompletedEventAttributes);
  return { events: events.length, stepMs: tsToMs(completed?.eventTime) - tsToMs(started?.eventTime) };
}

/** A streaming run (paced or back to back), read from its submit to its close. */
async function streamingRun(b: Bench, runId: string, payload: StreamBenchPayload) {
  const cpu0 = cpuSeconds(b.serverPid);
  await b.runs.submit({ runId, runner: 'streamer', input: payload });
  const followed = await follow(b, runId, payload.chunks);
  return { followed, serverCpu: cpuSeconds(b.serverPid) - cpu0, ...(await history(b, runId)) };
}

/** `run`, and the requests the server answered meanwhile, by operation. */
async function counted<T>(b: Bench, run: () => Promise<T>): Promise<T & { requests: (operation: string) => number }> {
  const before = await requestCounts(b);
  const result = await run();
  const after = await requestCounts(b);
  return { ...result, requests: (operation) => (after.get(operation) ?? 0) - (before.get(operation) ?? 0) };
}

/** A silent step of `ms`, with nobody reading. */
async function silentRun(b: Bench, runId: string, ms: number) {
  const cpu0 = cpuSeconds(b.serverPid);
  await b.runs.submit({ runId, runner: 'silent', input: { ms } });
  await b.runs.result(runId);
  return { serverCpu: cpuSeconds(b.serverPid) - cpu0, ...(await history(b, runId)) };
}

/**
 * Each round, in mirrored order across rounds: a step streaming N chunks at 4,000/s with a reader
 * following it from its submit (latency, heartbeats and reader polls per second, history, server
 * CPU); a silent step as long with no reader (its history and server CPU: the baseline); and a step
 * pushing N chunks back to back, until the reader has every one (chunks/s end to end).
 */
export async function streams(b: Bench, rows: Row[], results: Record<string, unknown>): Promise<void> {
  const n = N.streams;
  const paced: StreamBenchPayload = { chunks: n, batch: BATCH, everyMs: EVERY_MS };
  const burst: StreamBenchPayload = { chunks: n, batch: BATCH, everyMs: 0 };
  const pacedMs = Math.ceil(n / BATCH) * EVERY_MS;
  const perThousand = n / 1000;
  // Warm-up: the worker's stream path and this process's reader, not measured.
  await streamingRun(b, 'stream-warm-paced', { ...paced, chunks: Math.min(n, 500) });
  await streamingRun(b, 'stream-warm-burst', { ...burst, chunks: Math.min(n, 500) });
  await silentRun(b, 'stream-warm-silent', 100);

  const rounds: Round[] = [];
  for (let r = 0; r < N.rounds; r++) {
    const round: Round = {};
    const kinds = ['streaming', 'silent', 'burst'] as const;
    for (const kind of r % 2 === 0 ? kinds : [...kinds].reverse()) {
      const runId = `stream-${kind}-${r}`;
      if (kind === 'streaming') {
        const run = await counted(b, () => streamingRun(b, runId, paced));
        const seconds = run.stepMs / 1000;
        const heartbeats = run.requests('RecordActivityTaskHeartbeat');
        round.streaming = {
          latencyP50: percentile(run.followed.latencies, 50),
          latencyP99: percentile(run.followed.latencies, 99),
          missed: run.followed.missed,
          historyEvents: run.events,
          serverCpuMsPer1k: (run.serverCpu * 1000) / perThousand,
          heartbeats,
          heartbeatsPerSecond: heartbeats / seconds,
          describesPerSecond: run.requests('DescribeWorkflowExecution') / seconds,
          // Long polls of the reader's history follower, each answered by new events.
          historyPolls: run.requests('PollWorkflowExecutionHistory'),
          heartbeatKiB: run.followed.heartbeatBytes / 1024,
          stepSeconds: seconds,
        };
      } else if (kind === 'silent') {
        const run = await silentRun(b, runId, pacedMs);
        round.silent = {
          historyEvents: run.events,
          serverCpuMsPer1k: (run.serverCpu * 1000) / perThousand,
          stepSeconds: run.stepMs / 1000,
        };
      } else {
        const { followed } = await streamingRun(b, runId, burst);
        round.burst = {
          chunksPerSecond: followed.chunks / ((followed.lastReceived - followed.firstEmit) / 1000),
          missed: followed.missed,
        };
      }
    }
    for (const kind of ['streaming', 'burst'] as const) {
      if (round[kind]!.missed! > 0)
        console.error(`bench: streams round ${r}: the reader missed ${round[kind]!.missed} chunks of ${kind}`);
    }
    rounds.push(round);
  }
  results.streams = { chunks: n, pacedChunksPerSecond: (BATCH * 1000) / EVERY_MS, rounds };
  const rate = `${n} chunks at ${(BATCH * 1000) / EVERY_MS}/s`;
  rows.push(
    roundRow(`streams: chunk → reader latency p50 (ms), ${rate}`, rounds, 'streaming', 'latencyP50', 'none'),
    roundRow('… p99 (ms)', rounds, 'streaming', 'latencyP99', 'none'),
    roundRow(
      `streams: chunks/s, ${n} pushed back to back, until a reader has all`,
      rounds,
      'burst',
      'chunksPerSecond',
      'none',
    ),
    roundRow(
      `streams: history events, ${n} chunks streamed / a silent step`,
      rounds,
      'streaming',
      'historyEvents',
      'silent',
    ),
    roundRow(
      'streams: server CPU ms per 1,000 chunks / a silent step as long',
      rounds,
      'streaming',
      'serverCpuMsPer1k',
      'silent',
    ),
    roundRow(
      'streams: heartbeats/s reaching the server while a step streams',
      rounds,
      'streaming',
      'heartbeatsPerSecond',
      'none',
    ),
    roundRow('streams: reader describe polls/s while the step runs', rounds, 'streaming', 'describesPerSecond', 'none'),
    roundRow('streams: heartbeat details halfway (KiB)', rounds, 'streaming', 'heartbeatKiB', 'none'),
  );
}
