/**
 * Property-based: no inbound payload wedges a run. Generated values — any JSON, the shapes the
 * payload converter treats specially (`{"$bytes": …}` with good and bad base64, deep nesting,
 * `__proto__` keys, numbers past float range), bytes that are not JSON and encodings the converter
 * does not know — go through the real path: raw gRPC → dev server → worker. They arrive as the
 * workflow input, as the continue-as-new carry, as a `cancel` signal's argument, as an unknown
 * signal and as query arguments. Every run must close (Completed, or Failed with a message) or
 * keep running normally, and no workflow task may fail.
 *
 * Bounded: a fixed number of cases per property (FUZZ_RUNS, default below); FUZZ_SEED replays one.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { temporal } from '@temporalio/proto';
import fc from 'fast-check';
import { MAX_JSON_DEPTH, MAX_VALUE_DEPTH, StepOutcome, type StepRunner } from '../src';
import { payloadConverter } from '../src/shared/payload-converter';
import { createTestKit, type TestKit } from '../src/testing';
import { eventually, StopWaiting } from '../support/wait';

type Payload = temporal.api.common.v1.IPayload;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

// Every failed run logs a warning; these runs fail by design.
process.env.DURABLE_RUNS_TEST_LOG_LEVEL ??= 'ERROR';

const RUNS = Number(process.env.FUZZ_RUNS ?? 40);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const params = {
  numRuns: RUNS,
  ...(SEED === undefined ? {} : { seed: SEED }),
  endOnFailure: true,
  includeErrorInReport: true,
};

const started = new Set<string>();
const runners: Record<string, StepRunner> = {
  echo: async (step) => StepOutcome.succeed(step.payload),
  /** Holds its step until the run is cancelled. */
  waits: async (step) => {
    started.add(step.runId);
    await new Promise((resolve) => step.signal.addEventListener('abort', resolve));
    return StepOutcome.succeed('discarded');
  },
};

const utf8 = (text: string) => new TextEncoder().encode(text);
const jsonPayload = (text: string): Payload => ({ metadata: { encoding: utf8('json/plain') }, data: utf8(text) });

/** JSON text of values the converter reads specially. */
const specialJson: fc.Arbitrary<string> = fc.oneof(
  fc.string().map((s) => JSON.stringify({ $bytes: s })),
  fc.base64String().map((s) => JSON.stringify({ $bytes: s })),
  fc.jsonValue().map((v) => JSON.stringify({ $bytes: v })),
  fc.tuple(fc.base64String(), fc.jsonValue()).map(([s, v]) => JSON.stringify({ $bytes: s, other: v })),
  fc.integer({ min: 1, max: 30_000 }).map((depth) => '['.repeat(depth) + ']'.repeat(depth)),
  fc.integer({ min: 1, max: 30_000 }).map((depth) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)),
  fc.jsonValue().map((v) => `{"__proto__": ${JSON.stringify(v)}}`),
  fc.constantFrom('1e400', '-1e400', '123456789012345678901234567890', '"\\ud800"', '{"a":1,"a":2}'),
);

/** Any JSON text, special shapes nested inside ordinary JSON too. */
const jsonText: fc.Arbitrary<string> = fc.oneof(
  fc.jsonValue().map((v) => JSON.stringify(v)),
  specialJson,
  fc.tuple(fc.jsonValue(), specialJson).map(([v, special]) => `{"outer": ${JSON.stringify(v)}, "inner": [${special}]}`),
);

/** Payloads that are not JSON: unknown encodings, bytes that do not parse, no metadata at all. */
const oddPayload: fc.Arbitrary<Payload> = fc.oneof(
  fc
    .tuple(fc.constantFrom('json/protobuf', 'binary/plain', 'binary/null', 'foo', '', 'json/plain '), jsonText)
    .map(([encoding, text]) => ({ metadata: { encoding: utf8(encoding) }, data: utf8(text) })),
  fc.uint8Array({ maxLength: 64 }).map((data) => ({ metadata: { encoding: utf8('json/plain') }, data })),
  fc.string().map((text) => ({ metadata: { encoding: utf8('json/plain') }, data: utf8(text) })),
  fc.uint8Array({ maxLength: 64 }).map((data) => ({ metadata: {}, data })),
  fc.constant({ metadata: { encoding: utf8('json/plain') } }),
);

const anyPayload: fc.Arbitrary<Payload> = fc.oneof(jsonText.map(jsonPayload), oddPayload);

let kit: TestKit;
let seq = 0;
const nextId = (what: string) => `fuzz-${what}-${process.pid}-${++seq}`;

before(async () => {
  kit = await createTestKit({ runners, server: 'local' });
});
after(async () => {
  await kit?.teardown();
});

const service = () => kit.client.temporal.workflowService;
const namespace = () => kit.client.temporal.options.namespace;

async function history(workflowId: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await service().getWorkflowExecutionHistory({
      namespace: namespace(),
      execution: { workflowId },
      ...(nextPageToken ? { nextPageToken } : {}),
    });
    events.push(...(page.history?.events ?? []));
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
  return events;
}

