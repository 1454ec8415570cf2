/**
 * Encryption end to end on a real `temporal server start-dev`: what the server stores (read with
 * the real Temporal CLI) holds none of a run's plaintext, the webhook receiver still gets it
 * signed, the Temporal CLI reads it through the codec server, a wrong, missing or tampered key
 * closes the run Failed naming the problem (never a failing workflow task), and the
 * `durable-runs` CLI and `dev` encrypt with the keys of the environment.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createCipheriv, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { Client } from '@temporalio/client';
import type { Payload, PayloadCodec } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Webhook } from 'standardwebhooks';
import { RunsClient, StepError, StepOutcome, type StepRunner } from '../src';
import { dataConverter } from '../src/client';
import { type CodecServer, startCodecServer } from '../src/payloads/codec-server';
import { EncryptionCodec, EncryptionKeys } from '../src/payloads/encryption';
import { payloadToBytes, payloadToJson } from '../src/payloads/payload-wire';
import { eventSignal } from '../src/shared/definitions';
import { payloadConverter } from '../src/shared/payload-converter';
import { createTestEnv, createTestKit, type TestKit } from '../src/testing';
import { freePort } from '../src/local/dev-server';
import { startReceiver, type Receiver } from '../support/receiver';
import { temporalCli } from './helpers/temporal-cli';
import { eventually } from '../support/wait';

const BIN = join(__dirname, '..', 'bin', 'durable-runs.js');
const exec = promisify(execFile);
const WEBHOOK_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const OLD = randomBytes(32).toString('base64');
const NEW = randomBytes(32).toString('base64');
/** What the workers and the main client have: rotated once, the new key first. */
const KEYS = `new:${NEW},old:${OLD}`;
const CODEC_TOKEN = randomBytes(24).toString('base64url');

/** Strings that must never reach the server in plain text, unique enough to search for. */
const SECRET = {
  input: 'input-secret-5dc1',
  tenant: 'tenant-secret-9a07',
  path: 'hook-path-secret-33be',
  stepPayload: 'step-payload-secret-b2f4',
  transient: 'transient-error-secret-77c2',
  result: 'result-secret-e810',
  failure: 'failure-secret-4c6d',
  memo: 'memo-secret-0f3a',
};

const runners: Record<string, StepRunner<{ order: string; fail?: boolean; note?: string }>> = {
  default: async (step) => {
    if (step.stepNumber === 0) {
      if (step.attempt === 1) throw StepError.transient(`upstream said ${SECRET.transient}`);
      // Recorded by a signal the worker's own client sends.
      await step.memo('receipt', async () => ({ receipt: SECRET.memo }));
      return StepOutcome.continue({ ...step.payload, note: SECRET.stepPayload });
    }
    if (step.payload.fail) return StepOutcome.fail(`declined: ${SECRET.failure}`);
    return StepOutcome.succeed({ answer: SECRET.result });
  },
  waits: async (step) =>
    step.event ? StepOutcome.succeed(step.event.name) : StepOutcome.waitForEvent(null, { events: ['go'] }),
  parent: async (step) =>
    step.stepNumber === 0
      ? StepOutcome.runChildren(step.payload, [
          { input: { order: 'c1' }, runner: 'child' },
          { input: { order: 'c2' }, runner: 'child' },
        ])
      : StepOutcome.succeed({ children: step.children!.map((c) => [c.status, c.result]) }),
  child: async (step) => StepOutcome.succeed({ child: step.payload.order }),
};

let env: TestWorkflowEnvironment;
let enc: TestKit;
let plain: TestKit;
let receiver: Receiver;
let codecServer: CodecServer;
const { temporal } = temporalCli(() => env.address);

before(async () => {
  receiver = await startReceiver();
  codecServer = await startCodecServer({ keys: EncryptionKeys.parse(KEYS), token: CODEC_TOKEN, port: 0 });
  env = await createTestEnv('local', { encryptionKeys: false });
  const webhook = { allowPrivate: true, secret: WEBHOOK_SECRET };
  enc = await createTestKit({ env, runners, webhook, encryptionKeys: KEYS });
  plain = await createTestKit({ env, runners, webhook, encryptionKeys: false });
});

after(async () => {
  await enc?.teardown();
  await plain?.teardown();
  await env?.teardown();
  await codecServer?.close();
  await receiver?.close();
});

