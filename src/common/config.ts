/**
 * Configuration from the environment, parsed and validated once with zod, then frozen and
 * injected. A bad value stops start-up with a message naming the variable.
 */
import { accessSync, constants } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';
import {
  type ClientConfigProfile,
  type ClientConnectConfig,
  loadClientConfigProfile,
  toClientOptions,
} from '@temporalio/envconfig';
// SDK internals, as no public API exports it: the SDK's own duration parser ('25s', '1 minute').
import { msToNumber } from '@temporalio/common/lib/time';
import { z } from 'zod';
import { DEFAULT_TASK_QUEUE } from '../shared/names';
import type { WebhookOptions } from '../shared/types';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

const nonEmpty = z.string().trim().min(1);
const intFrom = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
const flag = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ['1', '0', 'true', 'false', 'yes', 'no', ''].includes(v), 'must be 1/0, true/false or yes/no')
  .transform((v) => ['1', 'true', 'yes'].includes(v));

const connectionSchema = z.object({
  TEMPORAL_ADDRESS: nonEmpty.regex(/^[^\s/]+:\d+$/, 'must be host:port, e.g. localhost:7233').optional(),
  TEMPORAL_NAMESPACE: nonEmpty.optional(),
  TEMPORAL_TASK_QUEUE: nonEmpty.default(DEFAULT_TASK_QUEUE),
  TEMPORAL_API_KEY: nonEmpty.optional(),
  TEMPORAL_PROFILE: nonEmpty.optional(),
  TEMPORAL_CONFIG_FILE: nonEmpty.optional(),
  TEMPORAL_TLS: flag.optional(),
  TEMPORAL_TLS_CLIENT_CERT_PATH: nonEmpty.optional(),
  TEMPORAL_TLS_CLIENT_KEY_PATH: nonEmpty.optional(),
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: nonEmpty.optional(),
  TEMPORAL_TLS_SERVER_NAME: nonEmpty.optional(),
});

const webhookSchema = z.object({
  DURABLE_RUNS_WEBHOOK_URL_HEADER: nonEmpty.default('callback_url'),
  DURABLE_RUNS_WEBHOOK_MAX_RETRIES: intFrom(0, 100).default(3),
  DURABLE_RUNS_WEBHOOK_BASE_DELAY_MS: intFrom(1, 3_600_000).default(500),
  DURABLE_RUNS_WEBHOOK_MAX_DELAY_MS: intFrom(1, 86_400_000).default(30_000),
  DURABLE_RUNS_WEBHOOK_TIMEOUT_MS: intFrom(1, 600_000).default(10_000),
  DURABLE_RUNS_WEBHOOK_SECRET: z
    .string()
    .trim()
    .regex(/^whsec_[A-Za-z0-9+/=]+$/, 'must be a Standard Webhooks secret: whsec_<base64>')
    .optional(),
  DURABLE_RUNS_WEBHOOK_ALLOW_PRIVATE: flag.default(false),
  DURABLE_RUNS_WEBHOOK_START_GIVE_UP_MS: intFrom(1, 86_400_000).default(300_000),
});

function parse<T extends z.ZodType>(schema: T, env: Env): z.output<T> {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(present);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const name = String(issue.path[0] ?? 'environment');
    throw new ConfigError(`${name}: ${issue.message}`);
  }
  return result.data;
}

/** How to reach Temporal. */
export interface ConnectionConfig {
  /** `host:port`; unset means "no cluster given" (the `dev` command then starts one). */
  address?: string;
  namespace: string;
  taskQueue: string;
  apiKey?: string;
  /** `true`: TLS with the system's CAs; `false`: off; an object: mTLS files, CA, server name. */
  tls?: TLSConfig | boolean;
  /** gRPC metadata (`TEMPORAL_GRPC_META_*`, a profile's `grpc_meta`). */
  metadata?: Record<string, string>;
}

