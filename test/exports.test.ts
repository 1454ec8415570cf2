/**
 * The public names of `durable-runs` (src/index.ts) and `durable-runs/testing` (src/testing.ts),
 * pinned: the runtime exports as the module gives them, the type-only exports as the TypeScript
 * compiler sees them, and the members of `RunsClient`. A rename, a removal or an addition fails
 * here first; change the lists only on purpose.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import * as durableRuns from '../src/index';
import * as durableRunsTesting from '../src/testing';

const ROOT = join(__dirname, '..');

const INDEX_VALUES = [
  'ConfigError',
  'DEFAULT_TASK_QUEUE',
  'DurableRunsPlugin',
  'EncryptionCodec',
  'EncryptionKeys',
  'EventRefused',
  'InputMismatch',
  'MAX_CHUNK_BYTES',
  'MAX_COMMAND_BYTES',
  'MAX_HEADERS_BYTES',
  'MAX_JSON_DEPTH',
  'MAX_PENDING_EVENTS',
  'MAX_PENDING_EVENT_BYTES',
  'MAX_REMEMBERED_ID_BYTES',
  'MAX_RETRY_AFTER_MS',
  'MAX_RUN_SPEC_BYTES',
  'MAX_VALUE_DEPTH',
  'MetricName',
  'ObservabilityPlugin',
  'PluginConflict',
  'RunLimits',
  'RunNotFound',
  'RunNotResponding',
  'RunSchedules',
  'RunsClient',
  'SEND_EVENT_TIMEOUT_MS',
  'STEP_DURATION_BUCKETS',
  'STREAM_KEEP_BYTES',
  'ScheduleNotFound',
  'StepError',
  'StepOutcome',
  'StreamOutOfRange',
  'TRACING_WORKFLOW_MODULE',
  'UnknownLimitGroup',
  'ValidationError',
  'WORKFLOW_TYPE',
  'createWorker',
  'dataConverter',
  'encryptionDataConverter',
  'fastSteps',
  'flushTracing',
  'installMetrics',
  'limited',
  'setUpObservability',
  'startCodecServer',
];

const INDEX_TYPES = [
  'BulkCancel',
  'BulkRetry',
  'CancelOrigin',
  'ChildRunSpec',
  'CodecServer',
  'CodecServerOptions',
  'CreateWorkerOptions',
  'DurableRunsPluginOptions',
  'EncryptionOption',
  'EventSignal',
  'FastStep',
  'FastStepRunner',
  'ForkOptions',
  'ForkOrigin',
  'InstallMetricsOptions',
  'LimitGroupInfo',
  'LimitSettings',
  'OverlapPolicy',
  'RateInput',
  'ResumeAnswer',
  'ResumeOptions',
  'RetryAnswer',
  'RunEvent',
  'RunHeaders',
  'RunListing',
  'RunOutcome',
  'RunSpec',
  'RunState',
  'RunStatus',
  'RunUsage',
  'RunsClientOptions',
  'ScheduleInfo',
  'ScheduleOptions',
  'SendEventOptions',
  'Step',
  'StepOutcomeData',
  'StepRunner',
  'StreamEvent',
  'StreamOptions',
  'Submission',
  'SubmitOptions',
  'TerminalHook',
  'UsageBudget',
  'UsageFigures',
  'UsageRecord',
  'WebhookOptions',
];

const TESTING_VALUES = ['createTestEnv', 'createTestKit', 'workflowBundle'];
const TESTING_TYPES = ['TestKit', 'TestKitOptions'];

/** `RunsClient`'s public members and their signatures, as the compiler prints them. */
const RUNS_CLIENT = [
  'static connect: (options?: RunsClientOptions) => Promise<RunsClient>',
  'static fromClient: (temporal: Client, taskQueue: string) => RunsClient',
  'batchProgress: (jobId: string) => Promise<{ state: string; total: number; completed: number; failed: number; }>',
  'cancel: (runId: string, reason?: string | undefined) => Promise<boolean>',
  'cancelMatching: (query: string, options?: { reason?: string | undefined; dryRun?: boolean | undefined; }) => Promise<BulkCancel>',
  'close: () => Promise<void>',
  'deliverEvent: (runId: string, name: string, data?: unknown, options?: SendEventOptions) => Promise<"accepted" | "duplicate" | "not-running">',
  'fork: (runId: string, options: ForkOptions) => Promise<{ runId: string; }>',
  'limits: RunLimits',
  'list: (options?: { state?: ListState | undefined; limit?: number | undefined; parent?: string | undefined; }) => Promise<RunListing[]>',
  'redeliver: (runId: string) => Promise<void>',
  'result: (runId: string) => Promise<RunOutcome>',
  'resume: (runId: string, options?: ResumeOptions) => Promise<boolean>',
  'resumeRun: (runId: string, options?: ResumeOptions) => Promise<ResumeAnswer>',
  'retry: (runId: string) => Promise<boolean>',
  'retryMatching: (query: string, options?: { dryRun?: boolean | undefined; }) => Promise<BulkRetry>',
  'retryRun: (runId: string) => Promise<RetryAnswer>',
  'schedules: RunSchedules',
  'sendEvent: (runId: string, name: string, data?: unknown, options?: SendEventOptions) => Promise<boolean>',
  'status: (runId: string) => Promise<RunStatus>',
  'stream: (runId: string, options?: StreamOptions) => AsyncIterable<StreamEvent>',
  'submit: (options: SubmitOptions) => Promise<Submission>',
  'taskQueue: string',
  'temporal: Client',
  'webhookStatus: (runId: string) => Promise<WebhookDeliveryStatus | undefined>',
];

