/**
 * A run's live stream, as it travels through Temporal: no history event per chunk.
 *
 * A step attempt numbers its chunks itself (local indices from 0). While it runs, the window of its
 * latest chunks rides on the step activity's heartbeat details, which the server keeps on the
 * pending activity without writing history; readers poll `describe`. When the attempt ends, its
 * chunks (the last STREAM_KEEP_BYTES of them) go into the step's result once, or, for an attempt
 * that fails, its count goes into the failure's details. A reader turns local indices into run-wide
 * offsets by adding the counts of the step activities before it in the run's history, so every
 * reader computes the same offsets and an offset never carries two different chunks.
 *
 * An attempt that Temporal runs again (its worker was killed or shut down) goes on numbering after
 * the last index its predecessor heartbeated, with a retract entry in between. Sandbox-safe: the
 * workflow never reads these records, but the step result type that carries them is shared.
 */

/** The largest chunk `step.stream` takes, as encoded JSON. */
export const MAX_CHUNK_BYTES = 64 * 1024;
/**
 * What a heartbeat carries at most: the latest chunks of the attempt (always the last one). Each
 * flush re-sends it, so it is what a flush costs the server; a reader polling every 100 ms needs
 * only what came since its last poll (a model streams a few KiB a second).
 */
export const STREAM_WINDOW_BYTES = 64 * 1024;
/** What a run keeps of its stream for readers that come late: the last this many bytes of chunks. */
export const STREAM_KEEP_BYTES = 1024 * 1024;

/**
 * A step attempt flushes its stream (and progress) on a heartbeat at most this often; the worker's
 * heartbeat throttle is set below it so that each flush reaches the server at once.
 */
export const STREAM_FLUSH_MS = 100;

/** The key that marks heartbeat details carrying a stream window (the runner's progress beside it). */
export const STREAM_KEY = 'durableRuns.stream';

/** One entry of an attempt's stream: a chunk (`data`) or the retract of an earlier try (`retract`). */
export type StreamEntry = { i: number; data: unknown } | { i: number; retract: true };

/** The stream of one step attempt, or the part of it kept (`first` > 0 when older ones were dropped). */
export interface AttemptStream {
  step: number;
  attempt: number;
  /** The local index of the first entry kept (entries before it are no longer kept). */
  first: number;
  /** The local index after the last entry: the room this attempt takes in the run's stream. */
  end: number;
  entries: StreamEntry[];
}

/** Heartbeat details of a step that streamed: its window, and the runner's latest progress. */
export interface StreamHeartbeat {
  [STREAM_KEY]: AttemptStream;
  progress?: unknown;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isIndex = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/** The attempt stream in a value read back from Temporal, if it holds a well-formed one. */
export function attemptStreamOf(value: unknown): AttemptStream | undefined {
  if (!isObject(value)) return undefined;
  const { step, attempt, first, end, entries } = value;
  if (!isIndex(step) || !isIndex(attempt) || !isIndex(first) || !isIndex(end) || !Array.isArray(entries)) {
    return undefined;
  }
  if (first > end) return undefined;
  for (const entry of entries as unknown[]) {
    if (!isObject(entry) || !isIndex(entry.i) || entry.i < first || entry.i >= end) return undefined;
    if (!('data' in entry) && entry.retract !== true) return undefined;
  }
  return value as unknown as AttemptStream;
}

/** The stream window in heartbeat details, if they carry one. */
export function streamOfHeartbeat(details: unknown): AttemptStream | undefined {
  return isObject(details) && STREAM_KEY in details ? attemptStreamOf(details[STREAM_KEY]) : undefined;
}

/**
 * The key that marks heartbeat details carrying the attempt's usage so far (`step.usage`), beside
 * its stream window and progress: a try that runs the attempt again (its worker died or shut
 * down) counts on from it.
 */
export const USAGE_KEY = 'durableRuns.usage';

/** Whether heartbeat details are durable-runs' wrapper (stream, usage) around the runner's progress. */
const isWrapped = (details: unknown): details is Record<string, unknown> =>
  isObject(details) && (STREAM_KEY in details || USAGE_KEY in details);

/** The runner's progress in heartbeat details, whether or not they carry a stream window or usage. */
export function progressOfHeartbeat(details: unknown): unknown {
  return isWrapped(details) ? details.progress : details;
}

/** The usage (unchecked) heartbeat details carry, if any. */
export function usageOfHeartbeat(details: unknown): unknown {
  return isWrapped(details) ? details[USAGE_KEY] : undefined;
}

/** The stream a step result or a failure's details carry, if any. */
export function streamOfResult(result: unknown): AttemptStream | undefined {
  return isObject(result) ? attemptStreamOf(result.stream) : undefined;
}
