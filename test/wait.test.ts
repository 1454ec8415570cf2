/** `eventually` (support/wait.ts): what a test sees when a wait fails. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually, StopWaiting } from '../support/wait';

test("a wait that times out names what it waited for and the check's last error", async () => {
  let calls = 0;
  await assert.rejects(
    eventually(
      () => {
        calls += 1;
        throw new Error(`only ${calls} of 5 ready`);
      },
      300,
      'five ready',
    ),
    (err: Error) => {
      assert.match(err.message, /^timed out after 300 ms waiting for: five ready; last error: only \d+ of 5 ready$/);
      assert.equal((err.cause as Error).message, `only ${calls} of 5 ready`);
      return true;
    },
  );
  assert.ok(calls >= 2);
});

test('a check that returns false at the end reports no stale error', async () => {
  let calls = 0;
  await assert.rejects(
    eventually(() => {
      calls += 1;
      if (calls === 1) throw new Error('first call failed');
      return false;
    }, 300),
    (err: Error) => {
      assert.doesNotMatch(err.message, /last error/);
      assert.equal(err.cause, undefined);
      return true;
    },
  );
});

test('a StopWaiting from the check ends the wait at once with that error', async () => {
  let calls = 0;
  const started = Date.now();
  const stop = new StopWaiting('a workflow task failed');
  await assert.rejects(
    eventually(() => {
      calls += 1;
      if (calls === 2) throw stop;
      return false;
    }, 60_000),
    (err: unknown) => err === stop,
  );
  assert.equal(calls, 2);
  assert.ok(Date.now() - started < 5000, `${Date.now() - started} ms`);
});
