/**
 * Journaled effects, live progress, events and child runs on a real dev server, with workers as child
 * processes: a memo survives a SIGKILL right after it returned and a transient retry (a counter on
 * a loopback HTTP observer proves the effect ran once); progress shows in status() mid-step and
 * adds no history events; an event sent with the Temporal CLI wakes a wait.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { RunsClient } from '../src/client';
import { workflowBundle } from '../src/testing';
import { type DevServer, startDevServer } from '../src/local/dev-server';
import { temporalCli } from './helpers/temporal-cli';
import { eventually } from '../support/wait';

const exec = promisify(execFile);
const FIXTURE = join(__dirname, 'fixtures', 'memo-worker.ts');
const TASK_QUEUE = 'durable-runs';
let server: DevServer;
let client: RunsClient;
let observer: Server;
let observerUrl: string;
let bundlePath: string;
const seen: Array<{ path: string; worker: string; runId?: string; done?: number }> = [];
const charges = new Map<string, number>();
const workers = new Set<ChildProcess>();

before(async () => {
  server = await startDevServer();
  bundlePath = join(mkdtempSync(join(tmpdir(), 'bundle-')), 'workflows.js');
  writeFileSync(bundlePath, (await workflowBundle()).code);
  observer = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const data = JSON.parse(body) as { worker: string; runId?: string; done?: number };
      seen.push({ path: req.url!, ...data });
      let reply: unknown = {};
      if (req.url === '/charge') {
        const n = (charges.get(data.runId!) ?? 0) + 1;
        charges.set(data.runId!, n);
        reply = { chargeId: `ch_${data.runId}_${n}` };
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(reply));
    });
  });
  await new Promise<void>((resolve) => observer.listen(0, '127.0.0.1', resolve));
  observerUrl = `http://127.0.0.1:${(observer.address() as { port: number }).port}`;
  client = await RunsClient.connect({ address: server.address, taskQueue: TASK_QUEUE });
});

after(async () => {
  for (const w of workers) w.kill('SIGKILL');
  await client?.close();
  await server?.stop();
  observer?.closeAllConnections();
  observer?.close();
});

async function startWorker(name: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_TASK_QUEUE: TASK_QUEUE,
      WORKER_NAME: name,
      OBSERVER_URL: observerUrl,
      WORKFLOW_BUNDLE: bundlePath,
      DURABLE_RUNS_TEST_LOG_LEVEL: 'ERROR',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  workers.add(child);
  child.once('exit', () => workers.delete(child));
  await eventually(() => seen.some((o) => o.path === '/ready' && o.worker === name), 60_000, `${name} ready`);
  return child;
}

async function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
}

const historyLength = async (runId: string) =>
  (await client.temporal.workflow.getHandle(runId).fetchHistory()).events?.length ?? 0;

test('SIGKILL right after a memo returned: the next attempt, on another worker, gets the recorded value', async () => {
  const dies = await startWorker('dies');
  const { runId } = await client.submit({
    runId: 'memo-kill',
    input: null,
    runner: 'charge',
    heartbeatTimeoutMs: 2000,
  });
  await eventually(() => seen.some((o) => o.path === '/memo-returned' && o.runId === runId), 60_000);
  await stop(dies, 'SIGKILL');
  const survivor = await startWorker('survivor');
  try {
    const outcome = await client.result(runId);
    assert.deepEqual(
      { status: outcome.status, result: outcome.result },
      {
        status: 'succeeded',
        result: { chargeId: 'ch_memo-kill_1' },
      },
    );
    assert.equal(charges.get(runId), 1, 'the card was charged once');
    const returned = seen.filter((o) => o.path === '/memo-returned' && o.runId === runId);
    assert.deepEqual(
      returned.map((o) => o.worker),
      ['dies', 'survivor'],
      'the step ran again on the other worker, and its memo returned the recorded charge',
    );
  } finally {
    await stop(survivor, 'SIGTERM');
  }
});

test('a memo across a transient retry: recorded once, returned to the next attempt', async () => {
  const w = await startWorker('retry');
  try {
    const { runId } = await client.submit({ runId: 'memo-retry', input: null, runner: 'flaky' });
    const outcome = await client.result(runId);
    assert.deepEqual(outcome.result, { charge: { chargeId: 'ch_memo-retry_1' }, email: { sent: true }, attempt: 2 });
    assert.equal(charges.get(runId), 1);
    // What a memo costs: one update each (accepted and completed), and the workflow task it wakes.
    const history = await client.temporal.workflow.getHandle(runId).fetchHistory();
    const updates = history.events?.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes) ?? [];
    assert.equal(updates.length, 2, 'one update per memo');
    assert.equal(history.events?.filter((e) => e.workflowExecutionSignaledEventAttributes).length, 0);
  } finally {
    await stop(w, 'SIGTERM');
  }
});

test('progress shows in status() mid-step and adds no history events', async () => {
  const w = await startWorker('progress');
  try {
    const { runId } = await client.submit({
      runId: 'progress-1',
      input: null,
      runner: 'progress',
      heartbeatTimeoutMs: 3000,
    });
    await eventually(
      async () => ((await client.status(runId)).progress as { done?: number } | undefined)?.done === 2,
      60_000,
    );
    const lengthAt2 = await historyLength(runId);
    await eventually(
      async () => ((await client.status(runId)).progress as { done?: number } | undefined)?.done === 4,
      60_000,
    );
    assert.deepEqual((await client.status(runId)).progress, { done: 4, total: 4 });
    assert.equal(await historyLength(runId), lengthAt2, 'progress updates add no history events');
    assert.equal((await client.result(runId)).result, 'all done');
  } finally {
    await stop(w, 'SIGTERM');
  }
});

test('durable-runs send wakes a wait; status shows the wait; a closed run exits 1', async () => {
  const w = await startWorker('send');
  const bin = join(__dirname, '..', 'bin', 'durable-runs.js');
  const env = { ...process.env, TEMPORAL_ADDRESS: server.address, TEMPORAL_TASK_QUEUE: TASK_QUEUE };
  const cli = (...args: string[]) =>
    exec(process.execPath, [bin, ...args], { env, timeout: 60_000 }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
  try {
    const { runId } = await client.submit({ runId: 'cli-send', input: 'draft', runner: 'approval' });
    await eventually(async () => (await client.status(runId)).state === 'waiting', 60_000);
    const status = await cli('status', runId);
    assert.match(status.stdout, /cli-send {2}waiting {2}step 0 .*waiting for approve or reject until \d{4}-/);
    const sent = await cli('send', runId, 'reject', '{"note":"shorter"}', '--id', 'r-1', '--json');
    assert.equal(sent.code, 0);
    assert.deepEqual(JSON.parse(sent.stdout), { runId, name: 'reject', sent: true, result: 'accepted' });
    const outcome = await client.result(runId);
    assert.deepEqual((outcome.result as { event: { name: string; data: unknown; id: string } }).event.id, 'r-1');
    const late = await cli('send', runId, 'approve');
    assert.equal(late.code, 1);
    assert.match(late.stdout, /not running \(unknown or already closed\)/);
  } finally {
    await stop(w, 'SIGTERM');
  }
});

test('child run IDs are stable: SIGKILL the worker while children start, and no child runs twice', async () => {
  const dies = await startWorker('fanout-dies');
  const { runId } = await client.submit({ runId: 'fanout', input: null, runner: 'fanout', heartbeatTimeoutMs: 2000 });
  await eventually(() => seen.some((o) => o.path === '/child-start' && o.runId?.startsWith('fanout-0-')), 60_000);
  await stop(dies, 'SIGKILL');
  const survivor = await startWorker('fanout-survivor');
  try {
    const outcome = await client.result(runId);
    const ids = Array.from({ length: 5 }, (_, i) => `fanout-0-${i}`);
    assert.deepEqual(
      outcome.result,
      ids.map((id) => `${id}:succeeded`),
    );
    for (const id of ids) {
      const executions = [];
      for await (const e of client.temporal.workflow.list({ query: `WorkflowId = '${id}'` })) executions.push(e.runId);
      assert.equal(executions.length, 1, `${id} started once`);
    }
    await eventually(async () => (await client.list({ parent: runId })).length === 5, 30_000);
  } finally {
    await stop(survivor, 'SIGTERM');
  }
});

test('an event sent with the Temporal CLI wakes a wait', async () => {
  const w = await startWorker('events');
  try {
    const { runId } = await client.submit({ runId: 'cli-event', input: 'draft', runner: 'approval' });
    await eventually(async () => (await client.status(runId)).state === 'waiting', 60_000);
    const { temporal } = temporalCli(() => server.address);
    await temporal(
      'workflow',
      'signal',
      '--workflow-id',
      runId,
      '--name',
      'event',
      '--input',
      '{"name":"approve","data":{"by":"cli"},"id":"cli-1"}',
    );
    const outcome = await client.result(runId);
    const result = outcome.result as {
      event: { name: string; data: unknown; id: string; receivedAt: string };
      payload: unknown;
    };
    assert.deepEqual(
      { name: result.event.name, data: result.event.data, id: result.event.id, payload: result.payload },
      {
        name: 'approve',
        data: { by: 'cli' },
        id: 'cli-1',
        payload: 'draft',
      },
    );
    assert.ok(!Number.isNaN(Date.parse(result.event.receivedAt)));
  } finally {
    await stop(w, 'SIGTERM');
  }
});
