/**
 * The HTTP API against `RunsClient`, on the same worker and server: what `serve` adds to a run's
 * submit → result, and to a stream chunk's way to its reader (SSE against `runs.stream`). The
 * API server runs in the bench's process on loopback, on the bench's client.
 */
import { startHttpServer } from '../../src/http/server';
import { N } from '../options';
import type { Bench, Round, Row } from '../rounds';
import { mirrored, range, roundRow } from '../rounds';
import { percentile } from '../stats';

type Via = 'client' | 'http';
/** Chunks a streamed run sends (one every 20 ms). */
const CHUNKS = 20;

async function postJson(url: string, body: unknown): Promise<unknown> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status >= 300) throw new Error(`POST ${url}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** Milliseconds from submit to the outcome in hand, one run at a time. */
async function submitToResult(b: Bench, base: string, via: Via, runId: string): Promise<number> {
  const t0 = performance.now();
  if (via === 'client') {
    await b.runs.submit({ runId, runner: 'noop', input: { steps: 1 } });
    await b.runs.result(runId);
  } else {
    await postJson(`${base}/v1/runs`, { runId, runner: 'noop', input: { steps: 1 } });
    const res = await fetch(`${base}/v1/runs/${runId}/result?wait=60`);
    if (res.status !== 200) throw new Error(`result of ${runId}: ${res.status}`);
    await res.json();
  }
  return performance.now() - t0;
}

/** Each chunk's age when its reader got it (ms): streamed at `data.at`, read now. */
async function chunkAges(b: Bench, base: string, via: Via, runId: string): Promise<number[]> {
  await b.runs.submit({ runId, runner: 'httpStreamer', input: { chunks: CHUNKS } });
  const ages: number[] = [];
  if (via === 'client') {
    for await (const event of b.runs.stream(runId)) {
      if (event.type === 'chunk') ages.push(Date.now() - (event.data as { at: number }).at);
    }
    return ages;
  }
  const res = await fetch(`${base}/v1/runs/${runId}/stream`);
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const bytes of res.body!) {
    buffer += decoder.decode(bytes as Uint8Array, { stream: true });
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (/^event: closed$/m.test(block)) return ages;
      if (/^event: chunk$/m.test(block) && data) {
        ages.push(Date.now() - (JSON.parse(data) as { data: { at: number } }).data.at);
      }
    }
  }
  return ages;
}

export async function http(b: Bench, rows: Row[], results: Record<string, unknown>): Promise<void> {
  const server = await startHttpServer({ client: b.runs, port: 0 });
  try {
    const vias: Via[] = ['client', 'http'];
    for (const via of vias) await submitToResult(b, server.url, via, `http-warm-${via}`);
    const rounds: Round[] = [];
    for (let r = 0; r < N.rounds; r++) {
      const round: Round = {};
      const times: Record<string, number[]> = {};
      const ages: Record<string, number[]> = {};
      for (const [k, via] of mirrored(vias).entries()) {
        for (const id of range(N.http, (i) => `http-${via}-${r}-${k}-${i}`)) {
          (times[via] ??= []).push(await submitToResult(b, server.url, via, id));
        }
        (ages[via] ??= []).push(...(await chunkAges(b, server.url, via, `http-stream-${via}-${r}-${k}`)));
      }
      for (const via of vias) {
        round[via] = { resultP50: percentile(times[via]!, 50), chunkP50: percentile(ages[via]!, 50) };
      }
      rounds.push(round);
    }
    results.http = { rounds };
    rows.push(
      roundRow(
        'HTTP API: submit → result p50, one run at a time (ms), HTTP vs RunsClient',
        rounds,
        'http',
        'resultP50',
        'client',
      ),
      roundRow(`HTTP API: stream chunk age p50 (ms), SSE vs runs.stream`, rounds, 'http', 'chunkP50', 'client'),
    );
  } finally {
    await server.close();
  }
}
