import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { resolveTemporalCli } from '../../src/temporal-binaries';
import { freePort } from './net';

/** A real `temporal server start-dev` with a SQLite file, restartable on the same port and file. */
export interface TemporalServer {
  address: string;
  dbFile: string;
  stop(): Promise<void>;
  restart(): Promise<void>;
}

export async function startTemporalServer(): Promise<TemporalServer> {
  const cli = resolveTemporalCli();
  if (!cli) throw new Error('Temporal CLI not found (npm run temporal:install)');
  const port = await freePort();
  const dbFile = join(mkdtempSync(join(tmpdir(), 'temporal-db-')), 'temporal.sqlite');
  const address = `127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const kill = () => child?.kill('SIGKILL');
  process.once('exit', kill);

  const start = async () => {
    child = spawn(
      cli,
      [
        'server',
        'start-dev',
        '--headless',
        '--ip',
        '127.0.0.1',
        '--port',
        String(port),
        '--db-filename',
        dbFile,
        '--log-level',
        'error',
      ],
      { stdio: 'ignore' },
    );
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        const connection = await Connection.connect({ address, connectTimeout: 1000 });
        await connection.workflowService.getSystemInfo({});
        await connection.close();
        return;
      } catch (err) {
        if (Date.now() > deadline || child.exitCode !== null)
          throw new Error(`dev server did not start: ${String(err)}`, { cause: err });
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  };
  const stop = async () => {
    const current = child;
    if (!current || current.exitCode !== null) return;
    const exited = new Promise((r) => current.once('exit', r));
    current.kill('SIGTERM');
    const timer = setTimeout(() => current.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  await start();
  return {
    address,
    dbFile,
    stop,
    async restart() {
      await stop();
      await start();
    },
  };
}
