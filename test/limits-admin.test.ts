/**
 * `runs.limits` and `durable-runs limits` on a real dev server, with bare Temporal workers: one on
 * the run task queue naming the group `openai` in its identity, one on the group's queue. Rates set
 * are the server's (read back with DescribeTaskQueue); an unknown group and a malformed rate change
 * nothing, and a malformed rate reaches no server at all (a gRPC proxy that refuses every limits
 * call counts none); a server that refuses the call is named in the error.
 */
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { NativeConnection, Worker } from '@temporalio/worker';
import { type LimitGroupInfo, RunLimits, RunsClient, UnknownLimitGroup, ValidationError } from '../src';
import { identityWithGroups, limitQueue } from '../src/limits/groups';
import { startDevServer, type DevServer } from '../src/local/dev-server';
import { eventually } from '../support/wait';
import { durableRunsCli } from './helpers/durable-runs-cli';
import { type GrpcFaultProxy, startGrpcFaultProxy } from './helpers/grpc-fault-proxy';

const TASK_QUEUE = 'limits-admin';
const ACTIVITY = proto.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY;
const LIMITS_CALLS = ['DescribeTaskQueue', 'UpdateTaskQueueConfig'];

let server: DevServer;
let proxy: GrpcFaultProxy;
let workerConnection: NativeConnection;
const workers: Worker[] = [];
const running: Array<Promise<void>> = [];
let connection: Connection;
let runs: RunsClient;
/** The same client through the proxy. */
let proxied: RunsClient;
let proxiedConnection: Connection;

const cli = durableRunsCli(() => ({ address: server.address, taskQueue: TASK_QUEUE }));
const cliViaProxy = durableRunsCli(() => ({ address: proxy.address, taskQueue: TASK_QUEUE }));

async function startWorker(taskQueue: string, identity: string): Promise<void> {
  const worker = await Worker.create({
    connection: workerConnection,
    taskQueue,
    identity,
    activities: { noop: async () => 'ok' },
  });
  workers.push(worker);
  running.push(worker.run());
}

/** The group's queue config as the server holds it, read without durable-runs. */
async function queueConfig(group: string) {
  const { config } = await connection.workflowService.describeTaskQueue({
    namespace: 'default',
    taskQueue: { name: limitQueue(TASK_QUEUE, group) },
    taskQueueType: ACTIVITY,
    reportConfig: true,
  });
  return config;
}

/** The group's rates as the server holds them. */
async function serverConfig(group: string) {
  const config = await queueConfig(group);
  return {
    rate: config?.queueRateLimit?.rateLimit?.requestsPerSecond ?? null,
    perTenant: config?.fairnessKeysRateLimitDefault?.rateLimit?.requestsPerSecond ?? null,
  };
}

/**
 * Waits until `read()` gives `expected`. For a few milliseconds after an update, DescribeTaskQueue
 * may still answer with the config from before it (seen on server 1.32); a value that stays wrong
 * fails with the difference.
 */
async function reads<T>(read: () => Promise<T>, expected: T, what = 'the server answers as expected'): Promise<void> {
  let last: T | undefined;
  try {
    await eventually(async () => isDeepStrictEqual((last = await read()), expected), 10_000, what);
  } catch (err) {
    if (last !== undefined) assert.deepEqual(last, expected, what);
    throw err;
  }
}

before(async () => {
  server = await startDevServer({ dbFile: false });
  proxy = await startGrpcFaultProxy(server.address);
  workerConnection = await NativeConnection.connect({ address: server.address });
  await startWorker(TASK_QUEUE, identityWithGroups('w1', ['openai']));
  await startWorker(limitQueue(TASK_QUEUE, 'openai'), 'w1');
  // A worker on a group's queue that no worker on the run task queue names.
  await startWorker(limitQueue(TASK_QUEUE, 'solo'), 'w2');
  connection = await Connection.connect({ address: server.address });
  runs = await RunsClient.connect({ connection, taskQueue: TASK_QUEUE });
  proxiedConnection = await Connection.connect({ address: proxy.address });
  proxied = await RunsClient.connect({ connection: proxiedConnection, taskQueue: TASK_QUEUE });
  // Pollers show in DescribeTaskQueue once the workers poll.
  await eventually(
    async () => {
      const [openai] = await runs.limits.list();
      return openai?.workers === 1 && (await runs.limits.get('solo')).workers === 1;
    },
    30_000,
    'the workers poll',
  );
});

