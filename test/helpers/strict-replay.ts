/**
 * Strict replay: replays recorded histories like `Worker.runReplayHistories`, and also compares
 * each command the workflow code emits with the recorded one, inputs included. Core's own check
 * compares a command's type (and an activity's type, a timer's ID) only, so code that schedules
 * the same activity with another input, or continues-as-new at another step, replays green.
 *
 * Compared, decoded with the worker's payload converter:
 * - activities: activity ID, type, input and summary (`ActivityTaskScheduled`);
 * - local activities: sequence number, type and summary (their `core_local_activity` marker;
 *   Core records no input for them, and the summary names the step);
 * - timers: ID, duration and label (summary); child workflow starts: workflow ID, type, input and summary;
 * - signals to other workflows: target workflow ID, signal name and input;
 * - continue-as-new: workflow type and arguments;
 * - the close: a Completed run's result; a Failed run's message, failure type and details; Canceled.
 * A command the code emits that the history lacks, or the other way round, is drift as well.
 */
import { isDeepStrictEqual, inspect } from 'node:util';
import type { Payload } from '@temporalio/common';
import { historyFromJSON, type History } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, DefaultLogger, Worker, type WorkflowBundle } from '@temporalio/worker';
import { payloadConverter } from '../../src/shared/worker-payload-converter';
import { payloadConverterPath, workflowsPath } from '../../src/worker/workflow-bundle';
import type { Encoded, EmittedCommand } from '../fixtures/replay-commands';

type Recorded = EmittedCommand & { eventId: number };

let bundle: Promise<WorkflowBundle> | undefined;

/** The workflows with the command-reporting interceptors of fixtures/replay-commands.ts. */
export function strictReplayBundle(): Promise<WorkflowBundle> {
  bundle ??= bundleWorkflowCode({
    workflowsPath,
    payloadConverterPath,
    workflowInterceptorModules: [require.resolve('../fixtures/replay-commands')],
    logger: new DefaultLogger('WARN'),
  });
  return bundle;
}

const encoded = (payloads: Payload[] | null | undefined): Encoded => ({ payloads: payloads ?? [] });

function summaryOf(event: { userMetadata?: { summary?: Payload | null } | null }): string | undefined {
  const summary = event.userMetadata?.summary;
  return summary ? payloadConverter.fromPayload<string>(summary) : undefined;
}

/** The commands a history records, in event order. */
export function recordedCommands(history: History): Recorded[] {
  const out: Recorded[] = [];
  for (const event of history.events ?? []) {
    const eventId = Number(event.eventId);
    const at = <T extends EmittedCommand>(command: T) => out.push({ ...command, eventId });
    if (event.activityTaskScheduledEventAttributes) {
      const a = event.activityTaskScheduledEventAttributes;
      const summary = summaryOf(event);
      at({
        kind: 'activity',
        seq: Number(a.activityId),
        activityId: a.activityId ?? '',
        activityType: a.activityType?.name ?? '',
        args: encoded(a.input?.payloads),
        ...(summary !== undefined ? { summary } : {}),
      });
    } else if (event.markerRecordedEventAttributes?.markerName === 'core_local_activity') {
      const data = event.markerRecordedEventAttributes.details?.data?.payloads?.[0];
      const marker = data ? payloadConverter.fromPayload<{ seq: number; activity_type: string }>(data) : undefined;
      const summary = summaryOf(event);
      at({
        kind: 'localActivity',
        seq: marker?.seq ?? -1,
        activityType: marker?.activity_type ?? '',
        args: { payloads: [] },
        ...(summary !== undefined ? { summary } : {}),
      });
    } else if (event.timerStartedEventAttributes) {
      const t = event.timerStartedEventAttributes;
      const d = t.startToFireTimeout;
      const summary = summaryOf(event);
      at({
        kind: 'timer',
        seq: Number(t.timerId),
        durationMs: Number(d?.seconds ?? 0) * 1000 + (d?.nanos ?? 0) / 1e6,
        ...(summary !== undefined ? { summary } : {}),
      });
    } else if (event.startChildWorkflowExecutionInitiatedEventAttributes) {
      const c = event.startChildWorkflowExecutionInitiatedEventAttributes;
      const summary = summaryOf(event);
      at({
        kind: 'childStart',
        seq: -1,
        workflowId: c.workflowId ?? '',
        workflowType: c.workflowType?.name ?? '',
        args: encoded(c.input?.payloads),
        ...(summary !== undefined ? { summary } : {}),
      });
    } else if (event.signalExternalWorkflowExecutionInitiatedEventAttributes) {
      const s = event.signalExternalWorkflowExecutionInitiatedEventAttributes;
      at({
        kind: 'signal',
        seq: -1,
        workflowId: s.workflowExecution?.workflowId ?? '',
        signalName: s.signalName ?? '',
        args: encoded(s.input?.payloads),
      });
    } else if (event.workflowExecutionContinuedAsNewEventAttributes) {
      const c = event.workflowExecutionContinuedAsNewEventAttributes;
      at({ kind: 'continueAsNew', workflowType: c.workflowType?.name ?? '', args: encoded(c.input?.payloads) });
    } else if (event.workflowExecutionCompletedEventAttributes) {
      at({ kind: 'completed', result: encoded(event.workflowExecutionCompletedEventAttributes.result?.payloads) });
    } else if (event.workflowExecutionFailedEventAttributes) {
      const f = event.workflowExecutionFailedEventAttributes.failure;
      at({
        kind: 'failed',
        message: f?.message ?? '',
        type: f?.applicationFailureInfo ? f.applicationFailureInfo.type || null : null,
        details: encoded(f?.applicationFailureInfo?.details?.payloads),
      });
    } else if (event.workflowExecutionCanceledEventAttributes) {
      at({ kind: 'cancelled' });
    }
  }
  return out;
}

