/**
 * `OTEL_EXPORTER_OTLP_ENDPOINT`: the `durable-runs submit` process, a worker process and a real
 * dev server send OpenTelemetry spans (OTLP/HTTP JSON) to a receiver on loopback; the submit, the
 * run, its steps and its webhook delivery are one trace. Also: workers built from a prebuilt
 * bundle, with and without tracing, and recorded histories replaying with the tracing interceptors.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { context, trace } from '@opentelemetry/api';
import { Connection } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { ConfigError, ObservabilityPlugin, RunsClient } from '../src';
import { loadTracingConfig, startTracing } from '../src/observability';
import { workflowBundle } from '../src/testing';
import { payloadConverterPath } from '../src/worker';
import { startDevServer, type DevServer } from '../src/local/dev-server';
import { startReceiver, type Receiver } from '../support/receiver';
import { eventually } from '../support/wait';

const exec = promisify(execFile);
const BIN = join(__dirname, '..', 'bin', 'durable-runs.js');
const RUNNERS = join(__dirname, 'fixtures', 'obs-runners.ts');
const FIXTURE = join(__dirname, 'fixtures', 'obs-worker.ts');

let server: DevServer;
let otlp: Receiver;
let hooks: Receiver;
let client: RunsClient;
const workers = new Set<ChildProcess>();

/** The environment without anything OpenTelemetry or metrics from the machine running the tests. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('OTEL_') && key !== 'DURABLE_RUNS_METRICS') env[key] = value;
  }
  return { ...env, TEMPORAL_ADDRESS: server.address, DURABLE_RUNS_WEBHOOK_ALLOW_PRIVATE: '1', ...extra };
}

before(async () => {
  server = await startDevServer();
  otlp = await startReceiver(() => ({ status: 200, headers: { 'content-type': 'application/json' }, body: '{}' }));
  hooks = await startReceiver();
  client = await RunsClient.connect({ connection: await Connection.connect({ address: server.address }) });
});

after(async () => {
  for (const w of workers) w.kill('SIGKILL');
  await client?.temporal.connection.close();
  await otlp?.close();
  await hooks?.close();
  await server?.stop();
});

interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  service: string;
  attributes: Record<string, unknown>;
}

type OtlpValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
type OtlpAttributes = Array<{ key: string; value: OtlpValue }> | undefined;

function attributes(list: OtlpAttributes): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, value } of list ?? []) {
    out[key] =
      value.stringValue ??
      (value.intValue !== undefined ? Number(value.intValue) : (value.boolValue ?? value.doubleValue));
  }
  return out;
}

/** Every span the receiver got, from the OTLP/HTTP JSON bodies POSTed to /v1/traces. */
function receivedSpans(): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const request of otlp.to('/v1/traces')) {
    assert.equal(request.method, 'POST');
    assert.match(String(request.headers['content-type']), /^application\/json/);
    const body = JSON.parse(request.body.toString('utf8')) as {
      resourceSpans: Array<{
        resource: { attributes: OtlpAttributes };
        scopeSpans: Array<{
          spans: Array<{
            traceId: string;
            spanId: string;
            parentSpanId?: string;
            name: string;
            attributes: OtlpAttributes;
          }>;
        }>;
      }>;
    };
    for (const rs of body.resourceSpans) {
      const service = String(attributes(rs.resource.attributes)['service.name']);
      for (const ss of rs.scopeSpans) {
        for (const span of ss.spans) {
          out.push({
            traceId: span.traceId,
            spanId: span.spanId,
            parentSpanId: span.parentSpanId ?? '',
            name: span.name,
            service,
            attributes: attributes(span.attributes),
          });
        }
      }
    }
  }
  return out;
}

/** The spans of one trace by name, and a check that each of `names` is among them. */
function traceOf(traceId: string): ReceivedSpan[] {
  return receivedSpans().filter((s) => s.traceId === traceId);
}

function names(spans: ReceivedSpan[]): string[] {
  return spans.map((s) => s.name).sort();
}

async function startWorker(
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: string,
): Promise<ChildProcess & { output: () => string }> {
  let output = '';
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  workers.add(child);
  child.once('exit', () => workers.delete(child));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  await eventually(() => output.includes(ready), 120_000, `worker prints ${JSON.stringify(ready)}`).catch(
    (err: Error) => {
      throw new Error(`${err.message}\n--- worker output ---\n${output.slice(-3000)}`);
    },
  );
  return Object.assign(child, { output: () => output });
}

async function stop(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}

/** `durable-runs submit` in its own process, with tracing on; returns the run ID. */
async function submit(runId: string, taskQueue: string): Promise<void> {
  const { stdout } = await exec(
    process.execPath,
    [
      BIN,
      'submit',
      '{"go":true}',
      '--runner',
      'three',
      '--run-id',
      runId,
      '--header',
      `callback_url=${hooks.url}/${runId}`,
      '--json',
    ],
    { env: cleanEnv({ TEMPORAL_TASK_QUEUE: taskQueue, OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url }), timeout: 60_000 },
  );
  assert.deepEqual(JSON.parse(stdout), { runId, newlySubmitted: true });
}

