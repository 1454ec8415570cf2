/**
 * A check that throws this stops `eventually` at once, with this error: for what no amount of
 * waiting mends (e.g. a workflow task that failed).
 */
export class StopWaiting extends Error {
  override name = 'StopWaiting';
}

/**
 * Waits until `check` holds, polling. A check that throws counts as not there yet, except for a
 * `StopWaiting`, which is thrown at once. After `timeoutMs` it fails with what it was waiting for
 * and the check's last error (also as the cause).
 */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
  what = check.toString(),
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) return;
      lastError = undefined;
    } catch (err) {
      if (err instanceof StopWaiting) throw err;
      lastError = err;
    }
    if (Date.now() > deadline) {
      const last = lastError === undefined ? '' : `; last error: ${(lastError as Error)?.message ?? String(lastError)}`;
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for: ${what}${last}`,
        lastError === undefined ? undefined : { cause: lastError },
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
