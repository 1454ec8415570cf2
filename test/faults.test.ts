/**
 * Process-level faults against a real dev server with a SQLite file, workers as child processes
 * and a receiver on 127.0.0.1: nothing is lost when workers, the server or the receiver fail.
 * Every loop here is bounded; every wait has a deadline.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Connection } from '@temporalio/client';
import { RunsClient } from '../src';
import { workflowBundle } from '../src/testing';
import { freePort } from '../src/local/dev-server';
import { startReceiver, type Receiver } from '../support/receiver';
import { startDevServer, type DevServer } from '../src/local/dev-server';
import { eventually } from '../support/wait';

interface Observation {
  kind: 'start' | 'end' | 'ready';
  worker: string;
  runId: string;
  step: number;
  attempt: number;
}

const FIXTURE = join(__dirname, 'fixtures', 'fault-worker.ts');
let server: DevServer;
let client: RunsClient;
let receiver: Receiver;
let observer: Server;
let observerUrl: string;
let bundlePath: string;
const observations: Observation[] = [];
const workers = new Set<ChildProcess>();

before(async () => {
  server = await startDevServer();
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
  receiver = await startReceiver((path) => (path === '/gone' ? { status: 410 } : { status: 200 }));
  client = await RunsClient.connect({
    connection: await Connection.connect({ address: server.address }),
    taskQueue: 'faults',
  });
});

after(async () => {
  for (const w of workers) w.kill('SIGKILL');
  await client?.temporal.connection.close();
  await server?.stop();
  await receiver?.close();
  observer?.closeAllConnections();
  observer?.close();
});

/** Starts a worker process and waits until it polls. */
async function startWorker(name: string, env: Record<string, string> = {}): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_TASK_QUEUE: 'faults',
      WORKER_NAME: name,
      OBSERVER_URL: observerUrl,
      WORKFLOW_BUNDLE: bundlePath,
      DURABLE_RUNS_WEBHOOK_ALLOW_PRIVATE: '1',
      DURABLE_RUNS_WEBHOOK_BASE_DELAY_MS: '200',
      DURABLE_RUNS_WEBHOOK_MAX_DELAY_MS: '2000',
      DURABLE_RUNS_WEBHOOK_MAX_RETRIES: '30',
      DURABLE_RUNS_TEST_LOG_LEVEL: 'ERROR',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  workers.add(child);
  child.once('exit', () => workers.delete(child));
  await eventually(() => observations.some((o) => o.kind === 'ready' && o.worker === name), 60_000, `${name} ready`);
  return child;
}

async function kill(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill(signal);
  return exited;
}

async function submitBatch(prefix: string, n: number, spec: { runner: string; input: unknown; callback?: string }) {
  const ids = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  for (let i = 0; i < ids.length; i += 25) {
    await Promise.all(
      ids.slice(i, i + 25).map((runId) =>
        client.submit({
          runId,
          runner: spec.runner,
          input: spec.input,
          heartbeatTimeoutMs: 2000,
          headers: { callback_url: `${receiver.url}${spec.callback ?? `/hook/${prefix}`}` },
        }),
      ),
    );
  }
  return ids;
}

async function allCompleted(ids: string[], deadlineMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.all(ids.map(async (id) => assert.equal((await client.result(id)).status, 'succeeded', id))),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`runs not all done within ${deadlineMs} ms`)), deadlineMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function stepsSeen(runId: string): number[] {
  return [...new Set(observations.filter((o) => o.kind === 'start' && o.runId === runId).map((o) => o.step))].sort(
    (a, b) => a - b,
  );
}

async function allWebhooksOnce(ids: string[], path: string): Promise<void> {
  await eventually(
    () => ids.every((id) => receiver.to(path).some((r) => r.headers['workflow-run-id'] === id)),
    90_000,
    'all webhooks',
  );
  for (const id of ids) {
    const ids = new Set(
      receiver
        .to(path)
        .filter((r) => r.headers['workflow-run-id'] === id)
        .map((r) => r.headers['webhook-id']),
    );
    // Every request for one run — retried after a kill or not — carries the same id.
    assert.equal(ids.size, 1, `one webhook-id across ${id}'s deliveries: ${[...ids].join(', ')}`);
  }
}

/** Steps `worker` started and had not finished: after it is killed, the steps the kill interrupted. */
function inFlight(worker: string): Array<{ runId: string; step: number }> {
  const mine = observations.filter((o) => o.worker === worker);
  return mine
    .filter((o) => o.kind === 'start')
    .filter((s) => !mine.some((o) => o.kind === 'end' && o.runId === s.runId && o.step === s.step))
    .map(({ runId, step }) => ({ runId, step }));
}

