/**
 * Reading a run's live stream (`runs.stream`): from Temporal alone. The run's history gives each
 * finished step attempt's chunks (in the step's result) or its room in the stream (in a failure's
 * details, or the last heartbeat of one that timed out); `describe` gives the window of the
 * running attempt (its heartbeat details). Offsets are the attempts' local indices plus the room
 * every earlier attempt of the run took, so every reader computes the same ones.
 *
 * Each reader follows the history with one long poll (the server answers when an event arrives)
 * and, while a step runs, polls `describe` every STREAM_POLL_MS.
 */
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { decodeOptionalSinglePayload } from '@temporalio/common/lib/internal-non-workflow';
import type { temporal as proto } from '@temporalio/proto';
import { type AttemptStream, STREAM_KEEP_BYTES, streamOfHeartbeat, streamOfResult } from '../shared/stream';
import type { RunOutcome } from '../shared/types';
import { ValidationError } from '../shared/validate';

type HistoryEvent = proto.api.history.v1.IHistoryEvent;
type Payload = proto.api.common.v1.IPayload;

/** What `runs.stream` yields. */
export type StreamEvent =
  /** A chunk a step streamed; `offset` is its place in the run's stream (resume after it with `from`). */
  | { type: 'chunk'; offset: number; step: number; attempt: number; data: unknown }
  /** The attempt failed or was interrupted: drop the chunks it streamed before this. */
  | { type: 'retract'; offset: number; step: number; attempt: number }
  /** Chunks no longer kept (or that came and went before this reader could see them). */
  | { type: 'gap'; from: number; to: number }
  /** The run closed: the last event. */
  | { type: 'closed'; outcome: RunOutcome };

export interface StreamOptions {
  /** Resume right after this offset (the last one a reader got); from the start by default. */
  from?: number;
  /** Ends the stream (the iterator returns) when aborted. */
  signal?: AbortSignal;
}

/** A chain of executions longer than this is not walked back. */
const MAX_EXECUTIONS = 100_000;

/** How often a reader asks for the running step's window. */
export const STREAM_POLL_MS = 100;

export class StreamOutOfRange extends ValidationError {
  constructor(message: string) {
    super(message);
    this.name = 'StreamOutOfRange';
  }
}

/** What the reader needs from the client. */
export interface StreamSource {
  temporal: Client;
  /** The run's outcome once it closed (the client's `result`). */
  outcome(runId: string): Promise<RunOutcome>;
  /** Thrown for a run that does not exist. */
  notFound(runId: string): Error;
}

/** A finished or running step attempt's stream, placed in the run's stream at `base`. */
interface Placed {
  base: number;
  record: AttemptStream;
}

const isOffset = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/** The JSON size of a chunk entry, for the keep bound (what the step measured when it took it). */
const sizeOf = (data: unknown): number => Buffer.byteLength(JSON.stringify(data) ?? '');

