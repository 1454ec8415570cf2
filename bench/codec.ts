/**
 * What the encryption codec adds per payload: bytes (metadata, IV and tag) and time per encode and
 * decode, for a small (~100 B) and a 64 KiB JSON payload. The median of several rounds, after a
 * warm-up round. No Temporal server: the codec alone, as the SDK calls it.
 *
 *     node --import tsx bench/codec.ts [--rounds 9] [--json]
 */
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import type { Payload, SerializationContext } from '@temporalio/common';
import { EncryptionCodec, EncryptionKeys } from '../src/payloads/encryption';
import { payloadToBytes } from '../src/payloads/payload-wire';
import { payloadConverter } from '../src/shared/payload-converter';

const args = process.argv.slice(2);
const flag = (name: string) => args.indexOf(`--${name}`);
const rounds = flag('rounds') >= 0 ? Number(args[flag('rounds') + 1]) : 9;
const json = flag('json') >= 0;

const codec = new EncryptionCodec(EncryptionKeys.parse(`key-2026-11:${randomBytes(32).toString('base64')}`));

/** A JSON payload whose data is exactly `size` bytes. */
function jsonPayload(size: number): Payload {
  const base = { order: 'A-17', amount: 25, note: '' };
  const overhead = JSON.stringify(base).length;
  return payloadConverter.toPayload({ ...base, note: 'x'.repeat(size - overhead) });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Microseconds per call of `fn`, timed over `n` calls. */
async function perCall(n: number, fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn();
  return Number(process.hrtime.bigint() - start) / 1000 / n;
}

/** What the SDK passes for a run's payloads: the binding names it (a ULID run ID, as `submit` makes). */
const context: SerializationContext = {
  type: 'workflow',
  namespace: 'default',
  workflowId: '01KBN3Z8XW5Q2D4T7C9E6H1J0M',
};

async function measure(name: string, payload: Payload, calls: number) {
  const [encrypted] = await codec.encode([payload], context);
  const plainBytes = payloadToBytes(payload).length;
  const encryptedBytes = payloadToBytes(encrypted!).length;
  const encodeUs: number[] = [];
  const decodeUs: number[] = [];
  for (let round = 0; round <= rounds; round++) {
    const e = await perCall(calls, () => codec.encode([payload], context));
    const d = await perCall(calls, () => codec.decode([encrypted!], context));
    // Round 0 warms up the JIT and OpenSSL; it is not counted.
    if (round > 0) {
      encodeUs.push(e);
      decodeUs.push(d);
    }
  }
  return {
    payload: name,
    dataBytes: payload.data!.length,
    storedBytesPlain: plainBytes,
    storedBytesEncrypted: encryptedBytes,
    addedBytes: encryptedBytes - plainBytes,
    encodeUsMedian: Number(median(encodeUs).toFixed(2)),
    decodeUsMedian: Number(median(decodeUs).toFixed(2)),
    encodeUsRange: [Number(Math.min(...encodeUs).toFixed(2)), Number(Math.max(...encodeUs).toFixed(2))],
    decodeUsRange: [Number(Math.min(...decodeUs).toFixed(2)), Number(Math.max(...decodeUs).toFixed(2))],
  };
}

async function main(): Promise<void> {
  const results = [
    await measure('small', jsonPayload(100), 20_000),
    await measure('64 KiB', jsonPayload(65_536), 1_000),
  ];
  const machine = `${cpus().length}× ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, Node ${process.versions.node}, OpenSSL ${process.versions.openssl}`;
  if (json) {
    process.stdout.write(`${JSON.stringify({ date: new Date().toISOString(), machine, rounds, results }, null, 2)}\n`);
    return;
  }
  process.stdout.write(`encryption codec, ${rounds} rounds (median; min–max), ${machine}\n`);
  for (const r of results) {
    process.stdout.write(
      `${r.payload.padEnd(7)} data ${String(r.dataBytes).padStart(6)} B  stored ${r.storedBytesPlain} → ${r.storedBytesEncrypted} B (+${r.addedBytes})` +
        `  encode ${r.encodeUsMedian} µs (${r.encodeUsRange.join('–')})  decode ${r.decodeUsMedian} µs (${r.decodeUsRange.join('–')})\n`,
    );
  }
}

void main();