/** Names this project read before it used Temporal's own (accepted for one release, with a warning). */
const RENAMED: Readonly<Record<string, string>> = {
  TEMPORAL_TLS_CERT: 'TEMPORAL_TLS_CLIENT_CERT_PATH',
  TEMPORAL_TLS_KEY: 'TEMPORAL_TLS_CLIENT_KEY_PATH',
  TEMPORAL_TLS_CA: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
};
const warnedRenames = new Set<string>();

/** The environment with the old TLS names moved to Temporal's (a warning once per name). */
function withTemporalNames(env: Env): Env {
  const out: Env = { ...env };
  for (const [old, current] of Object.entries(RENAMED)) {
    const value = env[old];
    if (value === undefined || value === '') continue;
    if (!warnedRenames.has(old)) {
      warnedRenames.add(old);
      process.emitWarning(
        `${old} is deprecated and will be removed in the next release: use ${current}, the Temporal CLI's name`,
        { code: 'DURABLE_RUNS_DEPRECATED_ENV' },
      );
    }
    if (out[current] === undefined || out[current] === '') out[current] = value;
  }
  return out;
}

/** The name a user set for a TLS file: the deprecated one when that is where the value came from. */
function setAs(env: Env, current: string): string {
  const old = Object.keys(RENAMED).find((k) => RENAMED[k] === current);
  return old && !env[current] && env[old] ? old : current;
}

/** Checks a file can be read without reading it (envconfig reads it once, after). */
function checkReadable(variable: string, path: string): void {
  try {
    accessSync(path, constants.R_OK);
  } catch (err) {
    throw new ConfigError(`${variable}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/** envconfig reads files into Uint8Arrays; the gRPC client of `@temporalio/client` wants Buffers. */
function asBuffers(tls: TLSConfig | boolean): TLSConfig | boolean {
  if (typeof tls === 'boolean') return tls;
  const buf = (b: Uint8Array | undefined) => (b ? Buffer.from(b) : undefined);
  const { clientCertPair, serverRootCACertificate, serverNameOverride } = tls;
  return {
    ...(clientCertPair ? { clientCertPair: { crt: buf(clientCertPair.crt)!, key: buf(clientCertPair.key)! } } : {}),
    ...(serverRootCACertificate ? { serverRootCACertificate: buf(serverRootCACertificate)! } : {}),
    ...(serverNameOverride ? { serverNameOverride } : {}),
  };
}

/**
 * How to reach Temporal, read the way the Temporal CLI reads it (`@temporalio/envconfig`): the
 * `TEMPORAL_*` variables over the profile `TEMPORAL_PROFILE` (default "default") of `temporal.toml`
 * (`TEMPORAL_CONFIG_FILE`, default `~/.config/temporalio/temporal.toml`), plus `TEMPORAL_TASK_QUEUE`.
 * Each value is checked first, and a bad one is named.
 */
export function loadConnectionConfig(given: Env = process.env): Readonly<ConnectionConfig> {
  const env = withTemporalNames(given);
  const c = parse(connectionSchema, env);
  if (Boolean(c.TEMPORAL_TLS_CLIENT_CERT_PATH) !== Boolean(c.TEMPORAL_TLS_CLIENT_KEY_PATH)) {
    const missing = c.TEMPORAL_TLS_CLIENT_CERT_PATH ? 'TEMPORAL_TLS_CLIENT_KEY_PATH' : 'TEMPORAL_TLS_CLIENT_CERT_PATH';
    throw new ConfigError(`${missing}: mTLS needs both TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH`);
  }
  for (const variable of [
    'TEMPORAL_TLS_CLIENT_CERT_PATH',
    'TEMPORAL_TLS_CLIENT_KEY_PATH',
    'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
  ] as const) {
    const path = c[variable];
    if (path) checkReadable(setAs(given, variable), path);
  }
  // An explicit file that is missing is an error (envconfig would silently skip it).
  if (c.TEMPORAL_CONFIG_FILE) checkReadable('TEMPORAL_CONFIG_FILE', c.TEMPORAL_CONFIG_FILE);

  let profile: ClientConfigProfile;
  try {
    profile = loadClientConfigProfile({
      overrideEnvVars: Object.fromEntries(
        Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''),
      ),
    });
  } catch (err) {
    const message = (err as Error).message;
    const variable = /profile/i.test(message) && c.TEMPORAL_PROFILE ? 'TEMPORAL_PROFILE' : 'TEMPORAL_CONFIG_FILE';
    throw new ConfigError(`${variable}: ${message}`);
  }
  if (profile.address !== undefined && !/^[^\s/]+:\d+$/.test(profile.address)) {
    throw new ConfigError(
      `TEMPORAL_PROFILE: the profile's address must be host:port, got ${JSON.stringify(profile.address)}`,
    );
  }
  let options: ClientConnectConfig;
  try {
    options = toClientOptions(profile);
  } catch (err) {
    throw new ConfigError(`TEMPORAL_CONFIG_FILE: the profile's TLS files: ${(err as Error).message}`);
  }
  const { address, apiKey, tls, metadata } = options.connectionOptions;
  const config: ConnectionConfig = {
    namespace: options.namespace ?? 'default',
    taskQueue: c.TEMPORAL_TASK_QUEUE,
    ...(address ? { address } : {}),
    ...(apiKey && typeof apiKey === 'string' ? { apiKey } : {}),
    ...(tls !== undefined && tls !== null ? { tls: asBuffers(tls) } : {}),
    ...(metadata && Object.keys(metadata).length > 0 ? { metadata: metadata as Record<string, string> } : {}),
  };
  return Object.freeze(config);
}

