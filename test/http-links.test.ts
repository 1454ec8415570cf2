/**
 * Approval links (contract v3) through a real `durable-runs serve` process with API keys set, a dev
 * server and a worker: `step.eventUrl` makes them; opening one (GET) changes nothing; its first POST
 * continues the run, a second changes nothing; tampered and expired links get 403; no key is needed.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { fastSteps, StepOutcome, type StepRunner } from '../src';
import { createTestKit, type TestKit } from '../src/testing';
import { type ApprovalLinks, approvalRunner, demoServices } from '../examples/approval';
import { eventually } from '../support/wait';
import { BIN, type ServeProcess, serveEnv, startServe } from './helpers/serve';

const SECRET = 'link-secret-for-tests-0123456789';
const KEYS = 'ops:secret-ops-0123456789';

/** The links each run's first step made, by run ID. */
const links = new Map<string, { approve: string; reject: string; expired: string }>();

/** The approval example's mails to the approver, by order. */
const asked = new Map<string, ApprovalLinks>();

const runners: Record<string, StepRunner> = {
  approval: approvalRunner({
    ...demoServices,
    async askApprover(order, _draft, links) {
      asked.set(order, links);
      return { messageId: `msg_${order}` };
    },
  }) as StepRunner,
  /** Step 0 makes links and waits for approve or reject; step 1 succeeds with the event. */
  linked: async (step) => {
    if (step.stepNumber === 0) {
      links.set(step.runId, {
        approve: step.eventUrl('approve', { data: { by: 'ana' } }),
        reject: step.eventUrl('reject', { expiresIn: '1h' }),
        expired: step.eventUrl('approve', { expiresIn: 1 }),
      });
      return StepOutcome.waitForEvent(null, { events: ['approve', 'reject'] });
    }
    return StepOutcome.succeed({ name: step.event?.name, data: step.event?.data });
  },
  /** As `linked`, but step 1 waits again (for `done`), so the run is still open after a link's use. */
  linkedThenWaits: async (step) => {
    if (step.stepNumber === 0) return runners.linked!(step);
    if (step.stepNumber === 1) return StepOutcome.waitForEvent(step.event?.name ?? null, { events: ['done'] });
    return StepOutcome.succeed({ first: step.payload, last: step.event?.name });
  },
  /** Makes a link with DURABLE_RUNS_PUBLIC_URL unset on the worker. */
  noPublicUrl: async (step) => {
    const saved = process.env.DURABLE_RUNS_PUBLIC_URL;
    delete process.env.DURABLE_RUNS_PUBLIC_URL;
    try {
      step.eventUrl('approve');
    } finally {
      process.env.DURABLE_RUNS_PUBLIC_URL = saved;
    }
    return StepOutcome.succeed('unreachable');
  },
  // @ts-expect-error a fast step has no eventUrl (called anyway, it fails the step)
  fastLink: fastSteps(async (step) => StepOutcome.succeed(step.eventUrl('approve'))),
};

let kit: TestKit;
let server: ServeProcess;

before(async () => {
  process.env.DURABLE_RUNS_LINK_SECRET = SECRET;
  kit = await createTestKit({ runners, server: 'local', encryptionKeys: false });
  server = await startServe(kit, [], { DURABLE_RUNS_LINK_SECRET: SECRET, DURABLE_RUNS_API_KEYS: KEYS });
  // The worker makes links that point at this server.
  process.env.DURABLE_RUNS_PUBLIC_URL = server.url;
});

after(async () => {
  await server?.stop();
  await kit?.teardown();
  delete process.env.DURABLE_RUNS_LINK_SECRET;
  delete process.env.DURABLE_RUNS_PUBLIC_URL;
});

const BROWSER = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };

async function linksOf(runId: string) {
  await kit.client.submit({ runId, runner: 'linked', input: null });
  await eventually(async () => links.has(runId) && (await kit.client.status(runId)).state === 'waiting', 30_000);
  return links.get(runId)!;
}

const historyLength = async (runId: string) =>
  ((await kit.client.temporal.workflow.getHandle(runId).fetchHistory()).events ?? []).length;

/** A browser's form post: urlencoded, empty. */
const press = (url: string, headers: Record<string, string> = BROWSER) =>
  fetch(url, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
    body: '',
  });

