/**
 * `durable-runs serve`: the HTTP API (contract v3), a Temporal client and nothing else, so any
 * number of them answer behind a load balancer. API keys come from `DURABLE_RUNS_API_KEYS`;
 * without any, it listens on loopback only.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { RunsClient } from '../client';
import { LINK_SECRET_VARIABLE, linkSecretProblem } from '../common/links';
import { type ApiKey, isLoopback, parseApiKeys } from '../http/keys';
import { type HttpServer, OpenServerRefused, startHttpServer } from '../http/server';
import { act, CliError, type JsonFlag, print } from './shared';

type ServeOptions = { port: string; host: string; corsOrigin?: string } & JsonFlag;

/** Parses a port flag (0 picks a free one). */
export function parsePort(value: string, flag: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new CliError(`${flag} must be a port (0–65535), got ${value}`);
  return port;
}

/** The API keys of the environment; a bad value is a one-line error (exit 2). */
function loadApiKeys(): ApiKey[] {
  try {
    return parseApiKeys(process.env.DURABLE_RUNS_API_KEYS);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

/** DURABLE_RUNS_LINK_SECRET, when set: approval links verify with it; a weak one is a one-line error (exit 2). */
function linkSecret(): { linkSecret?: string } {
  const secret = process.env[LINK_SECRET_VARIABLE];
  if (secret === undefined || secret === '') return {};
  const problem = linkSecretProblem(secret);
  if (problem) throw new CliError(problem);
  return { linkSecret: secret };
}

/** Starts the HTTP API with the keys of the environment; a bad setting is a one-line error (exit 2). */
export async function serveHttp(
  client: RunsClient,
  options: { port: number; host: string; corsOrigin?: string },
): Promise<HttpServer> {
  try {
    return await startHttpServer({
      client,
      keys: loadApiKeys(),
      ...linkSecret(),
      port: options.port,
      host: options.host,
      ...(options.corsOrigin ? { corsOrigin: options.corsOrigin } : {}),
      version: (JSON.parse(readFileSync(require.resolve('../../package.json'), 'utf8')) as { version: string }).version,
    });
  } catch (err) {
    if (err instanceof OpenServerRefused || err instanceof CliError) throw new CliError(err.message);
    throw new CliError(`cannot serve on ${options.host}:${options.port}: ${(err as Error).message}`);
  }
}

/** Resolves on the first SIGINT or SIGTERM. */
export function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

export function addServeCommand(program: Command): void {
  program
    .command('serve')
    .description('the HTTP API: submit, follow and steer runs over JSON/HTTP (OpenAPI at /openapi.json)')
    .option('--port <port>', 'port to listen on (0: any free one)', '8787')
    .option('--host <host>', 'address to listen on; anything but loopback needs DURABLE_RUNS_API_KEYS', '127.0.0.1')
    .option('--cors-origin <origin>', 'let browsers on this origin call the API (CORS); none by default')
    .option('--json', 'machine-readable output')
    .action(
      act(async (opts: ServeOptions) => {
        const port = parsePort(opts.port, '--port');
        // Refused before connecting to Temporal: an open server on a public address never starts.
        if (loadApiKeys().length === 0 && !isLoopback(opts.host))
          throw new CliError(new OpenServerRefused(opts.host).message);
        linkSecret();
        const client = await RunsClient.connect();
        try {
          const server = await serveHttp(client, {
            port,
            host: opts.host,
            ...(opts.corsOrigin ? { corsOrigin: opts.corsOrigin } : {}),
          });
          print(opts.json, { url: server.url, openapi: `${server.url}/openapi.json` }, () =>
            [`HTTP API on ${server.url}`, `OpenAPI: ${server.url}/openapi.json`].join('\n'),
          );
          await untilSignal();
          await server.close();
        } finally {
          await client.close();
        }
      }),
    );
}