export function loadWebhookOptions(env: Env = process.env): Readonly<WebhookOptions> {
  const w = parse(webhookSchema, env);
  if (w.DURABLE_RUNS_WEBHOOK_MAX_DELAY_MS < w.DURABLE_RUNS_WEBHOOK_BASE_DELAY_MS) {
    throw new ConfigError(
      `DURABLE_RUNS_WEBHOOK_MAX_DELAY_MS: ${w.DURABLE_RUNS_WEBHOOK_MAX_DELAY_MS} is below DURABLE_RUNS_WEBHOOK_BASE_DELAY_MS (${w.DURABLE_RUNS_WEBHOOK_BASE_DELAY_MS})`,
    );
  }
  return Object.freeze({
    urlHeader: w.DURABLE_RUNS_WEBHOOK_URL_HEADER,
    maxRetries: w.DURABLE_RUNS_WEBHOOK_MAX_RETRIES,
    baseDelayMs: w.DURABLE_RUNS_WEBHOOK_BASE_DELAY_MS,
    maxDelayMs: w.DURABLE_RUNS_WEBHOOK_MAX_DELAY_MS,
    timeoutMs: w.DURABLE_RUNS_WEBHOOK_TIMEOUT_MS,
    allowPrivate: w.DURABLE_RUNS_WEBHOOK_ALLOW_PRIVATE,
    startGiveUpMs: w.DURABLE_RUNS_WEBHOOK_START_GIVE_UP_MS,
    ...(w.DURABLE_RUNS_WEBHOOK_SECRET ? { secret: w.DURABLE_RUNS_WEBHOOK_SECRET } : {}),
  });
}

const versioningSchema = z.object({
  DURABLE_RUNS_DEPLOYMENT: nonEmpty.regex(/^[^.\s]+$/, 'must be a name without dots or spaces').optional(),
  DURABLE_RUNS_BUILD_ID: nonEmpty.regex(/^[^.\s]+$/, 'must be an ID without dots or spaces').optional(),
  DURABLE_RUNS_VERSIONING_BEHAVIOR: z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(['auto-upgrade', 'pinned'], 'must be auto-upgrade or pinned'))
    .default('auto-upgrade'),
});

