/**
 * A run's event inbox: what the `event` signal delivers, kept in arrival order until a
 * `waitForEvent` names it. Pure (no Temporal API), so the workflow and unit tests share it.
 */
import { isUndecodable } from './payload-converter';
import type { EventSignal, RunEvent } from './types';
import { describeType, ValidationError } from './validation-error';
import { encodedSize, MAX_PENDING_EVENT_BYTES, MAX_REMEMBERED_ID_BYTES, showBytes } from './limits';

/** At most this many events wait unconsumed in a run; past it a new one is refused. */
export const MAX_PENDING_EVENTS = 1000;
/**
 * How many received event IDs a run remembers to ignore duplicates (oldest forgotten first, kept
 * across continue-as-new): an event re-sent with an ID older than the last 10,000 is taken as new.
 * Said in the README and on `RunStatus.pendingEvents`.
 */
export const MAX_REMEMBERED_EVENT_IDS = 10_000;
/** The longest event name or ID. */
export const MAX_NAME_LENGTH = 200;

/** What an inbox hands to the run's next execution at continue-as-new. */
export interface InboxCarry {
  pending: RunEvent[];
  seen: string[];
}

export type Receipt =
  | { kind: 'accepted'; id: string }
  | { kind: 'duplicate'; id: string }
  | { kind: 'refused'; reason: string; cause: 'invalid' | 'full' };

function checkName(what: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_NAME_LENGTH) {
    throw new ValidationError(
      `${what} must be a string of 1–${MAX_NAME_LENGTH} characters, got ${describeType(value)}`,
    );
  }
  return value;
}

/** Checks an `event` signal's argument, whoever sent it. */
export function validateEventSignal(raw: unknown): EventSignal {
  if (isUndecodable(raw)) throw new ValidationError(`event signal argument: ${raw.reason}`);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || raw instanceof Uint8Array) {
    throw new ValidationError(
      `event signal argument must be an object like {"name": "approve"}, got ${describeType(raw)}`,
    );
  }
  const fields = raw as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    if (key !== 'name' && key !== 'data' && key !== 'id') {
      throw new ValidationError(`unknown field "${key}" in event signal (fields: name, data, id)`);
    }
  }
  const name = checkName('event name', fields.name);
  const id = fields.id === undefined || fields.id === null ? undefined : checkName('event id', fields.id);
  return { name, ...(fields.data !== undefined ? { data: fields.data } : {}), ...(id !== undefined ? { id } : {}) };
}

/** Checks the names a `waitForEvent` lists. */
export function validateEventNames(events: unknown): string[] {
  const list = typeof events === 'string' ? [events] : events;
  if (!Array.isArray(list) || list.length === 0) {
    throw new ValidationError(
      `waitForEvent needs an event name or a non-empty list of names, got ${describeType(events)}`,
    );
  }
  return [...new Set(list.map((name) => checkName('waitForEvent event name', name)))];
}

export class EventInbox {
  private readonly pending: RunEvent[];
  private readonly seen: Set<string>;
  /** Encoded bytes of the pending events and of the remembered IDs. */
  private pendingBytes: number;
  private seenBytes: number;

  /**
   * @param byteBounds whether the byte bounds apply (MAX_PENDING_EVENT_BYTES, MAX_REMEMBERED_ID_BYTES):
   *   asked only when one would refuse an event or forget an ID, so a run's replay can keep an
   *   earlier version's count-only bounds.
   */
  constructor(
    carry?: InboxCarry,
    private readonly byteBounds: () => boolean = () => true,
  ) {
    this.pending = [...(carry?.pending ?? [])];
    this.seen = new Set(carry?.seen ?? []);
    this.pendingBytes = this.pending.reduce((sum, e) => sum + encodedSize(e), 0);
    this.seenBytes = [...this.seen].reduce((sum, id) => sum + encodedSize(id), 0);
  }

  get size(): number {
    return this.pending.length;
  }

  /**
   * What {@link EventInbox.receive} would do with an event, without taking it in (an update's
   * validator asks this). `fallbackId` names an event sent without an ID.
   */
  check(raw: unknown, fallbackId: string): Receipt {
    return this.verdict(raw, fallbackId, true).receipt;
  }