/** Every secret found in `text`, as it is or inside any base64 run in it (payload data in JSON). */
function leaks(text: string): string[] {
  const decoded = (text.match(/[A-Za-z0-9+/_-]{12,}={0,2}/g) ?? []).map((b) => Buffer.from(b, 'base64').toString());
  const haystack = [text, ...decoded].join('\n');
  return Object.values(SECRET).filter((s) => haystack.includes(s));
}

/** What the server keeps of a run and its webhook delivery, as the Temporal CLI shows it. */
async function stored(runId: string, ...codecFlags: string[]): Promise<string> {
  const parts = await Promise.all([
    temporal('workflow', 'show', '-w', runId, '-o', 'json', ...codecFlags),
    temporal('workflow', 'describe', '-w', runId, '-o', 'json', ...codecFlags),
    temporal('workflow', 'show', '-w', `${runId}.webhook`, '-o', 'json', ...codecFlags),
  ]);
  return parts.join('\n');
}

const headers = () => ({ tenant: SECRET.tenant, callback_url: `${receiver.url}/hooks/${SECRET.path}` });

async function submitBoth(kit: TestKit, prefix: string): Promise<void> {
  await kit.client.submit({ runId: `${prefix}-ok`, input: { order: SECRET.input }, headers: headers() });
  await kit.client.submit({ runId: `${prefix}-fail`, input: { order: SECRET.input, fail: true }, headers: headers() });
  const ok = await kit.client.result(`${prefix}-ok`);
  assert.deepEqual([ok.status, ok.result, ok.headers], ['succeeded', { answer: SECRET.result }, headers()]);
  const failed = await kit.client.result(`${prefix}-fail`);
  assert.deepEqual([failed.status, failed.error], ['failed', `declined: ${SECRET.failure}`]);
  // Both webhooks delivered, so their delivery workflows are in the histories read below.
  for (const id of [`${prefix}-ok`, `${prefix}-fail`]) {
    await eventually(async () => (await kit.client.webhookStatus(id))?.state === 'delivered');
  }
}

/** No workflow task of the run ever failed: nothing wedged, nothing retried. */
async function assertNoWorkflowTaskFailed(runId: string): Promise<void> {
  const history = await enc.client.temporal.workflow.getHandle(runId).fetchHistory();
  const failedTasks = history.events?.filter((e) => e.workflowTaskFailedEventAttributes) ?? [];
  assert.equal(failedTasks.length, 0, `${runId}: workflow tasks failed: ${JSON.stringify(failedTasks)}`);
}

describe('what the server stores', () => {
  test('an encrypted run shows none of its input, result, headers or error messages to the Temporal CLI', async () => {
    await submitBoth(enc, 'enc');
    for (const id of ['enc-ok', 'enc-fail']) {
      const text = await stored(id);
      assert.deepEqual(leaks(text), [], `${id} leaks`);
      assert.match(text, /binary\/encrypted|YmluYXJ5L2VuY3J5cHRlZA/, `${id}: payloads are marked encrypted`);
      // Temporal keeps fairness keys in plain text: the tenant header's stands in as a keyed hash.
      assert.match(text, /"fairnessKey":\s*"h-[A-Za-z0-9_-]{22}"/, `${id}: fairness key`);
    }
    // The run's failure message is encrypted too; its type stays readable.
    const failedEvent = JSON.parse(await temporal('workflow', 'show', '-w', 'enc-fail', '-o', 'json')) as {
      events: Array<{
        workflowExecutionFailedEventAttributes?: {
          failure: { message: string; applicationFailureInfo?: { type: string } };
        };
      }>;
    };
    const failure = failedEvent.events.at(-1)?.workflowExecutionFailedEventAttributes?.failure;
    assert.equal(failure?.message, 'Encoded failure');
    assert.equal(failure?.applicationFailureInfo?.type, 'RunFailed');
  });

  test('the same runs without keys show every secret (the search above can find them)', async () => {
    await submitBoth(plain, 'plain');
    assert.deepEqual(
      leaks(await stored('plain-ok')).sort(),
      Object.values(SECRET)
        .filter((s) => s !== SECRET.failure)
        .sort(),
    );
    assert.ok(leaks(await stored('plain-fail')).includes(SECRET.failure));
  });

  test('the Temporal CLI reads an encrypted run through the codec server (bearer token)', async () => {
    const flags = ['--codec-endpoint', codecServer.url, '--codec-auth', `Bearer ${CODEC_TOKEN}`];
    assert.deepEqual(
      leaks(await stored('enc-ok', ...flags)).sort(),
      Object.values(SECRET)
        .filter((s) => s !== SECRET.failure)
        .sort(),
    );
    assert.ok(leaks(await stored('enc-fail', ...flags)).includes(SECRET.failure));
  });

  test('the webhook receiver gets plaintext, signed: the signatures verify', async () => {
    const wh = new Webhook(WEBHOOK_SECRET);
    const deliveries = receiver
      .to(`/hooks/${SECRET.path}`)
      .filter((r) => String(r.headers['workflow-run-id']).startsWith('enc-'));
    assert.equal(deliveries.length, 2);
    const byRun = new Map(deliveries.map((r) => [r.headers['workflow-run-id'], r]));
    const ok = byRun.get('enc-ok')!;
    assert.equal(ok.headers['workflow-run-status'], 'succeeded');
    assert.deepEqual(JSON.parse(ok.body.toString()), { answer: SECRET.result });
    const failed = byRun.get('enc-fail')!;
    assert.equal(failed.body.toString(), `declined: ${SECRET.failure}`);
    for (const r of [ok, failed]) {
      wh.verify(r.body.toString(), r.headers as Record<string, string>, { jsonParse: false });
      const forged = { ...(r.headers as Record<string, string>), 'webhook-signature': 'v1,AAAA' };
      assert.throws(() => wh.verify(r.body.toString(), forged, { jsonParse: false }));
    }
  });
});

