/**
 * One side's worker for `npm run bench`, in a process of its own so that its memory and CPU
 * profile are its own. Started by bench/side-worker.ts with `fork`: argv is `<ours|base> <address>
 * <taskQueue> <workflow bundle>`; requests and replies go over the IPC channel (see `Request`).
 */
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { Client } from '@temporalio/client';
import { fastSteps, limited, StepOutcome, type StepRunner } from '../src';
import { dataConverter, RunsClient } from '../src/client';
import { createWorker } from '../src/worker';
import type { BaselineActivities } from './baseline';
import {
  type Memory,
  type Reply,
  type Request,
  type Side,
  type StreamBenchPayload,
  type AgentResult,
  TUNING,
  now,
} from './protocol';

const [side, address, taskQueue, bundlePath] = process.argv.slice(2) as [Side, string, string, string];

/** Step start times by run, while recording is on. */
let marks = new Map<string, number[]>();
let recording = true;
let steps = 0;
function mark(runId: string): void {
  steps += 1;
  if (!recording) return;
  const list = marks.get(runId);
  if (list) list.push(now());
  else marks.set(runId, [now()]);
}

let peakRss = process.memoryUsage.rss();
setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 100).unref();

function memory(): Memory {
  // bench/side-worker.ts starts this process with --expose-gc, so "after" figures are not GC timing noise.
  (globalThis as { gc?: () => void }).gc?.();
  const { rss, heapUsed } = process.memoryUsage();
  peakRss = Math.max(peakRss, rss);
  return { rss, heapUsed, peakRss };
}

const noop: StepRunner<{ steps: number }> = async (step) => {
  mark(step.runId);
  return step.stepNumber + 1 >= step.payload.steps ? StepOutcome.succeed(null) : StepOutcome.continue(step.payload);
};

/** Streams `{ i, t }` chunks, `t` the time it pushed each (`now()`): readers take their latency from it. */
const streamer: StepRunner<StreamBenchPayload> = async (step) => {
  const { chunks, batch, everyMs } = step.payload;
  for (let i = 0; i < chunks; i++) {
    step.stream({ i, t: now() });
    if ((i + 1) % batch === 0) {
      await new Promise((resolve) => (everyMs > 0 ? setTimeout(resolve, everyMs) : setImmediate(resolve)));
    }
  }
  return StepOutcome.succeed(chunks);
};

/** A step that runs as long as a streaming one and streams nothing: the baseline of its costs. */
const silent: StepRunner<{ ms: number }> = async (step) => {
  await new Promise((resolve) => setTimeout(resolve, step.payload.ms));
  return StepOutcome.succeed(0);
};

/** Streams `payload.chunks` chunks, one every 20 ms, each holding when it was streamed (the HTTP workload). */
const httpStreamer: StepRunner = async (step) => {
  const { chunks } = step.payload as { chunks: number };
  for (let i = 0; i < chunks; i++) {
    step.stream({ at: Date.now() });
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return StepOutcome.succeed(null);
};

/** Step 0 waits for `go`; step 1 is the one a wake starts (its start is marked). */
const wakes: StepRunner = async (step) => {
  mark(step.runId);
  return step.stepNumber === 0 ? StepOutcome.waitForEvent(null, { events: 'go' }) : StepOutcome.succeed(null);
};

/** The agent-shaped runs' memo record times (ms) by run, handed back in each run's result. */
const memoRecordMs = new Map<string, number[]>();
/**
 * The agent-shaped step: about `ms` of "model call", journaled with a memo, with progress and a
 * few chunks of stream, as an agent's step does.
 */
const agent: StepRunner<{ steps: number; ms: number }> = async (step) => {
  mark(step.runId);
  let called = 0;
  const t0 = now();
  const answer = await step.memo('model', async () => {
    await new Promise((resolve) => setTimeout(resolve, step.payload.ms));
    called = now();
    return { tokens: 20 };
  });
  // What the memo's durable record took: from the call's end until `memo` returned.
  const recorded = memoRecordMs.get(step.runId) ?? [];
  recorded.push(now() - (called || t0));
  memoRecordMs.set(step.runId, recorded);
  step.progress({ step: step.stepNumber });
  for (let i = 0; i < 3; i++) step.stream(`token ${i} `);
  step.usage({ model: 'bench', inputTokens: answer.tokens, outputTokens: answer.tokens });
  if (step.stepNumber + 1 < step.payload.steps) return StepOutcome.continue(step.payload);
  memoRecordMs.delete(step.runId);
  return StepOutcome.succeed({ memoRecordMs: recorded } satisfies AgentResult);
};

const baselineActivities: BaselineActivities = {
  async work(runId, step, ms) {
    mark(runId);
    await new Promise((resolve) => setTimeout(resolve, ms));
    return step;
  },
  async noop(runId, step) {
    mark(runId);
    return step;
  },
  async post(url, body) {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`receiver answered ${res.status}`);
  },
};