after(async () => {
  for (const worker of workers) worker.shutdown();
  await Promise.all(running);
  await workerConnection?.close();
  await connection?.close();
  await proxiedConnection?.close();
  await proxy?.close();
  await server?.stop();
});

const openai = (rest: Partial<LimitGroupInfo> = {}): LimitGroupInfo => ({
  group: 'openai',
  taskQueue: `${TASK_QUEUE}.limit.openai`,
  rate: null,
  perTenant: null,
  workers: 1,
  ...rest,
});

describe('runs.limits', () => {
  test('list names the groups live workers serve, with their queue and workers', async () => {
    await reads(() => runs.limits.list(), [openai()]);
    await reads(() => runs.limits.get('openai'), openai());
  });

  test('set, get and off round-trip through the server; a setting left out stays', async () => {
    assert.deepEqual(
      await runs.limits.set('openai', { rate: '20/s', perTenant: '2/s' }),
      openai({ rate: 20, perTenant: 2 }),
    );
    await reads(() => serverConfig('openai'), { rate: 20, perTenant: 2 });
    await reads(() => runs.limits.get('openai'), openai({ rate: 20, perTenant: 2 }));
    await reads(() => runs.limits.list(), [openai({ rate: 20, perTenant: 2 })]);

    assert.deepEqual(await runs.limits.set('openai', { rate: '120/m' }), openai({ rate: 2, perTenant: 2 }));
    assert.deepEqual(await runs.limits.set('openai', { perTenant: 0.5 }), openai({ rate: 2, perTenant: 0.5 }));
    assert.deepEqual(await runs.limits.set('openai', { rate: 'off' }), openai({ perTenant: 0.5 }));
    assert.deepEqual(await runs.limits.set('openai', { perTenant: null }), openai());
    await reads(() => serverConfig('openai'), { rate: null, perTenant: null });
    await reads(() => runs.limits.get('openai'), openai());
  });

  test('the server records who set the limit and why', async () => {
    await runs.limits.set('openai', { rate: '5/s' });
    const metadata = async () => {
      const { reason, updateIdentity } = (await queueConfig('openai'))?.queueRateLimit?.metadata ?? {};
      return { reason, updateIdentity };
    };
    await reads(metadata, { reason: 'durable-runs limits set', updateIdentity: runs.temporal.options.identity });
    await runs.limits.set('openai', { rate: 'off' });
  });

  test('a group is known by a worker on its queue, or by a limit set on it, even when no worker names it', async () => {
    assert.deepEqual(await runs.limits.get('solo'), {
      group: 'solo',
      taskQueue: `${TASK_QUEUE}.limit.solo`,
      rate: null,
      perTenant: null,
      workers: 1,
    });
    // Set by hand (temporal task-queue config set): it can be read and lifted, and then it is unknown.
    await connection.workflowService.updateTaskQueueConfig({
      namespace: 'default',
      identity: 'by hand',
      taskQueue: limitQueue(TASK_QUEUE, 'retired'),
      taskQueueType: ACTIVITY,
      updateQueueRateLimit: { rateLimit: { requestsPerSecond: 3 }, reason: 'by hand' },
    });
    const retired = { group: 'retired', taskQueue: `${TASK_QUEUE}.limit.retired`, perTenant: null, workers: 0 };
    await reads(() => runs.limits.get('retired'), { ...retired, rate: 3 });
    assert.deepEqual(await runs.limits.set('retired', { rate: 'off' }), { ...retired, rate: null });
    await eventually(
      () =>
        runs.limits.get('retired').then(
          () => false,
          (err: unknown) => {
            if (err instanceof UnknownLimitGroup) return true;
            throw err;
          },
        ),
      10_000,
      'a group whose last limit is lifted is unknown',
    );
    assert.deepEqual(
      (await runs.limits.list()).map((g) => g.group),
      ['openai'],
    );
  });

  test('an unknown group is refused, naming it and how to make it known, and nothing changes', async () => {
    const refusal = (err: unknown) => {
      assert.ok(err instanceof UnknownLimitGroup);
      assert.equal(err.group, 'anthropic');
      assert.equal(
        err.message,
        `limit group "anthropic" is unknown: no worker serves it and it has no limits set; register a runner with limited(runner, 'anthropic') and start a worker with it (limits list names the groups workers serve)`,
      );
      return true;
    };
    await assert.rejects(runs.limits.set('anthropic', { rate: '5/s', perTenant: '1/s' }), refusal);
    await assert.rejects(runs.limits.get('anthropic'), refusal);
    await reads(() => serverConfig('anthropic'), { rate: null, perTenant: null });
    assert.deepEqual(
      (await runs.limits.list()).map((g) => g.group),
      ['openai'],
    );
  });

  test('a bad group name or a malformed rate is refused before any call, naming what was wrong', async () => {
    await runs.limits.set('openai', { perTenant: '2/s' });
    const refusedBefore = proxy.refusals.length;
    proxy.refuse(LIMITS_CALLS, { code: 7, message: 'no limits calls in this test' });
    try {
      const cases: Array<[() => Promise<unknown>, string]> = [
        [() => proxied.limits.set('openai', { rate: '20/h' }), 'rate: the string "20/h" is not a rate'],
        [() => proxied.limits.set('openai', { rate: '-1/s' }), 'rate: the string "-1/s" is not a rate'],
        [() => proxied.limits.set('openai', { rate: 'fast' }), 'rate: the string "fast" is not a rate'],
        [() => proxied.limits.set('openai', { rate: '' }), 'rate: the string "" is not a rate'],
        [() => proxied.limits.set('openai', { rate: Number.NaN }), 'rate: number NaN is not a finite rate'],
        [() => proxied.limits.set('openai', { rate: Infinity }), 'rate: number Infinity is not a finite rate'],
        [() => proxied.limits.set('openai', { rate: '0/s' }), 'would stop every step of the group'],
        // One bad setting and one good: neither is made.
        [
          () => proxied.limits.set('openai', { rate: '20/s', perTenant: '2/h' }),
          'perTenant: the string "2/h" is not a rate',
        ],
        [() => proxied.limits.set('openai', {}), 'limits.set: give rate, perTenant or both'],
        [
          () => proxied.limits.set('openai', { rat: '20/s' } as never),
          'limits.set: unknown setting rat (the settings are rate and perTenant)',
        ],
        [() => proxied.limits.set('open ai', { rate: '20/s' }), 'limit group "open ai": a group\'s name is 1–63'],
        [() => proxied.limits.get('-openai'), 'limit group "-openai": a group\'s name is 1–63'],
      ];
      for (const [call, message] of cases) {
        await assert.rejects(call(), (err: Error) => {
          assert.ok(err instanceof ValidationError, err.message);
          assert.ok(err.message.includes(message), `${err.message} should say ${message}`);
          return true;
        });
      }
      assert.equal(proxy.refusals.length, refusedBefore, 'no limits call reached the proxy');
    } finally {
      proxy.refuse([]);
    }
    await reads(() => serverConfig('openai'), { rate: null, perTenant: 2 });
    await runs.limits.set('openai', { perTenant: 'off' });
  });

  test('a server that refuses the call: the error says what failed and carries the server error', async () => {
    proxy.refuse(['UpdateTaskQueueConfig'], { code: 12, message: 'method UpdateTaskQueueConfig not enabled' });
    try {
      await assert.rejects(proxied.limits.set('openai', { rate: '20/s' }), (err: Error) => {
        assert.equal(
          err.message,
          `limits: setting the limits of group "openai" (task queue ${TASK_QUEUE}.limit.openai) failed: method UpdateTaskQueueConfig not enabled`,
        );
        assert.equal((err.cause as { code?: number }).code, 12);
        return true;
      });
    } finally {
      proxy.refuse([]);
    }
    await reads(() => serverConfig('openai'), { rate: null, perTenant: null });
    const elsewhere = new RunLimits(new Client({ connection, namespace: 'no-such-namespace' }), TASK_QUEUE);
    await assert.rejects(elsewhere.list(), {
      message: `limits: listing the workers of task queue ${TASK_QUEUE} failed: Namespace no-such-namespace is not found.`,
    });
  });
});

