/**
 * The Temporal UI served by the dev server shows a finished run (its status and the `step N`
 * summaries of its step activities), what a waiting run waits for (its current details), a parent
 * run's children (its Relationships tab) and, through the codec server, an encrypted run's input
 * decrypted. Debian's Chromium, driven by playwright-core; the screenshots are kept in
 * test-artifacts/.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { chromium, type Browser } from 'playwright-core';
import { StepOutcome } from '../src';
import { dataConverter } from '../src/client';
import { type CodecServer, startCodecServer } from '../src/payloads/codec-server';
import { EncryptionKeys } from '../src/payloads/encryption';
import { devServerExecutable } from '../src/local/temporal-binaries';
import { createTestKit, type TestKit } from '../src/testing';
import { freePort, STATE_ATTRIBUTE_ARGS } from '../src/local/dev-server';
import { eventually } from '../support/wait';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = join(__dirname, '..', 'test-artifacts');

let env: TestWorkflowEnvironment;
let kit: TestKit;
let browser: Browser;
let uiPort: number;
let codec: CodecServer;
let encrypted: TestKit;
const KEYS = `ui:${randomBytes(32).toString('base64')}`;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}: run scripts/install-chromium.sh`);
  uiPort = await freePort();
  // As `durable-runs dev` does: the UI calls the codec server from the browser, token in the path.
  codec = await startCodecServer({
    keys: EncryptionKeys.parse(KEYS),
    token: randomBytes(24).toString('base64url'),
    port: 0,
    corsOrigins: [`http://127.0.0.1:${uiPort}`],
  });
  env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: devServerExecutable(),
      ip: '127.0.0.1',
      ui: true,
      uiPort,
      // As `durable-runs dev`: the run-state search attributes registered.
      extraArgs: ['--ui-codec-endpoint', codec.uiEndpoint, ...STATE_ATTRIBUTE_ARGS],
    },
    client: { dataConverter },
  });
  encrypted = await createTestKit({
    env,
    encryptionKeys: KEYS,
    runners: { default: async (s) => StepOutcome.succeed({ shipped: (s.payload as { order: string }).order }) },
  });
  kit = await createTestKit({
    env,
    runners: {
      default: async (s) => (s.stepNumber < 2 ? StepOutcome.continue(null) : StepOutcome.succeed('done')),
      approval: async (s) =>
        s.stepNumber === 0
          ? StepOutcome.waitForEvent(null, { events: ['approve', 'reject'] })
          : StepOutcome.succeed(s.event?.name ?? null),
      /** Waits up to an hour for approve or reject (a labelled timer). */
      approvalTimed: async (s) =>
        s.stepNumber === 0
          ? StepOutcome.waitForEvent(null, { events: ['approve', 'reject'], timeout: '1h' })
          : StepOutcome.succeed(s.event?.name ?? null),
      /** Sleeps an hour before step 1. */
      sleeper: async (s) => (s.stepNumber === 0 ? StepOutcome.continueAfter(null, '1h') : StepOutcome.succeed('slept')),
      parent: async (s) =>
        s.stepNumber === 0
          ? StepOutcome.runChildren(null, [{ input: 1 }, { input: 2 }])
          : StepOutcome.succeed(s.children?.map((c) => c.status) ?? null),
    },
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

after(async () => {
  await browser?.close();
  await kit?.teardown();
  await encrypted?.teardown();
  await env?.teardown();
  await codec?.close();
});

test("a finished run's page shows its status and step summaries", async () => {
  const { runId } = await kit.client.submit({ runId: 'ui-demo', input: null });
  assert.equal((await kit.client.result(runId)).status, 'succeeded');
  const page = await browser.newPage({ viewport: { width: 1400, height: 1800 } });
  await page.goto(`http://127.0.0.1:${uiPort}/namespaces/default/workflows/${runId}`, { waitUntil: 'networkidle' });
  await page.getByText('step 2').first().waitFor({ timeout: 30_000 });
  const text = await page.locator('body').innerText();
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'ui-finished-run.png'), fullPage: true });
  assert.match(text, /Completed/i);
  for (const summary of ['step 0', 'step 1', 'step 2']) assert.ok(text.includes(summary), `${summary} visible`);
  assert.ok(text.includes(runId));
});

