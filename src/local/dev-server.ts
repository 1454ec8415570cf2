/**
 * The one place that starts, tunes and stops a local Temporal dev server (`temporal server
 * start-dev`, the Temporal CLI {@link resolveTemporalCli} finds): `durable-runs dev`, the tests and
 * the bench all use it. The server can be stopped and restarted on the same port and SQLite file,
 * which keeps its state.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { STATE_ATTRIBUTE_TYPES } from '../shared/run-story';
import { DEV_SERVER_TUNING_ARGS, FAIRNESS_ARGS, resolveTemporalCli } from './temporal-binaries';

/** The tuning every dev server we start gets (see {@link DevServerOptions.tuning}). */
export const DEV_SERVER_ARGS: readonly string[] = [...FAIRNESS_ARGS, ...DEV_SERVER_TUNING_ARGS];

/**
 * `start-dev` flags that register the run-state search attributes (`DurableRunsState`, …), so runs
 * keep their state where the UI and `temporal workflow list --query` can filter on it.
 */
export const STATE_ATTRIBUTE_ARGS: readonly string[] = Object.entries(STATE_ATTRIBUTE_TYPES).flatMap(([name, type]) => [
  '--search-attribute',
  `${name}=${type}`,
]);

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface DevServerOptions {
  /**
   * SQLite file holding the server's state; `false` keeps it in memory (faster, but a `restart`
   * starts empty). @default a fresh file in a temp dir, removed when the test process exits
   */
  dbFile?: string | false;
  /** Frontend gRPC port on 127.0.0.1. @default a free port */
  port?: number;
  /** Web UI port; `0` picks a free one. @default false: headless, since tests rarely need the UI */
  uiPort?: number | false;
  /** Namespace to create at launch and wait for (`default` always exists). @default 'default' */
  namespace?: string;
  /**
   * Fairness on (one partition per task queue) and the transfer-queue read cap raised: see
   * `FAIRNESS_ARGS` and `DEV_SERVER_TUNING_ARGS`. `false` runs the server as shipped.
   * @default true
   */
  tuning?: boolean;
  /** Further `start-dev` flags, such as `--dynamic-config-value KEY=VALUE`. */
  extraArgs?: readonly string[];
}

export interface DevServer {
  /** `127.0.0.1:<port>`, for `Connection.connect({ address })` and `TEMPORAL_ADDRESS`. */
  readonly address: string;
  readonly port: number;
  /** The UI's URL when it runs. */
  readonly uiUrl?: string;
  readonly namespace: string;
  /** The SQLite file, or `false` when the state is in memory. */
  readonly dbFile: string | false;
  /** The current server process (a new one after `restart`). */
  readonly process: ChildProcess;
  /** SIGTERM, then SIGKILL after 10 s; resolves once the process has exited. Idempotent. */
  stop(): Promise<void>;
  /** Stops the server, then starts it again on the same port and SQLite file and waits until it serves. */
  restart(): Promise<void>;
}

const READY_TIMEOUT_MS = 60_000;
const KILL_AFTER_MS = 10_000;

/** Servers still running, killed if the test process exits without stopping them. */
const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** Starts `temporal server start-dev` (the resolved Temporal CLI) and resolves once its namespace answers. */
export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  const cli = resolveTemporalCli();
  if (!cli) throw new Error('Temporal CLI not found: run `npm run temporal:install` or set TEMPORAL_CLI_PATH');

  let dbFile = opts.dbFile;
  if (dbFile === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'durable-runs-dev-server-'));
    tempDirs.add(dir);
    dbFile = join(dir, 'temporal.sqlite');
  }
  const port = opts.port ?? (await freePort());
  const uiPort = opts.uiPort === 0 ? await freePort() : opts.uiPort;
  const namespace = opts.namespace ?? 'default';
  const args = [
    'server',
    'start-dev',
    ...(dbFile === false ? [] : ['--db-filename', dbFile]),
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    ...(uiPort === undefined || uiPort === false ? ['--headless'] : ['--ui-port', String(uiPort)]),
    ...(namespace === 'default' ? [] : ['--namespace', namespace]),
    '--log-level',
    'error',
    ...(opts.tuning === false ? [] : DEV_SERVER_ARGS),
    ...(opts.extraArgs ?? []),
  ];

  let child = await launchRetrying(cli, args, port, namespace);
  return {
    address: `127.0.0.1:${port}`,
    port,
    uiUrl: uiPort === undefined || uiPort === false ? undefined : `http://127.0.0.1:${uiPort}`,
    namespace,
    dbFile,
    get process() {
      return child;
    },
    stop: () => stop(child),
    async restart() {
      await stop(child);
      child = await launchRetrying(cli, args, port, namespace);
    },
  };
}

