/**
 * The API's errors: every one answers `{ "error": { "code", "message" } }` with its status, and
 * nothing else (never a stack trace). Client errors map to statuses here, in one place.
 */
import { EventRefused, InputMismatch, RunNotFound, RunNotResponding, ValidationError } from '../client';
import { serverBusy } from '../client/errors';

export type ErrorCode =
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'input_mismatch'
  | 'run_closed'
  | 'conflict'
  | 'payload_too_large'
  | 'inbox_full'
  | 'run_not_responding'
  | 'temporal_unavailable'
  | 'internal';

/** An answer other than success, with the status it goes out with. */
export class ApiError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 429 | 500 | 503 | 504,
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The API error for what a handler threw; `undefined` for an error no client caused (a 500). */
export function apiErrorOf(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (err instanceof RunNotFound) return new ApiError(404, 'not_found', err.message);
  if (err instanceof InputMismatch) return new ApiError(409, 'input_mismatch', err.message);
  if (err instanceof EventRefused) return new ApiError(429, 'inbox_full', err.message);
  if (err instanceof RunNotResponding) return new ApiError(504, 'run_not_responding', err.message);
  if (err instanceof ValidationError) return new ApiError(400, 'bad_request', err.message);
  if (serverBusy(err)) {
    return new ApiError(
      503,
      'temporal_unavailable',
      'Temporal did not answer (unavailable or busy): try again shortly',
    );
  }
  return undefined;
}

export function errorBody(code: ErrorCode, message: string): { error: { code: ErrorCode; message: string } } {
  return { error: { code, message } };
}
