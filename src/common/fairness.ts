/**
 * The default fairness key of a run (submit and schedules alike): its `tenant` header. With
 * encryption it goes to Temporal as a keyed hash, since Temporal keeps fairness keys in plain
 * text and header values are not for it to read.
 */
import type { Client } from '@temporalio/client';
import { EncryptionCodec } from '../payloads/encryption';
import type { RunHeaders } from '../shared/types';
import { ValidationError } from '../shared/validate';

/** Temporal's limit on a fairness key. */
const MAX_FAIRNESS_KEY_BYTES = 64;

/**
 * The fairness key a run gets when none is given: its `tenant` header (hashed with encryption on),
 * or undefined without one. A `tenant` that cannot be a fairness key is refused, naming the header.
 */
export function tenantFairnessKey(temporal: Client, headers: RunHeaders): string | undefined {
  const tenant = headers.tenant;
  if (tenant === undefined) return undefined;
  const bytes = new TextEncoder().encode(tenant).length;
  if (bytes === 0 || bytes > MAX_FAIRNESS_KEY_BYTES) {
    throw new ValidationError(
      `header "tenant" must be 1–${MAX_FAIRNESS_KEY_BYTES} bytes: it is the run's default fairness key (got ${bytes} bytes); shorten it or give fairnessKey`,
    );
  }
  const codec = temporal.options.loadedDataConverter.payloadCodecs.find((c) => c instanceof EncryptionCodec);
  return codec ? codec.pseudonym(tenant) : tenant;
}
