/**
 * What the Temporal UI shows of a run (issue 27): the static summary and details every start
 * carries (Temporal's user metadata), and the run's state as search attributes. Pure, so the
 * client, the schedules and the workflow (child runs) make the same text; no secret ends up in it.
 */
import { defineSearchAttributeKey, type SearchAttributePair, SearchAttributeType } from '@temporalio/common';
import { utf8CharBytes, utf8Length } from './limits';
import { DEFAULT_RUNNER } from './names';
import type { RunSpec, RunState } from './types';

/** The search attributes a run keeps current when its namespace has them (`durable-runs dev` registers them). */
export const STATE_ATTRIBUTES = {
  /** Keyword: running, sleeping, waiting, parked, cancelling (and scheduled before a delayed start). */
  state: 'DurableRunsState',
  /** Keyword: the runner's name. */
  runner: 'DurableRunsRunner',
  /** Keyword: the `tenant` header, when the run has one. */
  tenant: 'DurableRunsTenant',
  /** Int: the step the run was at when its state last changed. */
  step: 'DurableRunsStep',
} as const;

/** Their types, as `temporal operator search-attribute create` names them. */
export const STATE_ATTRIBUTE_TYPES: Record<string, 'Keyword' | 'Int'> = {
  [STATE_ATTRIBUTES.state]: 'Keyword',
  [STATE_ATTRIBUTES.runner]: 'Keyword',
  [STATE_ATTRIBUTES.tenant]: 'Keyword',
  [STATE_ATTRIBUTES.step]: 'Int',
};

/** The typed keys, for starts and upserts. */
export const STATE_KEYS = {
  state: defineSearchAttributeKey(STATE_ATTRIBUTES.state, SearchAttributeType.KEYWORD),
  runner: defineSearchAttributeKey(STATE_ATTRIBUTES.runner, SearchAttributeType.KEYWORD),
  tenant: defineSearchAttributeKey(STATE_ATTRIBUTES.tenant, SearchAttributeType.KEYWORD),
  step: defineSearchAttributeKey(STATE_ATTRIBUTES.step, SearchAttributeType.INT),
};

/** A Keyword value is bounded by the server (2 KiB by default); ours stay well below, in UTF-8 bytes. */
const MAX_KEYWORD = 256;

/**
 * `text` cut to at most `max` UTF-8 bytes, `…` (3 bytes) where it was cut; never splits a
 * character. Sandbox-safe (no TextEncoder).
 */
export function clipBytes(text: string, max: number): string {
  if (utf8Length(text) <= max) return text;
  let end = 0;
  let bytes = 0;
  const room = Math.max(0, max - 3);
  while (end < text.length) {
    const size = utf8CharBytes(text, end);
    if (bytes + size > room) break;
    bytes += size;
    end += size === 4 ? 2 : 1;
  }
  return max >= 3 ? `${text.slice(0, end)}…` : '';
}

/** The attributes a run starts with: its runner, its tenant (if any), and state `running` (or `scheduled`) at `step`. */
export function startAttributes(
  spec: Pick<RunSpec, 'runner' | 'headers'>,
  state: Extract<RunState, 'running' | 'scheduled'> = 'running',
  step = 0,
  maxKeyword = MAX_KEYWORD,
): SearchAttributePair[] {
  const tenant = spec.headers?.tenant;
  return [
    { key: STATE_KEYS.state, value: state },
    { key: STATE_KEYS.runner, value: clipBytes(spec.runner ?? DEFAULT_RUNNER, maxKeyword) },
    ...(typeof tenant === 'string' && tenant !== ''
      ? [{ key: STATE_KEYS.tenant, value: clipBytes(tenant, maxKeyword) }]
      : []),
    { key: STATE_KEYS.step, value: step },
  ];
}

/** The longest summary: a line in the UI's list and header. */
const MAX_SUMMARY = 160;
/** The most bytes a run's details take (a header list may be long: it is cut there). */
export const MAX_DETAILS_BYTES = 1024;
/** How much of the input the summary shows. */
const MAX_EXCERPT = 100;

