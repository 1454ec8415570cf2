/**
 * Terminal webhooks end to end: runs on the time-skipping server, deliveries to a real HTTP
 * receiver on 127.0.0.1. Gaps between attempts are measured on the server clock.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Webhook } from 'standardwebhooks';
import { StepOutcome, type StepRunner } from '../src';
import { createTestEnv, createTestKit, type TestKit } from '../src/testing';
import type { WebhookDeliveryStatus } from '../src/shared/webhook';
import { startReceiver, type Receiver, type Reply } from '../support/receiver';
import { eventually } from '../support/wait';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const VERSION = (require('../package.json') as { version: string }).version;

const runners: Record<string, StepRunner> = {
  json: async () => StepOutcome.succeed({ answer: 42, tags: ['a'] }),
  text: async () => StepOutcome.succeed('héllo wörld'),
  bytes: async () => StepOutcome.succeed(new Uint8Array([0, 1, 2, 250])),
  nothing: async () => StepOutcome.succeed(),
  fails: async () => StepOutcome.fail('card declined'),
  cancels: async () => StepOutcome.cancel('user left'),
  waits: async (step) => {
    await new Promise((resolve) => step.signal.addEventListener('abort', resolve));
    return StepOutcome.succeed('late');
  },
};

/** Scripts by path: a list of replies, the last one repeating. */
const scripts = new Map<string, Reply[]>();
function script(path: string, ...replies: Reply[]): string {
  scripts.set(path, replies);
  return path;
}

let env: TestWorkflowEnvironment;
let receiver: Receiver;
/** Default settings, signed; loopback allowed (the guard has its own tests below). */
let kit: TestKit;
/** Fast retries, small cap: for Retry-After and exhaustion. */
let capped: TestKit;
/** One attempt only. */
let single: TestKit;
/** The address guard on. */
let guarded: TestKit;
/** A second hook that fails once, so the webhook hook runs twice per run. */
let twice: TestKit;
const hookCalls = new Map<string, number>();

before(async () => {
  env = await createTestEnv();
  receiver = await startReceiver(
    (path, n) => {
      const replies = scripts.get(path) ?? [{ status: 200 }];
      return replies[Math.min(n, replies.length) - 1]!;
    },
    () => env.currentTimeMs(),
  );
  const base = { allowPrivate: true, secret: SECRET, timeoutMs: 2000 };
  kit = await createTestKit({ env, runners, webhook: { ...base, maxRetries: 3 } });
  capped = await createTestKit({
    env,
    runners,
    webhook: { ...base, maxRetries: 2, baseDelayMs: 100, maxDelayMs: 20_000 },
  });
  single = await createTestKit({ env, runners, webhook: { ...base, maxRetries: 0 } });
  guarded = await createTestKit({ env, runners, webhook: { ...base, allowPrivate: false, maxRetries: 3 } });
  const failsOnce = {
    onTermination(o: { runId: string }) {
      const n = (hookCalls.get(o.runId) ?? 0) + 1;
      hookCalls.set(o.runId, n);
      if (n === 1) throw new Error('first call fails');
    },
  };
  twice = await createTestKit({ env, runners, hooks: [failsOnce], webhook: { ...base, maxRetries: 3 } });
});

after(async () => {
  for (const k of [kit, capped, single, guarded, twice]) await k?.teardown();
  await env?.teardown();
  await receiver?.close();
});

/** Submits a run whose callback is `path` on the receiver (or `url`), returns its ID after it closed. */
async function run(k: TestKit, runner: string, callback: string): Promise<string> {
  const url = callback.startsWith('http') ? callback : `${receiver.url}${callback}`;
  const { runId } = await k.client.submit({ input: null, runner, headers: { callback_url: url } });
  await k.client.result(runId);
  return runId;
}

/** Waits for the run's delivery workflow to close, then reads its status. */
async function delivered(k: TestKit, runId: string): Promise<WebhookDeliveryStatus> {
  const handle = k.env.client.workflow.getHandle(`${runId}.webhook`);
  await eventually(async () => Boolean(await handle.describe()));
  await handle.result().catch(() => undefined);
  const status = await k.client.webhookStatus(runId);
  assert.ok(status);
  return status;
}

function verify(headers: Record<string, unknown>, body: Buffer | string): unknown {
  return new Webhook(SECRET).verify(body, headers as Record<string, string>, { jsonParse: false });
}

