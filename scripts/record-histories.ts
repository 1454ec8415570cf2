/**
 * `npm run histories:record`: runs one scenario per workflow path on the time-skipping server and
 * writes each execution's history to `test/histories/<version>/<workflowId>[@<n>].json` (the SDK's
 * JSON export, the format of `temporal workflow show -o json`). `test/replay.test.ts` replays
 * every file under test/histories with the current workflow code.
 *
 * Histories of a released version stay while runs it started may still be open: record into a new
 * version folder, never over an old one.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { fastSteps, StepError, StepOutcome, type StepRunner } from '../src';
import { webhookWorkflowId } from '../src/shared/names';
import { resolveTemporalCli } from '../src/temporal-binaries';
import { NativeConnection } from '@temporalio/worker';
import { createWorker, RunsClient } from '../src';
import { createTestEnv, createTestKit, type TestKit, workflowBundle } from '../src/testing';
import { startGrpcFaultProxy } from '../test/helpers/grpc-fault-proxy';
import { eventually } from '../support/wait';

const ROOT = join(__dirname, '..');
const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const outDir = join(ROOT, 'test', 'histories', version);

const waitForAbort = (signal: AbortSignal) =>
  new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve())));

const started = new Set<string>();
const attempts = new Map<string, number>();
/** Runs whose first step may go on (`waitsLong` holds it until the script has sent its events). */
const released = new Set<string>();
const until = (check: () => boolean) => eventually(check, 30_000);
const runners: Record<string, StepRunner> = {
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
  // ── ops: a parent whose first child names its own tenant (Patch child-own-fairness-key).
  familyOwnTenant: async (step) =>
    step.stepNumber === 0
      ? StepOutcome.runChildren(null, [{ input: 1, headers: { tenant: 'child-tenant' } }, { input: 2 }])
      : StepOutcome.succeed(step.children!.map((c) => c.status)),
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
      { encoding: 'utf8' },
    );
    writeFileSync(join(outDir, file), json);
    return [file];
  });
}

async function main(): Promise<void> {
  mkdirSync(outDir, { recursive: true });
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

    await scenario('webhook-delivered', 'threeSteps', { headers: { callback_url: hookUrl } });
    await kit.client.temporal.workflow.getHandle(webhookWorkflowId('webhook-delivered')).result();
    files.push(...(await record(kit, webhookWorkflowId('webhook-delivered'))));

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
    for (const child of ['children-cancelled-0-0', 'children-cancelled-0-1']) await done(child);
    await scenario('step-budget', 'counts3', { maxSteps: 3 });
    await scenario('deadline-mid-step', 'waits', { deadline: '2s', heartbeatTimeoutMs: 2000 });
    await scenario('delayed-start', 'threeSteps', { startDelay: '10m' });

    // No terminal hook for the run on its worker (no user hooks, no callback URL): no hooks marker.
    await scenario('no-terminal-hook', 'threeSteps');
    await scenario('fast-chain-no-terminal-hook', 'fastCounts');

    // Fast steps in chains (fast-steps*.json: the first version, one local activity a step).
    await scenario('fast-chain', 'fastCounts');
    await scenario('fast-chain-continue-as-new', 'fastCounts', { maxHistoryEvents: 5 });
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

    // The first attempt as a local activity (webhook-delivered and webhook-refused: every attempt
    // an activity, as before), then retries in the activity.
    const delivery = async (runId: string, runner: string) => {
      await submit(runId, runner, { headers: { callback_url: hookUrl } });
      await done(runId);
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
    await scenario('webhook-refused', 'fails', { headers: { callback_url: hookUrl } });
    await kit.client.temporal.workflow
      .getHandle(webhookWorkflowId('webhook-refused'))
      .result()
      .catch(() => undefined);
    files.push(...(await record(kit, webhookWorkflowId('webhook-refused'))));
    // ── ops: a child that names its own tenant (Patch child-own-fairness-key); a run whose webhook
    // cannot start (PERMISSION_DENIED from a gRPC fault proxy between its worker and a dev server):
    // the terminal hooks give up after the give-up time and the run closes (no command changes).
    await scenario('child-own-tenant', 'familyOwnTenant', { headers: { tenant: 'acme' } });
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
  } finally {
    await kit.teardown();
    receiver.close();
  }
  process.stdout.write(`record-histories: ${files.length} histories in ${outDir}\n  ${files.join('\n  ')}\n`);
}

const waitForState = (kit: TestKit, runId: string, state: string) =>
  eventually(async () => (await kit.client.status(runId)).state === state, 30_000, `${runId} ${state}`);

main().catch((err: unknown) => {
  process.stderr.write(`record-histories: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
