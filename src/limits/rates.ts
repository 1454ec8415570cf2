/**
 * Rates of limit groups as people write them (`durable-runs limits set <group> --rate 20/s`) and as
 * the server keeps them (requests per second, a float). Pure: no Temporal, no I/O.
 */
import { describeType, ValidationError } from '../shared/validation-error';

/**
 * A rate as `runs.limits.set` takes it: `'20/s'`, `'120/m'` (= 2/s), `'0.5/s'`, or a number (per
 * second). `'off'` or `null` lifts the limit.
 */
export type RateInput = string | number | null;

/** The forms {@link parseRate} accepts, as its errors name them. */
export const RATE_FORMS = 'a positive rate per second or per minute (20/s, 0.5/s, 120/m), a number per second, or off';

const RATE = /^(\d+(?:\.\d+)?|\.\d+)\/([sm])$/;
const PER_SECOND = { s: 1, m: 60 } as const;

/**
 * The rate `value` stands for, in steps per second; `null` for `'off'` and `null` (no limit).
 * @param what names the value in the error, e.g. `--rate` or `perTenant`
 * @throws ValidationError naming the value and the accepted forms, for anything else: a unit other
 * than /s and /m, a sign, zero (the server would dispatch none of the group's steps; `off` lifts a
 * limit), NaN, Infinity, an empty string.
 */
export function parseRate(value: unknown, what = 'rate'): number | null {
  if (value === null || value === 'off') return null;
  const bad = (why: string) => new ValidationError(`${what}: ${why}; give ${RATE_FORMS}`);
  let perSecond: number;
  if (typeof value === 'number') {
    perSecond = value;
  } else if (typeof value === 'string') {
    const match = RATE.exec(value.trim());
    if (!match) throw bad(`${describeType(value)} is not a rate`);
    perSecond = Number(match[1]) / PER_SECOND[match[2] as keyof typeof PER_SECOND];
  } else {
    throw bad(`${describeType(value)} is not a rate`);
  }
  if (!Number.isFinite(perSecond)) throw bad(`${describeType(value)} is not a finite rate`);
  if (perSecond < 0) throw bad(`${describeType(value)} is negative`);
  if (perSecond === 0) {
    throw bad(`${describeType(value)} would stop every step of the group (to lift a limit, give off)`);
  }
  return perSecond;
}

/** A float without the noise of binary arithmetic (`120/60*…`): 12 significant digits at most. */
const tidy = (n: number) => Number(n.toPrecision(12));
/** Whether `n` reads well in decimal: at most three decimal places. */
const readable = (n: number) => Math.abs(tidy(n) * 1000 - Math.round(tidy(n) * 1000)) < 1e-6;

/**
 * A rate in the form {@link parseRate} reads: `'2/s'`, `'0.5/s'`, `'1/m'` when per minute reads
 * better than per second; `'off'` for `null`.
 */
export function formatRate(perSecond: number | null): string {
  if (perSecond === null) return 'off';
  if (!readable(perSecond) && readable(perSecond * 60)) return `${tidy(perSecond * 60)}/m`;
  return `${tidy(perSecond)}/s`;
}
