/** How `RunsClient.connect` opens its Temporal client: options first, then the `TEMPORAL_*` environment. */
import { Client, Connection } from '@temporalio/client';
import { connectionTarget, loadConnectionConfig } from '../common/config';
import { startTracing, tracingClientInterceptors } from '../observability';
import { dataConverter } from '../payloads/data-converter';
import { type EncryptionOption, encryptionDataConverter, resolveEncryptionKeys } from '../payloads/encryption';

export interface RunsClientOptions {
  /** An open connection; by default one is made from the `TEMPORAL_*` environment. */
  connection?: Connection;
  /** @default TEMPORAL_ADDRESS or "localhost:7233" */
  address?: string;
  /** @default TEMPORAL_NAMESPACE or "default" */
  namespace?: string;
  /** @default TEMPORAL_TASK_QUEUE or "durable-runs" */
  taskQueue?: string;
  /**
   * Header that carries the callback URL, checked at submission (must match the workers').
   * @default DURABLE_RUNS_WEBHOOK_URL_HEADER or "callback_url"
   */
  webhookUrlHeader?: string;
  /**
   * Payload encryption keys (`id:base64key[,…]`, the first encrypts) or `false` for none; they must
   * decrypt what the workers encrypt and the other way round.
   * @default DURABLE_RUNS_ENCRYPTION_KEYS; unset, payloads are plain JSON
   */
  encryptionKeys?: EncryptionOption;
}

/** A Temporal client with durable-runs' converters (and codec, with keys), and its task queue. */
export async function openTemporalClient(
  options: RunsClientOptions,
): Promise<{ temporal: Client; taskQueue: string; ownsConnection: boolean }> {
  const env = loadConnectionConfig();
  const encryptionKeys = resolveEncryptionKeys(options.encryptionKeys);
  // With OTEL_EXPORTER_OTLP_ENDPOINT set, a submit starts the run's trace.
  const tracing = startTracing();
  const connection =
    options.connection ??
    (await Connection.connect(connectionTarget({ ...env, ...(options.address ? { address: options.address } : {}) })));
  const temporal = new Client({
    connection,
    namespace: options.namespace ?? env.namespace,
    dataConverter: { ...dataConverter, ...encryptionDataConverter(encryptionKeys) },
    ...(tracing ? { interceptors: { workflow: tracingClientInterceptors(tracing) } } : {}),
  });
  return { temporal, taskQueue: options.taskQueue ?? env.taskQueue, ownsConnection: !options.connection };
}
