/**
 * `GET /openapi.json`: OpenAPI 3.1, written from the route table and the zod schemas that validate
 * the requests (zod's own JSON Schema output, draft 2020-12, which OpenAPI 3.1 takes as it is), so
 * the document cannot drift from the code.
 */
import { z } from 'zod';
import type { Route } from './routes';
import { ErrorAnswer } from './schemas';

type JsonSchema = Record<string, unknown>;

const schemaOf = (schema: z.ZodType, io: 'input' | 'output'): JsonSchema => {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
};

/** One parameter per property of an object schema (path or query). */
function parameters(schema: z.ZodType | undefined, where: 'path' | 'query'): JsonSchema[] {
  if (!schema) return [];
  const object = schemaOf(schema, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(object.properties ?? {}).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: where,
      required: where === 'path' || (object.required ?? []).includes(name),
      ...(typeof description === 'string' ? { description } : {}),
      schema: rest,
    };
  });
}

export function openApiDocument(routes: readonly Route[], options: { auth: boolean; version: string }): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of routes) {
    const responses: Record<string, JsonSchema> = {};
    for (const [status, answer] of Object.entries(route.answers)) {
      responses[status] = {
        description: answer.description,
        ...(answer.sse
          ? { content: { 'text/event-stream': { schema: { type: 'string' } } } }
          : answer.schema || answer.html
            ? {
                content: {
                  ...(answer.html ? { 'text/html': { schema: { type: 'string' } } } : {}),
                  ...(answer.schema ? { 'application/json': { schema: schemaOf(answer.schema, 'output') } } : {}),
                },
              }
            : {}),
      };
    }
    // Every POST goes through the 1 MiB body limit, whatever its body is.
    if (route.method === 'post' && !responses['413']) {
      responses['413'] = {
        description: 'the body is over 1 MiB',
        content: { 'application/json': { schema: schemaOf(ErrorAnswer, 'output') } },
      };
    }
    if (!route.public) {
      responses['503'] = {
        description: 'Temporal did not answer (unavailable or busy): try again shortly',
        content: responses['400']?.content ?? responses['404']?.content ?? {},
      };
      responses['500'] = {
        description: 'an internal error (Temporal unreachable, …); the server log has the details',
        content: responses['400']?.content ?? responses['404']?.content ?? {},
      };
    }
    if (!route.public && !responses['401']) {
      responses['401'] = {
        description: 'no key, or a wrong one (where API keys are set)',
        content: responses['400']?.content ?? {},
      };
    }
    const operation: JsonSchema = {
      summary: route.summary,
      operationId: `${route.method}${route.path.replace(/\{(\w+)\}/g, 'By_$1').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      parameters: [...parameters(route.params, 'path'), ...parameters(route.query, 'query')],
      ...(route.body
        ? {
            requestBody: {
              required: route.bodyRequired ?? false,
              content: { 'application/json': { schema: schemaOf(route.body, 'input') } },
            },
          }
        : {}),
      responses,
      ...(route.public ? { security: [] } : {}),
    };
    (paths[route.path] ??= {})[route.method] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'durable-runs HTTP API',
      version: options.version,
      description:
        'Submit, follow and steer durable runs over HTTP. Every error is `{ "error": { "code", "message" } }`. Bodies over 1 MiB get 413.',
    },
    paths,
    components: {
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'a secret of DURABLE_RUNS_API_KEYS' } },
    },
    security: options.auth ? [{ apiKey: [] }] : [],
  };
}
