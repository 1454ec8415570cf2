/**
 * The history ceiling on a real dev server: a run whose step runs cannot continue-as-new, so raw
 * `event` signals (sent around the client, as the Temporal CLI does) grow its one history. Past
 * HISTORY_CEILING the run interrupts the step and fails with its webhook, instead of reaching
 * Temporal's 51,200 events, where the server terminates it with no outcome and no webhook.
 *
 * The senders stop once the history passed the ceiling. Measured with senders that go on until
 * the run closes (about 600 signals a second): the step learns of its cancel only at its next
 * heartbeat (then 0.8 × heartbeatTimeoutMs, 24 s by default; now at most 10 s), and the 11,200 events of
 * margin went in about 15 s: once Temporal terminated the run at 51,231 events before the step let
 * go; once the step let go, but every workflow task after it then failed (more than 100 signals
 * buffered while the task ran, the server's limit) until Temporal terminated the run.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { StepOutcome, type StepRunner } from '../src';
import { dataConverter } from '../src/client';
import { DEV_SERVER_ARGS } from '../src/local/dev-server';
import { HISTORY_CEILING } from '../src/shared/run-model';
import { devServerExecutable } from '../src/local/temporal-binaries';
import { createTestKit, type TestKit } from '../src/testing';
import { startReceiver, type Receiver } from '../support/receiver';
import { eventually } from '../support/wait';

/** Temporal terminates a run whose history reaches this many events. */
const TEMPORAL_HISTORY_LIMIT = 51_200;
/**
 * Signals in flight at once (about 600 a second here). With 32, the worker process crashed at
 * 12,000 to 14,000 events, twice: "async hook stack has become corrupted" in a workflow thread.
 */
const SENDERS = 4;
/** The most signals the test sends: each adds at least one event, so the ceiling takes fewer. */
const MAX_SIGNALS = 60_000;

/** Steps that started and steps whose abort signal fired, by run ID (a child's under its parent's). */
const holding = new Map<string, string[]>();
const aborted = new Map<string, string[]>();
const note = (seen: Map<string, string[]>, owner: string, runId: string) =>
  seen.set(owner, [...(seen.get(owner) ?? []), runId]);

const runners: Record<string, StepRunner> = {
  /** Holds its step, heartbeating, until the run interrupts it. */
  holds: async (step) => {
    const owner = (step.payload as { parent?: string } | null)?.parent ?? step.runId;
    note(holding, owner, step.runId);
    const beat = setInterval(() => step.heartbeat({ holding: true }), 1000);
    try {
      await new Promise<void>((resolve) =>
        step.signal.aborted ? resolve() : step.signal.addEventListener('abort', () => resolve()),
      );
    } finally {
      clearInterval(beat);
    }
    note(aborted, owner, step.runId);
    return StepOutcome.succeed('interrupted');
  },
  /** Runs two children that hold their step until interrupted. */
  parent: async (step) =>
    step.stepNumber === 0
      ? StepOutcome.runChildren(null, [
          { input: { parent: step.runId }, runner: 'holds' },
          { input: { parent: step.runId }, runner: 'holds' },
        ])
      : StepOutcome.succeed('children done'),
};

let env: TestWorkflowEnvironment;
let kit: TestKit;
let receiver: Receiver;
before(async () => {
  receiver = await startReceiver();
  // The server refuses signals past 10,000 an execution by default, about the ceiling's worth
  // only if each gets its own workflow task: raised so that signals sent together reach it.
  env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: devServerExecutable(),
      ip: '127.0.0.1',
      extraArgs: [
        ...DEV_SERVER_ARGS,
        '--dynamic-config-value',
        `history.maximumSignalsPerExecution=${MAX_SIGNALS}`,
        // The server fails a workflow task (FORCE_CLOSE_COMMAND) when more than 100 signals arrive
        // while it runs. Past ~10,000 events a task that follows such a failure replays the whole
        // history: 5–9 s on a loaded 2-core machine, during which 4 senders buffer more than 100
        // again. That cascade is the flood meeting Temporal's own limit, not the ceiling tested here.
        '--dynamic-config-value',
        'history.maximumBufferedEventsBatch=2000',
      ],
    },
    client: { dataConverter },
  });
  kit = await createTestKit({
    runners,
    env,
    webhook: { allowPrivate: true, maxRetries: 0, timeoutMs: 5000 },
  });
});
after(async () => {
  await kit?.teardown();
  await env?.teardown();
  await receiver?.close();
});

const handle = (runId: string) => kit.client.temporal.workflow.getHandle(runId);

/**
 * Sends raw `event` signals (ids noise-0…), SENDERS at a time, until the run's history passed
 * `until` events (polled every 500 ms), the run closed, or MAX_SIGNALS went. A signal refused
 * because the run closed meanwhile ends the sending; any other refusal is thrown. Returns how many
 * were sent.
 */
async function flood(runId: string, until: number): Promise<number> {
  let next = 0;
  let done = false;
  let refusal: Error | undefined;
  const sender = async () => {
    while (!done && refusal === undefined && next < MAX_SIGNALS) {
      const id = `noise-${next++}`;
      try {
        await handle(runId).signal('event', { name: 'noise', id, data: id });
      } catch (err) {
        refusal ??= err as Error;
      }
    }
  };
  const watch = async () => {
    for (let i = 0; i < 2 * 600 && !done && refusal === undefined; i++) {
      const d = await handle(runId).describe();
      if (d.status.name !== 'RUNNING' || d.historyLength > until) done = true;
      else await new Promise((r) => setTimeout(r, 500));
    }
    done = true;
  };
  await Promise.all([watch(), ...Array.from({ length: SENDERS }, sender)]);
  if (refusal !== undefined && (await handle(runId).describe()).status.name === 'RUNNING') {
    const why = (refusal.cause as Error | undefined)?.message ?? refusal.message;
    throw new Error(`a signal was refused while the run ran, after ${next} signals: ${why}`, { cause: refusal });
  }
  return next;
}

