/**
 * `npm run histories:record`: runs one scenario per workflow path on the time-skipping server and
 * writes each execution's history to `test/histories/<version>/<workflowId>[@<n>].json` (the SDK's
 * JSON export, the format of `temporal workflow show -o json`). `test/replay.test.ts` replays
 * every file under test/histories with the current workflow code.
 *
 * Histories of a released version stay while runs it started may still be open: record into a new
 * version folder, never over an old one.
 *
 * `HISTORIES_OUT=<dir>` writes into another folder instead (e.g. a scratch one under /tmp), to try
 * a scenario without touching the corpus.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import { fastSteps, limited, MAX_COMMAND_BYTES, MAX_JSON_DEPTH, StepError, StepOutcome, type StepRunner } from '../src';
import { webhookWorkflowId } from '../src/shared/names';
import { resolveTemporalCli } from '../src/local/temporal-binaries';
import { STATE_ATTRIBUTE_ARGS } from '../src/local/dev-server';
import { NativeConnection } from '@temporalio/worker';
import { createWorker, RunsClient } from '../src';
import { createTestEnv, createTestKit, type TestKit, workflowBundle } from '../src/testing';
import { startGrpcFaultProxy } from '../test/helpers/grpc-fault-proxy';
import { eventually } from '../support/wait';

const ROOT = join(__dirname, '..');
const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
/** Where the histories go: `HISTORIES_OUT`, or the corpus folder of this package version. */
const outDir = process.env.HISTORIES_OUT
  ? resolve(process.env.HISTORIES_OUT)
  : join(ROOT, 'test', 'histories', version);

const waitForAbort = (signal: AbortSignal) =>
  new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve())));

const started = new Set<string>();
const attempts = new Map<string, number>();
/** Runs whose first step may go on (`waitsLong` holds it until the script has sent its events). */
const released = new Set<string>();
const until = (check: () => boolean) => eventually(check, 30_000);
const runners: Record<string, StepRunner> = {
  /** Two steps of a runner in limit group `histapi`: the first call comes back as a reroute. */
  limitedTwo: limited(
    async (step) => (step.stepNumber === 0 ? StepOutcome.continue(1) : StepOutcome.succeed('ok')),
    'histapi',
  ),
  /** Its first attempt asks to be retried after 5 s. */
  retriesAfter: async (step) => {
    if (step.attempt === 1) throw StepError.retryAfter('5s', '429 Too Many Requests');
    return StepOutcome.succeed({ attempt: step.attempt });
  },
  /** $0.02 and 100 tokens a step; succeeds at step 4. */
  spends: async (step) => {
    step.usage({ model: 'm', inputTokens: 80, outputTokens: 20, costUsd: 0.02 });
    return step.stepNumber < 4 ? StepOutcome.continue(step.stepNumber + 1) : StepOutcome.succeed('spent');
  },
  /** Reports $0.10, then fails its attempt. */
  spendsThenThrows: async (step) => {
    step.usage({ costUsd: 0.1 });
    throw StepError.transient('the model went away');
  },
  /** 120 fast steps, step 60 failing once (inside a chain). */
  fastCounts: fastSteps(async (step) => {
    if (step.stepNumber === 60 && step.attempt === 1) throw StepError.transient('blip');
    return step.stepNumber < 119 ? StepOutcome.continue(step.stepNumber) : StepOutcome.succeed('done');
  }),
  fastForever: fastSteps(async (step) => {
    started.add(step.runId);
    await new Promise((r) => setTimeout(r, 2));
    return StepOutcome.continue(step.stepNumber);
  }),
  /** Streams five chunks, then succeeds; with `failFirst`, its first attempt fails after them. */
  streams: async (step) => {
    for (let i = 0; i < 5; i++) step.stream(`token ${i} `);
    if ((step.payload as { failFirst?: boolean } | null)?.failFirst && step.attempt === 1)
      throw StepError.transient('the model went away');
    return StepOutcome.succeed('streamed');
  },
  threeSteps: async (step) =>
    step.stepNumber < 2
      ? StepOutcome.continue({ n: step.stepNumber + 1, bytes: new Uint8Array([step.stepNumber]) })
      : StepOutcome.succeed(step.payload),
  fails: async () => StepOutcome.fail('card declined'),
  permanent: async () => {
    throw StepError.permanent('no such account');
  },
  flaky: async (step) => {
    const n = (attempts.get(step.runId) ?? 0) + 1;
    attempts.set(step.runId, n);
    if (n === 1) throw StepError.transient('upstream 503');
    return StepOutcome.succeed('second time lucky');
  },
  alwaysThrows: async () => {
    throw new Error('still broken');
  },
  sleeps: async (step) =>
    step.stepNumber === 0 ? StepOutcome.continueAfter('woke', '1h') : StepOutcome.succeed(step.payload),
  counts: async (step) => (step.stepNumber < 11 ? StepOutcome.continue(step.stepNumber) : StepOutcome.succeed('done')),
  waits: async (step) => {
    started.add(step.runId);
    await waitForAbort(step.signal);
    return StepOutcome.succeed('discarded');
  },
  selfCancel: async () => StepOutcome.cancel('runner gave up'),
  approval: async (step) =>
    step.stepNumber === 0
      ? StepOutcome.waitForEvent(step.payload, { events: ['approve', 'reject'], timeout: '1h' })
      : StepOutcome.succeed({ event: step.event ?? null, timedOut: step.timedOut ?? false }),
  waitsLong: async (step) => {
    if (step.stepNumber === 0) {
      started.add(step.runId);
      await until(() => released.has(step.runId));
    }
    if (step.stepNumber < 12) return StepOutcome.continue(null);
    if (step.stepNumber === 12) return StepOutcome.waitForEvent(null, { events: 'late' });
    return StepOutcome.succeed(step.event ?? null);
  },
  memoRetry: async (step) => {
    const charge = await step.memo('charge', async () => ({ id: 'ch_1' }));
    if (step.attempt === 1) throw StepError.transient('the network blinked');
    return StepOutcome.succeed(charge);
  },
  family: async (step) =>
    step.stepNumber === 0
      ? StepOutcome.runChildren(null, [{ input: 1 }, { input: 2, runner: 'fails' }, { input: 3 }], { maxConcurrent: 2 })
      : StepOutcome.succeed(step.children!.map((c) => c.status)),
  holdingFamily: async () =>
    StepOutcome.runChildren(null, [
      { input: 0, runner: 'waits' },
      { input: 1, runner: 'waits' },
    ]),
  default: async () => StepOutcome.succeed('child done'),
  counts3: async (step) => StepOutcome.continue(step.stepNumber),
  // ── limits: continue-as-new while waiting, the deadline across executions, size bounds
  /** Pays once (memoised), fails attempts 1–3, then succeeds: backoffs of 1, 2 and 4 s. */
  memoBackoff: async (step) => {
    const charge = await step.memo('charge', async () => ({ id: 'ch_1' }));
    if (step.attempt < 4) throw StepError.transient(`the network blinked (${step.attempt})`);
    return StepOutcome.succeed(charge);
  },
  sleepsForever: async () => StepOutcome.continueAfter(null, '1h'),
  // ── messages: a step whose first attempt holds until the script has forged a memo for it, then fails
  memoAfterForgery: async (step) => {
    if (step.attempt === 1) {
      started.add(step.runId);
      await until(() => released.has(step.runId));
      throw StepError.transient('first attempt fails');
    }
    return StepOutcome.succeed(await step.memo('charge', async () => ({ id: 'ch_real' })));
  },
  // ── corpus: runners of the paths recorded in the corpus block of main()
  /** Fast steps without end, 20 ms each: a first chain stops after 500 ms, later ones go on in local activities. */
  fastEndless: fastSteps(async (step) => {
    await new Promise((r) => setTimeout(r, 20));
    return StepOutcome.continue(step.stepNumber);
  }),
  /** Two children that sleep an hour in their first step. */
  sleepingFamily: async (step) =>
    step.stepNumber === 0
      ? StepOutcome.runChildren(null, [
          { input: 0, runner: 'sleeps' },
          { input: 1, runner: 'sleeps' },
        ])
      : StepOutcome.succeed(step.children!.map((c) => `${c.status}: ${c.error ?? ''}`)),
  /** One child that sleeps an hour, or (payload `{ runId }`) one that takes a run ID already in use. */
  oneChild: async (step) =>
    step.stepNumber === 0
      ? StepOutcome.runChildren(null, [
          {
            input: 0,
            runner: 'sleeps',
            ...((step.payload as { runId?: string } | null)?.runId
              ? { runId: (step.payload as { runId: string }).runId }
              : {}),
          },
        ])
      : StepOutcome.succeed(step.children!.map((c) => `${c.status}: ${c.error ?? ''}`)),
  // ── ops: a parent whose first child names its own tenant (Patch child-own-fairness-key).
  familyOwnTenant: async (step) =>
    step.stepNumber === 0
      ? StepOutcome.runChildren(null, [{ input: 1, headers: { tenant: 'child-tenant' } }, { input: 2 }])
      : StepOutcome.succeed(step.children!.map((c) => c.status)),
  // ── i21-day-two: step 2 fails the first time it runs in a process (reset, retry); a pipeline to fork.
  failsOnceAtStep2: async (step) => {
    if (step.stepNumber < 2) return StepOutcome.continue(step.payload);
    const n = (attempts.get(`${step.runId}/2`) ?? 0) + 1;
    attempts.set(`${step.runId}/2`, n);
    return n === 1 ? StepOutcome.fail('the model was down') : StepOutcome.succeed('second time lucky');
  },
  pipeline: async (step) =>
    step.stepNumber === 5
      ? StepOutcome.succeed(step.payload)
      : StepOutcome.continue([...(step.payload as number[]), step.stepNumber]),
  // ── i21-park: steps that park their run (onExhausted: 'park') until the script resumes it
  /** Charges once (memoised), then throws a transient error until its payload says `fixed`. */
  parksFlaky: async (step) => {
    const charge = await step.memo('charge', async () => ({ id: 'ch_1' }));
    if (!(step.payload as { fixed?: boolean } | null)?.fixed) throw StepError.transient(`down (${step.attempt})`);
    return StepOutcome.succeed(charge);
  },
  /** Throws a permanent error until the script released its run. */
  parksPermanent: async (step) => {
    if (!released.has(step.runId)) throw StepError.permanent('no such account');
    return StepOutcome.succeed(step.payload);
  },
  // ── i27-run-story: a short sleep (its timer labelled)
  sleepsBriefly: async (step) =>
    step.stepNumber === 0 ? StepOutcome.continueAfter(null, 1000) : StepOutcome.succeed('slept'),
  // ── i20-depth: the JSON nesting bound (MAX_JSON_DEPTH), step results handed over by hand, size bounds
  /** Step 0 continues with a string of `payload` characters; step 1 succeeds with its length. */
  bigPayload: async (step) =>
    step.stepNumber === 0
      ? StepOutcome.continue('y'.repeat(step.payload as number))
      : StepOutcome.succeed((step.payload as string).length),
};

