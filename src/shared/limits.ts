/**
 * Size bounds on what a run sends to Temporal, in encoded bytes (UTF-8 JSON, bytes as base64, as
 * the payload converter writes them). Temporal refuses a payload list above 2 MiB (its blob size
 * limit: a start, a signal, an activity's input or result, a continue-as-new), and a refused
 * command ends the run with no outcome and no webhook. So the run refuses what cannot fit at the
 * door, and fails cleanly, with its webhook, before it would send a command the server refuses.
 * Sandbox-safe: the workflow measures with it too.
 */
import { toBase64 } from './base64';

/**
 * Temporal's default blob size limit (`limit.blobSize.error`), which the server applies to all the
 * payloads of one start, signal, activity input or result, or continue-as-new together.
 */
export const TEMPORAL_BLOB_LIMIT = 2 * 1024 * 1024;
/**
 * The most a run puts in one command (a step's input, a continue-as-new): under
 * {@link TEMPORAL_BLOB_LIMIT} by what encoding adds around the JSON (payload metadata, and with
 * encryption a nonce, a tag and the key ID: under 200 bytes a payload).
 */
export const MAX_COMMAND_BYTES = 1_900_000;
/**
 * A run's whole workflow input (`input`, `headers` and the options). It rides in every
 * continue-as-new beside the carry, so it gets a quarter of the room.
 */
export const MAX_RUN_SPEC_BYTES = 512 * 1024;
/** All of a run's headers together (names and values): they go into every step input and outcome. */
export const MAX_HEADERS_BYTES = 32 * 1024;
/** The data of the events a run keeps unconsumed, together: they are carried at continue-as-new. */
export const MAX_PENDING_EVENT_BYTES = 512 * 1024;
/**
 * The event IDs a run remembers, together: past it the oldest are forgotten (as past 10,000 IDs).
 * 10,000 UUIDs or ULIDs fit; 10,000 IDs of 200 characters (2 MB) would not fit in the carry.
 */
export const MAX_REMEMBERED_ID_BYTES = 400 * 1024;

/**
 * How deep arrays and objects may nest in a JSON payload. The payload converter refuses a deeper
 * value when it encodes one (the SDK reports it cannot convert it) and deeper JSON when it reads a
 * payload (a `ValueError`; the worker turns it into an undecodable payload the run fails on by
 * name). Far below what any thread's stack holds, so every process draws the line at the same
 * place: whether a step can be scheduled, or its outcome read, is the same live and in replay.
 */
export const MAX_JSON_DEPTH = 1000;

/**
 * How deep a value a run is handed may nest: its input, an event's data, a step's payload or
 * result, a child's input. A run carries such a value up to four levels further down (an event in
 * the inbox it hands over at continue-as-new, `{"events": {"pending": [{"data": …}]}}`; a child's
 * result in its parent's step input; a result in its webhook delivery's input), where it must
 * still fit in {@link MAX_JSON_DEPTH}. Submit, schedules and sendEvent refuse a deeper value, and
 * so does the step activity for a runner's outcome.
 */
export const MAX_VALUE_DEPTH = MAX_JSON_DEPTH - 4;

/**
 * Whether JSON `text` nests arrays and objects deeper than `max` levels. One pass that skips
 * string contents (and their escapes); a text of at most `2 * max + 1` characters cannot be
 * deeper, so short texts, most payloads, cost nothing. Malformed text gets an answer too (JSON.parse
 * refuses it anyway).
 */
export function jsonDeeperThan(text: string, max: number): boolean {
  if (text.length <= 2 * max + 1) return false;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A string: on to its closing quote, past every escaped character.
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/**
 * The UTF-8 bytes of the character at `i` in `text`: 4 for a surrogate pair, which takes two
 * UTF-16 units (a lone surrogate counts 3, as its replacement character). Sandbox-safe.
 */
export function utf8CharBytes(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c < 0x80) return 1;
  if (c < 0x800) return 2;
  return c >= 0xd800 && c <= 0xdbff && i + 1 < text.length ? 4 : 3;
}

/** The bytes `text` takes in UTF-8. */
export function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length;) {
    const bytes = utf8CharBytes(text, i);
    n += bytes;
    i += bytes === 4 ? 2 : 1;
  }
  return n;
}

/**
 * The bytes `value` takes as a JSON payload (0 for undefined). Never throws: a value nested too
 * deeply to encode measures Infinity (it could not be sent either), so an event of it is refused
 * instead of failing a workflow task.
 */
export function encodedSize(value: unknown): number {
  let text: string | undefined;
  try {
    text = JSON.stringify(value, (_key, v: unknown) => (v instanceof Uint8Array ? { $bytes: toBase64(v) } : v));
  } catch {
    return Infinity;
  }
  return text === undefined ? 0 : utf8Length(text);
}

/** Bytes as people read them: `1.9 MB (1900000 bytes)`. */
export function showBytes(n: number): string {
  if (!Number.isFinite(n)) return 'too deeply nested to encode';
  return n >= 1024 * 1024
    ? `${(n / (1024 * 1024)).toFixed(2)} MiB (${n} bytes)`
    : n >= 1024
      ? `${(n / 1024).toFixed(1)} KiB (${n} bytes)`
      : `${n} bytes`;
}

/**
 * Why `parts` (name → value) cannot go into one command of at most `limit` bytes, naming the
 * largest parts; undefined when they fit.
 */
export function overflow(what: string, parts: Record<string, unknown>, limit: number): string | undefined {
  const sizes = Object.entries(parts).map(([name, value]) => [name, encodedSize(value)] as const);
  const total = sizes.reduce((sum, [, n]) => sum + n, 0);
  if (total <= limit) return undefined;
  // Nested too deeply to measure: the payload converter cannot encode it either, and names it
  // when it tries (the step "could not be scheduled", the run fails).
  if (!Number.isFinite(total)) return undefined;
  const largest = sizes
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([name, n]) => `${name} ${showBytes(n)}`)
    .join(', ');
  return `${what} would be ${showBytes(total)}, above the ${showBytes(limit)} limit (${largest})`;
}