describe('a key that does not fit never wedges a run', () => {
  test('a run encrypted with a key the workers lack closes Failed naming that key', async () => {
    const stranger = await RunsClient.connect({
      connection: env.connection,
      taskQueue: enc.taskQueue,
      encryptionKeys: `stranger:${randomBytes(32).toString('base64')}`,
    });
    await stranger.submit({ runId: 'wrong-key', input: { order: SECRET.input } });
    const outcome = await enc.client.result('wrong-key');
    assert.equal(outcome.status, 'failed');
    assert.equal(
      outcome.error,
      'workflow input: payload with encoding "binary/encrypted" could not be decoded: payload encrypted with key "stranger", which is not among the keys of DURABLE_RUNS_ENCRYPTION_KEYS here',
    );
    assert.equal((await enc.client.temporal.workflow.getHandle('wrong-key').describe()).status.name, 'FAILED');
    await assertNoWorkflowTaskFailed('wrong-key');
    // The stranger cannot read what the workers wrote either, and says which key it lacks, naming none of its own.
    await assert.rejects(stranger.result('wrong-key'), (err: Error) => {
      assert.match(err.message, /key "new", which is not among the keys of DURABLE_RUNS_ENCRYPTION_KEYS here/);
      assert.doesNotMatch(err.message, /stranger/);
      return true;
    });
  });

  test('a worker without keys closes an encrypted run Failed, saying it has none', async () => {
    const keyless = await createTestKit({ env, runners, encryptionKeys: false, webhook: false });
    try {
      await RunsClient.fromClient(enc.client.temporal, keyless.taskQueue).submit({
        runId: 'no-key',
        input: { order: SECRET.input },
      });
      const outcome = await enc.client.result('no-key');
      assert.equal(outcome.status, 'failed');
      assert.equal(
        outcome.error,
        'workflow input: payload with encoding "binary/encrypted" could not be decoded: payload encrypted with key "new", and this process has no DURABLE_RUNS_ENCRYPTION_KEYS to decrypt it',
      );
      assert.equal((await enc.client.temporal.workflow.getHandle('no-key').describe()).status.name, 'FAILED');
      await assertNoWorkflowTaskFailed('no-key');
    } finally {
      await keyless.teardown();
    }
  });

  test('tampered ciphertext: a run closes Failed, an event is refused and reported, naming the key', async () => {
    /** Flips one bit of every payload after the real codec encrypted it. */
    const flipper: PayloadCodec = {
      encode: async (payloads: Payload[]) =>
        payloads.map((p) => {
          const data = Buffer.from(p.data!);
          data[20] = data[20]! ^ 0x01;
          return { ...p, data };
        }),
      decode: async (payloads: Payload[]) => payloads,
    };
    const tampering = RunsClient.fromClient(
      new Client({
        connection: env.connection,
        dataConverter: { ...dataConverter, payloadCodecs: [new EncryptionCodec(EncryptionKeys.parse(KEYS)), flipper] },
      }),
      enc.taskQueue,
    );
    await tampering.submit({ runId: 'tampered', input: { order: SECRET.input } });
    const outcome = await enc.client.result('tampered');
    assert.equal(outcome.status, 'failed');
    assert.match(
      outcome.error!,
      /^workflow input: payload with encoding "binary\/encrypted" could not be decoded: payload encrypted with key "new" failed authentication: the ciphertext or its encryption-binding is corrupt or was tampered with/,
    );
    await assertNoWorkflowTaskFailed('tampered');

    // An event is no different: the update is refused (it writes no history); the signal is
    // ignored, and the run says why and goes on.
    await enc.client.submit({ runId: 'tampered-event', input: null, runner: 'waits' });
    await eventually(async () => (await enc.client.status('tampered-event')).state === 'waiting');
    await assert.rejects(tampering.sendEvent('tampered-event', 'go'));
    await tampering.temporal.workflow.getHandle('tampered-event').signal('event', { name: 'go' });
    await eventually(async () =>
      /key "new" failed authentication/.test((await enc.client.status('tampered-event')).lastError ?? ''),
    );
    assert.equal((await enc.client.status('tampered-event')).state, 'waiting');
    assert.equal(await enc.client.sendEvent('tampered-event', 'go'), true);
    assert.equal((await enc.client.result('tampered-event')).result, 'go');
    await assertNoWorkflowTaskFailed('tampered-event');
  });
});

