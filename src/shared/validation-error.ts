/**
 * The error every check in shared/ throws, and how its messages name a value's kind. A leaf: the
 * checks of events, step results and whole submissions all build on it.
 */

/** A submission or step outcome that breaks the contract; the message names what was wrong. */
export class ValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ValidationError';
  }
}

/** A value's kind as a message names it: `null`, `an array`, `bytes`, `the string "…"`, `number 3`, … */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Uint8Array) return 'bytes';
  const type = typeof value;
  if (type === 'string') return `the string ${JSON.stringify((value as string).slice(0, 60))}`;
  if (type === 'number' || type === 'boolean') return `${type} ${String(value)}`;
  return type === 'object' ? 'an object' : type;
}
