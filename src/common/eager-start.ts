import type { Client } from '@temporalio/client';
import { InternalConnectionLikeSymbol } from '@temporalio/client/lib/types';

/**
 * Whether a client's connection is a worker's `NativeConnection`, the only kind eager workflow
 * start works on (the SDK throws for `requestEagerStart` on any other). Read from the SDK's
 * internal marker of connection kinds: no public API says it.
 */
export function supportsEagerStart(client: Pick<Client, 'connection'>): boolean {
  const connection = client.connection as { [InternalConnectionLikeSymbol]?: { supportsEagerStart?: boolean } };
  return connection[InternalConnectionLikeSymbol]?.supportsEagerStart === true;
}
