/**
 * The Temporal UI served by the dev server shows a finished run: its status and the `step N`
 * summaries of its step activities. Debian's Chromium, driven by playwright-core; the screenshot
 * is kept in test-artifacts/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { chromium, type Browser } from 'playwright-core';
import { StepOutcome } from '../src';
import { dataConverter } from '../src/client';
import { devServerExecutable } from '../src/temporal-binaries';
import { createTestKit, type TestKit } from '../src/testing';
import { freePort } from './helpers/net';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = join(__dirname, '..', 'test-artifacts');

let env: TestWorkflowEnvironment;
let kit: TestKit;
let browser: Browser;
let uiPort: number;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}: run scripts/install-chromium.sh`);
  uiPort = await freePort();
  env = await TestWorkflowEnvironment.createLocal({
    server: { executable: devServerExecutable(), ip: '127.0.0.1', ui: true, uiPort },
    client: { dataConverter },
  });
  kit = await createTestKit({
    env,
    runners: {
      default: async (s) => (s.stepNumber < 2 ? StepOutcome.continue(null) : StepOutcome.succeed('done')),
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
  await env?.teardown();
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