const sorted = (names: Iterable<string>) => [...names].sort();

const program = ts.createProgram(
  ['index.ts', 'testing.ts'].map((file) => join(ROOT, 'src', file)),
  {
    module: ts.ModuleKind.Node16,
    moduleResolution: ts.ModuleResolutionKind.Node16,
    target: ts.ScriptTarget.ES2022,
    types: ['node'],
    strict: true,
    skipLibCheck: true,
    noEmit: true,
  },
);
const checker = program.getTypeChecker();

function exportsOf(file: string): ts.Symbol[] {
  const source = program.getSourceFile(join(ROOT, 'src', file));
  assert.ok(source, file);
  const module = checker.getSymbolAtLocation(source);
  assert.ok(module, `${file} is a module`);
  return checker.getExportsOfModule(module);
}

const resolved = (symbol: ts.Symbol) =>
  symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;

/** A module's exports as the compiler sees them: those with a runtime value, and types alone. */
function compiledExports(file: string): { values: string[]; types: string[] } {
  const values: string[] = [];
  const types: string[] = [];
  for (const symbol of exportsOf(file))
    (resolved(symbol).flags & ts.SymbolFlags.Value ? values : types).push(symbol.name);
  return { values: sorted(values), types: sorted(types) };
}

const printed = (type: ts.Type) => checker.typeToString(type, undefined, ts.TypeFormatFlags.NoTruncation);

test('durable-runs: the runtime exports', () => {
  assert.deepEqual(sorted(Object.keys(durableRuns)), INDEX_VALUES);
});

test('durable-runs/testing: the runtime exports', () => {
  assert.deepEqual(sorted(Object.keys(durableRunsTesting)), TESTING_VALUES);
});

test('durable-runs and durable-runs/testing: the exports the compiler sees, types included', () => {
  assert.deepEqual(compiledExports('index.ts'), { values: INDEX_VALUES, types: INDEX_TYPES });
  assert.deepEqual(compiledExports('testing.ts'), { values: TESTING_VALUES, types: TESTING_TYPES });
});

test('RunsClient: its public members and their signatures', () => {
  const exported = exportsOf('index.ts').find((symbol) => symbol.name === 'RunsClient');
  assert.ok(exported);
  const cls = resolved(exported);
  const members = checker
    .getPropertiesOfType(checker.getDeclaredTypeOfSymbol(cls))
    .filter(
      (p) => !(ts.getCombinedModifierFlags(p.valueDeclaration!) & ts.ModifierFlags.NonPublicAccessibilityModifier),
    )
    .map((p) => `${p.name}: ${printed(checker.getTypeOfSymbolAtLocation(p, p.valueDeclaration!))}`);
  const statics = checker
    .getPropertiesOfType(checker.getTypeOfSymbol(cls))
    .filter((p) => p.name !== 'prototype')
    .map((p) => `static ${p.name}: ${printed(checker.getTypeOfSymbol(p))}`);
  assert.deepEqual([...sorted(statics), ...sorted(members)], RUNS_CLIENT);
});
