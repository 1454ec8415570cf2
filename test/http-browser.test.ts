/**
 * A real browser follows a run over the HTTP API: Debian's Chromium (playwright-core) opens an
 * `EventSource` on `GET /v1/runs/{id}/stream` of a `durable-runs serve` process; the process is
 * stopped mid-run (the connection drops) and another started on the same port; the browser
 * reconnects by itself with `Last-Event-ID` and gets every chunk once, in order, then `closed`.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { StepOutcome, type StepRunner } from '../src';
import { freePort } from '../src/local/dev-server';
import { createTestKit, type TestKit } from '../src/testing';
import { eventually } from '../support/wait';
import { type ServeProcess, startServe } from './helpers/serve';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const runners: Record<string, StepRunner> = {
  /** Step 0 streams a0–a2 and waits for `go`; step 1 streams b0–b2 and succeeds. */
  ticker: async (step) => {
    const prefix = step.stepNumber === 0 ? 'a' : 'b';
    for (let i = 0; i < 3; i++) step.stream(`${prefix}${i}`);
    return step.stepNumber === 0 ? StepOutcome.waitForEvent(null, { events: 'go' }) : StepOutcome.succeed('ticked');
  },
};

let kit: TestKit;
let browser: Browser;
let server: ServeProcess | undefined;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}: run scripts/install-chromium.sh`);
  kit = await createTestKit({ runners, server: 'local', encryptionKeys: false });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await kit?.teardown();
});

interface Seen {
  type: string;
  id: string;
  data: unknown;
}

test("Chromium's EventSource follows a run's stream and resumes with Last-Event-ID after the connection drops", async () => {
  const port = await freePort();
  server = await startServe(kit, ['--port', String(port)]);
  const runId = 'browser-stream-1';
  await kit.client.submit({ input: null, runner: 'ticker', runId });

  const page = await browser.newPage();
  await page.goto(`${server.url}/healthz`);
  // The page's own script, as a browser runs it (no Node, no TypeScript).
  await page.evaluate(`
    window.seen = [];
    window.errors = 0;
    window.done = false;
    const source = new EventSource(${JSON.stringify(`/v1/runs/${runId}/stream`)});
    for (const type of ['chunk', 'retract', 'gap', 'closed']) {
      source.addEventListener(type, (event) => {
        window.seen.push({ type, id: event.lastEventId, data: JSON.parse(event.data) });
        if (type === 'closed') {
          window.done = true;
          source.close();
        }
      });
    }
    source.onerror = () => { window.errors += 1; };
  `);

  const seen = () => page.evaluate('window.seen') as Promise<Seen[]>;
  await eventually(async () => (await seen()).length === 3, 30_000, 'the browser has step 0’s chunks');

  // The server goes away mid-stream; another takes its port (servers keep nothing of a stream).
  await server.stop();
  await eventually(
    async () => ((await page.evaluate('window.errors')) as number) > 0,
    10_000,
    'the browser saw the connection drop',
  );
  assert.equal(await kit.client.sendEvent(runId, 'go'), true);
  server = await startServe(kit, ['--port', String(port)]);
  await eventually(
    async () => (await page.evaluate('window.done')) === true,
    60_000,
    'the browser reconnected and read the stream to its end',
  );

  const events = await seen();
  const chunks = events.filter((e) => e.type === 'chunk');
  assert.deepEqual(
    chunks.map((e) => [e.id, (e.data as { data: unknown }).data]),
    [
      ['0', 'a0'],
      ['1', 'a1'],
      ['2', 'a2'],
      ['3', 'b0'],
      ['4', 'b1'],
      ['5', 'b2'],
    ],
    'every chunk once, in order: the reconnect resumed after offset 2',
  );
  const closed = events.at(-1)!;
  assert.equal(closed.type, 'closed');
  assert.equal((closed.data as { outcome: { result: unknown } }).outcome.result, 'ticked');
  await page.close();
});