/** Worker Deployment Versioning: which deployment version a worker is, and what runs do on a new one. */
export interface VersioningConfig {
  deploymentName: string;
  buildId: string;
  /**
   * `auto-upgrade` (default): a run moves to the current version at its next workflow task.
   * `pinned`: a run stays on the version it started on until it closes.
   */
  behavior: 'auto-upgrade' | 'pinned';
}

/** `DURABLE_RUNS_DEPLOYMENT` with `DURABLE_RUNS_BUILD_ID` (both or neither); undefined when unversioned. */
export function loadVersioningConfig(env: Env = process.env): Readonly<VersioningConfig> | undefined {
  const v = parse(versioningSchema, env);
  if (!v.DURABLE_RUNS_DEPLOYMENT && !v.DURABLE_RUNS_BUILD_ID) {
    if (env.DURABLE_RUNS_VERSIONING_BEHAVIOR) {
      throw new ConfigError(
        'DURABLE_RUNS_VERSIONING_BEHAVIOR: needs DURABLE_RUNS_DEPLOYMENT and DURABLE_RUNS_BUILD_ID',
      );
    }
    return undefined;
  }
  if (!v.DURABLE_RUNS_DEPLOYMENT || !v.DURABLE_RUNS_BUILD_ID) {
    const missing = v.DURABLE_RUNS_DEPLOYMENT ? 'DURABLE_RUNS_BUILD_ID' : 'DURABLE_RUNS_DEPLOYMENT';
    throw new ConfigError(`${missing}: versioned workers need both DURABLE_RUNS_DEPLOYMENT and DURABLE_RUNS_BUILD_ID`);
  }
  return Object.freeze({
    deploymentName: v.DURABLE_RUNS_DEPLOYMENT,
    buildId: v.DURABLE_RUNS_BUILD_ID,
    behavior: v.DURABLE_RUNS_VERSIONING_BEHAVIOR,
  });
}

/** The shutdown grace time when `DURABLE_RUNS_SHUTDOWN_GRACE` is unset: below an orchestrator's usual 30 s kill. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 25_000;

/**
 * `DURABLE_RUNS_SHUTDOWN_GRACE` (ms or a duration like `25s`): how long running steps may go on
 * after a worker is asked to stop; then they are interrupted and run again on another worker.
 */
export function loadShutdownGraceMs(env: Env = process.env): number {
  const raw = env.DURABLE_RUNS_SHUTDOWN_GRACE?.trim();
  if (raw === undefined || raw === '') return DEFAULT_SHUTDOWN_GRACE_MS;
  let ms: number;
  try {
    ms = /^\d+$/.test(raw) ? Number(raw) : msToNumber(raw as never);
  } catch {
    ms = NaN;
  }
  if (!Number.isFinite(ms) || ms < 0 || ms > 3_600_000) {
    throw new ConfigError(
      `DURABLE_RUNS_SHUTDOWN_GRACE: must be a duration from 0 to 1h (ms, or e.g. '25s'), got ${JSON.stringify(raw)}`,
    );
  }
  return Math.round(ms);
}

/** Default webhook settings, as the environment would give with nothing set. */
export const DEFAULT_WEBHOOK_OPTIONS: Readonly<WebhookOptions> = loadWebhookOptions({});

/** Address, API key, TLS and metadata for `Connection.connect` (client) and `NativeConnection.connect` (worker) alike. */
export function connectionTarget(
  config: ConnectionConfig,
): Pick<ConnectionConfig, 'apiKey' | 'tls' | 'metadata'> & { address: string } {
  return {
    address: config.address ?? 'localhost:7233',
    ...(config.apiKey ? { apiKey: config.apiKey } : {}),
    ...(config.tls ? { tls: config.tls } : {}),
    ...(config.metadata ? { metadata: config.metadata } : {}),
  };
}