const failedTasks = (events: HistoryEvent[]) => events.filter((e) => e.workflowTaskFailedEventAttributes);

/** Stops the wait at once when a workflow task failed: a retrying task never mends. */
function assertNoFailedTask(workflowId: string, events: HistoryEvent[]): void {
  const failed = failedTasks(events)[0]?.workflowTaskFailedEventAttributes;
  if (failed) {
    throw new StopWaiting(
      `${workflowId}: a workflow task failed (${String(failed.cause)}): ${failed.failure?.message ?? '(no message)'}`,
    );
  }
}

/** Starts `durableRun` with these exact payloads as its arguments, bypassing every client-side check. */
async function startRaw(workflowId: string, args: Payload[]): Promise<void> {
  await service().startWorkflowExecution({
    namespace: namespace(),
    workflowId,
    workflowType: { name: 'durableRun' },
    taskQueue: { name: kit.taskQueue },
    input: { payloads: args },
    requestId: workflowId,
  });
}

/** Waits until the run closes; it must close Completed or Failed-with-a-message, and no task failed. */
async function assertClosesCleanly(workflowId: string): Promise<'COMPLETED' | 'FAILED'> {
  let status = '';
  await eventually(
    async () => {
      assertNoFailedTask(workflowId, await history(workflowId));
      const description = await kit.client.temporal.workflow.getHandle(workflowId).describe();
      status = description.status.name;
      return status !== 'RUNNING';
    },
    60_000,
    `${workflowId} closes`,
  );
  const events = await history(workflowId);
  assert.deepEqual(failedTasks(events), [], `${workflowId}: a workflow task failed`);
  const last = events.at(-1)!;
  if (status === 'FAILED') {
    const message = last.workflowExecutionFailedEventAttributes?.failure?.message ?? '';
    assert.ok(message.length > 0, `${workflowId}: failed with a message`);
    return 'FAILED';
  }
  assert.equal(status, 'COMPLETED', `${workflowId} closed ${status}`);
  return 'COMPLETED';
}

/**
 * Waits until the run has handled everything sent so far: a workflow task completed after the
 * last event of `kind`. Fails at once if a workflow task failed.
 */
async function assertHandled(workflowId: string, kind: keyof HistoryEvent): Promise<void> {
  await eventually(
    async () => {
      const events = await history(workflowId);
      assertNoFailedTask(workflowId, events);
      const sent = events.map((e) => Boolean(e[kind])).lastIndexOf(true);
      return sent >= 0 && events.slice(sent).some((e) => e.workflowTaskCompletedEventAttributes);
    },
    60_000,
    `${workflowId} handles its ${String(kind)}`,
  );
}

/**
 * An input nested at most this deep makes the round trip. Deeper, the echo's result is refused
 * (MAX_VALUE_DEPTH), or past MAX_JSON_DEPTH - 1 the workflow input (one level more) is.
 */
const MAX_ECHOED_NESTING = MAX_VALUE_DEPTH;

/** How deep arrays and objects nest in JSON text. */
function nesting(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '[' || c === '{') max = Math.max(max, ++depth);
    else if (c === ']' || c === '}') depth--;
  }
  return max;
}

/**
 * What the run should return for JSON text `text` given as its input: the value read, written and
 * read again (JSON has no Infinity: 1e400 reads as Infinity and comes back null), or undefined
 * when the client cannot read it either.
 */
function echoed(text: string): { value: unknown } | undefined {
  try {
    const value = payloadConverter.fromPayload(jsonPayload(text));
    return { value: payloadConverter.fromPayload(payloadConverter.toPayload(value)) };
  } catch {
    return undefined;
  }
}

test('the checks fail at once, naming the failure, if a workflow task failed', async () => {
  // No workflow of this type in the bundle: the worker fails every task of the execution.
  const id = nextId('task-fails');
  await service().startWorkflowExecution({
    namespace: namespace(),
    workflowId: id,
    workflowType: { name: 'noSuchWorkflow' },
    taskQueue: { name: kit.taskQueue },
    input: { payloads: [] },
    requestId: id,
  });
  try {
    const started = Date.now();
    await assert.rejects(assertClosesCleanly(id), (err: Error) => {
      assert.ok(err instanceof StopWaiting, String(err));
      assert.match(err.message, /: a workflow task failed \(.*\): .*noSuchWorkflow/);
      return true;
    });
    // The wait allows 60 s; the first failed task must end it (its retries only repeat it).
    assert.ok(Date.now() - started < 20_000, `failed after ${Date.now() - started} ms`);
  } finally {
    await kit.client.temporal.workflow.getHandle(id).terminate('test done');
  }
});