test('worker SIGKILLed 10 times mid-step: 50/50 runs complete, every interrupted step runs again, none skipped', async () => {
  let current = await startWorker('killed-0');
  const ids = await submitBatch('kill', 50, { runner: 'steps', input: { steps: 5 } });
  /** Per kill: the steps that were running on the worker when it died (by its own start/end reports). */
  const kills: Array<{ worker: string; hit: Array<{ runId: string; step: number }> }> = [];
  // A fixed pseudo-random schedule: the moments differ, the test does not.
  const pauses = [700, 350, 1200, 500, 900, 450, 1100, 600, 800, 400];
  for (const [i, pause] of pauses.entries()) {
    const worker = `killed-${i}`;
    await eventually(
      () => observations.some((o) => o.worker === worker && o.kind === 'start'),
      60_000,
      `${worker} runs`,
    );
    await new Promise((r) => setTimeout(r, pause));
    // Then the first moment the worker is inside a step (a step takes 100–300 ms): after a kill,
    // runs whose workflow tasks sat on the dead worker's sticky queue stall for a while, so a
    // fixed pause alone often lands between steps.
    await eventually(() => inFlight(worker).length > 0, 60_000, `a step running on ${worker}`);
    await kill(current);
    // Read after the exit: a step whose end report had not been acknowledged never returned.
    kills.push({ worker, hit: inFlight(worker) });
    current = await startWorker(`killed-${i + 1}`);
  }
  await allCompleted(ids, 180_000);

  // Every kill interrupted at least one running step (the fault happened), and each interrupted
  // step ran again, to its end, on a later worker (at-least-once).
  const summary = kills.map((k) => k.hit.length);
  assert.ok(
    kills.every((k) => k.hit.length > 0),
    `steps running at each kill: ${summary.join(', ')}`,
  );
  for (const { worker, hit } of kills) {
    for (const { runId, step } of hit) {
      const rerun = observations.some(
        (o) => o.kind === 'end' && o.runId === runId && o.step === step && o.worker !== worker,
      );
      assert.ok(rerun, `step ${step} of ${runId}, interrupted on ${worker}, ran again to its end`);
    }
  }
  // No step skipped: each run started steps 0–4, each of them ran to its end, and the run ended
  // succeeded at step 4.
  for (const id of ids) {
    assert.deepEqual(stepsSeen(id), [0, 1, 2, 3, 4], `steps of ${id}`);
    const ended = new Set(observations.filter((o) => o.kind === 'end' && o.runId === id).map((o) => o.step));
    assert.deepEqual(
      [...ended].sort((a, b) => a - b),
      [0, 1, 2, 3, 4],
      `steps of ${id} that ran to their end`,
    );
    assert.equal((await client.result(id)).finalStep, 4, `final step of ${id}`);
  }
  await allWebhooksOnce(ids, '/hook/kill');
  const reruns = ids.reduce(
    (n, id) => n + observations.filter((o) => o.kind === 'start' && o.runId === id).length - 5,
    0,
  );
  process.stdout.write(
    `# kills: ${kills.length}; steps running at each kill: ${summary.join(', ')}; step starts beyond one per step: ${reruns}; deliveries: ${receiver.to('/hook/kill').length}\n`,
  );
  await kill(current);
});

test('two workers on one task queue share the steps; killing one mid-batch loses nothing', async () => {
  const a = await startWorker('pair-a');
  const b = await startWorker('pair-b');
  const ids = await submitBatch('pair', 30, { runner: 'steps', input: { steps: 5 } });
  await eventually(
    () => ['pair-a', 'pair-b'].every((w) => observations.some((o) => o.worker === w && o.kind === 'end')),
    60_000,
  );
  await kill(b);
  await allCompleted(ids, 120_000);
  const byWorker = (w: string) =>
    observations.filter((o) => o.worker === w && o.kind === 'start' && o.runId.startsWith('pair-')).length;
  assert.ok(byWorker('pair-a') > 0 && byWorker('pair-b') > 0, `steps: a=${byWorker('pair-a')} b=${byWorker('pair-b')}`);
  for (const id of ids) assert.deepEqual(stepsSeen(id), [0, 1, 2, 3, 4]);
  await allWebhooksOnce(ids, '/hook/pair');
  await kill(a);
});

