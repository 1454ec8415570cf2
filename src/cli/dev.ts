/**
 * `durable-runs dev` (what `npm start` runs): a local Temporal dev server with its UI, a codec
 * server for the UI when encryption keys are set, and a worker. It prints where the UI is and how
 * to submit a run and send an event, and serves the HTTP API on 127.0.0.1:8787; the worker's SDK log shows only warnings and errors.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { RunsClient } from '../client';
import type { HttpServer } from '../http/server';
import { STATE_ATTRIBUTE_ARGS, startDevServer } from '../local/dev-server';
import { loadLogLevel, loadMetricsConfig, loadTracingConfig } from '../observability';
import { type DevCodecServer, startDevCodecServer } from './codec-server';
import { act, CliError, type JsonFlag, print } from './shared';
import { parsePort, serveHttp } from './serve';
import { logLevelHelp, runWorker } from './worker';

/**
 * The HTTP API beside the worker, on loopback. A port in use (another `dev`) is a warning, not a
 * reason to stop: the worker and the UI work without it.
 */
async function serveDevHttp(client: RunsClient, port: number, json?: boolean): Promise<HttpServer | undefined> {
  try {
    const server = await serveHttp(client, { port, host: '127.0.0.1' });
    print(json, { http: server.url, openapi: `${server.url}/openapi.json` }, () =>
      [`HTTP API: ${server.url}  (OpenAPI: ${server.url}/openapi.json)`, `          curl ${server.url}/v1/runs`].join(
        '\n',
      ),
    );
    return server;
  } catch (err) {
    process.stderr.write(
      `durable-runs dev: warning: no HTTP API: ${(err as Error).message}; --http-port chooses another port\n`,
    );
    return undefined;
  }
}

type DevOptions = {
  runners: string;
  dataDir: string;
  port: string;
  uiPort: string;
  codecPort: string;
  httpPort: string;
  logLevel?: string;
} & JsonFlag;

export function addDevCommand(program: Command): void {
  program
    .command('dev')
    .description(
      'embedded default: a local Temporal dev server (SQLite, UI on :8233) and a worker with the example runners',
    )
    .option(
      '--runners <module>',
      'runners module (default export { name: StepRunner })',
      process.env.DURABLE_RUNS_RUNNERS ?? 'examples/runners.ts',
    )
    .option('--data-dir <dir>', 'where the dev server keeps its SQLite file', '.data')
    .option('--port <port>', 'dev server gRPC port', '7233')
    .option('--ui-port <port>', 'dev server UI port', '8233')
    .option('--codec-port <port>', 'codec server port for the UI, when DURABLE_RUNS_ENCRYPTION_KEYS is set', '8081')
    .option('--http-port <port>', 'port of the HTTP API on 127.0.0.1 (see `serve`; 0: any free one)', '8787')
    .option('--log-level <level>', logLevelHelp('WARN'))
    .option('--json', 'machine-readable output')
    .action(
      act(async (opts: DevOptions) => {
        // A bad DURABLE_RUNS_METRICS, OTEL_* or log level stops `dev` before it starts a server.
        loadMetricsConfig();
        loadTracingConfig();
        const logLevel = loadLogLevel(opts.logLevel, '--log-level', 'WARN');
        const httpPort = parsePort(opts.httpPort, '--http-port');
        let stop: (() => Promise<void>) | undefined;
        let codec: DevCodecServer | undefined;
        if (!process.env.TEMPORAL_ADDRESS) {
          // With encryption keys, the UI decrypts through a codec server of its own.
          codec = await startDevCodecServer(opts.uiPort, opts.codecPort);
          mkdirSync(opts.dataDir, { recursive: true });
          const server = await startDevServer({
            dbFile: resolve(opts.dataDir, 'temporal.sqlite'),
            port: Number(opts.port),
            uiPort: Number(opts.uiPort),
            // The run-state search attributes, so the UI can filter runs by state, runner and tenant.
            extraArgs: [...STATE_ATTRIBUTE_ARGS, ...(codec ? codec.devServerArgs : [])],
          }).catch((err: Error) => {
            throw new CliError(err.message);
          });
          stop = () => server.stop();
          process.env.TEMPORAL_ADDRESS = `127.0.0.1:${opts.port}`;
          // The local server is plain and keyless: a temporal.toml profile of the user's (an API
          // key, TLS, another namespace) must not reach it. A config file with an empty default profile.
          const noProfiles = resolve(opts.dataDir, 'no-profiles.toml');
          writeFileSync(noProfiles, '[profile.default]\n');
          process.env.TEMPORAL_CONFIG_FILE = noProfiles;
          delete process.env.TEMPORAL_PROFILE;
          print(opts.json, { ui: `http://localhost:${opts.uiPort}`, address: process.env.TEMPORAL_ADDRESS }, () =>
            [
              `Temporal dev server on ${process.env.TEMPORAL_ADDRESS}, data in ${resolve(opts.dataDir, 'temporal.sqlite')}`,
              `Temporal UI: http://localhost:${opts.uiPort}`,
              `Submit a run:  npx durable-runs submit '"What is 6 times 7?"' --runner agent --wait`,
              `          or:  temporal workflow start --type durableRun --task-queue durable-runs --workflow-id demo-1 --input '{"input":"What is 6 times 7?","runner":"agent"}'`,
              `Approval flow: npx durable-runs submit '{"order":"A-17","amount":25}' --runner approval`,
              `          then: npx durable-runs send <runId> approve   (or in the UI: Send Signal, name "event", input {"name":"approve"})`,
              `Live stream:  npx durable-runs submit '"Where is order A-17?"' --runner agent-ai-sdk`,
              `          then: npx durable-runs watch <runId> --stream   (the answer, token by token)`,
            ].join('\n'),
          );
          if (codec) print(opts.json, codec.info, () => codec!.lines.join('\n'));
        }
        let http: { client: RunsClient; server?: HttpServer } | undefined;
        try {
          http = { client: await RunsClient.connect() };
          http.server = await serveDevHttp(http.client, httpPort, opts.json);
          // Approval links made by this worker point at this server unless told otherwise.
          if (http.server && process.env.DURABLE_RUNS_LINK_SECRET)
            process.env.DURABLE_RUNS_PUBLIC_URL ||= http.server.url;
          await runWorker(opts.runners, logLevel);
        } finally {
          await http?.server?.close();
          await http?.client.close();
          await stop?.();
          await codec?.close();
        }
      }),
    );
}
