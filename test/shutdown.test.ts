/**
 * A deploy does not take a cut-short step's word, on a real dev server with workers as child
 * processes: a step aborted by its worker's shutdown is interrupted; what its runner returns after
 * the abort is discarded, and the step runs again on another worker at the same attempt number.
 * A second SIGTERM stops a worker at once. A bad DURABLE_RUNS_SHUTDOWN_GRACE stops start-up.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Connection } from '@temporalio/client';
import { RunsClient } from '../src';
import { DEFAULT_SHUTDOWN_GRACE_MS, loadShutdownGraceMs } from '../src/common/config';
import { STATE_ATTRIBUTE_ARGS, startDevServer, type DevServer } from '../src/local/dev-server';
import { STATE_KEYS } from '../src/shared/run-story';
import { statesUpserted } from './helpers/run-story';
import { workflowBundle } from '../src/testing';
import { eventually } from '../support/wait';

interface Observation {
  kind: 'start' | 'ready';
  worker: string;
  runId: string;
  attempt: number;
}

const FIXTURE = join(__dirname, 'fixtures', 'shutdown-worker.ts');
const TASK_QUEUE = 'shutdown';
let server: DevServer;
let client: RunsClient;
let observer: Server;
let observerUrl: string;
let bundlePath: string;
const observations: Observation[] = [];
const workers = new Set<ChildProcess>();

before(async () => {
  // With the run-state attributes, as `durable-runs dev`: a deploy shows nowhere in them.
  server = await startDevServer({ dbFile: false, extraArgs: STATE_ATTRIBUTE_ARGS });
  const bundle = await workflowBundle();
  bundlePath = join(mkdtempSync(join(tmpdir(), 'bundle-')), 'workflows.js');
  writeFileSync(bundlePath, bundle.code);
  observer = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      observations.push({
        kind: req.url!.slice(1) as Observation['kind'],
        ...(JSON.parse(body) as Omit<Observation, 'kind'>),
      });
      res.end();
    });
  });
  await new Promise<void>((resolve) => observer.listen(0, '127.0.0.1', resolve));
  observerUrl = `http://127.0.0.1:${(observer.address() as { port: number }).port}`;
  client = await RunsClient.connect({
    connection: await Connection.connect({ address: server.address }),
    taskQueue: TASK_QUEUE,
  });
});

after(async () => {
  for (const w of workers) w.kill('SIGKILL');
  await client?.temporal.connection.close();
  await server?.stop();
  observer?.closeAllConnections();
  observer?.close();
});

/** Starts a worker process and waits until it polls; its stderr is collected. */
async function startWorker(name: string, grace: string): Promise<{ child: ChildProcess; stderr: () => string }> {
  let stderr = '';
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_TASK_QUEUE: TASK_QUEUE,
      WORKER_NAME: name,
      OBSERVER_URL: observerUrl,
      WORKFLOW_BUNDLE: bundlePath,
      DURABLE_RUNS_SHUTDOWN_GRACE: grace,
      DURABLE_RUNS_TEST_LOG_LEVEL: 'ERROR',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  workers.add(child);
  child.once('exit', () => workers.delete(child));
  await eventually(() => observations.some((o) => o.kind === 'ready' && o.worker === name), 60_000, `${name} ready`);
  return { child, stderr: () => stderr };
}

const exitOf = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve({ code: child.exitCode, signal: child.signalCode })
    : new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.once('exit', (code, signal) => resolve({ code, signal })),
      );

const seen = (kind: Observation['kind'], worker: string, runId: string) =>
  observations.find((o) => o.kind === kind && o.worker === worker && o.runId === runId);

