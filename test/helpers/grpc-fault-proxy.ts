/**
 * A gRPC fault proxy on loopback: forwards every call between a worker or client and a real
 * Temporal frontend, except the calls the test chooses to refuse, which get `UNAVAILABLE`
 * (gRPC status 14) as a frontend that is briefly down would answer. Plain HTTP/2 (h2c), as the
 * dev server speaks it. Only ever points at a loopback upstream.
 */
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';

export interface Refusal {
  /** The gRPC method, e.g. `StartWorkflowExecution`. */
  method: string;
  at: number;
}

export interface GrpcFaultProxy {
  /** `127.0.0.1:<port>`, to connect to instead of the upstream. */
  readonly address: string;
  /** Every refused call so far, oldest first. */
  readonly refusals: readonly Refusal[];
  /**
   * Refuse calls to these methods from now on; `[]` forwards everything again. The refusal is
   * `UNAVAILABLE` unless another gRPC status is given (e.g. 7, PERMISSION_DENIED).
   */
  refuse(methods: readonly string[], status?: { code: number; message: string }): void;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'http2-settings']);

function forwardable(headers: http2.IncomingHttpHeaders): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v !== undefined && !HOP_BY_HOP.has(k) && k !== ':scheme' && k !== ':authority') out[k] = v;
  }
  return out;
}

export async function startGrpcFaultProxy(upstream: string): Promise<GrpcFaultProxy> {
  if (!/^(127\.0\.0\.1|localhost|\[::1\]):\d+$/.test(upstream)) throw new Error(`not a loopback upstream: ${upstream}`);
  const session = http2.connect(`http://${upstream}`);
  session.on('error', () => undefined);
  const refusals: Refusal[] = [];
  let refused = new Set<string>();
  let refusal = { code: 14, message: 'injected fault: frontend unavailable' };
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    const method = String(headers[':path'] ?? '')
      .split('/')
      .at(-1)!;
    if (refused.has(method)) {
      refusals.push({ method, at: Date.now() });
      stream.respond(
        {
          ':status': 200,
          'content-type': 'application/grpc',
          'grpc-status': String(refusal.code),
          'grpc-message': encodeURIComponent(refusal.message),
        },
        { endStream: true },
      );
      return;
    }
    const call = session.request(forwardable(headers));
    call.on('error', () => stream.destroy());
    stream.on('close', () => call.close());
    let trailers: http2.OutgoingHttpHeaders = {};
    call.on('trailers', (t) => (trailers = forwardable(t)));
    call.on('response', (response) => {
      const head = forwardable(response);
      // A trailers-only response (an error with no body) ends in its headers.
      if (response['grpc-status'] !== undefined) {
        stream.respond(head, { endStream: true });
        return;
      }
      stream.respond(head, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers(trailers));
      call.pipe(stream);
    });
    stream.pipe(call);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    refusals,
    refuse(methods, status = { code: 14, message: 'injected fault: frontend unavailable' }) {
      refused = new Set(methods);
      refusal = status;
    },
    async close() {
      session.destroy();
      for (const s of sessions) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
