/**
 * The observability variables, read and checked before anything starts. Light on purpose (no
 * OpenTelemetry SDK, no Core runtime): a client loads the tracing SDK only when tracing is on.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { LogLevel } from '@temporalio/common';
import { ConfigError } from '../common/config';

type Env = Record<string, string | undefined>;

export const METRICS_VARIABLE = 'DURABLE_RUNS_METRICS';

export interface MetricsConfig {
  /** `ip:port` for the Prometheus endpoint (`localhost` becomes `127.0.0.1`). */
  bindAddress: string;
}

/**
 * Reads `DURABLE_RUNS_METRICS` (`host:port`; unset or empty = no metrics endpoint). The host is an
 * IP address (`[::1]` for IPv6) or `localhost`: Core binds the socket itself and resolves no names.
 */
export function loadMetricsConfig(env: Env = process.env): MetricsConfig | undefined {
  const raw = env[METRICS_VARIABLE]?.trim();
  if (!raw) return undefined;
  const match = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d*)$/.exec(raw);
  if (!match) {
    throw new ConfigError(`${METRICS_VARIABLE}: must be host:port, e.g. 127.0.0.1:9464 (got ${JSON.stringify(raw)})`);
  }
  const [, v6, plain, portText] = match;
  const port = Number(portText);
  if (!portText || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigError(`${METRICS_VARIABLE}: port must be 1–65535 (got ${JSON.stringify(portText)})`);
  }
  if (v6 !== undefined) {
    if (!isIPv6(v6)) throw new ConfigError(`${METRICS_VARIABLE}: [${v6}] is not an IPv6 address`);
    return { bindAddress: `[${v6}]:${port}` };
  }
  const host = plain === 'localhost' ? '127.0.0.1' : (plain ?? '');
  if (!isIPv4(host)) {
    throw new ConfigError(
      `${METRICS_VARIABLE}: host must be an IP address or localhost, e.g. 127.0.0.1:9464 or 0.0.0.0:9464 (got ${JSON.stringify(plain)})`,
    );
  }
  return { bindAddress: `${host}:${port}` };
}

export interface TracingConfig {
  /** Where spans are POSTed (OTLP/HTTP, JSON). */
  url: string;
}

function set(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

/**
 * Reads the standard OpenTelemetry variables: tracing is on when `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
 * (used as is) or `OTEL_EXPORTER_OTLP_ENDPOINT` (`/v1/traces` appended) is set, unless
 * `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`. Spans are sent as OTLP/HTTP JSON, which
 * a collector's HTTP port takes whatever `OTEL_EXPORTER_OTLP_PROTOCOL` says, except `grpc`.
 * (The exporter itself reads `OTEL_EXPORTER_OTLP_HEADERS` and `..._TIMEOUT`, the batch processor
 * `OTEL_BSP_*`, the sampler `OTEL_TRACES_SAMPLER`.)
 */
export function loadTracingConfig(env: Env = process.env): TracingConfig | undefined {
  if (set(env, 'OTEL_SDK_DISABLED')?.toLowerCase() === 'true') return undefined;
  const exporter = set(env, 'OTEL_TRACES_EXPORTER')?.toLowerCase();
  if (exporter === 'none') return undefined;
  if (exporter !== undefined && exporter !== 'otlp') {
    throw new ConfigError(`OTEL_TRACES_EXPORTER: durable-runs exports spans with otlp (or none), not ${exporter}`);
  }
  const tracesEndpoint = set(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const endpoint = set(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  if (tracesEndpoint === undefined && endpoint === undefined) return undefined;
  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL']) {
    const protocol = set(env, name);
    if (protocol === undefined) continue;
    if (protocol === 'grpc') {
      throw new ConfigError(
        `${name}: durable-runs sends spans over OTLP/HTTP (JSON), not grpc: point the endpoint at the collector's HTTP port (usually 4318)`,
      );
    }
    break;
  }
  const name = tracesEndpoint !== undefined ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' : 'OTEL_EXPORTER_OTLP_ENDPOINT';
  const given = (tracesEndpoint ?? endpoint)!;
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw new ConfigError(`${name}: must be an http(s) URL, e.g. http://localhost:4318 (got ${JSON.stringify(given)})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`${name}: must be an http(s) URL, e.g. http://localhost:4318 (got ${JSON.stringify(given)})`);
  }
  return { url: tracesEndpoint !== undefined ? url.href : `${url.href.replace(/\/+$/, '')}/v1/traces` };
}

export const LOG_LEVEL_VARIABLE = 'DURABLE_RUNS_LOG_LEVEL';

const LOG_LEVELS: readonly LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];

/**
 * The level of the Temporal SDK's log (worker, workflow and activity logs): `flag` (any case) when
 * given, else `DURABLE_RUNS_LOG_LEVEL`, else `fallback`. A bad value names `flagName` or the variable.
 */
export function loadLogLevel(
  flag: string | undefined,
  flagName: string,
  fallback: LogLevel,
  env: Env = process.env,
): LogLevel {
  const fromEnv = set(env, LOG_LEVEL_VARIABLE);
  if (flag === undefined && fromEnv === undefined) return fallback;
  const [value, name] = flag !== undefined ? [flag, flagName] : [fromEnv!, LOG_LEVEL_VARIABLE];
  const level = LOG_LEVELS.find((l) => l === value.trim().toUpperCase());
  if (!level) {
    throw new ConfigError(`${name}: must be one of ${LOG_LEVELS.join(', ')} (got ${JSON.stringify(value)})`);
  }
  return level;
}
