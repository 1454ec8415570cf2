/**
 * A codec server: `POST …/encode` and `POST …/decode` in Temporal's codec-server protocol
 * (`{ payloads: [{ metadata: { key: base64 }, data: base64 }] }` both ways), so that the Temporal
 * UI and CLI show encrypted payloads decrypted, and encrypt what they send (signals, inputs).
 *
 * Every request needs the token: `Authorization: Bearer <token>` (the Temporal CLI's
 * `--codec-auth`), or the token as a path segment before `encode`/`decode`
 * (`http://host:port/<token>/decode`), since the Temporal UI sends no header of its choosing
 * (its "pass access token" forwards the UI's own OIDC login, over HTTPS only). Browsers get CORS
 * for the configured UI origins only.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload } from '@temporalio/common';
import { ConfigError } from '../common/config';
import { EncryptionCodec, type EncryptionKeys } from './encryption';
import { payloadFromJson, payloadToJson } from './payload-wire';

export const CODEC_TOKEN_VARIABLE = 'DURABLE_RUNS_CODEC_TOKEN';
export const CODEC_CORS_ORIGINS_VARIABLE = 'DURABLE_RUNS_CODEC_CORS_ORIGINS';
/** The Temporal UI of `temporal server start-dev` and `durable-runs dev`. */
export const DEFAULT_CORS_ORIGINS: readonly string[] = ['http://localhost:8233'];
export const DEFAULT_CODEC_PORT = 8081;
/** The headers the Temporal UI sends (`Authorization` with "pass access token"). */
const ALLOWED_HEADERS = 'Content-Type, X-Namespace, Authorization';
/** Far above a page of history: Temporal caps one payload at 2 MB. */
const MAX_BODY_BYTES = 32 * 1024 * 1024;
const TOKEN = /^[A-Za-z0-9._~+/=-]{16,512}$/;

export interface CodecServerOptions {
  keys: EncryptionKeys;
  /** Required on every request (see the module comment). */
  token: string;
  /** Origins allowed to call from a browser. @default ['http://localhost:8233'] (the dev server's UI) */
  corsOrigins?: readonly string[];
  /** @default 8081; 0 picks a free port */
  port?: number;
  /** @default '127.0.0.1': loopback only; put a TLS proxy in front to serve others */
  host?: string;
}

export interface CodecServer {
  /** `http://host:port`, the base URL: the Temporal CLI's `--codec-endpoint`. */
  readonly url: string;
  readonly port: number;
  /** The base URL with the token as a path segment: the Temporal UI's codec endpoint. */
  readonly uiEndpoint: string;
  /** Lets the process exit while the server still listens. */
  unref(): void;
  close(): Promise<void>;
}

/** Checks a token, naming where it came from (`--token` or the variable) when it is unfit. */
export function validateCodecToken(token: string | undefined, source: string): string {
  if (token === undefined || token === '') {
    throw new ConfigError(`${source}: a codec server needs a token (--token or ${CODEC_TOKEN_VARIABLE})`);
  }
  if (!TOKEN.test(token)) {
    throw new ConfigError(
      `${source}: the token must be 16–512 characters of [A-Za-z0-9._~+/=-], e.g. node -e "console.log(require('crypto').randomBytes(24).toString('base64url'))"`,
    );
  }
  return token;
}

/** Checks CORS origins (`scheme://host[:port]`, no path), naming where they came from. */
export function validateCorsOrigins(origins: readonly string[], source: string): string[] {
  return origins.map((origin) => {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (!parsed || parsed.origin !== origin || !/^https?:$/.test(parsed.protocol)) {
      throw new ConfigError(`${source}: ${JSON.stringify(origin)} is not an origin such as http://localhost:8233`);
    }
    return origin;
  });
}

const digest = (text: string) => createHash('sha256').update(text).digest();

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `request body above ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function parsePayloads(body: Buffer): Payload[] {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'body must be JSON: {"payloads": [...]}');
  }
  const payloads = (json as { payloads?: unknown } | null)?.payloads;
  if (!Array.isArray(payloads)) throw new HttpError(400, 'body must be {"payloads": [...]}');
  try {
    return payloads.map((p, i) => payloadFromJson(p, `payloads[${i}]`));
  } catch (err) {
    throw new HttpError(400, (err as Error).message);
  }
}

/** Starts the codec server; resolves once it listens. */
export async function startCodecServer(options: CodecServerOptions): Promise<CodecServer> {
  const codec = new EncryptionCodec(options.keys);
  const token = validateCodecToken(options.token, 'token');
  const tokenDigest = digest(token);
  const origins = new Set(validateCorsOrigins(options.corsOrigins ?? DEFAULT_CORS_ORIGINS, 'corsOrigins'));
  const host = options.host ?? '127.0.0.1';

  const authorized = (req: IncomingMessage, segments: string[]): boolean => {
    const header = req.headers.authorization;
    const bearer = header?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
    const candidates = [...(bearer ? [bearer] : []), ...segments.slice(0, -1)];
    // Compared as digests: constant time, whatever the lengths.
    return candidates.some((c) => timingSafeEqual(digest(c), tokenDigest));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const origin = req.headers.origin;
    if (origin !== undefined && origins.has(origin)) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
    }
    res.setHeader('Vary', 'Origin');
    if (req.method === 'OPTIONS') {
      if (origin === undefined || !origins.has(origin))
        throw new HttpError(403, `origin ${origin ?? '(none)'} is not allowed`);
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', ALLOWED_HEADERS);
      res.setHeader('Access-Control-Max-Age', '600');
      if (req.headers['access-control-request-private-network'] === 'true') {
        res.setHeader('Access-Control-Allow-Private-Network', 'true');
      }
      res.writeHead(204).end();
      return;
    }
    let segments: string[];
    try {
      segments = new URL(req.url ?? '/', 'http://codec').pathname.split('/').filter(Boolean).map(decodeURIComponent);
    } catch {
      throw new HttpError(400, 'malformed path');
    }
    // The protocol: only the last path segment says which operation.
    const operation = segments.at(-1);
    if (operation !== 'encode' && operation !== 'decode') throw new HttpError(404, 'POST /encode or /decode');
    if (req.method !== 'POST')
      throw new HttpError(405, `${req.method ?? ''} not allowed: POST`, { Allow: 'POST, OPTIONS' });
    if (!authorized(req, segments)) {
      throw new HttpError(401, 'missing or wrong token', { 'WWW-Authenticate': 'Bearer realm="durable-runs codec"' });
    }
    const payloads = parsePayloads(await readBody(req));
    const out = operation === 'encode' ? await codec.encode(payloads) : await codec.decode(payloads);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ payloads: out.map(payloadToJson) }));
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      const message = err instanceof HttpError ? err.message : 'internal error';
      if (!res.headersSent) {
        res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...(err as HttpError).headers });
      }
      res.end(`${message}\n`);
      // The rest of an unread body is not worth reading.
      if (status === 413) req.destroy();
    });
  });
  const requestedPort = options.port ?? DEFAULT_CODEC_PORT;
  await new Promise<void>((resolve, reject) => {
    const fail = (err: Error) =>
      reject(new Error(`codec server cannot listen on ${host}:${requestedPort}: ${err.message}`));
    server.once('error', fail);
    server.listen(requestedPort, host, () => {
      server.off('error', fail);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url,
    port,
    uiEndpoint: `${url}/${encodeURIComponent(token)}`,
    unref: () => server.unref(),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