test('SIGTERM during a step lets it finish within the grace period; the run goes on when a worker returns', async () => {
  const w = await startWorker('graceful', { SHUTDOWN_GRACE_MS: '10000' });
  const [id] = await submitBatch('graceful', 1, { runner: 'long', input: { ms: 3000 } });
  await eventually(() => observations.some((o) => o.runId === id && o.kind === 'start' && o.step === 0));
  assert.equal(await kill(w, 'SIGTERM'), 0, 'clean exit');
  const ends = observations.filter((o) => o.runId === id && o.kind === 'end' && o.step === 0);
  assert.deepEqual(
    ends.map((o) => o.worker),
    ['graceful'],
    'step 0 finished on the stopping worker',
  );
  const waiting = await client.temporal.workflow.getHandle(id!).describe();
  assert.equal(waiting.status.name, 'RUNNING', 'the run waits for a worker');
  const back = await startWorker('graceful-2');
  await allCompleted([id!], 60_000);
  assert.equal(
    observations.filter((o) => o.runId === id && o.kind === 'start' && o.step === 0).length,
    1,
    'step 0 ran once',
  );
  await kill(back);
});

test('server stopped mid-batch and started again on the same SQLite file: all runs complete, all webhooks arrive', async () => {
  const w = await startWorker('restart');
  const ids = await submitBatch('restart', 20, { runner: 'steps', input: { steps: 5 } });
  await eventually(() => observations.filter((o) => o.kind === 'end' && o.runId.startsWith('restart-')).length >= 20);
  await server.restart();
  await allCompleted(ids, 180_000);
  for (const id of ids) assert.deepEqual(stepsSeen(id), [0, 1, 2, 3, 4]);
  await allWebhooksOnce(ids, '/hook/restart');
  await kill(w);
});

test('receiver down for 20 s (connection refused): every pending delivery arrives after it returns; 410 gets one attempt', async () => {
  const port = await freePort();
  const w = await startWorker('outage');
  const down = Date.now();
  const ids = Array.from({ length: 10 }, (_, i) => `outage-${i}`);
  await Promise.all(
    ids.map((runId) =>
      client.submit({
        runId,
        runner: 'steps',
        input: { steps: 1 },
        headers: { callback_url: `http://127.0.0.1:${port}/late` },
      }),
    ),
  );
  const gone = await client.submit({
    runId: 'outage-gone',
    runner: 'steps',
    input: { steps: 1 },
    headers: { callback_url: `${receiver.url}/gone` },
  });
  await allCompleted([...ids, gone.runId], 60_000);
  await eventually(
    async () => (await client.webhookStatus(ids[0]!))?.lastError?.includes('ECONNREFUSED') ?? false,
    30_000,
  );
  await new Promise((r) => setTimeout(r, Math.max(0, 20_000 - (Date.now() - down))));
  const late = await startReceiver(() => ({ status: 200 }), undefined, port);
  try {
    await eventually(
      () => ids.every((id) => late.requests.some((r) => r.headers['workflow-run-id'] === id)),
      60_000,
      'late deliveries',
    );
    for (const id of ids) assert.equal((await client.webhookStatus(id))?.state === 'failed', false);
    assert.equal(receiver.to('/gone').length, 1, '410: exactly one attempt');
    assert.equal((await client.webhookStatus(gone.runId))?.state, 'failed');
  } finally {
    await late.close();
    await kill(w);
  }
});

test('a step longer than the heartbeat timeout completes; its worker dying sends it to another worker', async () => {
  const a = await startWorker('long-a');
  const [quiet] = await submitBatch('long', 1, { runner: 'long', input: { ms: 5000 } });
  await allCompleted([quiet!], 60_000);
  assert.equal(
    observations.filter((o) => o.runId === quiet && o.kind === 'start' && o.step === 0).length,
    1,
    'one attempt, kept alive by the wrapper',
  );
  const b = await startWorker('long-b');
  const [moved] = await submitBatch('moved', 1, { runner: 'long', input: { ms: 6000 } });
  await eventually(() => observations.some((o) => o.runId === moved && o.kind === 'start'));
  const first = observations.find((o) => o.runId === moved && o.kind === 'start')!;
  await kill(first.worker === 'long-a' ? a : b);
  await allCompleted([moved!], 60_000);
  const starts = observations
    .filter((o) => o.runId === moved && o.kind === 'start' && o.step === 0)
    .map((o) => o.worker);
  assert.equal(starts.length, 2);
  assert.notEqual(starts[1], starts[0], 'retried on the other worker');
  await kill(a);
  await kill(b);
});