describe('durable-runs limits', () => {
  test('set, get and list, as text and --json', async () => {
    const set = await cli('limits', 'set', 'openai', '--rate', '20/s', '--per-tenant', '2/s');
    assert.equal(set.code, 0, set.stderr);
    assert.equal(set.stdout, `openai  rate 20/s  per tenant 2/s  workers 1  (task queue ${TASK_QUEUE}.limit.openai)\n`);
    await reads(() => serverConfig('openai'), { rate: 20, perTenant: 2 });

    const get = await cli('limits', 'get', 'openai', '--json');
    assert.equal(get.code, 0, get.stderr);
    assert.deepEqual(JSON.parse(get.stdout), openai({ rate: 20, perTenant: 2 }));

    const off = await cli('limits', 'set', 'openai', '--rate', 'off', '--json');
    assert.equal(off.code, 0, off.stderr);
    assert.deepEqual(JSON.parse(off.stdout), openai({ perTenant: 2 }));
    await reads(() => serverConfig('openai'), { rate: null, perTenant: 2 });

    const list = await cli('limits', 'list', '--json');
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(JSON.parse(list.stdout), [openai({ perTenant: 2 })]);
    const text = await cli('limits', 'list');
    assert.equal(text.stdout, `openai  rate off  per tenant 2/s  workers 1  (task queue ${TASK_QUEUE}.limit.openai)\n`);
    assert.equal((await cli('limits', 'set', 'openai', '--per-tenant', 'off')).code, 0);
    await reads(() => serverConfig('openai'), { rate: null, perTenant: null });
  });

  test('bad input exits 2 with one line naming it, before any call; an unknown group exits 4 and changes nothing', async () => {
    const refusedBefore = proxy.refusals.length;
    proxy.refuse(LIMITS_CALLS, { code: 7, message: 'no limits calls in this test' });
    try {
      const cases: Array<[string[], string]> = [
        [
          ['limits', 'set', 'openai', '--rate', '20/h'],
          `durable-runs: --rate: the string "20/h" is not a rate; give a positive rate per second or per minute (20/s, 0.5/s, 120/m), a number per second, or off\n`,
        ],
        [
          ['limits', 'set', 'openai', '--rate', '20/s', '--per-tenant', '0/s'],
          `durable-runs: --per-tenant: the string "0/s" would stop every step of the group (to lift a limit, give off); give a positive rate per second or per minute (20/s, 0.5/s, 120/m), a number per second, or off\n`,
        ],
        [
          ['limits', 'set', 'openai', '--json'],
          'durable-runs: limits set: give --rate, --per-tenant or both (off lifts a limit)\n',
        ],
        [
          ['limits', 'get', 'open.ai'],
          `durable-runs: limit group "open.ai": a group's name is 1–63 letters, digits, "-" or "_", starting with a letter or digit\n`,
        ],
      ];
      for (const [args, stderr] of cases) {
        const result = await cliViaProxy(...args);
        assert.equal(result.code, 2, args.join(' '));
        assert.equal(result.stderr, stderr);
        assert.equal(result.stdout, '');
      }
      assert.equal(proxy.refusals.length, refusedBefore, 'no limits call reached the proxy');
    } finally {
      proxy.refuse([]);
    }

    const unknown = await cli('limits', 'set', 'anthropic', '--rate', '5/s');
    assert.equal(unknown.code, 4);
    assert.match(unknown.stderr, /^durable-runs: limit group "anthropic" is unknown: .*limited\(runner, 'anthropic'\)/);
    await reads(() => serverConfig('anthropic'), { rate: null, perTenant: null });
    assert.equal((await cli('limits', 'get', 'anthropic', '--json')).code, 4);
    await reads(() => serverConfig('openai'), { rate: null, perTenant: null });
  });
});
