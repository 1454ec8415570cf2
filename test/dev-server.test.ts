/**
 * The dev-server helper the process-fault tests stand on: a real `temporal server start-dev` that
 * keeps its state in SQLite across a restart on the same port, and is gone after `stop()`.
 */
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { type DevServer, startDevServer } from '../src/local/dev-server';
import { eventually } from '../support/wait';

async function connect(server: DevServer): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect({ address: server.address });
  return { client: new Client({ connection, namespace: server.namespace }), connection };
}

async function listIds(client: Client): Promise<string[]> {
  const ids: string[] = [];
  for await (const execution of client.workflow.list()) ids.push(execution.workflowId);
  return ids;
}

test('a workflow started before a restart is still there after it (same port, same SQLite file)', async (t) => {
  const server = await startDevServer();
  t.after(() => server.stop());
  assert.match(server.address, /^127\.0\.0\.1:\d+$/);
  assert.equal(server.address, `127.0.0.1:${server.port}`);
  const { dbFile } = server;
  assert.ok(dbFile !== false && existsSync(dbFile), 'the SQLite file exists');
  const firstPid = server.process.pid;

  const first = await connect(server);
  const { namespaceInfo } = await first.connection.workflowService.describeNamespace({ namespace: 'default' });
  assert.equal(namespaceInfo?.name, 'default');
  assert.deepEqual(await listIds(first.client), [], 'a fresh database holds no workflows');
  // No worker polls this task queue: the workflow stays Running, which only persistence can keep.
  await first.client.workflow.start('noSuchWorkflow', {
    taskQueue: 'dev-server-test',
    workflowId: 'survives-restart',
    args: [],
  });
  await eventually(async () => (await listIds(first.client)).includes('survives-restart'));
  await first.connection.close();

  await server.restart();
  assert.notEqual(server.process.pid, firstPid, 'a new server process');
  assert.equal(server.process.exitCode, null);
  assert.ok(statSync(dbFile).size > 0, 'the SQLite file holds the state');

  const second = await connect(server);
  try {
    const description = await second.client.workflow.getHandle('survives-restart').describe();
    assert.equal(description.status.name, 'RUNNING');
    assert.equal(description.type, 'noSuchWorkflow');
    assert.deepEqual(await listIds(second.client), ['survives-restart']);
  } finally {
    await second.connection.close();
  }

  const stopped = server.process;
  await server.stop();
  assert.ok(stopped.exitCode !== null || stopped.signalCode !== null, 'the process has exited');
  await assert.rejects(Connection.connect({ address: server.address, connectTimeout: 1000 }));
  await server.stop();
});

test('a custom namespace is created and the UI serves when a UI port is asked for', async (t) => {
  const server = await startDevServer({ namespace: 'dev-server-test', uiPort: 0 });
  t.after(() => server.stop());
  assert.equal(server.namespace, 'dev-server-test');
  assert.ok(server.uiUrl, 'a UI URL');
  const response = await fetch(server.uiUrl);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /text\/html/);

  const { client, connection } = await connect(server);
  try {
    assert.deepEqual(await listIds(client), []);
  } finally {
    await connection.close();
  }
});

test('a server that exits during start-up is started again, then the error names what it printed', async () => {
  const noise: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => {
    noise.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    await assert.rejects(startDevServer({ dbFile: false, extraArgs: ['--no-such-flag'] }), (err: Error) => {
      assert.match(err.message, /temporal server start-dev on 127\.0\.0\.1:\d+ exited with code 1: .*no-such-flag/s);
      return true;
    });
  } finally {
    process.stderr.write = write;
  }
  // Three attempts: the first two said they start it again.
  assert.deepEqual(
    noise.filter((line) => line.includes('starting it again')).map((line) => /\((\d)\/3\)/.exec(line)?.[1]),
    ['2', '3'],
  );
});