describe('request: headers, body and Content-Type per outcome', () => {
  const cases: Array<[string, string, string, string, Buffer]> = [
    ['json', 'succeeded', 'application/json', '/json', Buffer.from('{"answer":42,"tags":["a"]}')],
    ['text', 'succeeded', 'text/plain; charset=utf-8', '/text', Buffer.from('héllo wörld')],
    ['bytes', 'succeeded', 'application/octet-stream', '/bytes', Buffer.from([0, 1, 2, 250])],
    ['nothing', 'succeeded', 'application/json', '/nothing', Buffer.from('null')],
    ['fails', 'failed', 'text/plain; charset=utf-8', '/fails', Buffer.from('card declined')],
    ['cancels', 'cancelled', 'text/plain; charset=utf-8', '/cancels', Buffer.from('user left')],
  ];
  for (const [runner, status, contentType, path, body] of cases) {
    test(`${runner} → ${status}, ${contentType}`, async () => {
      const runId = await run(kit, runner, path);
      const result = await delivered(kit, runId);
      assert.deepEqual(result, { runId, state: 'delivered', attempts: 1, lastStatus: 200 });
      const [req, ...rest] = receiver.to(path);
      assert.equal(rest.length, 0);
      assert.ok(req);
      assert.equal(req.method, 'POST');
      assert.deepEqual(req.body, body);
      assert.equal(req.headers['content-type'], contentType);
      assert.equal(req.headers['user-agent'], `durable-runs/${VERSION}`);
      assert.equal(req.headers['workflow-run-id'], runId);
      assert.equal(req.headers['workflow-run-status'], status);
      assert.equal(req.headers['webhook-id'], `msg_${runId}`);
      assert.match(String(req.headers['webhook-timestamp']), /^\d{10}$/);
      assert.match(String(req.headers['webhook-signature']), /^v1,[A-Za-z0-9+/]+=*$/);
      verify(req.headers, req.body.toString('utf8'));
    });
  }

  test('reasonless outside cancel → cancelled with an empty body', async () => {
    const path = '/outside-cancel';
    const { runId } = await kit.client.submit({
      input: null,
      runner: 'waits',
      headers: { callback_url: `${receiver.url}${path}` },
      heartbeatTimeoutMs: 2000,
    });
    await eventually(async () => (await kit.client.status(runId)).state === 'running');
    await kit.client.temporal.workflow.getHandle(runId).cancel();
    await kit.client.result(runId);
    await delivered(kit, runId);
    const [req] = receiver.to(path);
    assert.equal(req?.headers['workflow-run-status'], 'cancelled');
    assert.equal(req?.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(req?.body.length, 0);
  });
});

describe('retries', () => {
  test('500, 503, 200 → delivered on attempt 3; one webhook-id, a fresh timestamp and signature per attempt', async () => {
    // The failures are answered after a second of wall time, so each attempt is sent in a later
    // second than the one before was received.
    const path = script('/flaky', { status: 500, delayMs: 1100 }, { status: 503, delayMs: 1100 }, { status: 200 });
    const runId = await run(kit, 'json', path);
    const result = await delivered(kit, runId);
    assert.deepEqual(result, { runId, state: 'delivered', attempts: 3, lastStatus: 200 });
    const reqs = receiver.to(path);
    assert.equal(reqs.length, 3);
    // What a receiver de-duplicates on: every attempt of the delivery carries the same id.
    const webhookIds = reqs.map((r) => r.headers['webhook-id']);
    assert.ok(webhookIds[0], 'a webhook-id');
    assert.deepEqual(webhookIds, [webhookIds[0], webhookIds[0], webhookIds[0]], 'the same webhook-id on every attempt');
    // Each attempt is stamped when it is sent: not the first attempt's time repeated, never before
    // the previous attempt was received, and close to the time it arrived (the receiver and the
    // worker share this process's clock; 10 s of room for a busy machine).
    const stamps = reqs.map((r) => Number(r.headers['webhook-timestamp']));
    const summary = reqs.map((r, i) => `${stamps[i]} s, received ${r.receivedAt} ms`).join('; ');
    for (const [i, r] of reqs.entries()) {
      const lag = r.receivedAt - stamps[i]! * 1000;
      assert.ok(lag >= -1000 && lag < 10_000, `attempt ${i + 1} stamped when sent: ${summary}`);
      if (i > 0) {
        assert.ok(stamps[i]! > stamps[i - 1]!, `attempt ${i + 1}'s timestamp is fresh: ${summary}`);
        assert.ok(
          stamps[i]! > Math.floor(reqs[i - 1]!.receivedAt / 1000),
          `attempt ${i + 1} stamped after attempt ${i} was answered: ${summary}`,
        );
      }
    }
    // Each attempt's signature verifies with its own timestamp, and not with another attempt's.
    for (const r of reqs) verify(r.headers, r.body.toString());
    for (const [i, r] of reqs.entries()) {
      const other = stamps[(i + 1) % stamps.length]!;
      assert.throws(
        () => verify({ ...r.headers, 'webhook-timestamp': String(other) }, r.body.toString()),
        /signature/i,
        `attempt ${i + 1}'s signature is bound to its own timestamp`,
      );
    }
  });

  test('retries back off from the base delay and double (server clock, immediate 503s)', async () => {
    const path = script('/backoff', { status: 503 }, { status: 503 }, { status: 503 }, { status: 200 });
    const runId = await run(kit, 'json', path);
    assert.deepEqual(await delivered(kit, runId), { runId, state: 'delivered', attempts: 4, lastStatus: 200 });
    const reqs = receiver.to(path);
    const gaps = reqs.slice(1).map((r, i) => r.at! - reqs[i]!.at!);
    // Base delay 500 ms, ×2 per retry, ±25 % jitter: 375–625, 750–1250 and 1500–2500 ms apart,
    // plus what an attempt and its scheduling take (at most 400 ms here, on a busy machine).
    const nominal = [500, 1000, 2000];
    const bounds = nominal.map((n) => [n * 0.75 - 50, n * 1.25 + 400] as const);
    const report = `server-clock gaps ${gaps.join(', ')} ms, expected ${bounds.map(([lo, hi]) => `${lo}–${hi}`).join(', ')}`;
    assert.equal(gaps.length, 3, report);
    gaps.forEach((g, i) => assert.ok(g >= bounds[i]![0] && g <= bounds[i]![1], report));
    // And they grow: the jitter of two successive gaps may overlap (625 ms vs 750 ms), but the
    // third is at least 1,450 ms where the first is at most 1,025 ms.
    assert.ok(gaps[2]! / gaps[0]! >= 1.4, `${report}: the third gap is not ~4x the first`);
  });

  for (const [status, label] of [
    [404, 'not found'],
    [410, 'gone'],
  ] as const) {
    test(`${status} (${label}) → exactly one attempt, delivery failed, run still Completed`, async () => {
      const path = script(`/status-${status}`, { status });
      const runId = await run(kit, 'json', path);
      const result = await delivered(kit, runId);
      assert.equal(result.state, 'failed');
      assert.equal(result.attempts, 1);
      assert.equal(result.lastStatus, status);
      assert.match(result.lastError ?? '', new RegExp(`HTTP ${status}`));
      assert.equal(receiver.to(path).length, 1);
      assert.equal((await kit.client.temporal.workflow.getHandle(runId).describe()).status.name, 'COMPLETED');
    });
  }

  test('301 → not followed, not retried: the redirect target never hears of it', async () => {
    const path = script('/moved', { status: 301, headers: { location: `${receiver.url}/target` } });
    const runId = await run(kit, 'json', path);
    const result = await delivered(kit, runId);
    assert.equal(result.state, 'failed');
    assert.equal(result.attempts, 1);
    assert.equal(result.lastStatus, 301);
    assert.equal(receiver.to(path).length, 1);
    assert.equal(receiver.to('/target').length, 0);
  });

  test('429 with Retry-After: 7 → next attempt at least 7 s later on the server clock', async () => {
    const path = script('/retry-after-7', { status: 429, headers: { 'retry-after': '7' } }, { status: 200 });
    const runId = await run(capped, 'json', path);
    assert.equal((await delivered(capped, runId)).state, 'delivered');
    const [a, b] = receiver.to(path);
    assert.ok(b!.at! - a!.at! >= 7000, `gap ${b!.at! - a!.at!} ms`);
  });

  test('503 with Retry-After: 3600 → capped at the max delay (20 s)', async () => {
    const path = script('/retry-after-3600', { status: 503, headers: { 'retry-after': '3600' } }, { status: 200 });
    const runId = await run(capped, 'json', path);
    assert.equal((await delivered(capped, runId)).state, 'delivered');
    const [a, b] = receiver.to(path);
    const gap = b!.at! - a!.at!;
    assert.ok(gap >= 20_000 && gap < 60_000, `gap ${gap} ms`);
  });

  test('429 with an HTTP-date Retry-After is honoured', async () => {
    const path = script(
      '/retry-after-date',
      { status: 429, headers: { 'retry-after': new Date(Date.now() + 12_000).toUTCString() } },
      { status: 200 },
    );
    const runId = await run(capped, 'json', path);
    assert.equal((await delivered(capped, runId)).state, 'delivered');
    const [a, b] = receiver.to(path);
    const gap = b!.at! - a!.at!;
    assert.ok(gap >= 9000 && gap < 20_000, `gap ${gap} ms (below the 20 s cap: the date, not the cap, set it)`);
  });

  test('a receiver that never answers: the attempt times out and is retried', async () => {
    const path = script('/hang', 'hang', { status: 200 });
    const runId = await run(kit, 'json', path);
    const result = await delivered(kit, runId);
    assert.deepEqual(result, { runId, state: 'delivered', attempts: 2, lastStatus: 200 });
    assert.equal(receiver.to(path).length, 2);
  });

  test('max retries = 0 → exactly one attempt', async () => {
    const path = script('/once', { status: 503 });
    const runId = await run(single, 'json', path);
    const result = await delivered(single, runId);
    assert.equal(result.state, 'failed');
    assert.equal(result.attempts, 1);
    assert.equal(result.lastStatus, 503);
    assert.equal(receiver.to(path).length, 1);
  });

  test('exhaustion → exactly max retries + 1 attempts', async () => {
    const path = script('/always-500', { status: 500 });
    const runId = await run(capped, 'json', path);
    const result = await delivered(capped, runId);
    assert.equal(result.state, 'failed');
    assert.equal(result.attempts, 3);
    assert.equal(result.lastStatus, 500);
    assert.equal(receiver.to(path).length, 3);
  });

  test('status while the activity retries counts the local first attempt too', async () => {
    const path = script(
      '/down-twice',
      { status: 503 },
      { status: 503, headers: { 'retry-after': '3600' } },
      { status: 200 },
    );
    const { runId } = await kit.client.submit({
      input: null,
      runner: 'json',
      headers: { callback_url: `${receiver.url}${path}` },
    });
    await eventually(() => receiver.to(path).length === 2);
    // Attempt 1 (local) and 2 (the activity's first) failed; the activity's next is attempt 3,
    // after the Retry-After (capped at the max delay). Waits for the server to record attempt 2.
    let pending: WebhookDeliveryStatus | undefined;
    await eventually(async () => (pending = await kit.client.webhookStatus(runId))?.attempts === 3, 15_000);
    assert.equal(pending?.state, 'pending');
    assert.match(pending?.lastError ?? '', /503/);
    const done = await delivered(kit, runId);
    assert.deepEqual([done.state, done.attempts], ['delivered', 3]);
  });

  test('the run is already Completed while its delivery is still retrying', async () => {
    const path = script('/down', { status: 503, headers: { 'retry-after': '3600' } }, { status: 200 });
    const { runId } = await kit.client.submit({
      input: null,
      runner: 'json',
      headers: { callback_url: `${receiver.url}${path}` },
    });
    await eventually(() => receiver.to(path).length === 1);
    assert.equal((await kit.client.temporal.workflow.getHandle(runId).describe()).status.name, 'COMPLETED');
    // The first (local) attempt's marker reaches the history once its workflow task completes,
    // a moment after the receiver saw the request.
    let pending: Awaited<ReturnType<typeof kit.client.webhookStatus>>;
    await eventually(async () => (pending = await kit.client.webhookStatus(runId))?.lastError !== undefined);
    assert.equal(pending?.state, 'pending');
    // Waiting out the Retry-After after the first (local) attempt: that attempt and its error.
    assert.equal(pending?.attempts, 1);
    assert.match(pending?.lastError ?? '', /503/);
    assert.equal((await delivered(kit, runId)).state, 'delivered');
  });
});

describe('signatures and secrets', () => {
  test('a tampered body fails verification', async () => {
    const runId = await run(kit, 'json', '/tamper');
    await delivered(kit, runId);
    const [req] = receiver.to('/tamper');
    assert.doesNotThrow(() => verify(req!.headers, req!.body.toString()));
    assert.throws(() => verify(req!.headers, req!.body.toString().replace('42', '43')), /signature/i);
  });

  test('the secret never appears in the run or delivery histories', async () => {
    const runId = await run(kit, 'fails', '/secret-check');
    await delivered(kit, runId);
    for (const id of [runId, `${runId}.webhook`]) {
      const history = await kit.client.temporal.workflow.getHandle(id).fetchHistory();
      // The encoded history holds every payload's raw bytes.
      const text = Buffer.from(temporal.api.history.v1.History.encode(history).finish()).toString('latin1');
      assert.ok(text.includes(runId));
      assert.ok(!text.includes(SECRET) && !text.includes(SECRET.slice(6)), `secret found in ${id}`);
    }
  });
});

describe('address guard', () => {
  const port = () => receiver.port;
  const targets = () => [
    `http://127.0.0.1:${port()}/guard-v4`,
    `http://[::1]:${port()}/guard-v6`,
    `http://[::ffff:127.0.0.1]:${port()}/guard-mapped`,
    `http://localhost:${port()}/guard-name`,
  ];
  test('loopback targets are refused with the guard on: one attempt, nothing received', async () => {
    for (const url of targets()) {
      const runId = await run(guarded, 'json', url);
      const result = await delivered(guarded, runId);
      assert.equal(result.state, 'failed', url);
      assert.equal(result.attempts, 1, url);
      assert.match(result.lastError ?? '', /refused|loopback/i, url);
      assert.equal(receiver.to(new URL(url).pathname).length, 0, url);
    }
  });

  test('the same targets are delivered with the guard off', async () => {
    for (const url of targets()) {
      const runId = await run(kit, 'json', url);
      const result = await delivered(kit, runId);
      assert.equal(result.state, 'delivered', `${url}: ${result.lastError}`);
    }
  });

  test('a callback URL that is not http(s) or embeds credentials is refused at submission', async () => {
    for (const url of ['ftp://example.invalid/x', 'file:///etc/passwd', 'http://user:pw@127.0.0.1/', 'not a url']) {
      await assert.rejects(
        guarded.client.submit({ input: 1, runner: 'json', headers: { callback_url: url } }),
        /callback_url/,
      );
    }
  });
});

test('the delivery starts at most once per run even when the terminal hook runs twice', async () => {
  const runId = await run(twice, 'json', '/hook-twice');
  assert.equal(hookCalls.get(runId), 2, 'the hooks ran twice');
  assert.deepEqual(await delivered(twice, runId), { runId, state: 'delivered', attempts: 1, lastStatus: 200 });
  assert.equal(receiver.to('/hook-twice').length, 1, 'one delivery, one request');
});

test('redelivery sends again with the same webhook-id', async () => {
  const runId = await run(kit, 'text', '/again');
  await delivered(kit, runId);
  assert.equal(receiver.to('/again').length, 1);
  await kit.client.redeliver(runId);
  await eventually(() => receiver.to('/again').length === 2);
  const [first, second] = receiver.to('/again');
  // What a receiver de-duplicates on: the redelivered request carries the original's id, and is
  // a new, validly signed request of its own.
  assert.ok(first!.headers['webhook-id']);
  assert.equal(second!.headers['webhook-id'], first!.headers['webhook-id'], 'a redelivery carries the same id');
  assert.deepEqual(second!.body, first!.body);
  verify(second!.headers, second!.body.toString());
  assert.ok(Number(second!.headers['webhook-timestamp']) >= Number(first!.headers['webhook-timestamp']));
  assert.equal((await delivered(kit, runId)).state, 'delivered');
});

test('a receiver that answers at once: the delivery closes in its first workflow task, no activity', async () => {
  const runId = await run(kit, 'text', '/at-once');
  assert.equal((await delivered(kit, runId)).attempts, 1);
  const events = (await kit.env.client.workflow.getHandle(`${runId}.webhook`).fetchHistory()).events ?? [];
  assert.equal(events.filter((e) => e.workflowTaskCompletedEventAttributes).length, 1, 'one workflow task');
  assert.ok(!events.some((e) => e.activityTaskScheduledEventAttributes), 'no activity was scheduled');
  assert.equal(
    events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity').length,
    1,
    'the attempt is one local-activity marker',
  );
  assert.equal(
    events.length,
    8,
    'started, one workflow task (3), the patch marker and its search attribute, the attempt, completed',
  );
});
