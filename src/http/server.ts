/** Starts the HTTP API on a host and port (`durable-runs serve`, and `dev`). */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { RunsClient } from '../client';
import { createHttpApi } from './app';
import { type ApiKey, isLoopback } from './keys';

export interface HttpServerOptions {
  client: RunsClient;
  /** @default 8787 */
  port?: number;
  /** @default 127.0.0.1 */
  host?: string;
  keys?: readonly ApiKey[];
  corsOrigin?: string;
  version?: string;
  /** DURABLE_RUNS_LINK_SECRET, for approval links. */
  linkSecret?: string;
}

export interface HttpServer {
  /** `http://host:port`, with the port the server got. */
  url: string;
  close(): Promise<void>;
}

/** A server without API keys would let anyone in: it listens only on loopback. */
export class OpenServerRefused extends Error {
  constructor(host: string) {
    super(
      `refusing to serve on ${host} without API keys: anyone who reaches it could run and steer runs. Set DURABLE_RUNS_API_KEYS=name:secret[:tenant], or listen on 127.0.0.1`,
    );
    this.name = 'OpenServerRefused';
  }
}

export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const host = options.host ?? '127.0.0.1';
  const keys = options.keys ?? [];
  if (keys.length === 0 && !isLoopback(host)) throw new OpenServerRefused(host);
  const app = createHttpApi({
    client: options.client,
    keys,
    ...(options.corsOrigin ? { corsOrigin: options.corsOrigin } : {}),
    ...(options.version ? { version: options.version } : {}),
    ...(options.linkSecret ? { linkSecret: options.linkSecret } : {}),
  });
  const server = serve({ fetch: app.fetch, port: options.port ?? 8787, hostname: host });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shown}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Streams stay open until their run closes: end them with the server.
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}