/** The link with the character at `index` of its token changed. */
function tamper(url: string, index: number): string {
  const at = url.indexOf('/v1/links/') + '/v1/links/'.length + index;
  const ch = url[at]!;
  return url.slice(0, at) + (ch === 'A' ? 'B' : 'A') + url.slice(at + 1);
}

test('GET shows a confirm page and changes nothing; the first POST continues the run; a second changes nothing', async () => {
  const runId = 'links-approve';
  const { approve } = await linksOf(runId);
  assert.ok(approve.startsWith(`${server.url}/v1/links/`), approve);

  const before = await historyLength(runId);
  for (const headers of [BROWSER, {}]) {
    const opened = await fetch(approve, { headers });
    assert.equal(opened.status, 200);
    if (headers === BROWSER) {
      assert.match(opened.headers.get('content-type')!, /^text\/html/);
      assert.equal(opened.headers.get('x-frame-options'), 'DENY');
      assert.equal(opened.headers.get('cache-control'), 'no-store');
      const html = await opened.text();
      assert.match(html, /<form method="post">/);
      assert.ok(html.includes(runId) && html.includes('approve'), html);
    } else {
      const body = (await opened.json()) as { runId: string; event: string; data: unknown };
      assert.deepEqual([body.runId, body.event, body.data], [runId, 'approve', { by: 'ana' }]);
    }
  }
  assert.equal(await historyLength(runId), before);
  assert.equal((await kit.client.status(runId)).state, 'waiting');

  const first = await press(approve);
  assert.equal(first.status, 200);
  assert.match(await first.text(), /<h1>Sent<\/h1>/);
  const outcome = await kit.client.result(runId);
  assert.equal(outcome.status, 'succeeded');
  assert.deepEqual(outcome.result, { name: 'approve', data: { by: 'ana' } });

  const closed = await historyLength(runId);
  const second = await press(approve);
  assert.equal(second.status, 200);
  assert.match(await second.text(), /Already recorded/);
  const again = await press(approve, {});
  assert.equal(again.status, 200);
  assert.equal(((await again.json()) as { duplicate: boolean }).duplicate, true);
  assert.equal(await historyLength(runId), closed);
});

test('a second POST while the run still runs is a duplicate and changes nothing', async () => {
  const runId = 'links-open-twice';
  await kit.client.submit({ runId, runner: 'linkedThenWaits', input: null });
  await eventually(async () => links.has(runId) && (await kit.client.status(runId)).state === 'waiting', 30_000);
  const { approve } = links.get(runId)!;
  const first = await press(approve, {});
  assert.equal(first.status, 200);
  const sent = (await first.json()) as { id: string; duplicate: boolean };
  assert.equal(sent.duplicate, false);
  // Step 1 took the approve and waits for `done`: the run is still open.
  await eventually(async () => {
    const status = await kit.client.status(runId);
    return status.state === 'waiting' && status.step === 1;
  }, 30_000);
  const before = await historyLength(runId);
  for (const headers of [{}, BROWSER]) {
    const again = await press(approve, headers);
    assert.equal(again.status, 200);
    if (headers === BROWSER) assert.match(await again.text(), /Already recorded/);
    else {
      const body = (await again.json()) as { id: string; duplicate: boolean };
      assert.deepEqual([body.id, body.duplicate], [sent.id, true]);
    }
  }
  assert.equal(await historyLength(runId), before, 'a used link wrote nothing to the open run');
  const status = await kit.client.status(runId);
  assert.deepEqual([status.state, status.step, status.pendingEvents ?? 0], ['waiting', 1, 0]);
  assert.equal(await kit.client.sendEvent(runId, 'done'), true);
  const outcome = await kit.client.result(runId);
  assert.equal(outcome.status, 'succeeded');
  // The run saw one approve (step 1's payload) and then done, never a second approve.
  assert.deepEqual(outcome.result, { first: 'approve', last: 'done' });
});

