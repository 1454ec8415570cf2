/**
 * Bad input, from every door: the client refuses it with a `ValidationError` naming the problem,
 * or the run closes Failed with a message naming it. Never a workflow task retried forever, never
 * a crashed worker, never a lost run.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import { StepOutcome, type RunOutcome, type StepRunner, type SubmitOptions } from '../src';
import { ValidationError } from '../src/shared/validate';
import { createTestKit, type TestKit } from '../src/testing';
import { temporalCli } from './helpers/temporal-cli';
import { eventually } from '../support/wait';

const THREE_MB = 'x'.repeat(3 * 1024 * 1024);

/** Run IDs whose runner was called. */
const called = new Set<string>();

/** A runner that returns whatever `value` is, type or not. */
const returning =
  (value: unknown): StepRunner =>
  async (step) => {
    called.add(step.runId);
    return value as ReturnType<typeof StepOutcome.succeed>;
  };

/** A runner that throws whatever `value` is, Error or not. */
const throwing =
  (value: unknown): StepRunner =>
  async (step) => {
    called.add(step.runId);

    throw value;
  };

const runners: Record<string, StepRunner> = {
  default: async (step) =>
    step.stepNumber < 2 ? StepOutcome.continue((step.payload as number) + 1) : StepOutcome.succeed(step.payload),
  returnsUndefined: returning(undefined),
  returnsString: returning('all good'),
  returnsUnknownKind: returning({ kind: 'nope' }),
  throwsString: throwing('boom'),
  throwsUndefined: throwing(undefined),
  hugePayload: async (step) => (called.add(step.runId), StepOutcome.continue(THREE_MB)),
  hugeResult: async (step) => (called.add(step.runId), StepOutcome.succeed(THREE_MB)),
  negativeDelay: async (step) => (called.add(step.runId), StepOutcome.continueAfter(null, -5)),
  soonDelay: async (step) => (called.add(step.runId), StepOutcome.continueAfter(null, 'soon')),
  objectDelay: async (step) => (called.add(step.runId), StepOutcome.continueAfter(null, {} as never)),
  echo: async (step) => StepOutcome.succeed(step.payload),
  /** Waits for the step's abort (a cancel), then returns a verdict that must be discarded. */
  waits: async (step) => {
    called.add(step.runId);
    await new Promise((resolve) => step.signal.addEventListener('abort', resolve));
    return StepOutcome.succeed('discarded');
  },
};

const workflowTaskFailures = async (kit: TestKit, runId: string): Promise<number> => {
  const history = await kit.client.temporal.workflow.getHandle(runId).fetchHistory();
  return history.events?.filter((e) => e.workflowTaskFailedEventAttributes).length ?? 0;
};

/** The run closed Failed, its error names the problem, and its workflow task never failed. */
async function assertFailed(kit: TestKit, runId: string, error: RegExp): Promise<RunOutcome> {
  const outcome = await kit.client.result(runId);
  assert.equal(outcome.status, 'failed', `run ${runId}: ${JSON.stringify(outcome)}`);
  assert.match(outcome.error ?? '', error);
  const description = await kit.client.temporal.workflow.getHandle(runId).describe();
  assert.equal(description.status.name, 'FAILED');
  assert.equal(await workflowTaskFailures(kit, runId), 0, 'no workflow-task retries');
  return outcome;
}

/** The client refuses the submission with a `ValidationError` naming the problem, and starts nothing. */
async function assertRefused(kit: TestKit, options: SubmitOptions, message: RegExp): Promise<void> {
  await assert.rejects(kit.client.submit(options), (err: unknown) => {
    assert.ok(err instanceof ValidationError, `a ValidationError, got ${String(err)}`);
    assert.equal(err.constructor, ValidationError);
    assert.match(err.message, message);
    return true;
  });
  if (options.runId !== undefined && /^[A-Za-z0-9_-]{1,128}$/.test(options.runId)) {
    await assert.rejects(kit.client.temporal.workflow.getHandle(options.runId).describe(), WorkflowNotFoundError);
  }
}