  /**
   * Takes in an `event` signal's (or update's) argument. `fallbackId` names an event sent without
   * an ID (the workflow makes a fresh, replay-safe one).
   */
  receive(raw: unknown, receivedAt: string, fallbackId: string): Receipt {
    const { receipt, event } = this.verdict(raw, fallbackId, false);
    if (receipt.kind !== 'accepted' || !event) return receipt;
    this.remember(receipt.id);
    const received = { name: event.name, data: event.data ?? null, id: receipt.id, receivedAt };
    this.pending.push(received);
    this.pendingBytes += encodedSize(received);
    return receipt;
  }

  private verdict(raw: unknown, fallbackId: string, validating: boolean): { receipt: Receipt; event?: EventSignal } {
    let event: EventSignal;
    try {
      event = validateEventSignal(raw);
    } catch (err) {
      return { receipt: { kind: 'refused', reason: (err as Error).message, cause: 'invalid' } };
    }
    const id = event.id ?? fallbackId;
    if (this.seen.has(id)) return { receipt: { kind: 'duplicate', id } };
    if (this.pending.length >= MAX_PENDING_EVENTS) {
      return {
        receipt: {
          kind: 'refused',
          reason: `event "${event.name}" (id ${id}) refused: the run already keeps ${MAX_PENDING_EVENTS} unconsumed events`,
          cause: 'full',
        },
      };
    }
    // Sized as it will be kept: an ISO time is always this long.
    const received = { name: event.name, data: event.data ?? null, id, receivedAt: '2000-01-01T00:00:00.000Z' };
    const size = encodedSize(received);
    // An update's validator refuses without asking the patch (a refusal writes no history);
    // a signal's handler asks it only when the bound would refuse (runs before it never did).
    if (this.pendingBytes + size > MAX_PENDING_EVENT_BYTES && (validating || this.byteBounds())) {
      return {
        receipt: {
          kind: 'refused',
          reason: `event "${event.name}" (id ${id}, ${showBytes(size)}) refused: the run's unconsumed events would take more than ${showBytes(MAX_PENDING_EVENT_BYTES)}`,
          cause: 'full',
        },
      };
    }
    return { receipt: { kind: 'accepted', id }, event };
  }

  /** Whether an event named in `names` is waiting. */
  has(names: readonly string[]): boolean {
    return this.pending.some((e) => names.includes(e.name));
  }

  /** Removes and returns the earliest event named in `names`. */
  take(names: readonly string[]): RunEvent | undefined {
    const index = this.pending.findIndex((e) => names.includes(e.name));
    if (index < 0) return undefined;
    const event = this.pending.splice(index, 1)[0]!;
    this.pendingBytes -= encodedSize(event);
    return event;
  }

  carry(): InboxCarry {
    return { pending: [...this.pending], seen: [...this.seen] };
  }

  private remember(id: string): void {
    this.seen.add(id);
    this.seenBytes += encodedSize(id);
    if (this.seen.size > MAX_REMEMBERED_EVENT_IDS) this.forgetOldest();
    while (this.seenBytes > MAX_REMEMBERED_ID_BYTES && this.seen.size > 1 && this.byteBounds()) this.forgetOldest();
  }

  private forgetOldest(): void {
    const oldest = this.seen.values().next().value!;
    this.seen.delete(oldest);
    this.seenBytes -= encodedSize(oldest);
  }
}

/** Checks one received event carried over continue-as-new (`what` names it in the error). */
export function validateCarriedEvent(raw: unknown, what: string): RunEvent {
  const event = raw as Partial<RunEvent> | null;
  if (
    !event ||
    typeof event.name !== 'string' ||
    typeof event.id !== 'string' ||
    typeof event.receivedAt !== 'string'
  ) {
    throw new ValidationError(`continue-as-new carry: ${what} is malformed`);
  }
  return { name: event.name, data: event.data ?? null, id: event.id, receivedAt: event.receivedAt };
}

/** Checks an inbox carried over continue-as-new; a malformed one is a `ValidationError`. */
export function validateInboxCarry(raw: unknown): InboxCarry | undefined {
  if (raw === undefined || raw === null) return undefined;
  const carry = raw as Partial<InboxCarry>;
  if (!Array.isArray(carry.pending) || !Array.isArray(carry.seen)) {
    throw new ValidationError('continue-as-new carry: events must be {"pending": [...], "seen": [...]}');
  }
  const pending = carry.pending.map((e: unknown, i) => validateCarriedEvent(e, `pending event ${i}`));
  return { pending, seen: carry.seen.filter((id): id is string => typeof id === 'string') };
}