/** The submit span of a run: the client's `StartWorkflow:durableRun` naming its workflow ID. */
function submitSpan(runId: string): ReceivedSpan | undefined {
  return receivedSpans().find(
    (s) => s.name === 'StartWorkflow:durableRun' && s.attributes.temporalWorkflowId === runId,
  );
}

test('the OTEL_* variables are read the standard way and checked', () => {
  assert.equal(loadTracingConfig({}), undefined);
  assert.deepEqual(loadTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), {
    url: 'http://collector:4318/v1/traces',
  });
  assert.deepEqual(loadTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otel.example/base/' }), {
    url: 'https://otel.example/base/v1/traces',
  });
  assert.deepEqual(
    loadTracingConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://traces:9999/custom',
    }),
    { url: 'http://traces:9999/custom' },
  );
  assert.equal(
    loadTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }),
    undefined,
  );
  assert.equal(
    loadTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' }),
    undefined,
  );
  assert.deepEqual(
    loadTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }),
    { url: 'http://c:4318/v1/traces' },
  );
  const bad: Array<[Record<string, string>, RegExp]> = [
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, /^OTEL_EXPORTER_OTLP_ENDPOINT: must be an http\(s\) URL/],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' }, /^OTEL_EXPORTER_OTLP_ENDPOINT: must be an http\(s\) URL/],
    [
      { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'ftp://x/' },
      /^OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: must be an http\(s\) URL/,
    ],
    [
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' },
      /^OTEL_EXPORTER_OTLP_PROTOCOL: durable-runs sends spans over OTLP\/HTTP \(JSON\), not grpc/,
    ],
    [
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'zipkin' },
      /^OTEL_TRACES_EXPORTER: durable-runs exports spans with otlp \(or none\), not zipkin/,
    ],
  ];
  for (const [env, message] of bad) {
    assert.throws(
      () => loadTracingConfig(env),
      (err: Error) => err instanceof ConfigError && message.test(err.message),
      JSON.stringify(env),
    );
  }
});

test('submit, run, steps and delivery are one trace; the worker flushes its spans when it stops', async () => {
  const taskQueue = 'tracing-cli';
  // Spans wait in the worker's batch for ten minutes: only the flush at shutdown can send them.
  const worker = await startWorker(
    [BIN, 'worker', '--runners', RUNNERS],
    cleanEnv({
      TEMPORAL_TASK_QUEUE: taskQueue,
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      OTEL_BSP_SCHEDULE_DELAY: '600000',
    }),
    `durable-runs worker: spans to ${otlp.url}/v1/traces`,
  );
  const runId = 'traced-cli';
  await submit(runId, taskQueue);
  // The submit process flushed before it exited.
  const submitted = submitSpan(runId);
  assert.ok(submitted, 'the submit span arrived from the submit process');
  assert.equal(submitted.service, 'durable-runs');
  assert.match(submitted.traceId, /^[0-9a-f]{32}$/);

  const outcome = await client.result(runId);
  assert.equal(outcome.status, 'succeeded');
  await eventually(async () => (await client.webhookStatus(runId))?.state === 'delivered');
  assert.equal(hooks.to(`/${runId}`).length, 1);
  assert.deepEqual(names(traceOf(submitted.traceId)), ['StartWorkflow:durableRun'], 'nothing from the worker yet');

  assert.equal(await stop(worker), 0);
  const spans = traceOf(submitted.traceId);
  const byName = (name: string) => spans.filter((s) => s.name === name);
  const one = (name: string): ReceivedSpan => {
    const found = byName(name);
    assert.equal(found.length, 1, `${name} in ${JSON.stringify(names(spans))}`);
    return found[0]!;
  };
  assert.ok(spans.every((s) => s.service === 'durable-runs'));

  // The run: a child of the submit span.
  const run = one('RunWorkflow:durableRun');
  assert.equal(run.parentSpanId, submitted.spanId);
  // Its steps: scheduled by the run, each executed under its schedule span, with the run's names.
  const scheduled = byName('StartActivity:runStep');
  assert.equal(scheduled.length, 3);
  assert.ok(scheduled.every((s) => s.parentSpanId === run.spanId));
  const steps = byName('RunActivity:runStep').sort(
    (a, b) => Number(a.attributes['durable_runs.step']) - Number(b.attributes['durable_runs.step']),
  );
  assert.deepEqual(
    steps.map((s) => [
      s.attributes['durable_runs.step'],
      s.attributes['durable_runs.runner'],
      s.attributes['durable_runs.run_id'],
      s.attributes['durable_runs.attempt'],
    ]),
    [
      [0, 'three', runId, 1],
      [1, 'three', runId, 1],
      [2, 'three', runId, 1],
    ],
  );
  assert.ok(steps.every((s) => scheduled.some((p) => p.spanId === s.parentSpanId)));
  // A runner's own span, made with the global OpenTelemetry API, nests under its step.
  assert.equal(one('runner work').parentSpanId, steps[1]!.spanId);
  // The delivery: the terminal hooks start it, and its attempt names the run.
  const hooksSpan = one('RunActivity:runTerminalHooks');
  const startDelivery = one('StartWorkflow:webhookDelivery');
  assert.equal(startDelivery.parentSpanId, hooksSpan.spanId);
  const delivery = one('RunWorkflow:webhookDelivery');
  assert.equal(delivery.parentSpanId, startDelivery.spanId);
  const attempt = one('RunActivity:deliverWebhook');
  assert.equal(attempt.attributes['durable_runs.run_id'], runId);
  assert.equal(attempt.attributes['durable_runs.webhook_id'], hooks.to(`/${runId}`)[0]!.headers['webhook-id']);
});