/** Attempts at starting the server when it exits during start-up (not when it never answers). */
const LAUNCH_ATTEMPTS = 3;

/**
 * {@link launch}, again when the server exits during start-up: on a loaded machine `start-dev` now
 * and then exits with code 1 before it serves (seen once in CI with the search-attribute flags, its
 * output not kept then). A server that runs but never answers is not started again.
 */
async function launchRetrying(cli: string, args: string[], port: number, namespace: string): Promise<ChildProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(cli, args, port, namespace);
    } catch (err) {
      if (attempt >= LAUNCH_ATTEMPTS || !(err instanceof EarlyExit)) throw err;
      process.stderr.write(
        `durable-runs: ${(err as Error).message}; starting it again (${attempt + 1}/${LAUNCH_ATTEMPTS})\n`,
      );
    }
  }
}

/** The server process ended before it served. */
class EarlyExit extends Error {}

async function launch(cli: string, args: string[], port: number, namespace: string): Promise<ChildProcess> {
  const address = `127.0.0.1:${port}`;
  // Otherwise the readiness check below could be answered by whatever server already holds the port.
  await assertPortFree(port).catch((err: Error) => {
    throw new Error(`cannot start a dev server on ${address}: ${err.message}`);
  });
  const child = spawn(cli, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  // A forgotten server must not keep the test process alive; the exit hook above kills it.
  child.unref();
  // Both kept for the error message should the server fail to start (the CLI prints some of its
  // errors on stdout).
  let stderrTail = '';
  for (const stream of [child.stdout as Socket, child.stderr as Socket]) {
    stream.unref();
    stream.on('data', (chunk: Buffer) => {
      stderrTail = (stderrTail + chunk.toString()).slice(-4000);
    });
  }
  let exit: string | undefined;
  child.once('error', (err) => (exit ??= `could not be spawned: ${err.message}`));
  child.once('exit', (code, signal) => {
    live.delete(child);
    exit ??= `exited with ${signal ?? `code ${code}`}`;
  });

  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError: unknown;
  for (;;) {
    if (exit !== undefined) {
      throw new EarlyExit(`temporal server start-dev on ${address} ${exit}: ${stderrTail.trim() || '(no output)'}`);
    }
    try {
      await serves(address, namespace);
      return child;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      await stop(child);
      throw new Error(
        `temporal server start-dev did not serve namespace ${namespace} on ${address} within ${READY_TIMEOUT_MS / 1000} s` +
          ` (last error: ${(lastError as Error | undefined)?.message ?? 'none'}): ${stderrTail.trim() || '(no output)'}`,
        { cause: lastError },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Rejects (EADDRINUSE) when something listens on the port of 127.0.0.1. */
async function assertPortFree(port: number): Promise<void> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Resolves once the frontend answers for the namespace; throws while it does not. */
async function serves(address: string, namespace: string): Promise<void> {
  const connection = await Connection.connect({ address, connectTimeout: 1000 });
  try {
    await connection.workflowService.describeNamespace({ namespace });
  } finally {
    await connection.close();
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
  await exited;
  clearTimeout(timer);
}