describe('payloads bound to their run', () => {
  const namespace = () => enc.client.temporal.options.namespace;
  const service = () => enc.client.temporal.workflowService;
  /** What anyone who may start workflows can do without the keys: start a run with raw payloads. */
  const startRaw = (runId: string, input: Payload) =>
    service().startWorkflowExecution({
      namespace: namespace(),
      workflowId: runId,
      workflowType: { name: 'durableRun' },
      taskQueue: { name: enc.taskQueue },
      input: { payloads: [input] },
      requestId: randomUUID(),
    });
  const signalRaw = (runId: string, input: Payload) =>
    service().signalWorkflowExecution({
      namespace: namespace(),
      workflowExecution: { workflowId: runId },
      signalName: 'event',
      input: { payloads: [input] },
      requestId: randomUUID(),
    });
  const history = async (runId: string) =>
    (await service().getWorkflowExecutionHistory({ namespace: namespace(), execution: { workflowId: runId } })).history
      ?.events ?? [];

  test("a payload taken from run A's history is refused by run B, started or signalled with it; neither retries a workflow task", async () => {
    await enc.client.submit({ runId: 'bound-a', input: { order: SECRET.input }, runner: 'waits' });
    await eventually(async () => (await enc.client.status('bound-a')).state === 'waiting');
    const input = (await history('bound-a'))[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    assert.ok(input);
    await startRaw('bound-b', input as Payload);
    // Bounded: a run that took A's input would wait for its event instead of closing.
    await eventually(async () => (await enc.client.status('bound-b')).state === 'failed');
    const outcome = await enc.client.result('bound-b');
    assert.equal(outcome.status, 'failed');
    assert.equal(
      outcome.error,
      'workflow input: payload with encoding "binary/encrypted" could not be decoded: payload encrypted with key "new" belongs to run "bound-a", not to run "bound-b": an encrypted payload cannot be moved to another run',
    );
    await assertNoWorkflowTaskFailed('bound-b');

    // The event signal run A took, sent to run C: C ignores it, says why, and goes on waiting.
    await enc.client.temporal.workflow.getHandle('bound-a').signal(eventSignal, { name: 'go', id: 'ev-a' });
    assert.equal((await enc.client.result('bound-a')).result, 'go');
    const signalled = (await history('bound-a')).find(
      (e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'event',
    );
    const event = signalled?.workflowExecutionSignaledEventAttributes?.input?.payloads?.[0];
    assert.ok(event);
    await enc.client.submit({ runId: 'bound-c', input: null, runner: 'waits' });
    await eventually(async () => (await enc.client.status('bound-c')).state === 'waiting');
    await signalRaw('bound-c', event as Payload);
    await eventually(async () =>
      /belongs to run "bound-a", not to run "bound-c": an encrypted payload cannot be moved to another run/.test(
        (await enc.client.status('bound-c')).lastError ?? '',
      ),
    );
    assert.equal((await enc.client.status('bound-c')).state, 'waiting');
    assert.equal(await enc.client.sendEvent('bound-c', 'go'), true);
    assert.equal((await enc.client.result('bound-c')).result, 'go');
    for (const id of ['bound-a', 'bound-c']) await assertNoWorkflowTaskFailed(id);
  });

  test('a run whose input was encrypted before bindings (no associated data) still runs', async () => {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', Buffer.from(NEW, 'base64'), iv);
    const plaintext = payloadToBytes(payloadConverter.toPayload({ input: { order: SECRET.input } }));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    await startRaw('unbound-legacy', {
      metadata: { encoding: Buffer.from('binary/encrypted'), 'encryption-key-id': Buffer.from('new') },
      data: Buffer.concat([iv, body, cipher.getAuthTag()]),
    });
    const outcome = await enc.client.result('unbound-legacy');
    assert.deepEqual([outcome.status, outcome.result], ['succeeded', { answer: SECRET.result }]);
    await assertNoWorkflowTaskFailed('unbound-legacy');
  });

  test("payloads that cross runs are encrypted again for the run they enter: children, the webhook delivery, redeliver, a schedule's runs", async () => {
    await enc.client.submit({ runId: 'bound-parent', input: { order: 'p' }, runner: 'parent', headers: headers() });
    const outcome = await enc.client.result('bound-parent');
    assert.deepEqual(
      [outcome.status, outcome.result],
      [
        'succeeded',
        {
          children: [
            ['succeeded', { child: 'c1' }],
            ['succeeded', { child: 'c2' }],
          ],
        },
      ],
    );
    await eventually(async () => (await enc.client.webhookStatus('bound-parent'))?.state === 'delivered');
    await enc.client.redeliver('bound-parent');
    await eventually(
      () =>
        receiver.to(`/hooks/${SECRET.path}`).filter((r) => r.headers['workflow-run-id'] === 'bound-parent').length ===
        2,
    );
    const bodies = receiver
      .to(`/hooks/${SECRET.path}`)
      .filter((r) => r.headers['workflow-run-id'] === 'bound-parent')
      .map((r) => JSON.parse(r.body.toString()) as unknown);
    assert.deepEqual(bodies, [outcome.result, outcome.result]);
    await assertNoWorkflowTaskFailed('bound-parent');

    // A schedule encrypts its runs' input once, for its own ID; each run has an ID of its own.
    await enc.client.schedules.create({
      scheduleId: 'bound-schedule',
      every: '1h',
      paused: true,
      run: { input: { order: 's' }, runner: 'child' },
    });
    try {
      // Two runs: the second also gets the first's result (its last completion result).
      let previous = '';
      for (const n of [1, 2]) {
        // Run IDs carry the trigger's second: a second trigger in the same second would collide.
        await eventually(() => new Date().toISOString().slice(0, 19) > previous.slice(-20, -1));
        await enc.client.schedules.trigger('bound-schedule');
        await eventually(async () => (await enc.client.schedules.describe('bound-schedule')).recentRuns.length >= n);
        const runId = (await enc.client.schedules.describe('bound-schedule')).recentRuns.at(-1)!;
        assert.notEqual(runId, previous);
        assert.match(runId, /^bound-schedule-\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        const run = (await enc.client.temporal.workflow.getHandle(runId).result()) as {
          status: string;
          result: unknown;
        };
        assert.deepEqual([run.status, run.result], ['succeeded', { child: 's' }]);
        await assertNoWorkflowTaskFailed(runId);
        previous = runId;
      }
    } finally {
      await enc.client.schedules.delete('bound-schedule');
    }
  });
});

describe('the durable-runs CLI with DURABLE_RUNS_ENCRYPTION_KEYS', () => {
  const cliEnv = (extra: Record<string, string> = {}) => ({
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    TEMPORAL_ADDRESS: env.address,
    TEMPORAL_TASK_QUEUE: enc.taskQueue,
    ...extra,
  });
  const cli = async (args: string[], extra: Record<string, string> = {}) => {
    try {
      const { stdout } = await exec(process.execPath, [BIN, ...args], { env: cliEnv(extra), timeout: 60_000 });
      return { code: 0, stdout, stderr: '' };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return e;
    }
  };

  test('submit --wait, status and result encrypt and decrypt; without the keys, a clear error', async () => {
    const submitted = await cli(
      [
        'submit',
        JSON.stringify({ order: SECRET.input }),
        '--run-id',
        'cli-enc',
        '--header',
        `tenant=${SECRET.tenant}`,
        '--wait',
        '--json',
      ],
      { DURABLE_RUNS_ENCRYPTION_KEYS: KEYS },
    );
    assert.equal(submitted.code, 0, submitted.stderr);
    const outcome = JSON.parse(submitted.stdout.trim().split('\n').at(-1)!) as { status: string; result: unknown };
    assert.deepEqual([outcome.status, outcome.result], ['succeeded', { answer: SECRET.result }]);
    const status = await cli(['status', 'cli-enc', '--json'], {
      DURABLE_RUNS_ENCRYPTION_KEYS: `old:${OLD},new:${NEW}`,
    });
    assert.equal((JSON.parse(status.stdout) as { state: string }).state, 'succeeded');
    const history = await temporal('workflow', 'show', '-w', 'cli-enc', '-o', 'json');
    assert.deepEqual(leaks(history), []);

    const keyless = await cli(['result', 'cli-enc']);
    assert.equal(keyless.code, 2);
    assert.match(
      keyless.stderr,
      /payload encrypted with key "new", and this process has no DURABLE_RUNS_ENCRYPTION_KEYS/,
    );
  });
});

describe('durable-runs dev with DURABLE_RUNS_ENCRYPTION_KEYS', () => {
  let dev: ChildProcess | undefined;
  after(async () => {
    if (dev && dev.exitCode === null) {
      const exited = new Promise((resolve) => dev!.once('exit', resolve));
      dev.kill('SIGINT');
      await exited;
    }
  });

  test('starts a codec server, points the UI at it with the token, and prints where it is', async () => {
    const [port, uiPort, codecPort] = [await freePort(), await freePort(), await freePort()];
    const dir = mkdtempSync(join(tmpdir(), 'enc-dev-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const childEnv: NodeJS.ProcessEnv = { ...process.env, DURABLE_RUNS_ENCRYPTION_KEYS: KEYS };
    delete childEnv.TEMPORAL_ADDRESS;
    delete childEnv.DURABLE_RUNS_CODEC_TOKEN;
    dev = spawn(
      process.execPath,
      [
        BIN,
        'dev',
        '--runners',
        join(__dirname, '..', 'examples', 'runners.ts'),
        '--data-dir',
        dir,
        '--port',
        String(port),
        '--ui-port',
        String(uiPort),
        '--codec-port',
        String(codecPort),
      ],
      { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    dev.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    dev.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    await eventually(() => output.includes('durable-runs worker:'), 90_000, 'dev runs its worker').catch(
      (err: Error) => {
        throw new Error(`${err.message}\n--- dev output ---\n${output.slice(-3000)}`);
      },
    );
    const codecUrl = `http://127.0.0.1:${codecPort}`;
    assert.match(output, new RegExp(`Codec server: ${codecUrl} \\(keys new, old\\)`));
    const token = /its token: (\S+)/.exec(output)?.[1];
    assert.ok(token && token.length >= 32, 'a generated token is printed');
    // The dev server's UI is configured with the codec endpoint, token in its path.
    const settings = (await (await fetch(`http://127.0.0.1:${uiPort}/api/v1/settings`)).json()) as {
      Codec: { Endpoint: string };
    };
    assert.equal(settings.Codec.Endpoint, `${codecUrl}/${token}`);
    // And the codec server behind it decrypts for the UI's origin, and only with the token.
    const [encrypted] = await new EncryptionCodec(EncryptionKeys.parse(`old:${OLD}`)).encode([
      { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('"from the UI"') },
    ]);
    const body = JSON.stringify({ payloads: [payloadToJson(encrypted!)] });
    const origin = `http://localhost:${uiPort}`;
    const decoded = await fetch(`${settings.Codec.Endpoint}/decode`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default', Origin: origin },
      body,
    });
    assert.equal(decoded.status, 200);
    assert.equal(decoded.headers.get('access-control-allow-origin'), origin);
    const { payloads } = (await decoded.json()) as { payloads: Array<{ data: string }> };
    assert.equal(Buffer.from(payloads[0]!.data, 'base64').toString(), '"from the UI"');
    assert.equal((await fetch(`${codecUrl}/decode`, { method: 'POST', body })).status, 401);
    // Runs submitted with the same keys go through the dev worker.
    const submitted = await exec(
      process.execPath,
      [BIN, 'submit', '"What is 6 times 7?"', '--runner', 'agent', '--wait', '--json'],
      {
        env: { ...childEnv, TEMPORAL_ADDRESS: `127.0.0.1:${port}` },
        timeout: 60_000,
      },
    ).catch((err: { stdout: string; stderr: string }) => err);
    assert.match(submitted.stdout, /"status":"succeeded"/, submitted.stderr);
  });
});
