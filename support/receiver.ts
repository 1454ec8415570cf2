import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the receiver got. */
export interface Received {
  path: string;
  method: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Server-clock time (ms) when it arrived, when a clock was given. */
  at?: number;
  /** Wall-clock time (`Date.now()`, ms) when its body had arrived. */
  receivedAt: number;
}

/** A scripted reply: status, headers, body; `'hang'` never answers. */
export type Reply = { status: number; headers?: Record<string, string>; body?: string; delayMs?: number } | 'hang';

export interface Receiver {
  url: string;
  port: number;
  requests: Received[];
  /** Requests to one path. */
  to(path: string): Received[];
  close(): Promise<void>;
}

/**
 * A real HTTP server on 127.0.0.1 that answers by script: `script(path, n)` gets the path and the
 * 1-based count of requests to that path so far.
 */
export async function startReceiver(
  script: (path: string, n: number) => Reply = () => ({ status: 200 }),
  clock?: () => Promise<number>,
  port = 0,
): Promise<Receiver> {
  const requests: Received[] = [];
  const counts = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const path = req.url ?? '/';
        const entry: Received = {
          path,
          method: req.method ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks),
          receivedAt: Date.now(),
        };
        if (clock) entry.at = await clock();
        requests.push(entry);
        const n = (counts.get(path) ?? 0) + 1;
        counts.set(path, n);
        const reply = script(path, n);
        if (reply === 'hang') return;
        if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
        res.writeHead(reply.status, reply.headers);
        res.end(reply.body ?? '');
      })();
    });
  });
  // Dual-stack where the machine has IPv6, so both 127.0.0.1 and [::1] reach it.
  await new Promise<void>((resolve, reject) => {
    server.once('error', () => server.listen(port, '127.0.0.1', resolve));
    server.listen({ port, host: '::', ipv6Only: false }, resolve);
    void reject;
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}`,
    port: bound,
    requests,
    to: (path) => requests.filter((r) => r.path === path),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