/** Writes every execution of `workflowId`, oldest first (walking a continue-as-new chain back). */
async function record(kit: TestKit, workflowId: string): Promise<string[]> {
  const runIds: string[] = [];
  let runId: string | undefined = (await kit.client.temporal.workflow.getHandle(workflowId).describe()).runId;
  while (runId) {
    runIds.unshift(runId);
    const history = await kit.client.temporal.workflow.getHandle(workflowId, runId).fetchHistory();
    runId = history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
  }
  const cli = resolveTemporalCli();
  if (!cli) throw new Error('the Temporal CLI is not installed: npm run temporal:install');
  return runIds.flatMap((id, i) => {
    const file = runIds.length === 1 ? `${workflowId}.json` : `${workflowId}@${i + 1}.json`;
    // Never over a recording: it stands for the code that made it, which runs in flight may have.
    if (existsSync(join(outDir, file))) return [];
    // The Temporal CLI's export: the format operators attach to bug reports, and what replay reads.
    const json = execFileSync(
      cli,
      [
        'workflow',
        'show',
        '--workflow-id',
        workflowId,
        '--run-id',
        id,
        '--output',
        'json',
        '--address',
        kit.env.address,
      ],
      // A history may hold payloads of up to 2 MiB each.
      { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 },
    );
    writeFileSync(join(outDir, file), json);
    return [file];
  });
}

