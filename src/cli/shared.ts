/**
 * What every `durable-runs` command shares: exit codes, the one-line error, `--json` output, the
 * text forms of a status and an outcome, and argument parsers.
 */
import { CommanderError } from 'commander';
import { EventRefused, RunNotFound, RunNotResponding, RunsClient } from '../client';
import { ScheduleNotFound } from '../client/schedules';
import { UnknownLimitGroup } from '../limits/admin';
import type { RunOutcome, RunStatus } from '../shared/types';

/** 0 ok / run succeeded, 1 run failed, 2 usage, configuration or connection error, 3 run cancelled, 4 not found. */
export const EXIT = { ok: 0, failed: 1, usage: 2, cancelled: 3, notFound: 4 } as const;

/** An error the command reports as one line, exiting with `code`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code: number = EXIT.usage,
  ) {
    super(message);
  }
}

export interface JsonFlag {
  json?: boolean;
}

/** Writes `value` as one JSON line with `--json`, else `text()`. Bytes become `{ "$bytes": base64 }`. */
export function print(json: boolean | undefined, value: unknown, text: () => string): void {
  process.stdout.write(`${json ? JSON.stringify(value, bytesAsBase64) : text()}\n`);
}

function bytesAsBase64(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? { $bytes: Buffer.from(value).toString('base64') } : value;
}

/** The exit code of a closed run's status. */
export function exitCodeFor(state: string): number {
  return state === 'succeeded' ? EXIT.ok : state === 'cancelled' ? EXIT.cancelled : EXIT.failed;
}

/**
 * Reports the error that ended a command as one line on stderr (commander has printed its own
 * usage errors already) and returns the exit code for it.
 */
export function reportError(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  process.stderr.write(`durable-runs: ${(err as Error).message ?? String(err)}\n`);
  if (err instanceof CliError) return err.code;
  if (err instanceof RunNotFound || err instanceof ScheduleNotFound || err instanceof UnknownLimitGroup)
    return EXIT.notFound;
  if (err instanceof EventRefused || err instanceof RunNotResponding) return EXIT.failed;
  return EXIT.usage;
}

export function describeStatus(s: RunStatus): string {
  const parts = [`${s.runId}  ${s.state}  step ${s.step}`];
  if (s.attempt !== undefined && s.attempt > 1) parts.push(`attempt ${s.attempt}`);
  parts.push(`runner ${s.runner}`);
  if (s.startsAt) parts.push(`starts at ${s.startsAt}`);
  if (s.waitingFor)
    parts.push(`waiting for ${s.waitingFor.join(' or ')}${s.waitDeadline ? ` until ${s.waitDeadline}` : ''}`);
  if (s.pendingEvents) parts.push(`${s.pendingEvents} pending event${s.pendingEvents === 1 ? '' : 's'}`);
  if (s.progress !== undefined) parts.push(`progress ${JSON.stringify(s.progress, bytesAsBase64)}`);
  if (s.lastError) parts.push(`last error: ${s.lastError}`);
  return parts.join('  ');
}

export function describeOutcome(o: RunOutcome): string {
  if (o.status === 'succeeded') {
    const result = typeof o.result === 'string' ? o.result : JSON.stringify(o.result, bytesAsBase64);
    return `${o.runId} succeeded after step ${o.finalStep}: ${result}`;
  }
  return `${o.runId} ${o.status} at step ${o.finalStep}${o.error ? `: ${o.error}` : ''}`;
}

/** Connects a client (`TEMPORAL_*` environment), runs `fn` with it and closes it. */
export async function withClient<T>(fn: (client: RunsClient) => Promise<T>): Promise<T> {
  const client = await RunsClient.connect();
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

export function parseJsonArg(what: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new CliError(`${what} must be JSON, got ${JSON.stringify(text.slice(0, 60))} (quote strings: '"hello"')`);
  }
}

/**
 * `--max-cost-usd` and `--max-tokens`, checked before anything is sent: a budget that is not a
 * positive number (tokens: whole) exits 2 naming the flag.
 */
export function budgetFlags(opts: { maxCostUsd?: number; maxTokens?: number }): {
  maxCostUsd?: number;
  maxTokens?: number;
} {
  const check = (flag: string, value: number, whole: boolean) => {
    if (!Number.isFinite(value) || value <= 0 || (whole && !Number.isSafeInteger(value))) {
      throw new CliError(`${flag} must be a positive ${whole ? 'whole number' : 'number'}, got ${String(value)}`);
    }
    return value;
  };
  return {
    ...(opts.maxCostUsd !== undefined ? { maxCostUsd: check('--max-cost-usd', opts.maxCostUsd, false) } : {}),
    ...(opts.maxTokens !== undefined ? { maxTokens: check('--max-tokens', opts.maxTokens, true) } : {}),
  };
}

/** Commander collector for a repeatable `--header name=value`. */
export function collectHeader(value: string, previous: Record<string, string>): Record<string, string> {
  const at = value.indexOf('=');
  if (at <= 0) throw new CliError(`--header must be name=value, got ${JSON.stringify(value)}`);
  return { ...previous, [value.slice(0, at)]: value.slice(at + 1) };
}

let lastCode: number = EXIT.ok;

/** Wraps an action so that the exit code it returns becomes the process's (see {@link actionExitCode}). */
export function act<A extends unknown[]>(fn: (...args: A) => Promise<number | void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    lastCode = (await fn(...args)) ?? EXIT.ok;
  };
}

/** The exit code the last action wrapped by {@link act} returned. */
export function actionExitCode(): number {
  return lastCode;
}

/** The flags of a command that acts on the runs a visibility query selects. */
export interface BulkFlags {
  query?: string;
  yes?: boolean;
  dryRun?: boolean;
}

/**
 * Checks a command's target: one run ID or `--query`, never both; `--yes` and `--dry-run` only
 * with `--query`. Returns the query when the command acts on many runs.
 */
export function bulkTarget(command: string, runId: string | undefined, opts: BulkFlags): string | undefined {
  if (runId !== undefined && opts.query !== undefined)
    throw new CliError(`${command}: give a run ID or --query, not both`);
  if (runId === undefined && opts.query === undefined) throw new CliError(`${command}: give a run ID or --query`);
  if (opts.query === undefined && (opts.yes || opts.dryRun)) {
    throw new CliError(`${command}: --yes and --dry-run go with --query`);
  }
  return opts.query;
}