/** One line of a JSON value, at most `max` characters (`…` where it was cut). */
export function excerpt(value: unknown, max = MAX_EXCERPT): string {
  let text: string;
  try {
    text =
      value instanceof Uint8Array
        ? `<${value.byteLength} bytes>`
        : typeof value === 'string'
          ? value
          : (JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? `<${v.byteLength} bytes>` : v)) ??
            String(value));
  } catch {
    text = '<not JSON>';
  }
  text = text.replace(/\s+/g, ' ').trim();
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The static summary: the runner and the start of its input (`agent: "What is 6 times 7?"`). */
export function runSummary(spec: Pick<RunSpec, 'runner' | 'input'>, prefix = '', maxBytes = 4 * MAX_SUMMARY): string {
  const runner = spec.runner ?? DEFAULT_RUNNER;
  const line = `${prefix}${runner}: ${excerpt(spec.input)}`;
  return clipBytes(line.length > MAX_SUMMARY ? `${line.slice(0, MAX_SUMMARY - 1)}…` : line, maxBytes);
}

/** Options shown in the details, in this order, when set. */
const SHOWN_OPTIONS = [
  'maxAttemptsPerStep',
  'maxSteps',
  'deadline',
  'onExhausted',
  'maxCostUsd',
  'maxTokens',
  'stepTimeoutMs',
  'heartbeatTimeoutMs',
  'maxHistoryEvents',
] as const;

/** Headers whose values are shown; any other header shows its name only (its value may be a secret). */
const SHOWN_HEADERS: ReadonlySet<string> = new Set(['tenant']);

/**
 * The static details (Markdown): the runner, the options that were set, and the headers by name,
 * with the value only of `tenant`. The callback URL header is left out, and so is every other
 * header's value: a header may carry a token.
 */
export function runDetails(
  spec: Pick<RunSpec, 'runner' | 'headers'> & Partial<Pick<RunSpec, (typeof SHOWN_OPTIONS)[number]>>,
  options: { webhookUrlHeader?: string; origin?: string; maxBytes?: number } = {},
): string {
  const lines = [`**runner** ${spec.runner ?? DEFAULT_RUNNER}`];
  if (options.origin) lines.push(`**from** ${options.origin}`);
  const set = SHOWN_OPTIONS.filter((k) => spec[k] !== undefined).map((k) => `${k} ${String(spec[k])}`);
  if (set.length > 0) lines.push(`**options** ${set.join(', ')}`);
  const urlHeader = options.webhookUrlHeader ?? 'callback_url';
  const headers = Object.entries(spec.headers ?? {})
    .filter(([name]) => name !== urlHeader)
    .map(([name, value]) => (SHOWN_HEADERS.has(name) ? `${name}=${excerpt(value, 64)}` : name));
  if (headers.length > 0) lines.push(`**headers** ${headers.join(', ')}`);
  if (spec.headers?.[urlHeader] !== undefined) lines.push('**webhook** on close');
  return clipBytes(lines.join('\n'), options.maxBytes ?? MAX_DETAILS_BYTES);
}

/**
 * What all the children of one step may carry for the UI together (summaries, details, runner and
 * tenant attributes). They start in one workflow task, whose completion Temporal refuses above
 * 4 MiB (and then terminates the parent, untold); their inputs take up to 1.9 MB of it.
 */
export const CHILD_LABELS_BYTES = 256 * 1024;

/**
 * A child's summary, details and (with `attributes`) search attributes, within its share of
 * {@link CHILD_LABELS_BYTES}: the state, then a quarter each for the summary, the details, the runner
 * and the tenant.
 */
export function childStory(
  spec: Pick<RunSpec, 'runner' | 'input' | 'headers'>,
  index: number,
  of: { parentRunId: string; count: number; attributes: boolean },
): { staticSummary: string; staticDetails: string; typedSearchAttributes?: SearchAttributePair[] } {
  const share = Math.min(2 * MAX_DETAILS_BYTES, Math.floor(CHILD_LABELS_BYTES / Math.max(1, of.count)));
  // The state attribute (`running`) is counted too; the rest is split evenly.
  const part = Math.floor((share - 'running'.length) / 4);
  return {
    staticSummary: runSummary(spec, `child ${index} · `, part),
    staticDetails: runDetails(spec, { origin: `child ${index} of ${excerpt(of.parentRunId, 64)}`, maxBytes: part }),
    ...(of.attributes
      ? { typedSearchAttributes: startAttributes(spec, 'running', 0, Math.min(MAX_KEYWORD, part)) }
      : {}),
  };
}

/** The label of a step's wait timer in the UI: `wait for approve | reject`. */
export const waitLabel = (events: readonly string[]): string =>
  clipBytes(`wait for ${events.join(' | ')}`, 4 * MAX_SUMMARY);