test('a worker with a prebuilt bundle: traced when built with the interceptors, working without tracing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bundles-'));
  const traced = join(dir, 'traced.js');
  const plain = join(dir, 'plain.js');
  writeFileSync(traced, (await workflowBundle({ tracing: true })).code);
  writeFileSync(plain, (await workflowBundle()).code);

  // Traced bundle, tracing on: the run's spans join the submit's trace.
  let worker = await startWorker(
    ['--import', 'tsx', FIXTURE],
    cleanEnv({
      TEMPORAL_TASK_QUEUE: 'tracing-bundle',
      WORKFLOW_BUNDLE: traced,
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    }),
    'ready',
  );
  await submit('traced-bundle', 'tracing-bundle');
  assert.equal((await client.result('traced-bundle')).status, 'succeeded');
  const traceId = submitSpan('traced-bundle')!.traceId;
  await eventually(
    () => {
      const got = names(traceOf(traceId));
      return (
        got.includes('RunWorkflow:durableRun') &&
        got.filter((n) => n === 'RunActivity:runStep').length === 3 &&
        got.includes('RunActivity:deliverWebhook')
      );
    },
    30_000,
    'the run, its three steps and its delivery in the submit trace',
  );
  assert.equal(await stop(worker), 0);
  assert.doesNotMatch(worker.output(), /without the tracing workflow interceptors|unregistered external sink/);

  // Traced bundle, tracing off: runs as any worker (its workflow spans are dropped quietly).
  worker = await startWorker(
    ['--import', 'tsx', FIXTURE],
    cleanEnv({ TEMPORAL_TASK_QUEUE: 'untraced', WORKFLOW_BUNDLE: traced }),
    'ready',
  );
  const before = otlp.requests.length;
  const quiet = RunsClient.fromClient(client.temporal, 'untraced');
  await quiet.submit({
    runId: 'untraced',
    runner: 'three',
    input: 1,
    headers: { callback_url: `${hooks.url}/untraced` },
  });
  assert.equal((await quiet.result('untraced')).status, 'succeeded');
  await eventually(async () => (await quiet.webhookStatus('untraced'))?.state === 'delivered');
  assert.equal(await stop(worker), 0);
  assert.doesNotMatch(worker.output(), /unregistered external sink|External sink function threw/);
  assert.equal(otlp.requests.length, before, 'no spans without OTEL_EXPORTER_OTLP_ENDPOINT');

  // Plain bundle, tracing on: steps are still traced, and the worker says why runs are not.
  worker = await startWorker(
    ['--import', 'tsx', FIXTURE],
    cleanEnv({ TEMPORAL_TASK_QUEUE: 'plain', WORKFLOW_BUNDLE: plain, OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url }),
    'ready',
  );
  assert.equal(await stop(worker), 0);
  assert.match(
    worker.output(),
    /Tracing is on, but the workflow bundle was built without the tracing workflow interceptors/,
  );
});

test('recorded histories replay with the tracing interceptors built in', async () => {
  const root = join(__dirname, 'histories');
  const files = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 20);
  const results = Worker.runReplayHistories(
    {
      workflowBundle: await workflowBundle({ tracing: true }),
      dataConverter: { payloadConverterPath },
      plugins: [new ObservabilityPlugin(undefined)],
    },
    files.map((file) => ({
      workflowId: basename(file, '.json').replace(/@\d+$/, ''),
      history: JSON.parse(readFileSync(join(root, file), 'utf8')) as unknown,
    })),
  );
  const failures: string[] = [];
  let replayed = 0;
  for await (const result of results) {
    replayed++;
    if (result.error) failures.push(`${result.workflowId}: ${result.error.name}: ${result.error.message}`);
  }
  assert.equal(replayed, files.length);
  assert.deepEqual(failures, []);
});

// Last in this file: it starts tracing in the test process itself.
test('the context manager tracing registers binds EventEmitters: a listener runs in the context it was bound to', () => {
  const tracing = startTracing({ url: `${otlp.url}/v1/traces` });
  assert.ok(tracing);
  const span = tracing.tracer.startSpan('emitter-owner');
  const emitter = new EventEmitter();
  context.bind(trace.setSpan(context.active(), span), emitter);
  const seen: Array<string | undefined> = [];
  // Added after the bind, emitted outside any span: the listener still sees the bound span.
  emitter.on('data', () => seen.push(trace.getActiveSpan()?.spanContext().spanId));
  assert.equal(trace.getActiveSpan(), undefined);
  emitter.emit('data');
  span.end();
  assert.deepEqual(seen, [span.spanContext().spanId]);
});
