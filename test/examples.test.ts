/**
 * The examples users copy: the agent loop (scripted model) and the pipeline with `continueAfter`
 * and a terminal webhook, run on the time-skipping server.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { agentRunner, openAiModel, scriptedModel, type Model } from '../examples/agent';
import { approvalRunner, demoServices, type ApprovalServices } from '../examples/approval';
import runners from '../examples/runners';
import { createTestKit, type TestKit } from '../src/testing';
import { startReceiver, type Receiver } from '../support/receiver';
import { eventually } from '../support/wait';

let kit: TestKit;
let receiver: Receiver;
const decisions: string[] = [];
const recordingModel: Model = {
  async decide(messages, signal) {
    const decision = await scriptedModel.decide(messages, signal);
    decisions.push(JSON.stringify(decision));
    return decision;
  },
};

/** Services that count calls; the first email fails, so the approve step is retried. */
const calls = { refund: 0, email: 0 };
const countingServices: ApprovalServices = {
  async refund(order, amount) {
    calls.refund++;
    return demoServices.refund(order, amount);
  },
  async sendEmail(to, body) {
    if (++calls.email === 1) throw new Error('SMTP 421, try again');
    return demoServices.sendEmail(to, body);
  },
};

before(async () => {
  receiver = await startReceiver();
  kit = await createTestKit({
    runners: { ...runners, recorded: agentRunner(recordingModel), approvalCounted: approvalRunner(countingServices) },
    webhook: { allowPrivate: true },
  });
});
after(async () => {
  await kit?.teardown();
  await receiver?.close();
});

test('agent: the model calls the calculator, then answers', async () => {
  const { runId } = await kit.client.submit({ input: 'What is 6 times 7?', runner: 'recorded' });
  const outcome = await kit.client.result(runId);
  assert.equal(outcome.status, 'succeeded');
  assert.equal(outcome.result, 'The answer is 42.');
  assert.equal(outcome.finalStep, 1);
  assert.deepEqual(decisions, [
    '{"tool":"calculator","args":{"expression":"6 * 7"}}',
    '{"answer":"The answer is 42."}',
  ]);
});

test('agent: a tool that refuses its input fails the run with the reason', async () => {
  const evil: Model = { decide: async () => ({ tool: 'calculator', args: { expression: 'process.exit()' } }) };
  const local = await createTestKit({ env: kit.env, runners: { default: agentRunner(evil) }, webhook: false });
  try {
    const { runId } = await local.client.submit({ input: 'break it' });
    const outcome = await local.client.result(runId);
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.error, 'calculator refuses "process.exit()"');
  } finally {
    await local.teardown();
  }
});

test('agent: any OpenAI-compatible endpoint drives the loop (a local one here)', async () => {
  const requests: Array<{ auth?: string; body: { model: string; messages: Array<{ content: string }> } }> = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const body = JSON.parse(raw) as { model: string; messages: Array<{ content: string }> };
      requests.push({ auth: req.headers.authorization, body });
      const decision =
        requests.length === 1 ? { tool: 'calculator', args: { expression: '2 + 3' } } : { answer: 'five' };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ choices: [{ message: { content: JSON.stringify(decision) } }] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const local = await createTestKit({
    env: kit.env,
    runners: { default: agentRunner(openAiModel(`http://127.0.0.1:${port}/v1`, 'sk-test', 'test-model')) },
    webhook: false,
  });
  try {
    const { runId } = await local.client.submit({ input: 'add two and three' });
    const outcome = await local.client.result(runId);
    assert.equal(outcome.result, 'five');
    assert.equal(requests.length, 2);
    assert.equal(requests[0]?.auth, 'Bearer sk-test');
    assert.equal(requests[0]?.body.model, 'test-model');
    assert.equal(requests[1]?.body.messages.at(-1)?.content, 'tool result: 5');
  } finally {
    await local.teardown();
    server.close();
  }
});

test('pipeline: waits with continueAfter, succeeds, and posts the terminal webhook', async () => {
  const { runId } = await kit.client.submit({
    input: { document: 'invoice-17.pdf' },
    runner: 'pipeline',
    headers: { callback_url: `${receiver.url}/pipeline` },
  });
  const outcome = await kit.client.result(runId);
  assert.deepEqual(outcome.result, {
    document: 'invoice-17.pdf',
    pages: 1,
    summary: 'invoice-17.pdf: 1 page(s), OCR ready',
  });
  assert.equal(outcome.finalStep, 3);
  const history = await kit.client.temporal.workflow.getHandle(runId).fetchHistory();
  assert.equal(history.events?.filter((e) => e.timerStartedEventAttributes).length, 2, 'two durable timers');
  await eventually(() => receiver.to('/pipeline').length === 1);
  const [req] = receiver.to('/pipeline');
  assert.equal(req?.headers['workflow-run-status'], 'succeeded');
  assert.deepEqual(JSON.parse(req!.body.toString()), outcome.result);
});

test('approval: draft, reject with a note, redraft, approve; a retried step does not refund twice', async () => {
  const { runId } = await kit.client.submit({ input: { order: 'A-17', amount: 25 }, runner: 'approvalCounted' });
  const waiting = () => eventually(async () => (await kit.client.status(runId)).state === 'waiting');
  await waiting();
  assert.deepEqual((await kit.client.status(runId)).waitingFor, ['approve', 'reject']);
  await kit.client.sendEvent(runId, 'reject', { note: 'say sorry first' });
  await eventually(
    async () => (await kit.client.status(runId)).step === 1 && (await kit.client.status(runId)).state === 'waiting',
  );
  await kit.client.sendEvent(runId, 'approve');
  const outcome = await kit.client.result(runId);
  assert.equal(outcome.status, 'succeeded');
  assert.deepEqual(outcome.result, {
    order: 'A-17',
    refundId: 're_A-17',
    messageId: 'msg_customer-of-A-17',
    draft: 'Dear customer, we are refunding 25 EUR for order A-17. (say sorry first)',
  });
  assert.equal(outcome.finalStep, 2);
  assert.deepEqual(calls, { refund: 1, email: 2 }, 'the email was retried; the refund, journaled, was not');
});

test('approval: no decision within the timeout fails the run, asking to escalate (time skipped)', async () => {
  const { runId } = await kit.client.submit({ input: { order: 'B-2', amount: 5 }, runner: 'approval' });
  const outcome = await kit.client.result(runId);
  assert.deepEqual(
    { status: outcome.status, error: outcome.error },
    {
      status: 'failed',
      error: 'no decision on order B-2 within 24h: escalate',
    },
  );
});
