/** `durable-runs serve` as a child process on loopback, against a test kit's server and task queue. */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestKit } from '../../src/testing';
import { eventually } from '../../support/wait';

export const BIN = join(__dirname, '..', '..', 'bin', 'durable-runs.js');

/** The environment of a `serve` process: the kit's Temporal, no profile of the user's, and `extra`. */
export function serveEnv(kit: TestKit, extra: Record<string, string> = {}): Record<string, string> {
  const config = join(mkdtempSync(join(tmpdir(), 'serve-')), 'no-profiles.toml');
  writeFileSync(config, '[profile.default]\n');
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    TEMPORAL_CONFIG_FILE: config,
    TEMPORAL_ADDRESS: kit.env.address,
    TEMPORAL_TASK_QUEUE: kit.taskQueue,
    ...extra,
  };
}

export interface ServeProcess {
  url: string;
  child: ChildProcess;
  /** SIGTERM, and resolves when it exited. */
  stop(): Promise<void>;
}

/** Spawns `durable-runs serve --json` (on `--port 0` unless `args` name one) and resolves once it prints its URL. */
export async function startServe(
  kit: TestKit,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<ServeProcess> {
  const port = args.includes('--port') ? [] : ['--port', '0'];
  const child = spawn(process.execPath, [BIN, 'serve', ...port, '--json', ...args], {
    env: serveEnv(kit, env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('close', () => resolve());
      child.kill('SIGTERM');
    });
  await eventually(() => output.includes('"url"') || child.exitCode !== null, 60_000, 'serve prints its URL');
  if (!output.includes('"url"')) throw new Error(`serve exited ${child.exitCode}:\n${output}`);
  const line = output.split('\n').find((l) => l.includes('"url"'))!;
  return { url: (JSON.parse(line) as { url: string }).url, child, stop };
}