describe('client and runners (time-skipping server)', () => {
  let kit: TestKit;
  before(async () => {
    kit = await createTestKit({ runners });
  });
  after(async () => {
    await kit?.teardown();
  });

  test('missing input is refused', async () => {
    await assertRefused(kit, { runId: 'no-input' } as SubmitOptions, /no "input" field/);
    await assertRefused(kit, { runId: 'undefined-input', input: undefined }, /no "input" field/);
  });

  test('headers that are not an object are refused', async () => {
    for (const headers of ['tenant=acme', ['a', 'b'], 42]) {
      await assertRefused(
        kit,
        { runId: 'headers-not-object', input: 1, headers: headers as never },
        /headers must be an object of string→string/,
      );
    }
  });

  test('header values that are not strings are refused, naming the header', async () => {
    await assertRefused(
      kit,
      { input: 1, headers: { tenant: 42 as never } },
      /header "tenant" must be a string, got number 42/,
    );
    await assertRefused(
      kit,
      { input: 1, headers: { tenant: null as never } },
      /header "tenant" must be a string, got null/,
    );
    await assertRefused(
      kit,
      { input: 1, headers: { tenant: { a: 'b' } as never } },
      /header "tenant" must be a string/,
    );
  });

  test('a reserved workflow. header is refused, naming the key', async () => {
    await assertRefused(
      kit,
      { runId: 'reserved', input: 1, headers: { 'workflow.runId': 'x' } },
      /header "workflow\.runId" uses the reserved prefix "workflow\."/,
    );
  });

  test('CR or LF in a header value is refused', async () => {
    await assertRefused(
      kit,
      { input: 1, headers: { note: 'a\r\nX-Injected: 1' } },
      /header "note" contains CR, LF or NUL/,
    );
    await assertRefused(kit, { input: 1, headers: { note: 'line\nbreak' } }, /header "note" contains CR, LF or NUL/);
  });

  test('a callback_url that is not a URL is refused', async () => {
    await assertRefused(
      kit,
      { runId: 'cb-not-url', input: 1, headers: { callback_url: 'not a url' } },
      /header "callback_url": callback URL is not a valid absolute URL/,
    );
  });

  test('a callback_url with ftp: or file: is refused', async () => {
    await assertRefused(
      kit,
      { input: 1, headers: { callback_url: 'ftp://example.com/hook' } },
      /callback_url.*must use http: or https:, not ftp:/,
    );
    await assertRefused(
      kit,
      { input: 1, headers: { callback_url: 'file:///etc/passwd' } },
      /callback_url.*must use http: or https:, not file:/,
    );
  });

  test('a callback_url with embedded credentials is refused', async () => {
    await assertRefused(
      kit,
      { runId: 'cb-creds', input: 1, headers: { callback_url: 'https://user:secret@example.com/hook' } },
      /callback_url.*must not embed credentials/,
    );
  });

  test('a run ID too long is refused', async () => {
    await assertRefused(kit, { runId: 'x'.repeat(129), input: 1 }, /invalid run ID .*\(length 129\).*1–128 characters/);
  });

  test('a run ID with / is refused', async () => {
    await assertRefused(kit, { runId: 'orders/42', input: 1 }, /invalid run ID "orders\/42".*\[A-Za-z0-9_-\]/);
  });

  test('maxAttemptsPerStep of 0, -1 or 10**9 is refused by the client', async () => {
    for (const n of [0, -1, 10 ** 9]) {
      await assertRefused(
        kit,
        { runId: `max-attempts-${n < 0 ? 'neg' : n}`, input: 1, maxAttemptsPerStep: n },
        new RegExp(`maxAttemptsPerStep must be an integer from 1 to 1000, got ${n}`),
      );
    }
  });

  test('RunsClient.cancel with a non-string reason throws ValidationError', async () => {
    const { runId } = await kit.client.submit({ input: null, runner: 'waits', heartbeatTimeoutMs: 2000 });
    await eventually(() => called.has(runId));
    await assert.rejects(kit.client.cancel(runId, 42 as never), (err: unknown) => {
      assert.equal((err as Error).constructor, ValidationError);
      assert.match((err as Error).message, /cancel reason must be a string/);
      return true;
    });
    assert.equal((await kit.client.status(runId)).state, 'running', 'the refused cancel changed nothing');
    assert.equal(await kit.client.cancel(runId, 'clean up'), true);
    assert.equal((await kit.client.result(runId)).status, 'cancelled');
  });

  test('an unknown runner fails the run, naming the runner', async () => {
    const { runId } = await kit.client.submit({ input: 1, runner: 'nope' });
    await assertFailed(kit, runId, /unknown runner "nope" \(this worker has: default, /);
  });

  test('a runner returning undefined fails the run: not a step outcome', async () => {
    const { runId } = await kit.client.submit({ input: 1, runner: 'returnsUndefined' });
    await assertFailed(kit, runId, /^step 0: runner returned undefined, not a step outcome/);
  });

  test('a runner returning a string fails the run: not a step outcome', async () => {
    const { runId } = await kit.client.submit({ input: 1, runner: 'returnsString' });
    await assertFailed(kit, runId, /^step 0: runner returned the string "all good", not a step outcome/);
  });

  test('a runner returning {kind: "nope"} fails the run: unknown kind', async () => {
    const { runId } = await kit.client.submit({ input: 1, runner: 'returnsUnknownKind' });
    await assertFailed(kit, runId, /^step 0: runner returned an outcome of unknown kind "nope"/);
  });

  test('a runner throwing a string is retried, then fails naming the thrown value', async () => {
    const { runId } = await kit.client.submit({ input: 1, runner: 'throwsString', maxAttemptsPerStep: 2 });
    const outcome = await assertFailed(kit, runId, /runner threw the string "boom" instead of an Error/);
    assert.equal(outcome.error, 'step 0 failed after 2 attempts: runner threw the string "boom" instead of an Error');
  });

  test('a runner throwing undefined is retried, then fails naming the thrown value', async () => {
    const { runId } = await kit.client.submit({ input: 1, runner: 'throwsUndefined', maxAttemptsPerStep: 2 });
    const outcome = await assertFailed(kit, runId, /runner threw undefined instead of an Error/);
    assert.equal(outcome.error, 'step 0 failed after 2 attempts: runner threw undefined instead of an Error');
  });

  test('a continue payload above 2 MB fails the run, naming the limit', async () => {
    const { runId } = await kit.client.submit({ input: 1, runner: 'hugePayload' });
    await assertFailed(kit, runId, /^step 0: step outcome is \d+ bytes, above Temporal's 2 MB payload limit/);
  });

  test('a result above 2 MB fails the run, naming the limit', async () => {
    const { runId } = await kit.client.submit({ input: 1, runner: 'hugeResult' });
    await assertFailed(kit, runId, /^step 0: step outcome is \d+ bytes, above Temporal's 2 MB payload limit/);
  });

  test('a continueAfter with a negative delay fails the run, naming the delay', async () => {
    const { runId } = await kit.client.submit({ input: 1, runner: 'negativeDelay' });
    await assertFailed(kit, runId, /continueAfter delay must be between 0 and \d+ ms, got -5/);
  });

  test("a continueAfter with the delay 'soon' fails the run, naming the delay", async () => {
    const { runId } = await kit.client.submit({ input: 1, runner: 'soonDelay' });
    await assertFailed(kit, runId, /continueAfter delay "soon" is not a duration/);
  });

  test('a continueAfter with an object as delay fails the run, naming the delay', async () => {
    const { runId } = await kit.client.submit({ input: 1, runner: 'objectDelay' });
    await assertFailed(kit, runId, /continueAfter delay must be milliseconds or a duration string, got an object/);
  });

  test('a cancel signal with a non-string reason fails the run, naming the reason type', async () => {
    const { runId } = await kit.client.submit({ input: 1, runner: 'waits', heartbeatTimeoutMs: 2000 });
    await eventually(() => called.has(runId));
    await kit.client.temporal.workflow.getHandle(runId).signal('cancel', { reason: 42 });
    await assertFailed(kit, runId, /cancel signal reason must be a string, got number 42/);
  });

  test('a cancel signal whose argument is not an object fails the run', async () => {
    const { runId } = await kit.client.submit({ input: 1, runner: 'waits', heartbeatTimeoutMs: 2000 });
    await eventually(() => called.has(runId));
    await kit.client.temporal.workflow.getHandle(runId).signal('cancel', 'now');
    await assertFailed(
      kit,
      runId,
      /cancel signal argument must be an object like \{"reason": "…"\}, got the string "now"/,
    );
  });

  test('after all that, the same worker still serves a normal run', async () => {
    assert.equal(kit.worker.getState(), 'RUNNING');
    const { runId } = await kit.client.submit({ input: 0, headers: { tenant: 'acme' } });
    const outcome = await kit.client.result(runId);
    assert.deepEqual(outcome, { runId, status: 'succeeded', result: 2, headers: { tenant: 'acme' }, finalStep: 2 });
    assert.equal(await workflowTaskFailures(kit, runId), 0);
  });
});

describe('raw Temporal CLI (dev server)', () => {
  let kit: TestKit;
  before(async () => {
    kit = await createTestKit({ runners, server: 'local', taskQueue: 'durable-runs' });
  });
  after(async () => {
    await kit?.teardown();
  });

  const { startRun, temporal } = temporalCli(() => kit.env.address);

  const notAnObject: Array<[string, string, RegExp]> = [
    ['a string', '"just a string"', /workflow input must be an object .*, got the string "just a string"/],
    ['an array', '[1, 2, 3]', /workflow input must be an object .*, got an array/],
    ['a number', '42', /workflow input must be an object .*, got number 42/],
  ];
  for (const [what, json, message] of notAnObject) {
    test(`workflow input that is ${what} fails the run`, async () => {
      const id = `cli-input-${what.replace(/\W+/g, '-')}`;
      await startRun(id, json);
      await assertFailed(kit, id, message);
    });
  }

  test('workflow input without "input" fails the run', async () => {
    await startRun('cli-no-input', '{"runner":"default","headers":{"tenant":"acme"}}');
    await assertFailed(kit, 'cli-no-input', /workflow input has no "input" field/);
  });

  test('headers that are not an object fail the run', async () => {
    await startRun('cli-headers-string', '{"input":1,"headers":"tenant=acme"}');
    await assertFailed(kit, 'cli-headers-string', /headers must be an object of string→string/);
  });

  test('a header that is not a string, or reserved, or with CR/LF fails the run', async () => {
    await startRun('cli-header-number', '{"input":1,"headers":{"tenant":7}}');
    await assertFailed(kit, 'cli-header-number', /header "tenant" must be a string, got number 7/);
    await startRun('cli-header-reserved', '{"input":1,"headers":{"workflow.id":"x"}}');
    await assertFailed(kit, 'cli-header-reserved', /header "workflow\.id" uses the reserved prefix "workflow\."/);
    await startRun('cli-header-crlf', '{"input":1,"headers":{"note":"a\\r\\nb"}}');
    await assertFailed(kit, 'cli-header-crlf', /header "note" contains CR, LF or NUL/);
  });

  test('maxAttemptsPerStep of 0, -1 or 10**9 fails the run, naming the bound', async () => {
    for (const n of [0, -1, 10 ** 9]) {
      const id = `cli-max-attempts-${n < 0 ? 'neg' : n}`;
      await startRun(id, JSON.stringify({ input: 1, maxAttemptsPerStep: n }));
      await assertFailed(kit, id, new RegExp(`maxAttemptsPerStep must be an integer from 1 to 1000, got ${n}`));
    }
  });

  test('a bad callback_url from the CLI: the run succeeds, its delivery fails with a clear error', async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['cli-cb-ftp', 'ftp://example.com/hook', /callback URL must use http: or https:, not ftp:/],
      ['cli-cb-file', 'file:///etc/passwd', /callback URL must use http: or https:, not file:/],
      ['cli-cb-creds', 'https://user:secret@example.com/hook', /callback URL must not embed credentials/],
      ['cli-cb-not-url', 'not a url', /callback URL is not a valid absolute URL/],
    ];
    for (const [id, url, message] of cases) {
      await startRun(id, JSON.stringify({ input: 0, headers: { callback_url: url } }));
      const outcome = await kit.client.result(id);
      assert.equal(outcome.status, 'succeeded', `${id}: the run itself is fine`);
      assert.equal(await workflowTaskFailures(kit, id), 0);
      await eventually(async () => (await kit.client.webhookStatus(id))?.state === 'failed', 30_000, `${id} delivery`);
      const delivery = await kit.client.webhookStatus(id);
      assert.equal(delivery?.state, 'failed');
      assert.equal(delivery?.attempts, 1, `${id}: a bad URL is not retried`);
      assert.match(delivery?.lastError ?? '', message);
      assert.ok(!delivery?.lastError?.includes('secret'), 'credentials do not leak into the delivery status');
    }
  });

  test('shapes the payload converter reads specially: {"$bytes": …} is bytes only when it is base64', async () => {
    await startRun('cli-bytes-bad', '{"input":{"$bytes":"%%%"},"runner":"echo"}');
    assert.deepEqual((await kit.client.result('cli-bytes-bad')).result, { $bytes: '%%%' });
    await startRun('cli-bytes-good', '{"input":{"list":[{"$bytes":"AQI="}]},"runner":"echo"}');
    assert.deepEqual((await kit.client.result('cli-bytes-good')).result, { list: [new Uint8Array([1, 2])] });
    for (const id of ['cli-bytes-bad', 'cli-bytes-good']) assert.equal(await workflowTaskFailures(kit, id), 0);
  });

  test('a workflow input in another encoding, or nested too deep to read, fails the run naming the payload', async () => {
    await startRun('cli-protobuf', '{"input":1}', '--input-meta', 'encoding=json/protobuf');
    await assertFailed(
      kit,
      'cli-protobuf',
      /workflow input: payload with encoding "json\/protobuf" could not be decoded/,
    );
    // Valid JSON, nested deeper than the converter reads (MAX_JSON_DEPTH).
    await startRun('cli-too-deep', `{"input":${'['.repeat(8000)}${']'.repeat(8000)}}`);
    await assertFailed(
      kit,
      'cli-too-deep',
      /^workflow input: payload with encoding "json\/plain" could not be decoded: JSON nested deeper than 1000 levels of arrays and objects \(the MAX_JSON_DEPTH limit\)$/,
    );
  });

  test('a cancel signal in another encoding fails the run naming it; {"$bytes": "!!"} is an object and cancels', async () => {
    const signal = (id: string, ...input: string[]) =>
      temporal('workflow', 'signal', '--workflow-id', id, '--name', 'cancel', '--input', ...input);
    await startRun('cli-cancel-protobuf', '{"input":null,"runner":"waits","heartbeatTimeoutMs":2000}');
    await eventually(() => called.has('cli-cancel-protobuf'));
    await signal('cli-cancel-protobuf', '{"reason":"x"}', '--input-meta', 'encoding=json/protobuf');
    await assertFailed(
      kit,
      'cli-cancel-protobuf',
      /cancel signal argument: payload with encoding "json\/protobuf" could not be decoded/,
    );

    await startRun('cli-cancel-bytes', '{"input":null,"runner":"waits","heartbeatTimeoutMs":2000}');
    await eventually(() => called.has('cli-cancel-bytes'));
    await signal('cli-cancel-bytes', '{"$bytes":"!!"}');
    const outcome = await kit.client.result('cli-cancel-bytes');
    assert.equal(outcome.status, 'cancelled');
    assert.equal(await workflowTaskFailures(kit, 'cli-cancel-bytes'), 0);
  });

  test('after all that, the same worker still serves a normal run started from the CLI', async () => {
    assert.equal(kit.worker.getState(), 'RUNNING');
    await startRun('cli-good', '{"input":0,"headers":{"tenant":"acme"}}');
    const outcome = await kit.client.result('cli-good');
    assert.deepEqual(outcome, {
      runId: 'cli-good',
      status: 'succeeded',
      result: 2,
      headers: { tenant: 'acme' },
      finalStep: 2,
    });
    assert.equal(await workflowTaskFailures(kit, 'cli-good'), 0);
  });
});