test('another link of a run that closed gets 409', async () => {
  const runId = 'links-reject';
  const { reject, approve } = await linksOf(runId);
  const sent = await press(reject, {});
  assert.equal(sent.status, 200);
  const body = (await sent.json()) as { id: string; duplicate: boolean; event: string };
  assert.equal(body.duplicate, false);
  assert.match(body.id, /^link-/);
  assert.equal(body.event, 'reject');
  assert.equal((await kit.client.result(runId)).status, 'succeeded');
  // The run closed on reject: the approve link was never used.
  const late = await press(approve);
  assert.equal(late.status, 409);
  assert.match(await late.text(), /The run is closed/);
  const lateJson = await press(approve, {});
  assert.equal(lateJson.status, 409);
  assert.equal(((await lateJson.json()) as { error: { code: string } }).error.code, 'run_closed');
});

test('a tampered link (a byte of the payload or of the signature) and an expired one get 403 on GET and POST', async () => {
  const runId = 'links-tampered';
  const { approve, expired } = await linksOf(runId);
  const before = await historyLength(runId);
  const token = approve.slice(approve.indexOf('/v1/links/') + '/v1/links/'.length);
  const dot = token.indexOf('.');
  const bad = [
    tamper(approve, 3),
    tamper(approve, dot - 2),
    tamper(approve, dot + 1),
    tamper(approve, token.length - 1),
  ];
  for (const url of [...bad, expired]) {
    const opened = await fetch(url, { headers: BROWSER });
    assert.equal(opened.status, 403, url);
    assert.match(await opened.text(), /This link does not work/);
    assert.equal((await press(url)).status, 403, url);
    const json = await press(url, {});
    assert.equal(json.status, 403);
    const { error } = (await json.json()) as { error: { code: string; message: string } };
    assert.equal(error.code, 'forbidden');
    assert.match(error.message, url === expired ? /expired/ : /altered/);
  }
  assert.equal(await historyLength(runId), before);
  assert.equal((await kit.client.status(runId)).state, 'waiting');
  // The keyed routes still want a key; the run's own link needs none.
  assert.equal((await fetch(`${server.url}/v1/runs/${runId}`)).status, 401);
  assert.equal((await press(approve)).status, 200);
  assert.equal((await kit.client.result(runId)).status, 'succeeded');
});

test('eventUrl fails the step for good without DURABLE_RUNS_PUBLIC_URL, and in fast steps', async () => {
  await kit.client.submit({ runId: 'links-no-url', runner: 'noPublicUrl', input: null });
  const noUrl = await kit.client.result('links-no-url');
  assert.equal(noUrl.status, 'failed');
  assert.match(noUrl.error ?? '', /DURABLE_RUNS_PUBLIC_URL is not set on this worker/);
  await kit.client.submit({ runId: 'links-fast', runner: 'fastLink', input: null });
  const fast = await kit.client.result('links-fast');
  assert.equal(fast.status, 'failed');
  assert.match(fast.error ?? '', /step\.eventUrl is not available in fast steps/);
});

test('the approval example mails approve and reject links: reject redrafts with a new pair, approve refunds', async () => {
  const { runId } = await kit.client.submit({ input: { order: 'L-1', amount: 9 }, runner: 'approval' });
  await eventually(() => asked.has('L-1'), 30_000);
  const first = asked.get('L-1')!;
  assert.ok(first.approve.startsWith(`${server.url}/v1/links/`), first.approve);
  asked.delete('L-1');
  assert.equal((await press(first.reject)).status, 200);
  await eventually(() => asked.has('L-1'), 30_000);
  assert.equal((await press(asked.get('L-1')!.approve)).status, 200);
  const outcome = await kit.client.result(runId);
  assert.equal(outcome.status, 'succeeded');
  assert.match((outcome.result as { draft: string }).draft, /\(rejected from the email link\)/);
});

test('serve with a DURABLE_RUNS_LINK_SECRET under 16 characters exits 2 naming it, before connecting', async () => {
  const answer = await promisify(execFile)(process.execPath, [BIN, 'serve', '--port', '0'], {
    env: { ...serveEnv(kit, { DURABLE_RUNS_LINK_SECRET: 'short' }), TEMPORAL_ADDRESS: '127.0.0.1:1' },
  }).then(
    () => ({ code: 0, stderr: '' }),
    (err: { code: number; stderr: string }) => err,
  );
  assert.equal(answer.code, 2);
  assert.match(answer.stderr, /^durable-runs: DURABLE_RUNS_LINK_SECRET must be at least 16 characters/);
});