export async function* readStream(
  source: StreamSource,
  runId: string,
  options: StreamOptions = {},
): AsyncGenerator<StreamEvent, void, undefined> {
  const { from, signal } = options;
  if (from !== undefined && !isOffset(from)) {
    throw new StreamOutOfRange(`from must be an offset the stream gave (a whole number from 0), not ${String(from)}`);
  }
  const { temporal } = source;
  const namespace = temporal.options.namespace;
  const decode = async (payload: Payload | null | undefined): Promise<unknown> => {
    if (!payload) return undefined;
    try {
      return await decodeOptionalSinglePayload(temporal.options.loadedDataConverter, payload);
    } catch {
      return undefined; // a record this client cannot read (another key) counts as none
    }
  };
  const describe = async (execution?: string) => {
    try {
      return await temporal.workflow.getHandle(runId, execution).describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw source.notFound(runId);
      throw err;
    }
  };

  /** The next offset this reader delivers: kept when a reset makes it follow a new execution. */
  let next = from === undefined ? 0 : from + 1;
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  signal?.addEventListener('abort', onAbort);
  if (signal?.aborted) stop.abort();
  try {
    let described = await describe();
    const firstRunId = described.raw.workflowExecutionInfo?.firstRunId;
    for (let follows = 0; ; follows++) {
      // An execution it followed closed because a reset (a retry, `temporal workflow reset`)
      // replaced it: follow the new one from its start; offsets it already delivered are skipped.
      const closedIn = yield* followExecutions(described.runId, described.historyLength ?? 0, follows === 0);
      if (closedIn === undefined) return;
      const latest = await describe();
      const replaced =
        latest.runId !== closedIn &&
        latest.raw.workflowExecutionInfo?.firstRunId === firstRunId &&
        follows < MAX_EXECUTIONS;
      if (!replaced) break;
      described = latest;
    }
    yield { type: 'closed', outcome: await source.outcome(runId) };
  } finally {
    signal?.removeEventListener('abort', onAbort);
    stop.abort();
  }

  /**
   * Reads the chain of executions that leads to `current` (`historyLength` events long when it was
   * described) and follows it until the run closes: the execution it closed in then (a later one
   * than `current` if it continued as new), undefined when the reader stopped. `first`: the reader's first follow (`from` is checked against the end of the stream).
   */
  async function* followExecutions(
    current: string,
    historyLength: number,
    first: boolean,
  ): AsyncGenerator<StreamEvent, string | undefined> {
    // The executions that lead to the current one, oldest first: back through each one's start
    // (after a reset, the current execution continues from the one before the reset point, not
    // from the execution the reset replaced, which a forward walk from the first would follow).
    const chain = [current];
    for (let i = 0; i < MAX_EXECUTIONS; i++) {
      const { history } = await temporal.workflowService.getWorkflowExecutionHistory({
        namespace,
        execution: { workflowId: runId, runId: chain[0] },
        maximumPageSize: 1,
      });
      const before = history?.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId;
      if (!before) break;
      chain.unshift(before);
    }
    let execution: string = chain[0]!;
    /** The room the finished attempts took: the base of the next one. */
    let base = 0;
    /** The runStep activity scheduled and not yet finished in the followed execution. */
    const step: Following = { open: undefined, ids: new Map() };
    let closed = false;
    /** Events delivered while catching up are held, to apply the keep bound first. */
    let held: Placed[] | undefined = [];

    const out: StreamEvent[] = [];
    const deliver = (placed: Placed) => {
      const { base: at, record } = placed;
      const start = at + record.first;
      if (record.entries.length > 0 && next < start) {
        out.push({ type: 'gap', from: next, to: start - 1 });
        next = start;
      }
      for (const entry of record.entries) {
        const offset = at + entry.i;
        if (offset < next) continue;
        out.push(
          'retract' in entry
            ? { type: 'retract', offset, step: record.step, attempt: record.attempt }
            : { type: 'chunk', offset, step: record.step, attempt: record.attempt, data: entry.data },
        );
        next = offset + 1;
      }
    };
    const place = (placed: Placed) => (held ? held.push(placed) : deliver(placed));
    /** A retract at the next free offset, for the attempt `record` streamed. */
    const retract = (record: AttemptStream) => {
      place({ base: 0, record: { ...record, first: base, end: base + 1, entries: [{ i: base, retract: true }] } });
      base += 1;
    };
    /** A finished attempt: its chunks (completed), or its room and a retract (failed, timed out). */
    const finish = (record: AttemptStream | undefined, failed: boolean) => {
      if (record) place({ base, record });
      if (!record || record.end === 0) return;
      base += record.end;
      if (failed) retract(record);
    };

    /** The stream record of a runStep activity that closed with `event`, and whether it failed. */
    const closedStep = async (event: HistoryEvent): Promise<[AttemptStream | undefined, boolean]> => {
      if (event.activityTaskCompletedEventAttributes) {
        return [streamOfResult(await decode(event.activityTaskCompletedEventAttributes.result?.payloads?.[0])), false];
      }
      if (event.activityTaskFailedEventAttributes) {
        const failure = event.activityTaskFailedEventAttributes.failure;
        return [streamOfResult(await decode(failure?.applicationFailureInfo?.details?.payloads?.[0])), true];
      }
      // Cancelled: its chunks stand (the run ends cancelled) and keep their room; a reset that
      // drops the branch retracts them as it does a completed attempt's.
      if (event.activityTaskCanceledEventAttributes) {
        return [streamOfResult(await decode(event.activityTaskCanceledEventAttributes.details?.payloads?.[0])), false];
      }
      const failure = event.activityTaskTimedOutEventAttributes?.failure;
      const info = failure?.timeoutFailureInfo ?? failure?.cause?.timeoutFailureInfo;
      return [streamOfHeartbeat(await decode(info?.lastHeartbeatDetails?.payloads?.[0])), true];
    };

    /**
     * Tracks the runStep activity `event` schedules or closes; the closed one's record and whether
     * it failed, or null when `event` closes no runStep.
     */
    const track = async (
      event: HistoryEvent,
      following: Following,
    ): Promise<[AttemptStream | undefined, boolean] | null> => {
      if (!closesOpenStep(event, following)) return null;
      return closedStep(event);
    };

    /** The stream window of the runStep `following` has open in `executionId`, if it is the one pending. */
    const pendingWindow = async (executionId: string, following: Following): Promise<AttemptStream | undefined> => {
      if (following.open === undefined) return undefined;
      const pending = (await describe(executionId)).raw.pendingActivities?.find(
        (a) => a.activityType?.name === 'runStep',
      );
      const id = following.ids.get(following.open);
      if (!pending || id === undefined || pending.activityId !== id) return undefined;
      return streamOfHeartbeat(await decode(pending.heartbeatDetails?.payloads?.[0]));
    };

    /**
     * The branch a reset replaced: `executionId`'s events from `fromEventId` on (and the executions
     * it continued as), which the new execution does not have. Readers of the replaced execution
     * gave its attempts offsets; they keep them, so that no offset carries two chunks, and every
     * attempt on the branch is retracted (the failed ones as always, the completed ones and the one
     * the reset cut short after the branch), so that readers drop what the reset undid.
     */
    const dropBranch = async (executionId: string, fromEventId: number, depth: number): Promise<void> => {
      const completed: AttemptStream[] = [];
      let branch: string | undefined = executionId;
      let fromId = fromEventId;
      for (let n = 0; branch && n < MAX_EXECUTIONS; n++) {
        const following: Following = { open: undefined, ids: new Map() };
        let continued: string | undefined;
        let pageToken: Uint8Array | undefined;
        do {
          const response: proto.api.workflowservice.v1.IGetWorkflowExecutionHistoryResponse =
            await temporal.workflowService.getWorkflowExecutionHistory({
              namespace,
              execution: { workflowId: runId, runId: branch },
              ...(pageToken ? { nextPageToken: pageToken } : {}),
            });
          for (const event of response.history?.events ?? []) {
            // Before the reset point both executions have the same events: only which step is open.
            if (Number(event.eventId) < fromId) {
              closesOpenStep(event, following);
              continue;
            }
            const reset = resetOf(event);
            if (reset && depth < MAX_RESETS) await dropBranch(reset.baseRunId, reset.eventId, depth + 1);
            const stepClosed = await track(event, following);
            if (stepClosed) {
              const [record, failed] = stepClosed;
              // The completed attempt's chunks stay out: readers that saw them drop them below.
              finish(record && { ...record, first: record.end, entries: [] }, failed);
              if (record && !failed && record.end > 0) completed.push(record);
            }
            continued ??= event.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
          }
          pageToken = response.nextPageToken?.length ? response.nextPageToken : undefined;
        } while (pageToken);
        // The attempt the reset cut short: its room is the last window its heartbeat left.
        const cut = await pendingWindow(branch, following);
        finish(cut && { ...cut, first: cut.end, entries: [] }, true);
        branch = continued;
        fromId = 0;
      }
      for (const record of completed) retract(record);
    };

    const apply = async (event: HistoryEvent): Promise<string | undefined> => {
      const reset = resetOf(event);
      if (reset) {
        await dropBranch(reset.baseRunId, reset.eventId, 0);
        return undefined;
      }
      const stepClosed = await track(event, step);
      if (stepClosed) {
        finish(...stepClosed);
        return undefined;
      }
      const continued = event.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
      if (continued) return continued;
      if (
        event.workflowExecutionCompletedEventAttributes ||
        event.workflowExecutionFailedEventAttributes ||
        event.workflowExecutionCanceledEventAttributes ||
        event.workflowExecutionTerminatedEventAttributes ||
        event.workflowExecutionTimedOutEventAttributes
      ) {
        closed = true;
      }
      return undefined;
    };

    /** The running attempt's window, if the step the history says is open is the one running. */
    const pollWindow = async (): Promise<void> => {
      const record = await pendingWindow(execution, step);
      if (record) place({ base, record });
    };

    /** One history page of `execution`, long-polling once caught up. */
    let token: Uint8Array | undefined;
    const page = () =>
      temporal.connection.withAbortSignal(stop.signal, () =>
        temporal.workflowService.getWorkflowExecutionHistory({
          namespace,
          execution: { workflowId: runId, runId: execution },
          ...(token ? { nextPageToken: token } : {}),
          waitNewEvent: true,
        }),
      );
    let lastEventId = 0;
    const readPage = async (response: Awaited<ReturnType<typeof page>>): Promise<void> => {
      for (const event of response.history?.events ?? []) {
        lastEventId = Number(event.eventId);
        const continued = await apply(event);
        if (continued) {
          // The chain's next execution, where a reset replaced the one this event names.
          const at = chain.indexOf(execution);
          execution = (at >= 0 ? chain[at + 1] : undefined) ?? continued;
          token = undefined;
          step.ids.clear();
          lastEventId = 0;
          return;
        }
      }
      token = response.nextPageToken?.length ? response.nextPageToken : undefined;
    };

    // Catch up: every execution so far, to the history length `describe` gave for the current one.
    for (;;) {
      if (stop.signal.aborted) return undefined;
      const caughtUp = execution === current && lastEventId >= historyLength;
      if (caughtUp || closed) break;
      const before = execution;
      await readPage(await page());
      if (execution === before && !token && !closed) break;
    }
    await pollWindow();
    // The keep bound: a late reader gets the last STREAM_KEEP_BYTES of chunks, a gap before them.
    const catchUp = held as Placed[];
    held = undefined;
    const known = catchUp.reduce((max, p) => Math.max(max, p.base + p.record.end), base);
    if (first && from !== undefined && from > known - 1) {
      throw new StreamOutOfRange(
        `from ${from} is beyond the end of run ${runId}'s stream (${known === 0 ? 'it has no chunks yet' : `its last offset is ${known - 1}`})`,
      );
    }
    const keptFrom = keptFromOffset(catchUp);
    if (keptFrom > next) {
      out.push({ type: 'gap', from: next, to: keptFrom - 1 });
      next = keptFrom;
    }
    for (const placed of catchUp) deliver(placed);
    yield* out.splice(0);

    const poll = () => {
      const request = page();
      request.catch(() => undefined); // seen by the race below; a reader that stops aborts it
      return request;
    };
    let pending = closed ? undefined : poll();
    while (!closed) {
      if (stop.signal.aborted) return undefined;
      const tick = step.open === undefined ? undefined : sleep(STREAM_POLL_MS, stop.signal);
      try {
        const settled = await Promise.race([pending!.then((r) => ({ r })), ...(tick ? [tick.then(() => null)] : [])]);
        if (settled) {
          await readPage(settled.r);
          pending = closed ? undefined : poll();
        } else {
          await pollWindow();
        }
      } catch (err) {
        if (stop.signal.aborted) return undefined;
        throw err;
      }
      yield* out.splice(0);
    }
    return execution;
  }
}