describe('no inbound payload wedges a run (fast-check, dev server)', () => {
  test('any JSON as a run input: the run echoes it back or fails naming the input', async () => {
    await fc.assert(
      fc.asyncProperty(jsonText, async (text) => {
        const id = nextId('input');
        await startRaw(id, [jsonPayload(`{"input": ${text}, "runner": "echo"}`)]);
        const status = await assertClosesCleanly(id);
        const expected = echoed(text);
        if (status === 'COMPLETED') {
          // The client reads what the worker read: the same converter, the same value.
          assert.ok(expected, `${id}: completed, so the client reads its input too`);
          assert.ok(nesting(text) <= MAX_ECHOED_NESTING, `${id}: completed with an input nested past the bound`);
          // Compared as the converter writes them: deepEqual recurses and overflows on deep values.
          const written = (value: unknown) => Buffer.from(payloadConverter.toPayload(value).data!).toString();
          assert.equal(written((await kit.client.result(id)).result), written(expected.value));
        } else {
          // Only a value nested past the bound is refused, and then by name.
          const failure = (await history(id)).at(-1)?.workflowExecutionFailedEventAttributes?.failure;
          assert.ok(nesting(text) > MAX_ECHOED_NESTING, `${id}: failed (${failure?.message}) for ${text.slice(0, 80)}`);
          assert.match(
            failure?.message ?? '',
            nesting(text) >= MAX_JSON_DEPTH
              ? /^workflow input: payload .* could not be decoded: JSON nested deeper than/
              : /^step 0: step outcome: the step's result nests arrays and objects deeper than/,
          );
        }
      }),
      params,
    );
  });

  test('any payload as the whole workflow input, or as its continue-as-new carry, closes the run cleanly', async () => {
    await fc.assert(
      fc.asyncProperty(anyPayload, fc.boolean(), async (payload, asCarry) => {
        const id = nextId(asCarry ? 'carry' : 'spec');
        const args = asCarry ? [jsonPayload('{"input": 1, "runner": "echo"}'), payload] : [payload];
        await startRaw(id, args);
        await assertClosesCleanly(id);
      }),
      params,
    );
  });

  test('any JSON as headers, runner or limits closes the run cleanly', async () => {
    const field = fc.constantFrom('headers', 'runner', 'maxAttemptsPerStep', 'heartbeatTimeoutMs', 'unknownField');
    await fc.assert(
      fc.asyncProperty(field, jsonText, async (name, text) => {
        const id = nextId('field');
        await startRaw(id, [jsonPayload(`{"input": 1, "runner": "echo", "${name}": ${text}}`)]);
        await assertClosesCleanly(id);
      }),
      params,
    );
  });

  test('any payload as a cancel signal argument ends the run Canceled or Failed, never wedged', async () => {
    await fc.assert(
      fc.asyncProperty(anyPayload, async (payload) => {
        const id = nextId('cancel');
        await startRaw(id, [jsonPayload('{"input": null, "runner": "waits", "heartbeatTimeoutMs": 2000}')]);
        await eventually(() => started.has(id));
        await service().signalWorkflowExecution({
          namespace: namespace(),
          workflowExecution: { workflowId: id },
          signalName: 'cancel',
          input: { payloads: [payload] },
          requestId: id,
        });
        let status = '';
        await eventually(async () => {
          assert.deepEqual(failedTasks(await history(id)), [], `${id}: a workflow task failed`);
          status = (await kit.client.temporal.workflow.getHandle(id).describe()).status.name;
          return status !== 'RUNNING';
        }, 60_000);
        assert.ok(status === 'CANCELLED' || status === 'FAILED', `${id} closed ${status}`);
        assert.deepEqual(failedTasks(await history(id)), []);
      }),
      params,
    );
  });

  test('event signals, unknown signals and odd query arguments leave a running run running', async () => {
    const id = nextId('live');
    await startRaw(id, [jsonPayload('{"input": null, "runner": "waits", "heartbeatTimeoutMs": 2000}')]);
    await eventually(() => started.has(id));
    const signalName = fc.oneof(
      fc.string({ minLength: 1 }),
      fc.constantFrom('event', 'event', '__temporal_x', '__stack_trace', 'Cancel', 'durableRuns.memo'),
    );
    await fc.assert(
      fc.asyncProperty(signalName, fc.array(anyPayload, { maxLength: 3 }), async (name, payloads) => {
        await service().signalWorkflowExecution({
          namespace: namespace(),
          workflowExecution: { workflowId: id },
          signalName: name,
          input: { payloads },
          requestId: `${id}-${++seq}`,
        });
        await assertHandled(id, 'workflowExecutionSignaledEventAttributes');
        const { queryResult } = await service().queryWorkflow({
          namespace: namespace(),
          execution: { workflowId: id },
          query: { queryType: 'status', queryArgs: { payloads } },
        });
        const status = payloadConverter.fromPayload<{ state: string; step: number }>(queryResult!.payloads![0]!);
        assert.equal(status.state, 'running');
        assert.equal(status.step, 0);
      }),
      params,
    );
    // Still a working run: a plain cancel ends it Canceled.
    assert.equal(await kit.client.cancel(id, 'done'), true);
    assert.equal((await kit.client.result(id)).status, 'cancelled');
    assert.deepEqual(failedTasks(await history(id)), []);
  });

  test('after all that, the same worker still serves a normal run', async () => {
    const { runId } = await kit.client.submit({ input: { hello: new Uint8Array([1, 2]) }, runner: 'echo' });
    assert.deepEqual((await kit.client.result(runId)).result, { hello: new Uint8Array([1, 2]) });
  });
});