test("a waiting run's page says what it waits for", async () => {
  const { runId } = await kit.client.submit({ runId: 'ui-waiting', input: null, runner: 'approval' });
  await eventually(async () => (await kit.client.status(runId)).state === 'waiting');
  const page = await browser.newPage({ viewport: { width: 1400, height: 1800 } });
  // A running workflow's page keeps polling: it never goes network-idle.
  await page.goto(`http://127.0.0.1:${uiPort}/namespaces/default/workflows/${runId}`, { waitUntil: 'load' });
  // The run's current details are under the "User Metadata" tab.
  await page.getByText('User Metadata').first().click({ timeout: 30_000 });
  // The UI renders current details (markdown) in a sandboxed frame.
  await eventually(
    async () => {
      for (const frame of page.frames()) {
        const text = await frame
          .locator('body')
          .innerText()
          .catch(() => '');
        if (text.includes('waiting for approve or reject')) return true;
      }
      return false;
    },
    30_000,
    'the current details say what the run waits for',
  );
  await page.screenshot({ path: join(ARTIFACTS, 'ui-waiting-run.png'), fullPage: true });
  assert.equal(await kit.client.sendEvent(runId, 'approve'), true);
  assert.equal((await kit.client.result(runId)).result, 'approve');
});

test("a parent run's Relationships tab lists its child runs", async () => {
  const { runId } = await kit.client.submit({ runId: 'ui-parent', input: null, runner: 'parent' });
  assert.deepEqual((await kit.client.result(runId)).result, ['succeeded', 'succeeded']);
  const page = await browser.newPage({ viewport: { width: 1400, height: 1800 } });
  await page.goto(`http://127.0.0.1:${uiPort}/namespaces/default/workflows/${runId}`, { waitUntil: 'networkidle' });
  await page.getByText('Relationships').first().click({ timeout: 30_000 });
  await page.getByText('ui-parent-0-1').first().waitFor({ timeout: 30_000 });
  const text = await page.locator('body').innerText();
  await page.screenshot({ path: join(ARTIFACTS, 'ui-parent-run.png'), fullPage: true });
  for (const child of ['ui-parent-0-0', 'ui-parent-0-1']) assert.ok(text.includes(child), `${child} listed`);
});

test("an encrypted run's page shows its input and result decrypted, through the codec server", async () => {
  const order = `ui-order-${randomBytes(4).toString('hex')}`;
  const { runId } = await encrypted.client.submit({ runId: 'ui-encrypted', input: { order } });
  assert.deepEqual((await encrypted.client.result(runId)).result, { shipped: order });
  // The server holds ciphertext only: whatever shows the order decrypted it.
  const { history } = await env.client.workflowService.getWorkflowExecutionHistory({
    namespace: 'default',
    execution: { workflowId: runId },
  });
  const input = history!.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
  assert.equal(Buffer.from(input.metadata!.encoding!).toString(), 'binary/encrypted');
  assert.ok(!JSON.stringify(history).includes(order) && !Buffer.from(input.data!).includes(order));

  const page = await browser.newPage({ viewport: { width: 1400, height: 1800 } });
  await page.goto(`http://127.0.0.1:${uiPort}/namespaces/default/workflows/${runId}`, { waitUntil: 'networkidle' });
  await eventually(
    async () => (await page.locator('body').innerText()).includes(order),
    30_000,
    'the page shows the decrypted order',
  );
  await page.screenshot({ path: join(ARTIFACTS, 'ui-encrypted-run.png'), fullPage: true });
  const text = await page.locator('body').innerText();
  assert.ok(text.includes(`"shipped": "${order}"`) || text.includes(`"shipped":"${order}"`), 'the result too');
});

