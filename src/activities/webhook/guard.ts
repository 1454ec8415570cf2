/**
 * SSRF guard for callback URLs: a submitter chooses the URL, the worker sends the request from
 * inside our network, so by default it may only reach plain public unicast addresses. The check
 * runs on the address the socket actually connects to, so DNS cannot smuggle a private one in.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { Agent, buildConnector, type Dispatcher } from 'undici';

/** `code` of the error a refused connection fails with; see {@link isAddressRefusal}. */
const ADDRESS_REFUSED = 'ERR_WEBHOOK_ADDRESS_REFUSED';

/** NAT64 well-known prefix (RFC 6052 §2.1); the IPv4 address sits in the last 32 bits. */
const NAT64_WELL_KNOWN = ipaddr.IPv6.parse('64:ff9b::');

/** Global unicast IPv6 (RFC 4291 §2.4); everything outside it is refused as `reserved`. */
const IPV6_GLOBAL_UNICAST = ipaddr.IPv6.parse('2000::');

/**
 * Names the range that makes `address` unfit for a webhook, or `undefined` when it is plain public
 * unicast. Range names are ipaddr.js's (`loopback`, `private`, `linkLocal`, `uniqueLocal`,
 * `carrierGradeNat`, `unspecified`, `multicast`, `broadcast`, `reserved`, …); anything that is not
 * an IP address at all gives `invalid`.
 *
 * Strict by choice:
 * - IPv4: only ipaddr.js's `unicast` passes (so `as112`, `amt` and the documentation ranges are
 *   refused too). Link-local covers the 169.254.169.254 metadata service.
 * - IPv4-mapped IPv6 (`::ffff:127.0.0.1`, written `::ffff:7f00:1` too) is judged by its IPv4.
 * - NAT64 with the well-known prefix (`64:ff9b::/96`) is judged by its embedded IPv4: DNS64
 *   networks hand these out for public hosts, and the gateway would forward to a private one.
 *   The local-use NAT64 prefix `64:ff9b:1::/48` is refused, its layout being network-specific.
 * - 6to4 (`2002::/16`) and Teredo (`2001::/32`) are refused outright: deprecated tunnels whose
 *   embedded IPv4 we cannot vouch for, and no legitimate receiver needs them.
 * - Other IPv6 passes only as ipaddr.js `unicast` inside `2000::/3`, which also refuses the
 *   deprecated IPv4-compatible form (`::7f00:1`).
 */
export function forbiddenRange(address: string): string | undefined {
  if (!ipaddr.isValid(address)) return 'invalid';
  const ip = ipaddr.parse(address);
  if (ip.kind() === 'ipv4') return unicastOrRange(ip.range());

  const v6 = ip as ipaddr.IPv6;
  if (v6.isIPv4MappedAddress()) return forbiddenRange(v6.toIPv4Address().toString());
  if (v6.match(NAT64_WELL_KNOWN, 96)) {
    const [hi = 0, lo = 0] = v6.parts.slice(6);
    return forbiddenRange(new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]).toString());
  }
  const range = v6.range();
  if (range === 'unicast' && !v6.match(IPV6_GLOBAL_UNICAST, 3)) return 'reserved';
  return unicastOrRange(range);
}

function unicastOrRange(range: string): string | undefined {
  return range === 'unicast' ? undefined : range;
}

/** A callback URL that cannot be used, whatever the network says. */
export class WebhookUrlError extends Error {
  override readonly name = 'WebhookUrlError';
}

/**
 * Parses a callback URL and rejects what no delivery could fix: not a URL, a scheme other than
 * `http:`/`https:`, embedded credentials (they would leak into logs and history), an empty host.
 * Addresses are checked later, at connect time (see {@link createGuardedDispatcher}).
 *
 * @throws WebhookUrlError naming what is wrong.
 */
export function parseCallbackUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new WebhookUrlError(`callback URL is not a valid absolute URL: ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new WebhookUrlError(`callback URL must use http: or https:, not ${url.protocol}`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new WebhookUrlError('callback URL must not embed credentials (user:password@)');
  }
  if (url.hostname === '') {
    throw new WebhookUrlError('callback URL has an empty host');
  }
  return url;
}

/**
 * An undici dispatcher for webhook attempts that refuses forbidden addresses (see
 * {@link forbiddenRange}) before any byte is sent. Host names are resolved once with
 * `dns.lookup(…, { all: true })`; the connection is refused if any resolved address is forbidden,
 * and otherwise goes to exactly the addresses that were checked (no second lookup to rebind).
 * IP-literal hosts never reach a lookup (Node's `net.connect` skips it), so they are checked in a
 * connector wrapped around undici's own. A refusal fails the request with an error that
 * {@link isAddressRefusal} recognises.
 *
 * @param opts.allowPrivate Skip the check (development only). @default false (in `WebhookOptions`)
 * @param opts.timeoutMs Connect timeout, the same budget as the whole attempt.
 */
export function createGuardedDispatcher(opts: { allowPrivate: boolean; timeoutMs: number }): Dispatcher {
  if (opts.allowPrivate) return new Agent({ connect: { timeout: opts.timeoutMs } });

  const connect = buildConnector({ timeout: opts.timeoutMs, lookup: guardedLookup });
  return new Agent({
    connect(options, callback) {
      const range = isIP(options.hostname) === 0 ? undefined : forbiddenRange(options.hostname);
      if (range === undefined) {
        connect(options, callback);
      } else {
        process.nextTick(callback, refusal(options.hostname, options.hostname, range), null);
      }
    },
  });
}

/** `dns.lookup` that fails if any address the host resolves to is forbidden. */
const guardedLookup: LookupFunction = (hostname, options: LookupOptions, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
    if (err) {
      callback(err, '');
      return;
    }
    for (const { address } of addresses) {
      const range = forbiddenRange(address);
      if (range !== undefined) {
        callback(refusal(hostname, address, range), '');
        return;
      }
    }
    const [first] = addresses;
    if (options.all) callback(null, addresses);
    else if (first === undefined)
      callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), '');
    else callback(null, first.address, first.family);
  });
};

function refusal(host: string, address: string, range: string): NodeJS.ErrnoException {
  const where = host === address ? `${address} is` : `${host} resolves to ${address}, which is`;
  return Object.assign(
    new Error(
      `webhook address refused: ${where} in the ${range} range (allowPrivate turns this guard off for development)`,
    ),
    { code: ADDRESS_REFUSED },
  );
}

/** Whether `err`, or an error in its `cause` chain, is the address guard's refusal. */
export function isAddressRefusal(err: unknown): boolean {
  const seen = new Set<unknown>();
  for (let e = err; e instanceof Error && !seen.has(e); e = e.cause) {
    if ((e as NodeJS.ErrnoException).code === ADDRESS_REFUSED) return true;
    seen.add(e);
  }
  return false;
}
