/**
 * The `durable-runs` command: `dev`, `worker`, `submit`, `status`, `cancel`, `result`, `list`,
 * `watch`, `redeliver`. Every sub-command takes `--json`; errors print one line and exit non-zero.
 *
 * Exit codes: 0 ok / run succeeded, 1 run failed, 2 usage, configuration or connection error,
 * 3 run cancelled, 4 run not found.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { RunNotFound, RunsClient, type SubmitOptions } from './client';
import { addCodecServerCommand, type DevCodecServer, startDevCodecServer } from './codec-command';
import { loadRunnersModule, RunnersModuleError } from './runners-module';
import {
  DEFAULT_CATCHUP_WINDOW,
  DEFAULT_OVERLAP,
  OVERLAP_POLICIES,
  type OverlapPolicy,
  ScheduleNotFound,
  type ScheduleInfo,
} from './schedules';
import { loadConnectionConfig } from './config';
import { loadMetricsConfig, loadTracingConfig } from './observability';
import { metricsAddress } from './observability/metrics';
import type { RunOutcome, RunStatus, StepRunner } from './shared/types';
import { startDevServer } from './dev-server';
import { createWorker } from './worker';

const EXIT = { ok: 0, failed: 1, usage: 2, cancelled: 3, notFound: 4 } as const;

class CliError extends Error {
  constructor(
    message: string,
    readonly code: number = EXIT.usage,
  ) {
    super(message);
  }
}

interface JsonFlag {
  json?: boolean;
}

function print(json: boolean | undefined, value: unknown, text: () => string): void {
  process.stdout.write(`${json ? JSON.stringify(value, bytesAsBase64) : text()}\n`);
}

function bytesAsBase64(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? { $bytes: Buffer.from(value).toString('base64') } : value;
}

function exitCodeFor(state: string): number {
  return state === 'succeeded' ? EXIT.ok : state === 'cancelled' ? EXIT.cancelled : EXIT.failed;
}

function describeStatus(s: RunStatus): string {
  const parts = [`${s.runId}  ${s.state}  step ${s.step}`];
  if (s.attempt !== undefined && s.attempt > 1) parts.push(`attempt ${s.attempt}`);
  parts.push(`runner ${s.runner}`);
  if (s.startsAt) parts.push(`starts at ${s.startsAt}`);
  if (s.waitingFor)
    parts.push(`waiting for ${s.waitingFor.join(' or ')}${s.waitDeadline ? ` until ${s.waitDeadline}` : ''}`);
  if (s.pendingEvents) parts.push(`${s.pendingEvents} pending event${s.pendingEvents === 1 ? '' : 's'}`);
  if (s.progress !== undefined) parts.push(`progress ${JSON.stringify(s.progress, bytesAsBase64)}`);
  if (s.lastError) parts.push(`last error: ${s.lastError}`);
  return parts.join('  ');
}

function describeOutcome(o: RunOutcome): string {
  if (o.status === 'succeeded') {
    const result = typeof o.result === 'string' ? o.result : JSON.stringify(o.result, bytesAsBase64);
    return `${o.runId} succeeded after step ${o.finalStep}: ${result}`;
  }
  return `${o.runId} ${o.status} at step ${o.finalStep}${o.error ? `: ${o.error}` : ''}`;
}

async function withClient<T>(fn: (client: RunsClient) => Promise<T>): Promise<T> {
  const client = await RunsClient.connect();
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** Polls a run's status until it closes, printing each change. */
async function watch(client: RunsClient, runId: string, json: boolean | undefined): Promise<RunOutcome> {
  let last = '';
  for (;;) {
    const status = await client.status(runId);
    const line = describeStatus(status);
    if (line !== last) {
      print(json, status, () => line);
      last = line;
    }
    if (status.state === 'succeeded' || status.state === 'failed' || status.state === 'cancelled') {
      return client.result(runId);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Loads a runners module (CommonJS, ESM or TypeScript); errors exit 2 naming the module and cause. */
export async function loadRunners(modulePath: string): Promise<Record<string, StepRunner>> {
  try {
    return await loadRunnersModule(modulePath);
  } catch (err) {
    if (err instanceof RunnersModuleError) throw new CliError(err.message);
    throw err;
  }
}

async function runWorker(runnersModule: string): Promise<void> {
  const runners = await loadRunners(runnersModule);
  const worker = await createWorker({ runners });
  const { address = 'localhost:7233', namespace, taskQueue } = loadConnectionConfig();
  process.stderr.write(
    `durable-runs worker: ${Object.keys(runners).length} runner(s) [${Object.keys(runners).join(', ')}] on task queue "${taskQueue}" at ${address} (namespace ${namespace})\n`,
  );
  const metrics = metricsAddress();
  const tracing = loadTracingConfig();
  if (metrics) process.stderr.write(`durable-runs worker: Prometheus metrics on http://${metrics}/metrics\n`);
  if (tracing) process.stderr.write(`durable-runs worker: spans to ${tracing.url}\n`);
  // The SDK shuts the worker down on SIGINT/SIGTERM, letting in-flight steps finish within the grace time.
  await worker.run();
}

function parseJsonArg(what: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new CliError(`${what} must be JSON, got ${JSON.stringify(text.slice(0, 60))} (quote strings: '"hello"')`);
  }
}

function collectHeader(value: string, previous: Record<string, string>): Record<string, string> {
  const at = value.indexOf('=');
  if (at <= 0) throw new CliError(`--header must be name=value, got ${JSON.stringify(value)}`);
  return { ...previous, [value.slice(0, at)]: value.slice(at + 1) };
}

let lastCode: number = EXIT.ok;

type DevOptions = { runners: string; dataDir: string; port: string; uiPort: string; codecPort: string } & JsonFlag;

/** Wraps an action so that the exit code it returns becomes the process's. */
function act<A extends unknown[]>(fn: (...args: A) => Promise<number | void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    lastCode = (await fn(...args)) ?? EXIT.ok;
  };
}

export function buildProgram(): Command {
  const program = new Command('durable-runs')
    .description('Durable multi-step runs on Temporal')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('dev')
    .description(
      'embedded default: a local Temporal dev server (SQLite, UI on :8233) and a worker with the example runners',
    )
    .option(
      '--runners <module>',
      'runners module (default export { name: StepRunner })',
      process.env.DURABLE_RUNS_RUNNERS ?? 'examples/runners.ts',
    )
    .option('--data-dir <dir>', 'where the dev server keeps its SQLite file', '.data')
    .option('--port <port>', 'dev server gRPC port', '7233')
    .option('--ui-port <port>', 'dev server UI port', '8233')
    .option('--codec-port <port>', 'codec server port for the UI, when DURABLE_RUNS_ENCRYPTION_KEYS is set', '8081')
    .option('--json', 'machine-readable output')
    .action(
      act(async (opts: DevOptions) => {
        // A bad DURABLE_RUNS_METRICS or OTEL_* stops `dev` before it starts a server.
        loadMetricsConfig();
        loadTracingConfig();
        let stop: (() => Promise<void>) | undefined;
        let codec: DevCodecServer | undefined;
        if (!process.env.TEMPORAL_ADDRESS) {
          // With encryption keys, the UI decrypts through a codec server of its own.
          codec = await startDevCodecServer(opts.uiPort, opts.codecPort);
          mkdirSync(opts.dataDir, { recursive: true });
          const server = await startDevServer({
            dbFile: resolve(opts.dataDir, 'temporal.sqlite'),
            port: Number(opts.port),
            uiPort: Number(opts.uiPort),
            ...(codec ? { extraArgs: codec.devServerArgs } : {}),
          }).catch((err: Error) => {
            throw new CliError(err.message);
          });
          stop = () => server.stop();
          process.env.TEMPORAL_ADDRESS = `127.0.0.1:${opts.port}`;
          print(opts.json, { ui: `http://localhost:${opts.uiPort}`, address: process.env.TEMPORAL_ADDRESS }, () =>
            [
              `Temporal dev server on ${process.env.TEMPORAL_ADDRESS}, data in ${resolve(opts.dataDir, 'temporal.sqlite')}`,
              `Temporal UI: http://localhost:${opts.uiPort}`,
              `Submit a run:  npx durable-runs submit '"What is 6 times 7?"' --runner agent --wait`,
              `          or:  temporal workflow start --type durableRun --task-queue durable-runs --workflow-id demo-1 --input '{"input":"What is 6 times 7?","runner":"agent"}'`,
              `Approval flow: npx durable-runs submit '{"order":"A-17","amount":25}' --runner approval`,
              `          then: npx durable-runs send <runId> approve   (or in the UI: Send Signal, name "event", input {"name":"approve"})`,
            ].join('\n'),
          );
          if (codec) print(opts.json, codec.info, () => codec!.lines.join('\n'));
        }
        try {
          await runWorker(opts.runners);
        } finally {
          await stop?.();
          await codec?.close();
        }
      }),
    );

  program
    .command('worker')
    .description('run a worker for durable runs (connection from TEMPORAL_* env)')
    .option(
      '--runners <module>',
      'runners module (default export { name: StepRunner }); or DURABLE_RUNS_RUNNERS',
      process.env.DURABLE_RUNS_RUNNERS,
    )
    .option('--json', 'machine-readable output')
    .action(
      act(async (opts: { runners?: string }) => {
        if (!opts.runners) throw new CliError('worker needs --runners <module> (or DURABLE_RUNS_RUNNERS)');
        await runWorker(opts.runners);
      }),
    );

  program
    .command('submit')
    .description('submit a run; prints its run ID')
    .argument('<input>', 'the first step\'s payload, as JSON (e.g. \'{"doc":"a.pdf"}\' or \'"hello"\')')
    .option('--runner <name>', 'registered runner name', 'default')
    .option('--run-id <id>', 'run ID (default: a new ULID)')
    .option('--header <name=value>', 'a run header (repeatable), e.g. callback_url=https://…', collectHeader, {})
    .addOption(new Option('--max-attempts <n>', 'attempts per step').argParser((v) => Number(v)))
    .addOption(
      new Option('--max-steps <n>', 'step budget: the run fails rather than start step n').argParser((v) => Number(v)),
    )
    .option('--deadline <duration>', "time budget from now, e.g. '2h': the run fails when it passes")
    .option('--delay <duration>', "start the run later, e.g. '10m' (status says scheduled until then)")
    .addOption(
      new Option('--priority <1-5>', 'task priority, 1 first … 5 last (default 3)').argParser((v) => Number(v)),
    )
    .option('--fairness-key <key>', 'fairness key (default: the tenant header)')
    .addOption(
      new Option('--fairness-weight <w>', 'share of this key relative to others (default 1)').argParser((v) =>
        Number(v),
      ),
    )
    .option('--wait', 'watch the run until it closes; exit code per status')
    .option('--json', 'machine-readable output')
    .action(
      act(
        async (
          input: string,
          opts: {
            runner: string;
            runId?: string;
            header: Record<string, string>;
            maxAttempts?: number;
            maxSteps?: number;
            deadline?: string;
            delay?: string;
            priority?: number;
            fairnessKey?: string;
            fairnessWeight?: number;
            wait?: boolean;
          } & JsonFlag,
        ) => {
          const spec: SubmitOptions = {
            input: parseJsonArg('input', input),
            runner: opts.runner,
            headers: opts.header,
            ...(opts.runId !== undefined ? { runId: opts.runId } : {}),
            ...(opts.maxAttempts !== undefined ? { maxAttemptsPerStep: opts.maxAttempts } : {}),
            ...(opts.maxSteps !== undefined ? { maxSteps: opts.maxSteps } : {}),
            ...(opts.deadline !== undefined ? { deadline: opts.deadline } : {}),
            ...(opts.delay !== undefined ? { startDelay: opts.delay } : {}),
            ...(opts.priority !== undefined ? { priority: opts.priority } : {}),
            ...(opts.fairnessKey !== undefined ? { fairnessKey: opts.fairnessKey } : {}),
            ...(opts.fairnessWeight !== undefined ? { fairnessWeight: opts.fairnessWeight } : {}),
          };
          return withClient(async (client) => {
            const submission = await client.submit(spec);
            print(
              opts.json,
              submission,
              () => `${submission.runId}${submission.newlySubmitted ? '' : ' (already submitted)'}`,
            );
            if (!opts.wait) return EXIT.ok;
            const outcome = await watch(client, submission.runId, opts.json);
            print(opts.json, outcome, () => describeOutcome(outcome));
            return exitCodeFor(outcome.status);
          });
        },
      ),
    );

  program
    .command('status')
    .description('where a run stands (answers for closed runs too)')
    .argument('<runId>')
    .option('--json', 'machine-readable output')
    .action(
      act(async (runId: string, opts: JsonFlag) =>
        withClient(async (client) => {
          const status = await client.status(runId);
          print(opts.json, status, () => describeStatus(status));
          return EXIT.ok;
        }),
      ),
    );

  program
    .command('cancel')
    .description('cancel a run; exit 1 if it is unknown or already closed')
    .argument('<runId>')
    .option('--reason <text>', 'why (ends up in the outcome)')
    .option('--json', 'machine-readable output')
    .action(
      act(async (runId: string, opts: { reason?: string } & JsonFlag) =>
        withClient(async (client) => {
          const cancelled = await client.cancel(runId, opts.reason);
          print(opts.json, { runId, cancelled }, () =>
            cancelled ? `${runId}: cancel requested` : `${runId}: not running (unknown or already closed)`,
          );
          return cancelled ? EXIT.ok : EXIT.failed;
        }),
      ),
    );

  program
    .command('send')
    .description(
      'send an event to a run (signal "event"); a waitForEvent naming it takes it; exit 1 if the run is unknown or closed',
    )
    .argument('<runId>')
    .argument('<name>', 'event name, e.g. approve')
    .argument('[data]', 'event data, as JSON (e.g. \'{"by":"ana"}\')')
    .option('--id <id>', 'event ID: a second event with the same ID is ignored (default: a new one)')
    .option('--json', 'machine-readable output')
    .action(
      act(async (runId: string, name: string, data: string | undefined, opts: { id?: string } & JsonFlag) => {
        const value = data === undefined ? undefined : parseJsonArg('data', data);
        return withClient(async (client) => {
          const sent = await client.sendEvent(runId, name, value, opts.id !== undefined ? { id: opts.id } : {});
          print(opts.json, { runId, name, sent }, () =>
            sent ? `${runId}: event "${name}" sent` : `${runId}: not running (unknown or already closed)`,
          );
          return sent ? EXIT.ok : EXIT.failed;
        });
      }),
    );

  program
    .command('result')
    .description('wait for a run to close and print its outcome; exit code per status')
    .argument('<runId>')
    .option('--json', 'machine-readable output')
    .action(
      act(async (runId: string, opts: JsonFlag) =>
        withClient(async (client) => {
          const outcome = await client.result(runId);
          print(opts.json, outcome, () => describeOutcome(outcome));
          return exitCodeFor(outcome.status);
        }),
      ),
    );

  program
    .command('list')
    .description('list runs, newest first')
    .addOption(
      new Option('--state <state>', 'only runs in this state').choices(['running', 'succeeded', 'failed', 'cancelled']),
    )
    .option('--limit <n>', 'at most this many', (v) => Number(v), 50)
    .option('--parent <runId>', 'only the child runs of this run')
    .option('--json', 'machine-readable output')
    .action(
      act(
        async (
          opts: { state?: 'running' | 'succeeded' | 'failed' | 'cancelled'; limit: number; parent?: string } & JsonFlag,
        ) =>
          withClient(async (client) => {
            const runs = await client.list({
              ...(opts.state ? { state: opts.state } : {}),
              ...(opts.parent !== undefined ? { parent: opts.parent } : {}),
              limit: opts.limit,
            });
            print(opts.json, runs, () => {
              const rows = [
                ['RUN ID', 'STATE', 'STARTED', 'CLOSED'],
                ...runs.map((r) => [r.runId, r.state, r.startTime.toISOString(), r.closeTime?.toISOString() ?? '']),
              ];
              const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
              return rows
                .map((row) =>
                  row
                    .map((cell, i) => cell.padEnd(widths[i]!))
                    .join('  ')
                    .trimEnd(),
                )
                .join('\n');
            });
            return EXIT.ok;
          }),
      ),
    );

  program
    .command('watch')
    .description('show live progress until the run closes; exit code per status')
    .argument('<runId>')
    .option('--json', 'machine-readable output (one JSON object per change)')
    .action(
      act(async (runId: string, opts: JsonFlag) =>
        withClient(async (client) => {
          const outcome = await watch(client, runId, opts.json);
          print(opts.json, outcome, () => describeOutcome(outcome));
          return exitCodeFor(outcome.status);
        }),
      ),
    );

  program
    .command('redeliver')
    .description("send a run's terminal webhook again (same webhook-id)")
    .argument('<runId>')
    .option('--json', 'machine-readable output')
    .action(
      act(async (runId: string, opts: JsonFlag) =>
        withClient(async (client) => {
          await client.redeliver(runId);
          print(opts.json, { runId, redelivering: true }, () => `${runId}: webhook redelivery started`);
          return EXIT.ok;
        }),
      ),
    );

  addScheduleCommands(program);
  addCodecServerCommand(program);
  return program;
}

function describeSchedule(s: ScheduleInfo): string {
  const when = [...s.spec.cron.map((c) => `cron "${c}"`), ...s.spec.every.map((e) => `every ${e}`)].join(', ');
  return [
    `${s.scheduleId}  ${s.paused ? 'paused' : 'active'}  ${when}  runs started ${s.runsStarted}`,
    ...(s.nextRuns.length ? [`  next: ${s.nextRuns.slice(0, 3).join(', ')}`] : []),
    ...(s.recentRuns.length ? [`  recent runs: ${s.recentRuns.slice(-3).join(', ')}`] : []),
    ...(s.note ? [`  note: ${s.note}`] : []),
  ].join('\n');
}

const DONE: Record<string, string> = { pause: 'paused', unpause: 'unpaused', trigger: 'triggered', delete: 'deleted' };

/** `durable-runs schedule create|list|describe|pause|unpause|trigger|delete`. */
function addScheduleCommands(program: Command): void {
  const schedule = program
    .command('schedule')
    .description('schedules of runs (Temporal Schedules): create, list, describe, pause, unpause, trigger, delete');
  schedule
    .command('create')
    .description('create a schedule that starts a run by cron expression or at an interval')
    .argument('<scheduleId>')
    .argument('<input>', "the runs' first step payload, as JSON")
    .option('--cron <expr>', "cron expression, e.g. '0 3 * * *'")
    .option('--every <duration>', "interval, e.g. '15m'")
    .option('--runner <name>', 'registered runner name', 'default')
    .option('--header <name=value>', 'a run header (repeatable)', collectHeader, {})
    .addOption(
      new Option('--overlap <policy>', 'when a run is due while the last one still runs')
        .choices([...OVERLAP_POLICIES])
        .default(DEFAULT_OVERLAP),
    )
    .option(
      '--catchup-window <duration>',
      'how late a missed run may still start after an outage',
      DEFAULT_CATCHUP_WINDOW,
    )
    .option('--paused', 'create it paused')
    .option('--json', 'machine-readable output')
    .action(
      act(
        async (
          scheduleId: string,
          input: string,
          opts: {
            cron?: string;
            every?: string;
            runner: string;
            header: Record<string, string>;
            overlap: OverlapPolicy;
            catchupWindow: string;
            paused?: boolean;
          } & JsonFlag,
        ) => {
          const run = { input: parseJsonArg('input', input), runner: opts.runner, headers: opts.header };
          return withClient(async (client) => {
            const info = await client.schedules.create({
              scheduleId,
              run,
              ...(opts.cron !== undefined ? { cron: opts.cron } : {}),
              ...(opts.every !== undefined ? { every: opts.every } : {}),
              overlap: opts.overlap,
              ...(opts.catchupWindow !== DEFAULT_CATCHUP_WINDOW ? { catchupWindow: opts.catchupWindow } : {}),
              ...(opts.paused ? { paused: true } : {}),
            });
            print(opts.json, info, () => describeSchedule(info));
          });
        },
      ),
    );
  schedule
    .command('list')
    .description('list the schedules of runs')
    .option('--json', 'machine-readable output')
    .action(
      act(async (opts: JsonFlag) =>
        withClient(async (client) => {
          const all = await client.schedules.list();
          print(opts.json, all, () => (all.length ? all.map(describeSchedule).join('\n') : 'no schedules'));
        }),
      ),
    );
  const simple: Array<[string, string, (client: RunsClient, id: string) => Promise<unknown>]> = [
    ['describe', 'show a schedule: its timing, state, next and recent runs', (c, id) => c.schedules.describe(id)],
    ['pause', 'pause a schedule', (c, id) => c.schedules.pause(id)],
    ['unpause', 'unpause a schedule', (c, id) => c.schedules.unpause(id)],
    ['trigger', 'start a run now (a paused schedule too)', (c, id) => c.schedules.trigger(id)],
    ['delete', 'delete a schedule (its runs go on)', (c, id) => c.schedules.delete(id)],
  ];
  for (const [name, description, fn] of simple) {
    schedule
      .command(name)
      .description(description)
      .argument('<scheduleId>')
      .option('--json', 'machine-readable output')
      .action(
        act(async (scheduleId: string, opts: JsonFlag) =>
          withClient(async (client) => {
            const result = await fn(client, scheduleId);
            const info = name === 'describe' ? (result as ScheduleInfo) : undefined;
            print(opts.json, info ?? { scheduleId, done: name }, () =>
              info ? describeSchedule(info) : `${scheduleId}: ${DONE[name] ?? name}`,
            );
          }),
        ),
      );
  }
}

export async function main(argv: string[] = process.argv): Promise<number> {
  try {
    const program = buildProgram();
    await program.parseAsync(argv);
    return lastCode;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    const code =
      err instanceof CliError
        ? err.code
        : err instanceof RunNotFound || err instanceof ScheduleNotFound
          ? EXIT.notFound
          : EXIT.usage;
    process.stderr.write(`durable-runs: ${(err as Error).message ?? String(err)}\n`);
    return code;
  }
}

if (require.main === module) {
  void main().then((code) => {
    process.exitCode = code;
  });
}
