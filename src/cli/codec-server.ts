/**
 * `durable-runs codec-server`, and the codec server `durable-runs dev` starts for its UI when
 * `DURABLE_RUNS_ENCRYPTION_KEYS` is set.
 */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import {
  CODEC_CORS_ORIGINS_VARIABLE,
  CODEC_TOKEN_VARIABLE,
  DEFAULT_CODEC_PORT,
  DEFAULT_CORS_ORIGINS,
  startCodecServer,
  validateCodecToken,
  validateCorsOrigins,
} from '../payloads/codec-server';
import { ConfigError } from '../common/config';
import { ENCRYPTION_KEYS_VARIABLE, EncryptionKeys } from '../payloads/encryption';
import { act, print } from './shared';

function parsePort(text: string, source: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text.trim()) || port > 65535)
    throw new ConfigError(`${source}: ${JSON.stringify(text)} is not a port`);
  return port;
}

function requireKeys(): EncryptionKeys {
  const keys = EncryptionKeys.fromEnv();
  if (!keys) throw new ConfigError(`${ENCRYPTION_KEYS_VARIABLE}: the codec server needs the keys (id:base64key[,…])`);
  return keys;
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** Printed when the token comes from `--token`: every user of the machine can read argv. */
const TOKEN_IN_ARGV_WARNING = `durable-runs: warning: --token is visible to every user of this machine in the process list (ps); set ${CODEC_TOKEN_VARIABLE} instead`;

export function addCodecServerCommand(program: Command): void {
  program
    .command('codec-server')
    .description(
      `serve /encode and /decode (Temporal's codec-server protocol) with the keys of ${ENCRYPTION_KEYS_VARIABLE}, for the Temporal UI and CLI`,
    )
    .option('--port <port>', 'port', String(DEFAULT_CODEC_PORT))
    .option(
      '--host <address>',
      'address to listen on (loopback by default; serve others through a TLS proxy)',
      '127.0.0.1',
    )
    .option(
      '--token <token>',
      `token every request needs; prefer ${CODEC_TOKEN_VARIABLE}: a command-line argument shows in the process list (ps)`,
    )
    .option(
      '--cors-origin <origin>',
      `browser origin of a Temporal UI allowed to call it (repeatable; default: ${CODEC_CORS_ORIGINS_VARIABLE}, comma-separated, or ${DEFAULT_CORS_ORIGINS.join(', ')})`,
      collect,
      [],
    )
    .option('--json', 'machine-readable output')
    .action(
      act(async (opts: { port: string; host: string; token?: string; corsOrigin: string[]; json?: boolean }) => {
        const keys = requireKeys();
        const token = validateCodecToken(
          opts.token ?? process.env[CODEC_TOKEN_VARIABLE],
          opts.token !== undefined ? '--token' : CODEC_TOKEN_VARIABLE,
        );
        const fromEnv = process.env[CODEC_CORS_ORIGINS_VARIABLE];
        const corsOrigins = opts.corsOrigin.length
          ? validateCorsOrigins(opts.corsOrigin, '--cors-origin')
          : fromEnv
            ? validateCorsOrigins(
                fromEnv.split(',').map((o) => o.trim()),
                CODEC_CORS_ORIGINS_VARIABLE,
              )
            : [...DEFAULT_CORS_ORIGINS];
        const server = await startCodecServer({
          keys,
          token,
          corsOrigins,
          port: parsePort(opts.port, '--port'),
          host: opts.host,
        });
        if (opts.token !== undefined) process.stderr.write(`${TOKEN_IN_ARGV_WARNING}\n`);
        const info = { url: server.url, corsOrigins, keyIds: keys.ids, encryptingKeyId: keys.encryptingKeyId };
        print(opts.json, info, () =>
          [
            `durable-runs codec server on ${server.url} (keys ${keys.ids.join(', ')}; new payloads with ${keys.encryptingKeyId}), CORS for ${corsOrigins.join(', ')}`,
            `  Temporal CLI: temporal workflow show -w <runId> --codec-endpoint ${server.url} --codec-auth "Bearer <token>"`,
            `  Temporal UI:  temporal server start-dev --ui-codec-endpoint ${server.url}/<token>  (or the UI's Settings: Codec Server)`,
          ].join('\n'),
        );
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        await server.close();
      }),
    );
}

/** The codec server `durable-runs dev` runs for its UI. */
export interface DevCodecServer {
  /** `temporal server start-dev` flags that point its UI at this server. */
  devServerArgs: string[];
  /** For `dev --json`. */
  info: { codecServer: string; codecToken?: string };
  /** For `dev`'s start-up text. */
  lines: string[];
  close(): Promise<void>;
}

/**
 * The codec server of `durable-runs dev`, for its UI on `uiPort`, or none without keys. Its token
 * is `DURABLE_RUNS_CODEC_TOKEN` or a new random one, which is printed. It does not keep the
 * process alive by itself.
 */
export async function startDevCodecServer(uiPort: string, port: string): Promise<DevCodecServer | undefined> {
  const keys = EncryptionKeys.fromEnv();
  if (!keys) return undefined;
  const given = process.env[CODEC_TOKEN_VARIABLE];
  const token = given ? validateCodecToken(given, CODEC_TOKEN_VARIABLE) : randomBytes(24).toString('base64url');
  const server = await startCodecServer({
    keys,
    token,
    port: parsePort(port, '--codec-port'),
    corsOrigins: [`http://localhost:${uiPort}`, `http://127.0.0.1:${uiPort}`],
  });
  server.unref();
  return {
    devServerArgs: ['--ui-codec-endpoint', server.uiEndpoint],
    info: { codecServer: server.url, ...(given ? {} : { codecToken: token }) },
    lines: [
      `Codec server: ${server.url} (keys ${keys.ids.join(', ')}); the UI shows encrypted payloads through it`,
      `   its token: ${given ? `$${CODEC_TOKEN_VARIABLE}` : token}`,
      `   Temporal CLI: temporal workflow show -w <runId> --codec-endpoint ${server.url} --codec-auth "Bearer <token>"`,
    ],
    close: () => server.close(),
  };
}