/** Which recorded command an emitted one stands for: its sequence number, target, or place. */
function keysOf(commands: EmittedCommand[]): string[] {
  const signals = new Map<string, number>();
  return commands.map((c) => {
    switch (c.kind) {
      case 'activity':
        return `activity ${c.activityId}`;
      case 'localActivity':
        return `local activity ${c.seq}`;
      case 'timer':
        return `timer ${c.seq}`;
      case 'childStart':
        return `child ${c.workflowId}`;
      case 'signal': {
        const n = (signals.get(c.workflowId) ?? 0) + 1;
        signals.set(c.workflowId, n);
        return `signal #${n} to ${c.workflowId}`;
      }
      case 'continueAsNew':
        return 'continue-as-new';
      default:
        return 'close';
    }
  });
}

function decode(args: Encoded): unknown[] | string {
  return 'unencodable' in args
    ? `(unencodable: ${args.unencodable})`
    : args.payloads.map((p) => payloadConverter.fromPayload(p));
}

/**
 * Input drift that is known and harmless, each with its reason. Nothing else is forgiven.
 *
 * `chain` in the first step's `runStep` input: since aae787c (fast chains) the first step of each
 * execution asks for a chain, without a patch, and histories recorded before it have no `chain`
 * in any step's input. Only a runner registered with fastSteps() acts on it, and such runners did
 * not exist before that commit; the step's result, not its input, decides the path afterwards
 * (behind the `fast-chains` patch). Forgiven only in a history none of whose steps has `chain`.
 */
function stripChainRequest(input: unknown[] | string): unknown[] | string {
  if (typeof input === 'string') return input;
  return input.map((arg) => {
    if (typeof arg !== 'object' || arg === null || !('chain' in arg)) return arg;
    const { chain: _chain, ...rest } = arg as Record<string, unknown>;
    return rest;
  });
}

function predatesChainRequest(recorded: Recorded[]): boolean {
  return recorded.every((c) => {
    if (c.kind !== 'activity' || c.activityType !== 'runStep') return true;
    const input = decode(c.args);
    return typeof input === 'string' || !input.some((arg) => typeof arg === 'object' && arg !== null && 'chain' in arg);
  });
}

