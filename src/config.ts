/**
 * Configuration from the environment, parsed and validated once with zod, then frozen and
 * injected. A bad value stops start-up with a message naming the variable.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DEFAULT_TASK_QUEUE } from './shared/names';
import type { WebhookOptions } from './shared/types';

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
  TEMPORAL_NAMESPACE: nonEmpty.default('default'),
  TEMPORAL_TASK_QUEUE: nonEmpty.default(DEFAULT_TASK_QUEUE),
  TEMPORAL_API_KEY: nonEmpty.optional(),
  TEMPORAL_TLS_CERT: nonEmpty.optional(),
  TEMPORAL_TLS_KEY: nonEmpty.optional(),
  TEMPORAL_TLS_CA: nonEmpty.optional(),
  TEMPORAL_TLS_SERVER_NAME: nonEmpty.optional(),
  TEMPORAL_TLS: flag.optional(),
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
  tls?:
    | { clientCertPair?: { crt: Buffer; key: Buffer }; serverRootCACertificate?: Buffer; serverNameOverride?: string }
    | true;
}

function readFile(variable: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`${variable}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

export function loadConnectionConfig(env: Env = process.env): Readonly<ConnectionConfig> {
  const c = parse(connectionSchema, env);
  if (Boolean(c.TEMPORAL_TLS_CERT) !== Boolean(c.TEMPORAL_TLS_KEY)) {
    throw new ConfigError(
      `${c.TEMPORAL_TLS_CERT ? 'TEMPORAL_TLS_KEY' : 'TEMPORAL_TLS_CERT'}: mTLS needs both TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY`,
    );
  }
  const config: ConnectionConfig = { namespace: c.TEMPORAL_NAMESPACE, taskQueue: c.TEMPORAL_TASK_QUEUE };
  if (c.TEMPORAL_ADDRESS) config.address = c.TEMPORAL_ADDRESS;
  if (c.TEMPORAL_API_KEY) config.apiKey = c.TEMPORAL_API_KEY;
  if (c.TEMPORAL_TLS_CERT || c.TEMPORAL_TLS_CA || c.TEMPORAL_TLS_SERVER_NAME) {
    config.tls = {
      ...(c.TEMPORAL_TLS_CERT && c.TEMPORAL_TLS_KEY
        ? {
            clientCertPair: {
              crt: readFile('TEMPORAL_TLS_CERT', c.TEMPORAL_TLS_CERT),
              key: readFile('TEMPORAL_TLS_KEY', c.TEMPORAL_TLS_KEY),
            },
          }
        : {}),
      ...(c.TEMPORAL_TLS_CA ? { serverRootCACertificate: readFile('TEMPORAL_TLS_CA', c.TEMPORAL_TLS_CA) } : {}),
      ...(c.TEMPORAL_TLS_SERVER_NAME ? { serverNameOverride: c.TEMPORAL_TLS_SERVER_NAME } : {}),
    };
  } else if (c.TEMPORAL_TLS === true || (c.TEMPORAL_TLS === undefined && config.apiKey)) {
    // Temporal Cloud with an API key speaks TLS with the system's CAs.
    config.tls = true;
  }
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

/** Default webhook settings, as the environment would give with nothing set. */
export const DEFAULT_WEBHOOK_OPTIONS: Readonly<WebhookOptions> = loadWebhookOptions({});

/** Address, API key and TLS for `Connection.connect` (client) and `NativeConnection.connect` (worker) alike. */
export function connectionTarget(
  config: ConnectionConfig,
): Pick<ConnectionConfig, 'apiKey' | 'tls'> & { address: string } {
  return {
    address: config.address ?? 'localhost:7233',
    ...(config.apiKey ? { apiKey: config.apiKey } : {}),
    ...(config.tls ? { tls: config.tls } : {}),
  };
}