async function main(): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  // A group with a limit on this worker: its runner's steps go to the group's queue (a reroute).
  process.env.DURABLE_RUNS_LIMITS = 'histapi=concurrency:4';
  let status = 200;
  /** Statuses for the next requests, before `status` again. */
  const answers: number[] = [];
  const receiver: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(answers.shift() ?? status).end());
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const kit = await createTestKit({
    runners,
    webhook: { allowPrivate: true, maxRetries: 1, baseDelayMs: 100 },
  });
  const files: string[] = [];
  const done = async (runId: string) => {
    await kit.client.result(runId);
    files.push(...(await record(kit, runId)));
  };
  try {
    // HISTORIES_ONLY=run-story records that block alone (the rest of the corpus stays as recorded).
    if (process.env.HISTORIES_ONLY === 'run-story') {
      files.push(...(await recordRunStory(kit)));
      return;
    }
    const submit = (runId: string, runner: string, extra: Record<string, unknown> = {}) =>
      kit.client.submit({ runId, runner, input: { hello: 'world' }, ...extra });
    /** Submits a run, waits for it to close and records it. */
    const scenario = async (runId: string, runner: string, extra: Record<string, unknown> = {}) => {
      await submit(runId, runner, extra);
      await done(runId);
    };

    await scenario('succeeded', 'threeSteps', { headers: { tenant: 'acme' } });
    await scenario('failed-outcome', 'fails');
    await scenario('failed-permanent-error', 'permanent');
    await scenario('retried-then-succeeded', 'flaky');
    await scenario('retries-exhausted', 'alwaysThrows', { maxAttemptsPerStep: 2 });
    await scenario('continue-after', 'sleeps');
    await scenario('continue-as-new', 'counts', { maxHistoryEvents: 40 });
    await scenario('unknown-runner', 'nobody');
    await scenario('runner-cancel', 'selfCancel');

    await submit('cancel-signal-mid-step', 'waits', { heartbeatTimeoutMs: 2000 });
    await until(() => started.has('cancel-signal-mid-step'));
    await kit.client.cancel('cancel-signal-mid-step', 'no longer needed');
    await done('cancel-signal-mid-step');

    await submit('cancel-temporal-mid-step', 'waits', { heartbeatTimeoutMs: 2000 });
    await until(() => started.has('cancel-temporal-mid-step'));
    await kit.client.temporal.workflow.getHandle('cancel-temporal-mid-step').cancel();
    await done('cancel-temporal-mid-step');

    await submit('cancel-during-sleep', 'sleeps');
    await waitForState(kit, 'cancel-during-sleep', 'sleeping');
    await kit.client.cancel('cancel-during-sleep', 'woke too late');
    await done('cancel-during-sleep');

    await submit('cancel-during-backoff', 'alwaysThrows', { maxAttemptsPerStep: 3 });
    await waitForState(kit, 'cancel-during-backoff', 'sleeping');
    await kit.client.cancel('cancel-during-backoff');
    await done('cancel-during-backoff');

    await kit.client.temporal.workflow.signalWithStart('durableRun', {
      workflowId: 'cancel-before-first-step',
      taskQueue: kit.taskQueue,
      args: [{ input: 1, runner: 'waits' }],
      signal: 'cancel',
      signalArgs: [{ reason: 'changed my mind' }],
    });
    await done('cancel-before-first-step');

    await submit('bad-cancel-signal', 'waits', { heartbeatTimeoutMs: 2000 });
    await until(() => started.has('bad-cancel-signal'));
    await kit.client.temporal.workflow.getHandle('bad-cancel-signal').signal('cancel', { reason: 42 });
    await done('bad-cancel-signal');

    await kit.client.temporal.workflow.start('durableRun', {
      workflowId: 'invalid-input',
      taskQueue: kit.taskQueue,
      args: [{ runner: 'threeSteps' }],
    });
    await done('invalid-input');

    await submit('wait-event', 'approval');
    await waitForState(kit, 'wait-event', 'waiting');
    await kit.client.sendEvent('wait-event', 'approve', { by: 'ana' }, { id: 'evt-1' });
    await done('wait-event');
    await scenario('wait-timeout', 'approval');
    await submit('wait-cancelled', 'approval');
    await waitForState(kit, 'wait-cancelled', 'waiting');
    await kit.client.sendEvent('wait-cancelled', 'unrelated', 1);
    await kit.client.cancel('wait-cancelled', 'nobody will answer');
    await done('wait-cancelled');
    await submit('events-across-continue-as-new', 'waitsLong', { maxHistoryEvents: 30 });
    await until(() => started.has('events-across-continue-as-new'));
    await kit.client.sendEvent('events-across-continue-as-new', 'late', 'kept', { id: 'late-1' });
    await kit.client.sendEvent('events-across-continue-as-new', 'late', 'duplicate', { id: 'late-1' });
    released.add('events-across-continue-as-new');
    await done('events-across-continue-as-new');
    await scenario('memo-retry', 'memoRetry');

    await scenario('children', 'family');
    await submit('children-cancelled', 'holdingFamily', { heartbeatTimeoutMs: 2000 });
    await until(() => started.has('children-cancelled-0-0') && started.has('children-cancelled-0-1'));
    await kit.client.cancel('children-cancelled', 'stop the family');
    await done('children-cancelled');
    // Both children take the same path (cancelled by the parent mid-step): one recording.
    await kit.client.result('children-cancelled-0-1');
    await done('children-cancelled-0-0');
    await scenario('step-budget', 'counts3', { maxSteps: 3 });
    await scenario('deadline-mid-step', 'waits', { deadline: '2s', heartbeatTimeoutMs: 2000 });
    await scenario('delayed-start', 'threeSteps', { startDelay: '10m' });

    // Fast steps in chains (fast-steps*.json: the first version, one local activity a step). The
    // kit's worker has no terminal hook for these runs (no user hooks, no callback URL): a chain-mode
    // run closes without the hooks local activity.
    await scenario('fast-chain', 'fastCounts');
    // Continue-as-new in the backoff of step 60: the next execution keeps attempt 2 (Patch.CarryAttempt).
    await scenario('carry-attempt', 'fastCounts', { maxHistoryEvents: 5 });
    // A cancel through a chain of fast steps, on a real dev server: its clock is not skipped, so
    // the cancel lands mid-chain, between local activities, as it does on a cluster.
    const live = await createTestKit({ runners, server: 'local', webhook: false });
    try {
      await live.client.submit({ runId: 'fast-chain-cancelled', runner: 'fastForever', input: { hello: 'world' } });
      await until(() => started.has('fast-chain-cancelled'));
      // Past the first chain (an activity): the cancel lands between local-activity chains.
      await eventually(async () => (await live.client.status('fast-chain-cancelled')).step > 300, 30_000);
      await live.client.cancel('fast-chain-cancelled', 'enough');
      await live.client.result('fast-chain-cancelled');
      files.push(...(await record(live, 'fast-chain-cancelled')));
    } finally {
      await live.teardown();
    }

    // The first attempt as a local activity (0.1.0's webhook-delivered and webhook-refused: every
    // attempt an activity, as before), then retries in the activity. Only the delivery is recorded:
    // its run takes the path of `succeeded` or `failed-outcome`.
    const delivery = async (runId: string, runner: string) => {
      await submit(runId, runner, { headers: { callback_url: hookUrl } });
      await kit.client.result(runId);
      await kit.client.temporal.workflow
        .getHandle(webhookWorkflowId(runId))
        .result()
        .catch(() => undefined);
      files.push(...(await record(kit, webhookWorkflowId(runId))));
    };
    await delivery('webhook-local-delivered', 'threeSteps');
    answers.push(503);
    await delivery('webhook-local-retried', 'threeSteps');
    answers.push(503, 503);
    await delivery('webhook-local-exhausted', 'fails');

    status = 410;
    await delivery('webhook-local-refused', 'fails');
    // ── limits: continue-as-new during a wait (events sent during it), a sleep and a backoff with
    // a memo (patch continue-as-new-while-waiting), a deadline across continue-as-new, a size bound.
    const describeRun = (runId: string) => kit.client.temporal.workflow.getHandle(runId).describe();
    /**
     * Sends raw `event` signals (as the Temporal CLI does) until the history passes maxHistoryEvents
     * (30), then waits for the hand-over: the server refuses a continue-as-new while signals keep
     * arriving during its workflow task.
     */
    const noiseUntilHandedOver = async (runId: string) => {
      for (let i = 0; i < 100 && ((await describeRun(runId)).historyLength ?? 0) <= 30; i++) {
        await kit.client.temporal.workflow.getHandle(runId).signal('event', { name: 'noise', id: `noise-${i}` });
      }
      await eventually(async () => {
        const d = await describeRun(runId);
        return d.runId !== d.raw.workflowExecutionInfo?.firstRunId;
      }, 30_000);
    };
    await submit('wait-continue-as-new', 'approval', { maxHistoryEvents: 30 });
    await waitForState(kit, 'wait-continue-as-new', 'waiting');
    await noiseUntilHandedOver('wait-continue-as-new');
    await kit.client.temporal.workflow
      .getHandle('wait-continue-as-new')
      .signal('event', { name: 'approve', id: 'evt-1', data: { by: 'ana' } });
    await done('wait-continue-as-new');
    await submit('sleep-continue-as-new', 'sleeps', { maxHistoryEvents: 30 });
    await waitForState(kit, 'sleep-continue-as-new', 'sleeping');
    await noiseUntilHandedOver('sleep-continue-as-new');
    await done('sleep-continue-as-new');
    await submit('backoff-continue-as-new', 'memoBackoff', { maxHistoryEvents: 30, maxAttemptsPerStep: 5 });
    await waitForState(kit, 'backoff-continue-as-new', 'sleeping');
    await noiseUntilHandedOver('backoff-continue-as-new');
    await done('backoff-continue-as-new');
    await scenario('deadline-continue-as-new', 'counts', { maxHistoryEvents: 40, deadline: '1h' });
    await scenario('deadline-after-continue-as-new', 'sleepsForever', { maxHistoryEvents: 20, deadline: '5h' });
    // Headers above 32 KiB, started around the client (as the Temporal CLI can): failed at once, with the webhook.
    await kit.client.temporal.workflow.start('durableRun', {
      workflowId: 'size-bound-headers',
      taskQueue: kit.taskQueue,
      args: [
        {
          input: { hello: 'world' },
          runner: 'threeSteps',
          headers: { callback_url: hookUrl, pad: 'h'.repeat(33_000) },
        },
      ],
    });
    await done('size-bound-headers');

    // ── messages: events through the `event` update (accepted, duplicate and malformed ones refused
    // by the validator, so they leave no history), memos through the memo update across a retry,
    // a forged memo (signal and update), a forged parent cancel, a parent cancel with its token.
    await submit('event-update', 'approval');
    await waitForState(kit, 'event-update', 'waiting');
    await kit.client.sendEvent('event-update', 'unrelated', 1, { id: 'u-1' });
    await kit.client.sendEvent('event-update', 'unrelated', 2, { id: 'u-1' });
    await kit.client.temporal.workflow
      .getHandle('event-update')
      .executeUpdate('event', { args: [{ name: 'approve', extra: 1 }] })
      .catch(() => undefined);
    await kit.client.temporal.workflow.getHandle('event-update').signal('event', { name: 'approve', extra: 1 });
    await kit.client.sendEvent('event-update', 'approve', { by: 'ana' }, { id: 'a-1' });
    await done('event-update');
    await scenario('memo-update-retry', 'memoRetry');
    await submit('memo-forged', 'memoAfterForgery');
    await until(() => started.has('memo-forged'));
    const forged = kit.client.temporal.workflow.getHandle('memo-forged');
    await forged.signal('durableRuns.memo', { step: 0, key: 'charge', value: { id: 'forged' } });
    await forged
      .executeUpdate('durableRuns.recordMemo', { args: [{ step: 0, key: 'charge', value: 'x', token: 'guess' }] })
      .catch(() => undefined);
    released.add('memo-forged');
    await done('memo-forged');
    await submit('parent-cancel-forged', 'approval');
    await waitForState(kit, 'parent-cancel-forged', 'waiting');
    await kit.client.temporal.workflow
      .getHandle('parent-cancel-forged')
      .signal('cancel', { reason: 'parent run cancelled', by: 'parent' });
    await done('parent-cancel-forged');
    await submit('parent-cancel-verified', 'holdingFamily', { heartbeatTimeoutMs: 2000 });
    await until(() => started.has('parent-cancel-verified-0-0') && started.has('parent-cancel-verified-0-1'));
    await kit.client.cancel('parent-cancel-verified', 'stop the family');
    await done('parent-cancel-verified');
    // Both children take the same path (cancelled by their parent, with its token): one recording.
    await kit.client.result('parent-cancel-verified-0-1');
    await done('parent-cancel-verified-0-0');

    // ── corpus: paths without a recording (issue 20, item 11). Each scenario checks that its run
    // took the path it is named after, so a recording never stands for another path.
    const closedWith = async (runId: string, status: string, error?: RegExp) => {
      const outcome = await kit.client.result(runId);
      if (outcome.status !== status || (error && !error.test(outcome.error ?? '')))
        throw new Error(`${runId}: expected ${status} ${error ?? ''}, got ${outcome.status}: ${outcome.error}`);
    };
    /** Starts a run with its input as raw JSON text (what the converter would never write). */
    const startRaw = (workflowId: string, json: string) =>
      kit.client.temporal.workflowService.startWorkflowExecution({
        namespace: 'default',
        workflowId,
        workflowType: { name: 'durableRun' },
        taskQueue: { name: kit.taskQueue },
        input: { payloads: [{ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(json) }] },
        requestId: workflowId,
      });
    // An unschedulable step and an undecodable step outcome are recorded in the i20-depth block
    // below: MAX_JSON_DEPTH makes where they happen the same live and in replay.

    // An input the worker cannot read at all (not JSON): the run fails naming it.
    await startRaw('undecodable-input', '{"input": not json');
    await closedWith('undecodable-input', 'failed', /could not be decoded/);
    await done('undecodable-input');

    // Events by raw signal (the Temporal CLI's way): malformed, duplicate, refused.
    const rawEvent = (runId: string, event: unknown) =>
      kit.client.temporal.workflow.getHandle(runId).signal('event', event);
    await submit('event-malformed', 'approval');
    await waitForState(kit, 'event-malformed', 'waiting');
    await rawEvent('event-malformed', { name: 42, data: 'not a name' });
    await eventually(async () => /event/.test((await kit.client.status('event-malformed')).lastError ?? ''), 30_000);
    await rawEvent('event-malformed', { name: 'approve', id: 'ok-1' });
    await closedWith('event-malformed', 'succeeded');
    await done('event-malformed');
    await submit('event-duplicate', 'approval');
    await waitForState(kit, 'event-duplicate', 'waiting');
    await rawEvent('event-duplicate', { name: 'approve', data: 'first', id: 'dup-1' });
    await rawEvent('event-duplicate', { name: 'approve', data: 'second', id: 'dup-1' });
    await closedWith('event-duplicate', 'succeeded');
    await done('event-duplicate');
    // 1,000 unconsumed events fill the inbox; the 1,001st is refused; then the run is cancelled.
    await submit('events-inbox-full', 'approval');
    await waitForState(kit, 'events-inbox-full', 'waiting');
    for (let i = 0; i <= 1000; i++) await rawEvent('events-inbox-full', { name: 'other', data: i, id: `other-${i}` });
    await eventually(
      async () =>
        /already keeps 1000 unconsumed events/.test((await kit.client.status('events-inbox-full')).lastError ?? ''),
      60_000,
      'events-inbox-full refuses the 1,001st event',
    );
    await kit.client.cancel('events-inbox-full', 'inbox full');
    await closedWith('events-inbox-full', 'cancelled');
    await done('events-inbox-full');

    // Children: one fails to start (its run ID is taken), one is terminated, one is cancelled on its own.
    await submit('child-start-failed-blocker', 'sleeps');
    await submit('child-start-failed', 'oneChild', { input: { runId: 'child-start-failed-blocker' } });
    await closedWith('child-start-failed', 'succeeded');
    const startFailed = await kit.client.result('child-start-failed');
    if (!/could not start/.test(JSON.stringify(startFailed.result)))
      throw new Error(`child-start-failed: ${JSON.stringify(startFailed.result)}`);
    await done('child-start-failed');
    await kit.client.cancel('child-start-failed-blocker');
    await kit.client.result('child-start-failed-blocker');
    const childOf = (runId: string) => `${runId}-0-0`;
    const childSleeping = (runId: string) =>
      eventually(
        async () => (await kit.client.status(childOf(runId))).state === 'sleeping',
        30_000,
        `${runId}'s child sleeps`,
      );
    // Terminated on a dev server: the time-skipping test server times the parent out instead of
    // telling it that its child was terminated.
    const terminating = await createTestKit({ runners, server: 'local', webhook: false });
    try {
      await terminating.client.submit({ runId: 'child-terminated', runner: 'oneChild', input: null });
      await eventually(
        async () => (await terminating.client.status(childOf('child-terminated'))).state === 'sleeping',
        30_000,
        'child-terminated: its child sleeps',
      );
      await terminating.client.temporal.workflow.getHandle(childOf('child-terminated')).terminate('operator');
      const outcome = await terminating.client.result('child-terminated');
      if (!/failed: terminated/.test(JSON.stringify(outcome.result)))
        throw new Error(`child-terminated: ${JSON.stringify(outcome)}`);
      files.push(...(await record(terminating, 'child-terminated')));
    } finally {
      await terminating.teardown();
    }
    await submit('child-cancelled-alone', 'oneChild');
    await childSleeping('child-cancelled-alone');
    await kit.client.cancel(childOf('child-cancelled-alone'), 'this one only');
    await closedWith('child-cancelled-alone', 'succeeded');
    await done('child-cancelled-alone');

    // A deadline during a wait, a sleep, a backoff (1 s, 2 s, 4 s, 8 s, 16 s: 20 s lands in the
    // fifth) and children (which sleep an hour).
    await scenario('deadline-during-wait', 'approval', { deadline: '10m' });
    await scenario('deadline-during-sleep', 'sleeps', { deadline: '10m' });
    await scenario('deadline-during-backoff', 'alwaysThrows', { deadline: '20s', maxAttemptsPerStep: 10 });
    await scenario('deadline-during-children', 'sleepingFamily', { deadline: '10m' });
    for (const runId of [
      'deadline-during-wait',
      'deadline-during-sleep',
      'deadline-during-backoff',
      'deadline-during-children',
    ])
      await closedWith(runId, 'failed', /^deadline exceeded$/);

    // Temporal's cancel (handle.cancel(), as the UI and `temporal workflow cancel` do) during a
    // wait, a sleep, a backoff and children.
    const temporalCancel = async (
      runId: string,
      runner: string,
      state: 'waiting' | 'sleeping' | 'children',
      extra = {},
    ) => {
      await submit(runId, runner, extra);
      if (state === 'children')
        await eventually(
          async () => (await kit.client.status(runId)).children?.total === 2,
          30_000,
          `${runId} children`,
        );
      else await waitForState(kit, runId, state);
      await kit.client.temporal.workflow.getHandle(runId).cancel();
      await closedWith(runId, 'cancelled');
      await done(runId);
    };
    await temporalCancel('temporal-cancel-during-wait', 'approval', 'waiting');
    await temporalCancel('temporal-cancel-during-sleep', 'sleeps', 'sleeping');
    await temporalCancel('temporal-cancel-during-backoff', 'alwaysThrows', 'sleeping', { maxAttemptsPerStep: 3 });
    await temporalCancel('temporal-cancel-during-children', 'sleepingFamily', 'children');

    // maxSteps reached inside a chain of fast steps (the first chain stops after 500 ms, ~25 steps).
    await scenario('step-budget-fast-chain', 'fastEndless', { maxSteps: 60 });
    await closedWith('step-budget-fast-chain', 'failed', /60 steps/);

    // A worker with a user hook that throws, and webhooks without retries (maxRetries 0): the
    // local first attempt is the only one.
    const hooked = await createTestKit({
      runners,
      hooks: [
        {
          name: 'breaks',
          onTermination: () => {
            throw new Error('the hook broke');
          },
        },
      ],
      webhook: { allowPrivate: true, maxRetries: 0, baseDelayMs: 100 },
    });
    try {
      await hooked.client.submit({ runId: 'terminal-hook-fails', runner: 'threeSteps', input: { hello: 'world' } });
      await hooked.client.result('terminal-hook-fails');
      files.push(...(await record(hooked, 'terminal-hook-fails')));
      answers.push(503);
      await hooked.client.submit({
        runId: 'webhook-no-retries',
        runner: 'threeSteps',
        input: { hello: 'world' },
        headers: { callback_url: hookUrl },
      });
      await hooked.client.result('webhook-no-retries');
      const delivery = hooked.client.temporal.workflow.getHandle(webhookWorkflowId('webhook-no-retries'));
      const undelivered = await delivery.result().then(
        () => undefined,
        (err: Error) => err,
      );
      if (!undelivered) throw new Error('webhook-no-retries: delivered, but the receiver answered 503');
      files.push(...(await record(hooked, webhookWorkflowId('webhook-no-retries'))));
    } finally {
      await hooked.teardown();
    }
    // ── ops: a child that names its own tenant (Patch child-own-fairness-key); a run whose webhook
    // cannot start (PERMISSION_DENIED from a gRPC fault proxy between its worker and a dev server):
    // the terminal hooks give up after the give-up time and the run closes (no command changes).
    await scenario('child-own-tenant', 'familyOwnTenant', { headers: { tenant: 'acme' } });
    // ── a backoff handed over to an execution whose first task is already past maxHistoryEvents
    // (events sent before any worker polled its queue): it hands the wait on (Patch keep-handed-over-wait).
    {
      const taskQueue = `${kit.taskQueue}-late`;
      const late = 'handover-before-wait';
      await kit.client.temporal.workflow.start('durableRun', {
        workflowId: late,
        taskQueue,
        args: [
          { input: { hello: 'world' }, runner: 'memoBackoff', maxHistoryEvents: 10, maxAttemptsPerStep: 5 },
          {
            step: 0,
            payload: { hello: 'world' },
            attempt: 3,
            lastError: 'the network blinked (3)',
            wait: { kind: 'backoff', until: new Date(Date.now() + 30 * 24 * 3600_000).toISOString() },
          },
        ],
      });
      for (let i = 0; i < 12; i++) {
        await kit.client.temporal.workflow.getHandle(late).signal('event', { name: 'noise', id: `noise-${i}` });
      }
      const lateKit = await createTestKit({ runners, env: kit.env, taskQueue, webhook: false });
      try {
        await lateKit.client.result(late);
        files.push(...(await record(lateKit, late)));
      } finally {
        await lateKit.teardown();
      }
    }
    {
      const env = await createTestEnv('local');
      const proxy = await startGrpcFaultProxy(env.address);
      const connection = await NativeConnection.connect({ address: proxy.address });
      const worker = await createWorker({
        runners,
        connection,
        taskQueue: 'webhook-not-started',
        webhook: { allowPrivate: true, startGiveUpMs: 2000 },
        workflowBundle: await workflowBundle(),
      });
      const running = worker.run();
      try {
        proxy.refuse(['StartWorkflowExecution'], { code: 7, message: 'may not start workflows' });
        const denied = await createTestKit({ runners, env, webhook: false });
        const client = RunsClient.fromClient(denied.client.temporal, 'webhook-not-started');
        try {
          await client.submit({
            runId: 'webhook-not-started',
            runner: 'threeSteps',
            input: { hello: 'world' },
            headers: { callback_url: hookUrl },
          });
          await client.result('webhook-not-started');
          files.push(...(await record({ ...denied, client }, 'webhook-not-started')));
        } finally {
          await denied.teardown();
        }
      } finally {
        worker.shutdown();
        await running;
        await connection.close();
        await proxy.close();
        await env.teardown();
      }
    }
    // ── i21-day-two: a fork starting at step 3 (a run started with a carry: step, payload,
    // forkedFrom); on a dev server (the test server has no reset): a run reset by hand to the
    // task that scheduled its failing step, closing again (its second close's delivery recorded
    // too), and a run retried with runs.retry whose failing step ran in a continued execution.
    status = 200;
    await submit('fork-source', 'pipeline', { input: [] });
    await kit.client.result('fork-source');
    await kit.client.fork('fork-source', { fromStep: 3, runId: 'fork-from-step' });
    await done('fork-from-step');
    {
      const env = await createTestEnv('local');
      const dev = await createTestKit({ runners, env, webhook: { allowPrivate: true, maxRetries: 0 } });
      try {
        const reset = 'reset-reclosed';
        await dev.client.submit({
          runId: reset,
          runner: 'failsOnceAtStep2',
          input: null,
          headers: { callback_url: hookUrl },
        });
        await dev.client.result(reset);
        await eventually(async () => (await dev.client.webhookStatus(reset))?.state === 'delivered', 30_000);
        const events = (await dev.client.temporal.workflow.getHandle(reset).fetchHistory()).events ?? [];
        const third = events.filter(
          (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'runStep',
        )[2]!;
        const before = (await dev.client.temporal.workflow.getHandle(reset).describe()).runId;
        await dev.client.temporal.workflowService.resetWorkflowExecution({
          namespace: 'default',
          workflowExecution: { workflowId: reset, runId: before },
          reason: 'record-histories: the model is back',
          workflowTaskFinishEventId: third.activityTaskScheduledEventAttributes!.workflowTaskCompletedEventId,
          requestId: `record-${Date.now()}`,
        });
        await eventually(
          async () => (await dev.client.temporal.workflow.getHandle(reset).describe()).status.name === 'COMPLETED',
          30_000,
        );
        await eventually(async () => (await dev.client.webhookStatus(reset))?.state === 'delivered', 30_000);
        files.push(...(await record(dev, reset)));
        files.push(...(await record(dev, webhookWorkflowId(reset))));
        const retried = 'retried-across-continue-as-new';
        await dev.client.submit({ runId: retried, runner: 'failsOnceAtStep2', input: null, maxHistoryEvents: 5 });
        await dev.client.result(retried);
        if (!(await dev.client.retry(retried))) throw new Error(`${retried}: not retried`);
        await eventually(
          async () => (await dev.client.temporal.workflow.getHandle(retried).describe()).status.name === 'COMPLETED',
          30_000,
        );
        files.push(...(await record(dev, retried)));
      } finally {
        await dev.teardown();
        await env.teardown();
      }
    }
    // ── i21-park: a run parked by spent retries, resumed with a new payload (its memo kept); one
    // parked by a permanent error and cancelled; one that hands over while parked (events sent
    // meanwhile) and is resumed in the next execution (patch park-on-exhausted).
    await submit('parked-resumed', 'parksFlaky', { onExhausted: 'park', maxAttemptsPerStep: 2 });
    await waitForState(kit, 'parked-resumed', 'parked');
    if (!(await kit.client.resume('parked-resumed', { payload: { fixed: true } })))
      throw new Error('parked-resumed: not resumed');
    await closedWith('parked-resumed', 'succeeded');
    await done('parked-resumed');
    await submit('parked-cancelled', 'parksPermanent', { onExhausted: 'park' });
    await waitForState(kit, 'parked-cancelled', 'parked');
    await kit.client.cancel('parked-cancelled', 'nobody will fix it');
    await closedWith('parked-cancelled', 'cancelled');
    await done('parked-cancelled');
    await submit('parked-continue-as-new', 'parksPermanent', { onExhausted: 'park', maxHistoryEvents: 30 });
    await waitForState(kit, 'parked-continue-as-new', 'parked');
    await noiseUntilHandedOver('parked-continue-as-new');
    await waitForState(kit, 'parked-continue-as-new', 'parked');
    released.add('parked-continue-as-new');
    if (!(await kit.client.resume('parked-continue-as-new'))) throw new Error('parked-continue-as-new: not resumed');
    await closedWith('parked-continue-as-new', 'succeeded');
    await done('parked-continue-as-new');
    // ── i20-depth: the JSON nesting bound (MAX_JSON_DEPTH), step results an operator hands a run,
    // and a step input past MAX_COMMAND_BYTES.
    {
      const nestedJson = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`;
      // An event at the bound, sent around the client (sendEvent refuses its data): the signal
      // decodes, but step 1's input would carry it past the bound (Patch fail-unschedulable-step).
      await submit('unschedulable-step', 'approval');
      await waitForState(kit, 'unschedulable-step', 'waiting');
      let deep: unknown = 1;
      for (let i = 0; i < MAX_JSON_DEPTH - 1; i++) deep = [deep];
      await kit.client.temporal.workflow
        .getHandle('unschedulable-step')
        .signal('event', { name: 'approve', id: 'deep-1', data: deep });
      await closedWith('unschedulable-step', 'failed', /^step 1 could not be scheduled: value nested deeper than/);
      await done('unschedulable-step');
      // A held step completed by hand (as `temporal activity complete --result` does): with a result
      // nested past the bound (undecodable), and with `{}` (Patch validate-step-outcome).
      const completeByHand = async (runId: string, resultJson: string) => {
        await submit(runId, 'waits', { heartbeatTimeoutMs: 2000 });
        await until(() => started.has(runId));
        let activityId: string | undefined;
        await eventually(async () => {
          const described = await kit.client.temporal.workflow.getHandle(runId).describe();
          activityId = described.raw.pendingActivities?.[0]?.activityId ?? undefined;
          return activityId !== undefined;
        }, 30_000);
        await kit.client.temporal.workflowService.respondActivityTaskCompletedById({
          namespace: 'default',
          workflowId: runId,
          activityId,
          result: {
            payloads: [{ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(resultJson) }],
          },
        });
      };
      await completeByHand('undecodable-outcome', nestedJson(MAX_JSON_DEPTH + 1));
      await closedWith('undecodable-outcome', 'failed', /^step 0: step outcome: .* could not be decoded: JSON nested/);
      await done('undecodable-outcome');
      await completeByHand('step-outcome-not-a-result', '{}');
      await closedWith('step-outcome-not-a-result', 'failed', /^step 0: the step's result is not a step outcome: \{\}/);
      await done('step-outcome-not-a-result');
      // Step 0 continues with a payload that fits in its outcome, but not in step 1's input.
      await submit('size-bound-step-input', 'bigPayload', { input: MAX_COMMAND_BYTES });
      await closedWith('size-bound-step-input', 'failed', /^step 1's input would be .* above the/);
      await done('size-bound-step-input');
    }
    // ── Live streams (issue 23): the chunks ride in the step's result, and a failed attempt's
    // room in its failure's details; the workflow reads neither, so no command changes.
    await scenario('streamed', 'streams', { input: null });
    await scenario('streamed-retracted', 'streams', { input: { failFirst: true } });
    // ── Flow control and usage (issue 25): the reroute of a limited runner (Patch limit-groups),
    // a retry after the runner's delay (retry-after), usage carried across continue-as-new, and
    // budgets that fail a run after a step or a failed attempt, or park it holding the step's
    // result until a resume raises the budget (usage-budgets).
    await scenario('limited-group', 'limitedTwo');
    await scenario('retry-after', 'retriesAfter');
    await scenario('usage-continue-as-new', 'spends', { maxHistoryEvents: 20 });
    await scenario('usage-over-budget', 'spends', { maxCostUsd: 0.05 });
    await scenario('usage-failed-attempt-over-budget', 'spendsThenThrows', { maxCostUsd: 0.05 });
    {
      const parks = 'usage-budget-park-resume';
      await submit(parks, 'spends', { maxCostUsd: 0.05, onExhausted: 'park' });
      await waitForState(kit, parks, 'parked');
      const answer = await kit.client.resumeRun(parks, { maxCostUsd: 1 });
      if (!answer.resumed) throw new Error(`${parks}: ${answer.reason}`);
      await done(parks);
    }
    // ── Temporal's cancel in the same workflow task as the events that make a run hand over
    // (Patch handover-interrupted): sent while no worker polls the run's queue, then a worker starts.
    {
      const noiseThenCancel = async (runId: string) => {
        for (let i = 0; i < 12; i++) {
          await kit.client.temporal.workflow.getHandle(runId).signal('event', { name: 'noise', id: `noise-${i}` });
        }
        await kit.client.temporal.workflow.getHandle(runId).cancel();
      };
      const withWorker = async (taskQueue: string, runId: string) => {
        const worker = await createTestKit({ runners, env: kit.env, taskQueue, webhook: false });
        try {
          await closedWith(runId, 'cancelled');
          files.push(...(await record(worker, runId)));
        } finally {
          await worker.teardown();
        }
      };
      // A continued execution whose first task must hand over at once.
      const firstTask = 'handover-interrupted-first-task';
      await kit.client.temporal.workflow.start('durableRun', {
        workflowId: firstTask,
        taskQueue: `${kit.taskQueue}-${firstTask}`,
        args: [
          { input: { hello: 'world' }, runner: 'approval', maxHistoryEvents: 10 },
          { step: 0, payload: { hello: 'world' }, wait: { kind: 'event', names: ['approve'] } },
        ],
      });
      await noiseThenCancel(firstTask);
      await withWorker(`${kit.taskQueue}-${firstTask}`, firstTask);
      // A run waiting for an event, its worker gone meanwhile: on a dev server, as the
      // time-skipping one never moves a task off a sticky queue no worker polls.
      const inWait = 'handover-interrupted-wait';
      const env = await createTestEnv('local');
      try {
        const first = await createTestKit({ runners, env, taskQueue: inWait, webhook: false });
        try {
          await first.client.submit({
            runId: inWait,
            runner: 'approval',
            input: { hello: 'world' },
            maxHistoryEvents: 10,
          });
          await waitForState(first, inWait, 'waiting');
        } finally {
          await first.teardown();
        }
        // The worker is gone: the events and the cancel wait together for the next one's task.
        for (let i = 0; i < 12; i++) {
          await env.client.workflow.getHandle(inWait).signal('event', { name: 'noise', id: `noise-${i}` });
        }
        await env.client.workflow.getHandle(inWait).cancel();
        const second = await createTestKit({ runners, env, taskQueue: inWait, webhook: false });
        try {
          const outcome = await second.client.result(inWait);
          if (outcome.status !== 'cancelled') throw new Error(`${inWait}: ${outcome.status}`);
          files.push(...(await record(second, inWait)));
        } finally {
          await second.teardown();
        }
      } finally {
        await env.teardown();
      }
    }
    files.push(...(await recordRunStory(kit)));
  } finally {
    await kit.teardown();
    receiver.close();
    process.stdout.write(`record-histories: ${files.length} histories in ${outDir}\n  ${files.join('\n  ')}\n`);
  }
}

/**
 * i27-run-story (Patch run-story): labelled timers, children with summaries, and the run-state
 * search attributes upserted when the state changes, on a dev server that has them registered
 * (as `durable-runs dev`); and a run with labels but no attributes on `kit` (time-skipping).
 */
async function recordRunStory(kit: TestKit): Promise<string[]> {
  const files: string[] = [];
  await kit.client.submit({ runId: 'story-labels-only', runner: 'sleeps', input: null });
  await kit.client.result('story-labels-only');
  files.push(...(await record(kit, 'story-labels-only')));
  const env = await createTestEnv('local', { extraArgs: STATE_ATTRIBUTE_ARGS });
  const dev = await createTestKit({ runners, env, webhook: false });
  const result = async (runId: string, status: string) => {
    const outcome = await dev.client.result(runId);
    if (outcome.status !== status)
      throw new Error(`${runId}: expected ${status}, got ${outcome.status}: ${outcome.error}`);
  };
  const recordAll = async (...runIds: string[]) => {
    for (const runId of runIds) files.push(...(await record(dev, runId)));
  };
  try {
    await dev.client.submit({ runId: 'story-wait', runner: 'approval', input: null });
    await waitForState(dev, 'story-wait', 'waiting');
    await dev.client.sendEvent('story-wait', 'approve');
    await result('story-wait', 'succeeded');
    await dev.client.submit({ runId: 'story-sleep', runner: 'sleepsBriefly', input: null });
    await result('story-sleep', 'succeeded');
    await dev.client.submit({ runId: 'story-backoff', runner: 'flaky', input: null });
    await result('story-backoff', 'succeeded');
    await dev.client.submit({ runId: 'story-deadline-cancelled', runner: 'approval', input: null, deadline: '1h' });
    await waitForState(dev, 'story-deadline-cancelled', 'waiting');
    await dev.client.cancel('story-deadline-cancelled', 'not needed');
    await result('story-deadline-cancelled', 'cancelled');
    await dev.client.submit({ runId: 'story-children', runner: 'family', input: null });
    await result('story-children', 'succeeded');
    await dev.client.submit({ runId: 'story-parked', runner: 'parksPermanent', input: null, onExhausted: 'park' });
    await waitForState(dev, 'story-parked', 'parked');
    await dev.client.cancel('story-parked', 'nobody will fix it');
    await result('story-parked', 'cancelled');
    await dev.client.submit({ runId: 'story-continue-as-new', runner: 'approval', input: null, maxHistoryEvents: 30 });
    await waitForState(dev, 'story-continue-as-new', 'waiting');
    const handle = dev.client.temporal.workflow.getHandle('story-continue-as-new');
    for (let i = 0; i < 100 && ((await handle.describe()).historyLength ?? 0) <= 30; i++) {
      await handle.signal('event', { name: 'noise', id: `noise-${i}` });
    }
    await eventually(async () => {
      const d = await handle.describe();
      return d.runId !== d.raw.workflowExecutionInfo?.firstRunId;
    }, 30_000);
    await waitForState(dev, 'story-continue-as-new', 'waiting');
    await dev.client.sendEvent('story-continue-as-new', 'approve');
    await result('story-continue-as-new', 'succeeded');
    // Children whose inherited headers make their details, and whose tenant makes its attribute,
    // longer than their share of the labels: both are cut (`…`).
    const longHeaders: Record<string, string> = { tenant: 't'.repeat(300) };
    for (let i = 0; i < 30; i++) longHeaders[`x-${'h'.repeat(60)}-${i}`] = 'v';
    await dev.client.submit({
      runId: 'story-children-clipped',
      runner: 'family',
      input: null,
      headers: longHeaders,
      fairnessKey: 'acme',
    });
    await result('story-children-clipped', 'succeeded');
    // A run cancelled in its start delay: the cancel comes as a signal-with-start, in its first task.
    await dev.client.submit({ runId: 'story-delayed-cancelled', runner: 'approval', input: null, startDelay: '1h' });
    await waitForState(dev, 'story-delayed-cancelled', 'scheduled');
    await dev.client.cancel('story-delayed-cancelled', 'not needed after all');
    await result('story-delayed-cancelled', 'cancelled');
    await recordAll(
      'story-children-clipped',
      'story-children-clipped-0-0',
      'story-delayed-cancelled',
      'story-wait',
      'story-sleep',
      'story-backoff',
      'story-deadline-cancelled',
      'story-children',
      'story-children-0-0',
      'story-parked',
      'story-continue-as-new',
    );
  } finally {
    await dev.teardown();
    await env.teardown();
  }
  return files;
}

const waitForState = (kit: TestKit, runId: string, state: string) =>
  eventually(async () => (await kit.client.status(runId)).state === state, 30_000, `${runId} ${state}`);

main().catch((err: unknown) => {
  process.stderr.write(`record-histories: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
