/**
 * The requests and answers of the HTTP API as zod schemas: the same schemas validate each request
 * and write `GET /openapi.json` (JSON Schema 2020-12, which OpenAPI 3.1 uses as it is).
 * Request objects are strict: an unknown field is a 400 naming it.
 */
import { z } from 'zod';

/** Any JSON value (a run's input, a payload, an event's data). */
const json = z.unknown().refine((value) => value !== undefined, { message: 'required' });

const duration = z.union([z.number().int().nonnegative(), z.string()]);

export const RunIdParams = z.strictObject({ id: z.string().describe('the run ID') });

export const SubmitBody = z.strictObject({
  input: json.describe("step 0's payload, any JSON value"),
  runner: z.string().optional().describe('a runner registered on the workers; "default" if absent'),
  headers: z
    .record(z.string(), z.string())
    .optional()
    .describe('string headers the run carries; a key bound to a tenant sets `tenant`'),
  runId: z.string().optional().describe('1–128 characters of [A-Za-z0-9_-]; a new ULID if absent'),
  maxSteps: z.number().int().positive().optional(),
  maxAttemptsPerStep: z.number().int().positive().optional(),
  deadline: duration.optional().describe("time budget from now: milliseconds or a duration such as '2h'"),
  startDelay: duration.optional().describe("start the run later: milliseconds or a duration such as '10m'"),
  priority: z.number().int().min(1).max(5).optional(),
  fairnessKey: z.string().optional(),
  fairnessWeight: z.number().positive().optional(),
  onExhausted: z.enum(['fail', 'park']).optional(),
  maxCostUsd: z
    .number()
    .positive()
    .optional()
    .describe('cost budget in US dollars, from what steps report with step.usage'),
  maxTokens: z.number().int().positive().optional().describe('token budget (input and output tokens together)'),
});

export const ResultQuery = z.strictObject({
  wait: z.coerce
    .number()
    .min(0)
    .max(60)
    .optional()
    .describe('seconds to wait for the run to close (at most 60); 0 or absent answers at once'),
});

export const ListQuery = z.strictObject({
  state: z
    .enum(['running', 'waiting', 'sleeping', 'parked', 'cancelling', 'scheduled', 'succeeded', 'failed', 'cancelled'])
    .optional(),
  runner: z.string().optional().describe("only runs of this runner (read from each run's input)"),
  parent: z.string().optional().describe('only the child runs of this run'),
  limit: z.coerce.number().int().min(1).max(1000).optional().describe('at most this many runs (default 100)'),
  cursor: z.string().optional().describe('`nextCursor` of the page before'),
});

export const EventBody = z.strictObject({
  name: z.string(),
  data: z.unknown().optional(),
  id: z.string().optional().describe('a second event with this ID changes nothing'),
});

export const CancelBody = z.strictObject({ reason: z.string().optional() });
export const ResumeBody = z.strictObject({
  payload: z.unknown().optional(),
  maxCostUsd: z.number().positive().optional().describe("raises the run's cost budget: a run parked on it goes on"),
  maxTokens: z.number().int().positive().optional().describe("raises the run's token budget"),
});
export const EmptyBody = z.strictObject({});
export const ForkBody = z.strictObject({
  fromStep: z.number().int().nonnegative(),
  payload: z.unknown().optional(),
  runId: z.string().optional(),
});

export const ErrorAnswer = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
export const SubmitAnswer = z.object({ runId: z.string(), newlySubmitted: z.boolean() });
export const RunStatusAnswer = z
  .object({ runId: z.string(), state: z.string(), step: z.number().int(), runner: z.string() })
  .loose();
export const RunOutcomeAnswer = z
  .object({
    runId: z.string(),
    status: z.enum(['succeeded', 'failed', 'cancelled']),
    result: z.unknown().optional(),
    error: z.string().nullable().optional(),
    headers: z.record(z.string(), z.string()),
    finalStep: z.number().int(),
  })
  .loose();
export const ListAnswer = z.object({
  runs: z.array(
    z.object({
      runId: z.string(),
      state: z.string(),
      startTime: z.string(),
      closeTime: z.string().optional(),
    }),
  ),
  nextCursor: z.string().optional(),
});
export const EventAnswer = z.object({ runId: z.string(), id: z.string(), duplicate: z.boolean() });
export const ActionAnswer = z.object({ runId: z.string() }).loose();
export const HealthAnswer = z.object({ status: z.literal('ok') });

export const LinkParams = z.strictObject({
  token: z.string().max(8192).describe('the signed token of a `step.eventUrl` link'),
});
export const LinkAnswer = z.object({
  runId: z.string(),
  event: z.string(),
  data: z.unknown().optional(),
  expiresAt: z.string().describe('when the link stops working (ISO 8601)'),
  id: z.string().describe("the event's id: the link's nonce"),
  duplicate: z.boolean().describe('the link was used before: nothing changed'),
});