test("SIGTERM mid-step: after the grace the step is interrupted; A's late succeed is discarded and B runs it again at the same attempt", async () => {
  const a = await startWorker('A', '1s');
  const { runId } = await client.submit({ runId: 'deploy-1', input: { ms: 120_000 }, runner: 'stubborn' });
  await eventually(() => seen('start', 'A', runId) !== undefined, 60_000, 'A runs the step');
  a.child.kill('SIGTERM');
  // The grace passes, the step's signal aborts, A's runner returns succeed at once, and A exits.
  assert.deepEqual(await exitOf(a.child), { code: 0, signal: null });
  assert.match(a.stderr(), /SIGTERM: shutting down; running steps have 1 s to finish/);
  // A's late `succeed` is not the outcome: the run is still open, and goes on when B arrives.
  const between = await client.temporal.workflow.getHandle(runId).describe();
  assert.equal(between.status.name, 'RUNNING');
  assert.equal(between.typedSearchAttributes.get(STATE_KEYS.state), 'running');
  const b = await startWorker('B', '1s');
  const outcome = await client.result(runId);
  assert.deepEqual([outcome.status, outcome.result], ['succeeded', { by: 'B', attempt: 1, aborted: false }]);
  assert.equal(seen('start', 'B', runId)?.attempt, seen('start', 'A', runId)?.attempt);
  // The run saw no failed attempt: one step activity, completed on its second (Temporal) attempt.
  const events = (await client.temporal.workflow.getHandle(runId).fetchHistory()).events ?? [];
  assert.equal(events.filter((e) => e.activityTaskScheduledEventAttributes).length, 1);
  assert.equal(events.filter((e) => e.activityTaskFailedEventAttributes).length, 0);
  assert.equal(
    events.find((e) => e.activityTaskStartedEventAttributes)?.activityTaskStartedEventAttributes?.attempt,
    2,
  );
  // It started `running` and only ran steps: the deploy upserted no state.
  assert.deepEqual(statesUpserted(events), []);
  b.child.kill('SIGTERM');
  await exitOf(b.child);
});

test('fast steps: a chained step (a local activity) is not cut short by SIGTERM; its worker waits for it, and its result is a whole one', async () => {
  // Core lets running local activities finish during a graceful shutdown, whatever the grace: the
  // step is not aborted, so what it returns is its real outcome (never one returned after an abort).
  const a = await startWorker('A2', '1s');
  const { runId } = await client.submit({ runId: 'deploy-fast', input: { ms: 4000 }, runner: 'fastStubborn' });
  await eventually(() => seen('start', 'A2', runId) !== undefined, 60_000, 'A2 runs step 1');
  a.child.kill('SIGTERM');
  assert.deepEqual(await exitOf(a.child), { code: 0, signal: null });
  const outcome = await client.result(runId);
  assert.deepEqual(
    [outcome.status, outcome.finalStep, outcome.result],
    ['succeeded', 1, { by: 'A2', attempt: 1, aborted: false }],
  );
  // Step 1 ran as a local activity (a marker), step 0 as the one activity.
  const events = (await client.temporal.workflow.getHandle(runId).fetchHistory()).events ?? [];
  assert.equal(events.filter((e) => e.activityTaskScheduledEventAttributes).length, 1);
  assert.ok(events.some((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity'));
});

for (const [signal, code, name] of [
  ['SIGTERM', 143, 'C'],
  ['SIGINT', 130, 'D'],
] as const) {
  test(`a second ${signal} stops the worker at once, exit ${code}, and says so`, async () => {
    const c = await startWorker(name, '10m');
    const { runId } = await client.submit({ runId: `deploy-2-${signal}`, input: { ms: 120_000 }, runner: 'stubborn' });
    await eventually(() => seen('start', name, runId) !== undefined, 60_000, `${name} runs the step`);
    c.child.kill(signal);
    await eventually(() => new RegExp(`${signal}: shutting down`).test(c.stderr()), 30_000, `first ${signal} logged`);
    assert.equal(c.child.exitCode, null, 'still running: the grace is 10 minutes');
    const started = Date.now();
    c.child.kill(signal);
    assert.deepEqual(await exitOf(c.child), { code, signal: null });
    assert.ok(Date.now() - started < 10_000, `stopped within 10 s (${Date.now() - started} ms)`);
    assert.match(c.stderr(), new RegExp(`second ${signal}: stopping at once`));
    await client.temporal.workflow.getHandle(runId).terminate('test done');
  });
}

test('DURABLE_RUNS_SHUTDOWN_GRACE: default 25 s; a bad value stops the worker at start-up, naming the variable', () => {
  assert.equal(DEFAULT_SHUTDOWN_GRACE_MS, 25_000);
  assert.equal(loadShutdownGraceMs({}), 25_000);
  assert.equal(loadShutdownGraceMs({ DURABLE_RUNS_SHUTDOWN_GRACE: '5s' }), 5000);
  assert.equal(loadShutdownGraceMs({ DURABLE_RUNS_SHUTDOWN_GRACE: '1500' }), 1500);
  const result = spawnSync(
    process.execPath,
    [join(__dirname, '..', 'bin', 'durable-runs.js'), 'worker', '--runners', 'examples/runners.ts'],
    {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DURABLE_RUNS_SHUTDOWN_GRACE: 'soon' },
      timeout: 60_000,
    },
  );
  assert.equal(result.status, 2);
  assert.match(result.stderr, /^durable-runs: DURABLE_RUNS_SHUTDOWN_GRACE: must be a duration/m);
});