/** The runStep activity a followed execution has open: its scheduled event ID, and activity IDs by them. */
interface Following {
  open: string | undefined;
  ids: Map<string, string>;
}

/**
 * Tracks the runStep activity `event` schedules in `following`; true when `event` closes the one
 * open (completed, failed, timed out or cancelled).
 */
function closesOpenStep(event: HistoryEvent, following: Following): boolean {
  const scheduled = event.activityTaskScheduledEventAttributes;
  if (scheduled) {
    if (scheduled.activityType?.name === 'runStep') {
      following.open = `${event.eventId}`;
      following.ids.set(following.open, scheduled.activityId ?? '');
    }
    return false;
  }
  const attrs =
    event.activityTaskCompletedEventAttributes ??
    event.activityTaskFailedEventAttributes ??
    event.activityTaskTimedOutEventAttributes ??
    event.activityTaskCanceledEventAttributes;
  if (!attrs || `${attrs.scheduledEventId}` !== following.open) return false;
  following.open = undefined;
  return true;
}

/** Resets nested deeper than this (a reset of a reset of …, each replacing the next) are not followed. */
const MAX_RESETS = 1000;

/** The execution a reset replaced, and the event from which the new one differs, if `event` records a reset. */
function resetOf(event: HistoryEvent): { baseRunId: string; eventId: number } | undefined {
  const attrs = event.workflowTaskFailedEventAttributes;
  if (!attrs?.baseRunId || !attrs.newRunId) return undefined;
  return { baseRunId: attrs.baseRunId, eventId: Number(event.eventId) };
}

/** The first offset a late reader gets: the last STREAM_KEEP_BYTES of chunks are kept. */
function keptFromOffset(placed: Placed[]): number {
  let bytes = 0;
  for (let i = placed.length - 1; i >= 0; i--) {
    const { base, record } = placed[i]!;
    for (let j = record.entries.length - 1; j >= 0; j--) {
      const entry = record.entries[j]!;
      if ('data' in entry) bytes += sizeOf(entry.data);
      if (bytes > STREAM_KEEP_BYTES) return base + entry.i + 1;
    }
  }
  return 0;
}

/** Resolves after `ms`, or at once when `signal` aborts; either way leaves no listener on `signal`. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}