async function start(connection: NativeConnection): Promise<Worker> {
  if (side === 'ours') {
    return createWorker({
      runners: {
        noop: noop as StepRunner,
        noopFast: fastSteps(noop as StepRunner),
        // In a limit group with no limit set: what the group's queue and the reroute cost.
        noopLimited: limited(noop as StepRunner, 'bench'),
        streamer: streamer as StepRunner,
        silent: silent as StepRunner,
        httpStreamer,
        wakes,
        agent: agent as StepRunner,
      },
      connection,
      taskQueue,
      workflowBundle: { codePath: bundlePath },
      // The receiver is on loopback; a secret so that deliveries are signed as in production.
      webhook: { allowPrivate: true, secret: process.env.BENCH_WEBHOOK_SECRET },
      tuning: TUNING,
    });
  }
  return Worker.create({
    connection,
    taskQueue,
    workflowBundle: { codePath: bundlePath },
    activities: baselineActivities,
    ...TUNING,
  });
}

/** Runs a batch from this process: submitted on the worker's connection, so eagerly. */
async function batch(
  runs: RunsClient,
  request: Extract<Request, { type: 'batch' }>,
): Promise<{ submitted: Array<[string, number]>; eager: number }> {
  const submitted: Array<[string, number]> = [];
  let eager = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(request.concurrency, request.ids.length) }, async () => {
      while (next < request.ids.length) {
        const runId = request.ids[next++]!;
        submitted.push([runId, now()]);
        const submission = await runs.submit({ runId, runner: request.runner, input: { steps: request.steps } });
        if (submission.eagerlyStarted) eager += 1;
        const outcome = await runs.result(runId);
        if (outcome.status !== 'succeeded')
          throw new Error(`run ${runId} ended ${outcome.status}: ${outcome.error ?? ''}`);
      }
    }),
  );
  return { submitted, eager };
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const connection = await NativeConnection.connect({ address });
  const worker = await start(connection);
  const running = worker.run();
  const runs = RunsClient.fromClient(new Client({ connection, dataConverter }), taskQueue);

  process.on('message', (request: Request) => {
    const reply = (r: Reply) => process.send!(r);
    switch (request.type) {
      case 'marks':
        reply({ id: request.id, type: 'marks', marks: [...marks] });
        marks = new Map();
        break;
      case 'record':
        recording = request.on;
        reply({ id: request.id, type: 'ok' });
        break;
      case 'memory':
        reply({ id: request.id, type: 'memory', memory: memory() });
        break;
      case 'batch':
        batch(runs, request).then(
          (r) => reply({ id: request.id, type: 'batch', ...r }),
          (err: unknown) => {
            console.error(err);
            process.exit(1);
          },
        );
        break;
      case 'stop':
        worker.shutdown();
        void running.then(async () => {
          await connection.close();
          // --cpu-prof writes its profile on the way out.
          process.send!({ id: request.id, type: 'ok' } satisfies Reply, () => process.exit(0));
        });
        break;
    }
  });
  process.send!({ id: 0, type: 'ok' } satisfies Reply);
  let reported = 0;
  setInterval(() => {
    if (steps === reported) return;
    reported = steps;
    process.send!({ id: 0, type: 'progress', steps } satisfies Reply);
  }, 20).unref();
  await running;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