/** The fields a command is compared on, decoded; local activities have no recorded input. */
function comparable(c: EmittedCommand, preChain = false): Record<string, unknown> {
  switch (c.kind) {
    case 'activity':
      return {
        activityType: c.activityType,
        input: preChain && c.activityType === 'runStep' ? stripChainRequest(decode(c.args)) : decode(c.args),
        summary: c.summary,
      };
    case 'localActivity':
      return { activityType: c.activityType, summary: c.summary };
    case 'timer':
      return { durationMs: c.durationMs, summary: c.summary };
    case 'childStart':
      return { workflowType: c.workflowType, input: decode(c.args), summary: c.summary };
    case 'signal':
      return { signalName: c.signalName, input: decode(c.args) };
    case 'continueAsNew':
      return { workflowType: c.workflowType, args: decode(c.args) };
    case 'completed':
      return { close: 'completed', result: decode(c.result) };
    case 'failed':
      return { close: 'failed', message: c.message, type: c.type, details: decode(c.details) };
    case 'cancelled':
      return { close: 'cancelled' };
    case 'timerDropped':
      return { dropped: c.seq };
  }
}

const show = (v: unknown) => inspect(v, { depth: 8, breakLength: Infinity, compact: true, maxStringLength: 200 });

/**
 * The differences between the commands a history records and those its replay emitted (empty when
 * they agree). A history that ends open may lack the commands of its last workflow task.
 */
export function commandDrift(history: History, all: EmittedCommand[]): string[] {
  const recorded = recordedCommands(history);
  // A timer started and cancelled in one activation never reaches the server (Core drops both).
  const dropped = new Set(all.flatMap((c) => (c.kind === 'timerDropped' ? [c.seq] : [])));
  const emitted = all.filter((c) => c.kind !== 'timerDropped' && !(c.kind === 'timer' && dropped.has(c.seq)));
  const closed = recorded.some((c) => ['completed', 'failed', 'cancelled', 'continueAsNew'].includes(c.kind));
  const byKey = new Map<string, EmittedCommand>();
  keysOf(emitted).forEach((key, i) => byKey.set(key, emitted[i]!));
  const problems: string[] = [];
  const preChain = predatesChainRequest(recorded);
  const recordedKeys = keysOf(recorded);
  recordedKeys.forEach((key, i) => {
    const want = recorded[i]!;
    const got = byKey.get(key);
    byKey.delete(key);
    if (!got) {
      problems.push(`event ${want.eventId} (${key}): recorded, not emitted by the code`);
      return;
    }
    const [a, b] = [comparable(want), comparable(got, preChain)];
    if (!isDeepStrictEqual(a, b))
      problems.push(`event ${want.eventId} (${key}): recorded ${show(a)}, the code emitted ${show(b)}`);
  });
  if (closed)
    for (const [key, got] of byKey)
      problems.push(`${key}: emitted by the code, not in the history: ${show(comparable(got))}`);
  return problems;
}

export interface StrictReplayResult {
  workflowId: string;
  /** Core's verdict (non-determinism or another replay error). */
  error?: Error;
  /** Commands whose inputs differ from the recorded ones (see `commandDrift`). */
  drift: string[];
}

/** Replays each history (JSON, as `temporal workflow show -o json` writes it) with the strict check. */
export async function strictReplay(
  histories: Array<{ workflowId: string; history: unknown }>,
): Promise<StrictReplayResult[]> {
  let emitted: EmittedCommand[] = [];
  const results = Worker.runReplayHistories(
    {
      workflowBundle: await strictReplayBundle(),
      dataConverter: { payloadConverterPath },
      sinks: {
        replayCommands: {
          emitted: {
            // A copy: the replay worker may run the workflow in a vm context of the main thread,
            // whose arrays and objects have other prototypes than this realm's.
            fn: (_info, command: EmittedCommand) => {
              emitted.push(structuredClone(command));
            },
            callDuringReplay: true,
          },
        },
      },
    },
    histories,
  );
  const out: StrictReplayResult[] = [];
  // Histories replay one at a time, and a replay's sink calls are made before its result.
  for await (const result of results) {
    const { history } = histories[out.length]!;
    out.push({
      workflowId: result.workflowId,
      ...(result.error ? { error: result.error } : {}),
      drift: commandDrift(historyFromJSON(history), emitted),
    });
    emitted = [];
  }
  return out;
}
