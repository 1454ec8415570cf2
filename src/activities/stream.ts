/**
 * `step.stream` for one step attempt (see src/shared/stream.ts for how a stream travels): numbers
 * the attempt's chunks, keeps the last STREAM_KEEP_BYTES of them for the step's result, and gives
 * the window a heartbeat carries.
 */
import { StepError } from '../shared/outcome';
import {
  type AttemptStream,
  MAX_CHUNK_BYTES,
  STREAM_KEEP_BYTES,
  STREAM_WINDOW_BYTES,
  type StreamEntry,
} from '../shared/stream';
import { jsonDeeperThan, MAX_VALUE_DEPTH } from '../shared/limits';
import { describeType } from '../shared/validate';

/** The encoded size of a chunk, or why it cannot be streamed. */
export function chunkSize(chunk: unknown): number | string {
  if (chunk === undefined || typeof chunk === 'function' || typeof chunk === 'symbol' || typeof chunk === 'bigint') {
    return `a chunk must be a string or a JSON value, not ${describeType(chunk)}`;
  }
  if (chunk instanceof Uint8Array) return 'a chunk must be a string or a JSON value, not binary data';
  let json: string | undefined;
  try {
    json = JSON.stringify(chunk);
  } catch (err) {
    return `the chunk cannot be serialized: ${(err as Error).message}`;
  }
  if (json === undefined) return `a chunk must be a string or a JSON value, not ${describeType(chunk)}`;
  if (typeof chunk === 'object' && chunk !== null && jsonDeeperThan(json, MAX_VALUE_DEPTH)) {
    return `the chunk nests arrays and objects deeper than ${MAX_VALUE_DEPTH} levels`;
  }
  const size = Buffer.byteLength(json);
  if (size > MAX_CHUNK_BYTES) {
    return `the chunk is ${size} bytes as JSON, above the ${MAX_CHUNK_BYTES}-byte (64 KiB) limit: send it in smaller chunks`;
  }
  return size;
}

/** Entry bookkeeping: each entry with its encoded size (a retract counts a few bytes). */
interface Kept {
  entry: StreamEntry;
  size: number;
}

export class AttemptStreamer {
  private readonly kept: Kept[] = [];
  private keptBytes = 0;
  private next: number;
  /** The first local index this attempt's record covers (after its predecessor's entries). */
  private readonly start: number;
  /** Why the attempt must fail: a chunk was refused, even if the runner caught the error. */
  refused: string | undefined;

  /**
   * `previous`: the last stream record of an earlier try of this same attempt (Temporal ran it
   * again after its worker died or shut down). Its chunks are retracted and the numbering goes on.
   */
  constructor(
    private readonly step: number,
    private readonly attempt: number,
    previous?: AttemptStream,
  ) {
    const end = previous?.end ?? 0;
    this.start = end;
    this.next = end;
    const last = previous?.entries.at(-1);
    const retracted = last !== undefined && 'retract' in last && last.i === end - 1;
    if (end > 0 && !retracted) this.add({ i: this.next++, retract: true }, 16);
  }

  /** Whether there is anything to tell readers (a chunk, or the retract of an earlier try). */
  get active(): boolean {
    return this.next > this.start;
  }

  /** Appends a chunk; throws (and remembers) a permanent step error for one it cannot take. */
  push(chunk: unknown): void {
    if (this.refused !== undefined) throw StepError.permanent(this.refused);
    const size = chunkSize(chunk);
    if (typeof size === 'string') {
      this.refused = `step.stream: ${size}`;
      throw StepError.permanent(this.refused);
    }
    this.add({ i: this.next++, data: chunk }, size);
  }

  private add(entry: StreamEntry, size: number): void {
    this.kept.push({ entry, size });
    this.keptBytes += size;
    // Older chunks drop out once the attempt streamed more than the run keeps; the last one stays.
    while (this.keptBytes > STREAM_KEEP_BYTES && this.kept.length > 1) this.keptBytes -= this.kept.shift()!.size;
  }

  private record(entries: Kept[]): AttemptStream {
    return {
      step: this.step,
      attempt: this.attempt,
      first: entries[0]?.entry.i ?? this.next,
      end: this.next,
      entries: entries.map((k) => k.entry),
    };
  }

  /** The latest entries, at most STREAM_WINDOW_BYTES of them (always the last one): for a heartbeat. */
  window(): AttemptStream {
    let bytes = 0;
    let from = this.kept.length;
    while (from > 0 && (from === this.kept.length || bytes + this.kept[from - 1]!.size <= STREAM_WINDOW_BYTES)) {
      bytes += this.kept[--from]!.size;
    }
    return this.record(this.kept.slice(from));
  }

  /** Everything kept, within `budget` bytes (the newest first): for the step's result. */
  keptWithin(budget: number): AttemptStream {
    let bytes = 0;
    let from = this.kept.length;
    while (from > 0 && bytes + this.kept[from - 1]!.size <= budget) bytes += this.kept[--from]!.size;
    return this.record(this.kept.slice(from));
  }

  /**
   * What a failed attempt's details carry: its room in the run's stream, no chunks (they are
   * retracted); undefined when it streamed nothing.
   */
  counted(): AttemptStream | undefined {
    if (!this.active) return undefined;
    return { step: this.step, attempt: this.attempt, first: this.next, end: this.next, entries: [] };
  }
}
