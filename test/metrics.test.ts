/**
 * `DURABLE_RUNS_METRICS=host:port`: a real `durable-runs worker` process on a real dev server
 * serves Prometheus text with Temporal's worker metrics and the durable-runs metrics, whose counts
 * match the runs it ran (every outcome, a step retry, delivered, retried and refused webhooks).
 * Everything talks over loopback.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Connection } from '@temporalio/client';
import { Runtime } from '@temporalio/worker';
import { ConfigError, installMetrics, MetricName, RunsClient } from '../src';
import { loadMetricsConfig } from '../src/observability';
import { startDevServer, type DevServer } from '../src/local/dev-server';
import { freePort } from '../src/local/dev-server';
import { byLabel, parsePrometheus, type Series, sum } from './helpers/prometheus';
import { startReceiver, type Receiver } from '../support/receiver';
import { eventually } from '../support/wait';

const BIN = join(__dirname, '..', 'bin', 'durable-runs.js');
const TASK_QUEUE = 'metrics';
const dir = mkdtempSync(join(tmpdir(), 'metrics-'));
// TypeScript, so that it loads the sources through tsx whether the bin runs lib/ or src/.
const runnersFile = join(dir, 'runners.ts');
writeFileSync(
  runnersFile,
  `const { StepError, StepOutcome } = require(${JSON.stringify(join(__dirname, '..', 'src'))});
module.exports = {
  twoSteps: async (s) => (s.stepNumber === 0 ? StepOutcome.continue(s.payload) : StepOutcome.succeed('ok')),
  flaky: async (s) => {
    if (s.attempt === 1) throw StepError.transient('the network blinked');
    return StepOutcome.succeed('ok');
  },
  fails: async () => StepOutcome.fail('nope'),
  permanent: async () => {
    throw StepError.permanent('broken for good');
  },
  cancels: async () => StepOutcome.cancel('changed my mind'),
  waits: async (s) => (s.stepNumber === 0 ? StepOutcome.waitForEvent(s.payload, { events: ['go'] }) : StepOutcome.succeed('never')),
  // Three steps that report usage; step 1's first attempt reports, then fails.
  spends: async (s) => {
    if (s.stepNumber === 0) {
      s.usage({ model: 'model-a', inputTokens: 100, outputTokens: 20, costUsd: 0.01 });
      return StepOutcome.continue(null);
    }
    if (s.stepNumber === 1) {
      s.usage({ model: 'model-b', inputTokens: 50, outputTokens: 5, costUsd: 0.02 });
      if (s.attempt === 1) throw StepError.transient('429 from the provider');
      return StepOutcome.continue(null);
    }
    s.usage({ inputTokens: 10, outputTokens: 1, costUsd: 0.005 });
    return StepOutcome.succeed('spent');
  },
};`,
);

let server: DevServer;
let receiver: Receiver;
let client: RunsClient;
let worker: ChildProcess | undefined;
let workerOutput = '';
let metricsUrl: string;

before(async () => {
  server = await startDevServer();
  // Webhooks: /ok answers 200, /flaky 503 once then 200, /gone 410 (given up at once), /down 503 always.
  receiver = await startReceiver((path, n) =>
    path === '/gone'
      ? { status: 410 }
      : path === '/down' || (path === '/flaky' && n === 1)
        ? { status: 503 }
        : { status: 200 },
  );
  client = await RunsClient.connect({
    connection: await Connection.connect({ address: server.address }),
    taskQueue: TASK_QUEUE,
  });
});

after(async () => {
  worker?.kill('SIGKILL');
  await client?.temporal.connection.close();
  await receiver?.close();
  await server?.stop();
});

function cli(args: string[], env: Record<string, string>) {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    timeout: 60_000,
  });
  return { code: result.status, stderr: result.stderr };
}

async function scrape(): Promise<Series[]> {
  const res = await fetch(metricsUrl);
  assert.equal(res.status, 200);
  return parsePrometheus(await res.text());
}

test('DURABLE_RUNS_METRICS is checked: host:port with an IP address (or localhost) and a port', () => {
  assert.equal(loadMetricsConfig({}), undefined);
  assert.equal(loadMetricsConfig({ DURABLE_RUNS_METRICS: ' ' }), undefined);
  assert.deepEqual(loadMetricsConfig({ DURABLE_RUNS_METRICS: '0.0.0.0:9464' }), { bindAddress: '0.0.0.0:9464' });
  assert.deepEqual(loadMetricsConfig({ DURABLE_RUNS_METRICS: 'localhost:9464' }), { bindAddress: '127.0.0.1:9464' });
  assert.deepEqual(loadMetricsConfig({ DURABLE_RUNS_METRICS: '[::1]:9464' }), { bindAddress: '[::1]:9464' });
  const bad: Array<[string, string]> = [
    ['9464', 'DURABLE_RUNS_METRICS: must be host:port, e.g. 127.0.0.1:9464 (got "9464")'],
    [
      'http://127.0.0.1:9464',
      'DURABLE_RUNS_METRICS: must be host:port, e.g. 127.0.0.1:9464 (got "http://127.0.0.1:9464")',
    ],
    ['127.0.0.1:', 'DURABLE_RUNS_METRICS: port must be 1–65535 (got "")'],
    ['127.0.0.1:70000', 'DURABLE_RUNS_METRICS: port must be 1–65535 (got "70000")'],
    ['127.0.0.1:0', 'DURABLE_RUNS_METRICS: port must be 1–65535 (got "0")'],
    [
      'metrics.example.com:9464',
      'DURABLE_RUNS_METRICS: host must be an IP address or localhost, e.g. 127.0.0.1:9464 or 0.0.0.0:9464 (got "metrics.example.com")',
    ],
    ['[nope]:9464', 'DURABLE_RUNS_METRICS: [nope] is not an IPv6 address'],
  ];
  for (const [value, message] of bad) {
    assert.throws(
      () => loadMetricsConfig({ DURABLE_RUNS_METRICS: value }),
      (err: Error) => err instanceof ConfigError && err.message === message,
      value,
    );
  }
});

test('worker and dev refuse a bad DURABLE_RUNS_METRICS or a taken port at start-up, exit code 2', async () => {
  const bad = cli(['worker', '--runners', 'examples/runners.ts'], { DURABLE_RUNS_METRICS: 'localhost:99999' });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^durable-runs: DURABLE_RUNS_METRICS: port must be 1–65535 \(got "99999"\)$/m);

  // `dev` checks it before it starts a dev server.
  const devPort = await freePort();
  const dev = cli(['dev', '--runners', 'examples/runners.ts', '--port', String(devPort), '--data-dir', dir], {
    DURABLE_RUNS_METRICS: '127.0.0.1',
  });
  assert.equal(dev.code, 2);
  assert.match(
    dev.stderr,
    /^durable-runs: DURABLE_RUNS_METRICS: must be host:port, e.g. 127\.0\.0\.1:9464 \(got "127\.0\.0\.1"\)$/m,
  );
  assert.doesNotMatch(dev.stderr, /Temporal dev server/);

  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const { port } = taken.address() as { port: number };
  try {
    const busy = cli(['worker', '--runners', 'examples/runners.ts'], { DURABLE_RUNS_METRICS: `127.0.0.1:${port}` });
    assert.equal(busy.code, 2);
    assert.match(
      busy.stderr,
      new RegExp(
        `^durable-runs: DURABLE_RUNS_METRICS: cannot serve metrics on 127\\.0\\.0\\.1:${port}: .*Address already in use`,
        'm',
      ),
    );
  } finally {
    taken.close();
  }
});

test('a worker process serves Temporal metrics and counts steps, closed runs and deliveries exactly', async () => {
  const port = await freePort();
  metricsUrl = `http://127.0.0.1:${port}/metrics`;
  worker = spawn(process.execPath, [BIN, 'worker', '--runners', runnersFile], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_TASK_QUEUE: TASK_QUEUE,
      DURABLE_RUNS_METRICS: `127.0.0.1:${port}`,
      DURABLE_RUNS_WEBHOOK_ALLOW_PRIVATE: '1',
      DURABLE_RUNS_WEBHOOK_BASE_DELAY_MS: '50',
      DURABLE_RUNS_WEBHOOK_MAX_RETRIES: '2',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  worker.stderr!.on('data', (d: Buffer) => (workerOutput += d.toString()));
  await eventually(
    () => workerOutput.includes(`durable-runs worker: Prometheus metrics on ${metricsUrl}`),
    120_000,
    'the worker says where its metrics are',
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n--- worker output ---\n${workerOutput.slice(-3000)}`);
  });

  const hook = (path: string) => ({ callback_url: `${receiver.url}${path}` });
  await client.submit({ runId: 'two-steps', runner: 'twoSteps', input: 1, headers: hook('/ok') });
  await client.submit({ runId: 'flaky', runner: 'flaky', input: 1, headers: hook('/flaky') });
  await client.submit({ runId: 'fails', runner: 'fails', input: 1, headers: hook('/gone') });
  await client.submit({ runId: 'permanent', runner: 'permanent', input: 1, headers: hook('/down') });
  await client.submit({ runId: 'cancels', runner: 'cancels', input: 1 });
  await client.submit({ runId: 'waits', runner: 'waits', input: 1 });
  await eventually(async () => (await client.status('waits')).state === 'waiting');
  assert.equal(await client.cancel('waits'), true);

  const statuses = Object.fromEntries(
    await Promise.all(
      ['two-steps', 'flaky', 'fails', 'permanent', 'cancels', 'waits'].map(
        async (id) => [id, (await client.result(id)).status] as const,
      ),
    ),
  );
  assert.deepEqual(statuses, {
    'two-steps': 'succeeded',
    flaky: 'succeeded',
    fails: 'failed',
    permanent: 'failed',
    cancels: 'cancelled',
    waits: 'cancelled',
  });
  await eventually(async () => (await client.webhookStatus('two-steps'))?.state === 'delivered');
  await eventually(async () => (await client.webhookStatus('flaky'))?.state === 'delivered');
  await eventually(async () => (await client.webhookStatus('fails'))?.state === 'failed');
  await eventually(async () => (await client.webhookStatus('permanent'))?.state === 'failed');
  // Two retries allowed: /down gets three attempts, the last one counted as failed.
  assert.deepEqual(
    ['/ok', '/flaky', '/gone', '/down'].map((path) => receiver.to(path).length),
    [1, 2, 1, 3],
  );

  // Workflow metrics leave the sandbox after the activation that made them: wait for the totals.
  let series: Series[] = [];
  await eventually(async () => {
    series = await scrape();
    return sum(series, MetricName.RunsClosedTotal) >= 6 && sum(series, MetricName.WebhookDeliveriesTotal) >= 7;
  }, 30_000).catch((err: Error) => {
    throw new Error(
      `${err.message}\n--- last scrape ---\n${JSON.stringify(
        series.filter((s) => s.name.startsWith('durable_runs')),
        null,
        1,
      )}`,
    );
  });

  assert.deepEqual(byLabel(series, MetricName.RunsClosedTotal, 'status'), { succeeded: 2, failed: 2, cancelled: 2 });
  assert.deepEqual(byLabel(series, MetricName.WebhookDeliveriesTotal, 'result'), { delivered: 2, retry: 3, failed: 2 });
  const steps = Object.fromEntries(
    series
      .filter((s) => s.name === MetricName.StepsTotal)
      .map((s) => [`${s.labels.runner}/${s.labels.outcome}`, s.value]),
  );
  const expected = {
    'twoSteps/continue': 1,
    'twoSteps/succeed': 1,
    'flaky/error': 1,
    'flaky/succeed': 1,
    'fails/fail': 1,
    'permanent/permanent_error': 1,
    'cancels/cancel': 1,
    'waits/wait_for_event': 1,
  };
  assert.deepEqual(steps, expected);
  // One duration per step attempt, in seconds, in the buckets durable-runs sets for it.
  const durations = `${MetricName.StepDurationSeconds}_count`;
  for (const [key, count] of Object.entries(expected)) {
    const [runner, outcome] = key.split('/') as [string, string];
    assert.equal(sum(series, durations, { runner, outcome }), count, key);
  }
  const buckets = series.filter((s) => s.name === `${MetricName.StepDurationSeconds}_bucket`);
  assert.ok(buckets.some((s) => s.labels.le === '0.005') && buckets.some((s) => s.labels.le === '3600'));
  assert.ok(sum(series, `${MetricName.StepDurationSeconds}_sum`) > 0);
  assert.ok(
    sum(series, `${MetricName.StepDurationSeconds}_sum`) < 60,
    'durations are in seconds (these steps take milliseconds)',
  );
  // Temporal's metric meter tags them as the TypeScript SDK tags custom metrics (camelCase keys).
  for (const name of [MetricName.StepsTotal, MetricName.RunsClosedTotal, MetricName.WebhookDeliveriesTotal]) {
    const tagged = series.filter((s) => s.name === name);
    assert.ok(
      tagged.length > 0 && tagged.every((s) => s.labels.taskQueue === TASK_QUEUE && s.labels.namespace === 'default'),
      name,
    );
  }

  // Temporal's own worker metrics on the same endpoint.
  assert.ok(
    sum(series, 'temporal_workflow_completed', { workflow_type: 'durableRun' }) >= 2,
    `temporal_workflow_completed: ${JSON.stringify(series.filter((s) => s.name === 'temporal_workflow_completed'))}`,
  );
  assert.ok(sum(series, 'temporal_activity_execution_latency_count', { activity_type: 'runStep' }) >= 8);
  assert.ok(series.some((s) => s.name === 'temporal_worker_task_slots_available'));
});

test('usage: totals exact across 3 steps and a failed attempt, in status, outcome and the worker metrics', async () => {
  await client.submit({ runId: 'spends', runner: 'spends', input: null });
  const outcome = await client.result('spends');
  assert.equal(outcome.status, 'succeeded');
  const expected = {
    total: { inputTokens: 210, outputTokens: 31, costUsd: 0.055 },
    byModel: {
      'model-a': { inputTokens: 100, outputTokens: 20, costUsd: 0.01 },
      // Both attempts of step 1: the failed one's usage counts.
      'model-b': { inputTokens: 100, outputTokens: 10, costUsd: 0.04 },
    },
  };
  assert.deepEqual(outcome.usage, expected);
  assert.deepEqual((await client.status('spends')).usage, expected);

  const series = await scrape();
  const tokens = Object.fromEntries(
    series
      .filter((s) => s.name === MetricName.TokensTotal && s.labels.runner === 'spends')
      .map((s) => [`${s.labels.model}/${s.labels.kind}`, s.value]),
  );
  assert.deepEqual(tokens, {
    'model-a/input': 100,
    'model-a/output': 20,
    'model-b/input': 100,
    'model-b/output': 10,
    'unspecified/input': 10,
    'unspecified/output': 1,
  });
  const cost = Object.fromEntries(
    series
      .filter((s) => s.name === MetricName.CostUsdTotal && s.labels.runner === 'spends')
      .map((s) => [s.labels.model, s.value]),
  );
  assert.deepEqual(cost, { 'model-a': 0.01, 'model-b': 0.04, unspecified: 0.005 });
});

test('installMetrics() refuses a process whose Temporal runtime already exists, saying what to do', () => {
  // This test process has no runtime yet: it has only used client connections.
  Runtime.instance();
  assert.throws(
    () => installMetrics({ bindAddress: '127.0.0.1:9' }),
    (err: Error) =>
      err instanceof ConfigError &&
      /^DURABLE_RUNS_METRICS: a Temporal runtime already exists in this process \(created by an earlier connection or worker\).*call installMetrics\(\) before creating any connection or worker/.test(
        err.message,
      ),
  );
});