const { WorkflowTaskFailedCause } = temporal.api.enums.v1;

/**
 * Submits a run of `runner`, waits until `started` steps hold, floods the run with events until
 * its history passed the ceiling, then waits for it to close. Checks what every case shares: the run failed at the ceiling in one execution,
 * below Temporal's limit, with no failed workflow task, and its webhook said so.
 */
async function floodToCeiling(runner: string, started: number, path: string) {
  const began = Date.now();
  const { runId } = await kit.client.submit({
    input: null,
    runner,
    headers: { callback_url: `${receiver.url}${path}` },
  });
  await eventually(() => (holding.get(runId)?.length ?? 0) === started, 60_000, `${started} step(s) hold`);
  const sent = await flood(runId, HISTORY_CEILING);
  const outcome = await Promise.race([
    kit.client.result(runId),
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`the run did not close within 3 min of ${sent} signals`)), 180_000).unref(),
    ),
  ]);
  const seconds = ((Date.now() - began) / 1000).toFixed(1);

  const events = (await handle(runId).fetchHistory()).events ?? [];
  const failedTasks = events
    .filter((e) => e.workflowTaskFailedEventAttributes)
    .map((e) => WorkflowTaskFailedCause[e.workflowTaskFailedEventAttributes!.cause ?? 0]);
  const signalled = events.filter((e) => e.workflowExecutionSignaledEventAttributes).length;
  if (process.env.DEBUG_HISTORY) {
    const first = Number(events[0]?.eventTime?.seconds ?? 0);
    for (const e of events) {
      if (e.workflowExecutionSignaledEventAttributes || e.workflowTaskScheduledEventAttributes) continue;
      if (e.workflowTaskStartedEventAttributes || e.workflowTaskCompletedEventAttributes) continue;
      const kind = Object.keys(e).find((k) => k.endsWith('Attributes') && (e as Record<string, unknown>)[k]);
      console.log(`# event ${String(e.eventId)} +${Number(e.eventTime?.seconds ?? 0) - first}s ${kind}`);
    }
  }
  console.log(
    `# history ceiling, ${runner}: ${sent} signals sent (${signalled} in the history), ${events.length} events, ` +
      `closed after ${seconds} s; failed workflow tasks: ${JSON.stringify(failedTasks)}`,
  );

  assert.equal(outcome.status, 'failed', `after ${sent} signals: ${JSON.stringify(outcome)}`);
  assert.match(outcome.error!, new RegExp(`^history limit: the run's history passed ${HISTORY_CEILING} events`));
  assert.equal(outcome.finalStep, 0);
  assert.equal((await handle(runId).describe()).status.name, 'FAILED');
  assert.ok(
    events.length > HISTORY_CEILING && events.length < TEMPORAL_HISTORY_LIMIT,
    `history of ${events.length} events`,
  );
  assert.ok(events.at(-1)?.workflowExecutionFailedEventAttributes, 'the run closed itself');
  assert.equal(
    events.filter((e) => e.workflowExecutionContinuedAsNewEventAttributes).length,
    0,
    'one execution: a running step or its children do not hand over',
  );
  // The server refuses a task's completion when a signal arrived while it ran (UNHANDLED_COMMAND)
  // and hands the worker a new task with it: the senders' last signals in flight can meet the
  // run's close that way. Any other cause is the workflow failing.
  assert.deepEqual(
    failedTasks.filter((cause) => cause !== 'WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND'),
    [],
    'no workflow task failed',
  );
  assert.ok(failedTasks.length <= 3, `the close met signals in flight at most a few times: ${failedTasks.length}`);

  const hookOf = () => receiver.to(path).find((r) => r.headers['workflow-run-id'] === runId);
  await eventually(() => hookOf() !== undefined, 60_000, 'the webhook');
  assert.equal(hookOf()!.headers['workflow-run-status'], 'failed');
  assert.equal(hookOf()!.body.toString('utf8'), outcome.error);
  return runId;
}

describe(`the history ceiling (${HISTORY_CEILING} events) while a step or its children run`, () => {
  test(
    'events sent while a step runs: the step is interrupted and the run fails, with its webhook',
    { timeout: 600_000 },
    async () => {
      const runId = await floodToCeiling('holds', 1, '/ceiling-step');
      assert.deepEqual(aborted.get(runId), [runId], "the step's abort signal fired");
    },
  );

  test(
    'events sent while children run: the children are cancelled and the run fails, with its webhook',
    { timeout: 600_000 },
    async () => {
      const runId = await floodToCeiling('parent', 2, '/ceiling-children');
      const children = holding.get(runId)!;
      await eventually(() => aborted.get(runId)?.length === 2, 60_000, "the children's steps are interrupted");
      for (const child of children) {
        await eventually(
          async () => (await handle(child).describe()).status.name === 'CANCELLED',
          60_000,
          `child ${child} cancelled`,
        );
      }
    },
  );
});