/** The text of the page and of every frame in it (the UI renders Markdown in sandboxed frames). */
async function allText(page: import('playwright-core').Page): Promise<string> {
  const parts = [];
  for (const frame of page.frames()) {
    parts.push(
      await frame
        .locator('body')
        .innerText()
        .catch(() => ''),
    );
  }
  // The UI's Markdown makes straight quotes curly.
  return parts.join('\n').replace(/[“”]/g, '"');
}

test("a run's page shows its summary and its wait's labelled timer", async () => {
  const { runId } = await kit.client.submit({ runId: 'ui-story', runner: 'approvalTimed', input: { order: 'A-17' } });
  try {
    await eventually(async () => (await kit.client.status(runId)).state === 'waiting');
    const page = await browser.newPage({ viewport: { width: 1400, height: 2200 } });
    await page.goto(`http://127.0.0.1:${uiPort}/namespaces/default/workflows/${runId}`, { waitUntil: 'load' });
    // The timeline names the wait's timer by what it waits for.
    await eventually(
      async () => (await allText(page)).includes('wait for approve | reject'),
      30_000,
      'the timer label',
    );
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'ui-run-story.png'), fullPage: true });
    // The summary and details are under "User Metadata".
    await page.getByText('User Metadata').first().click({ timeout: 30_000 });
    await eventually(
      async () => (await allText(page)).includes('approvalTimed: {"order":"A-17"}'),
      30_000,
      'the summary is shown',
    );
    assert.match(await allText(page), /runner\W+approvalTimed/);
    await page.screenshot({ path: join(ARTIFACTS, 'ui-run-summary.png'), fullPage: true });
  } finally {
    await kit.client.sendEvent(runId, 'approve');
  }
  assert.equal((await kit.client.result(runId)).result, 'approve');
});

test('the workflow list filtered on DurableRunsState shows exactly the waiting runs', async () => {
  const waiting = ['ui-filter-w1', 'ui-filter-w2', 'ui-filter-w3'];
  for (const runId of waiting) await kit.client.submit({ runId, runner: 'approvalTimed', input: null });
  await kit.client.submit({ runId: 'ui-filter-sleeps', runner: 'sleeper', input: null });
  await kit.client.submit({ runId: 'ui-filter-done', input: null });
  await kit.client.result('ui-filter-done');
  // Every run this environment holds that waits now, as visibility sees it: exactly these three.
  await eventually(
    async () =>
      JSON.stringify((await kit.client.list({ state: 'waiting' })).map((r) => r.runId).sort()) ===
      JSON.stringify(waiting),
    30_000,
    'visibility has the three waiting runs, and no other',
  );
  assert.equal((await kit.client.status('ui-filter-sleeps')).state, 'sleeping');

  const page = await browser.newPage({ viewport: { width: 1600, height: 1400 } });
  const query = encodeURIComponent('DurableRunsState="waiting"');
  await page.goto(`http://127.0.0.1:${uiPort}/namespaces/default/workflows?query=${query}`, { waitUntil: 'load' });
  await eventually(
    async () => {
      const shown = await page.locator('body').innerText();
      return waiting.every((id) => shown.includes(id));
    },
    30_000,
    'the filtered list shows the waiting runs',
  );
  const text = await page.locator('body').innerText();
  await page.screenshot({ path: join(ARTIFACTS, 'ui-filter-waiting.png'), fullPage: true });
  assert.match(text, /^3\s+Workflows/m, 'the list counts three');
  for (const id of waiting) assert.ok(text.includes(id), `${id} listed`);
  for (const id of ['ui-filter-sleeps', 'ui-filter-done', 'ui-demo', 'ui-story'])
    assert.ok(!text.includes(id), `${id} not listed`);
  for (const id of waiting) await kit.client.sendEvent(id, 'approve');
  await kit.client.cancel('ui-filter-sleeps');
});
