/**
 * The shape of what a step activity returns to the run. The step activity always returns one of
 * these, but an operator may complete a stuck step by hand (`temporal activity complete --result
 * '<json>'`) with any JSON: the run checks the shape before it acts on it, and fails naming what
 * arrived instead of running the step again or failing with an internal error. Sandbox-safe.
 */
import { describeType } from './validate';

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
const isDelay = (value: unknown): boolean => typeof value === 'number' && Number.isFinite(value) && value >= 0;
const isName = (value: unknown): boolean => typeof value === 'string';

/** Why `value` is not a step result the run can act on (naming the field); undefined when it is one. */
function shapeProblem(value: unknown): string | undefined {
  if (!isObject(value)) return `it is ${describeType(value)}, not an object with a "kind"`;
  const { kind } = value;
  if (kind === undefined) return 'it has no "kind"';
  if (value.nextFailed !== undefined) {
    const failed = value.nextFailed;
    if (!isObject(failed) || typeof failed.type !== 'string' || typeof failed.message !== 'string') {
      return '"nextFailed" must be {"type": string, "message": string}';
    }
  }
  switch (kind) {
    case 'continue':
    case 'succeed':
      return undefined;
    case 'continueAfter':
      return isDelay(value.delayMs) ? undefined : '"continueAfter" needs "delayMs", a number of milliseconds';
    case 'waitForEvent':
      if (!Array.isArray(value.events) || value.events.length === 0 || !value.events.every(isName)) {
        return '"waitForEvent" needs "events", a non-empty list of event names';
      }
      return value.timeoutMs === undefined || isDelay(value.timeoutMs)
        ? undefined
        : '"timeoutMs" must be a number of milliseconds';
    case 'runChildren': {
      const { children, maxConcurrent } = value;
      if (!Array.isArray(children) || children.length === 0) {
        return '"runChildren" needs "children", a non-empty list of {"runId", "spec"}';
      }
      const bad = children.findIndex((c) => !isObject(c) || typeof c.runId !== 'string' || !isObject(c.spec));
      if (bad >= 0) return `child ${bad} must be {"runId": string, "spec": {…}}`;
      return typeof maxConcurrent === 'number' && Number.isSafeInteger(maxConcurrent) && maxConcurrent >= 1
        ? undefined
        : '"runChildren" needs "maxConcurrent", a whole number from 1';
    }
    case 'fail':
    case 'cancel':
      return typeof value.reason === 'string' ? undefined : `"${kind}" needs "reason", a string`;
    default:
      return `"kind" ${JSON.stringify(kind) ?? describeType(kind)} is not a step outcome's kind`;
  }
}

/** At most this much of a value is shown in a message. */
const SHOWN_CHARS = 200;

function shown(value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = undefined;
  }
  if (text === undefined) return describeType(value);
  return text.length > SHOWN_CHARS ? `${text.slice(0, SHOWN_CHARS)}…` : text;
}

/**
 * Why a step's result is not a step outcome, showing what arrived and what is wrong with it, e.g.
 * `{} (it has no "kind")`; undefined for a result the run can act on.
 */
export function stepResultProblem(value: unknown): string | undefined {
  const problem = shapeProblem(value);
  return problem === undefined ? undefined : `${shown(value)} (${problem})`;
}
