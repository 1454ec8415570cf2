/** Values as the API writes them: bytes as `{ "$bytes": base64 }` (as the CLI's `--json` does), times as ISO text. */
export function toWire(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, (_key, v: unknown) =>
      v instanceof Uint8Array ? { $bytes: Buffer.from(v).toString('base64') } : v,
    ) ?? 'null',
  );
}
