import { Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { CredentialsCipher } from '../../infra/crypto/credentials-cipher';
import type { ProviderServer, ServerCredentials } from '../../providers/provider.types';
import type { DeliveryServerEntity } from './delivery-server.entity';

/**
 * Seals and opens a server's secrets. The server id is the associated data, so a sealed blob
 * copied onto another row does not open. Decrypted credentials go only to the provider layer.
 */
@Injectable()
export class ServerVault {
  constructor(private readonly cipher: CredentialsCipher) {}

  sealCredentials(serverId: string, credentials: ServerCredentials): DeliveryServerEntity['sealedCredentials'] {
    return this.cipher.seal(credentials, `server:${serverId}`);
  }

  credentials(server: Pick<DeliveryServerEntity, 'id' | 'sealedCredentials'>): ServerCredentials {
    return this.cipher.open<ServerCredentials>(server.sealedCredentials, `server:${server.id}`);
  }

  sealWebhookState(serverId: string, state: Record<string, string>): NonNullable<DeliveryServerEntity['sealedWebhookState']> {
    return this.cipher.seal(state, `webhook:${serverId}`);
  }

  webhookState(server: Pick<DeliveryServerEntity, 'id' | 'sealedWebhookState'>): Record<string, string> {
    return server.sealedWebhookState ? this.cipher.open<Record<string, string>>(server.sealedWebhookState, `webhook:${server.id}`) : {};
  }

  /**
   * A digest of a provider-side id of a webhook registration (an SNS topic ARN), which `webhook`
   * may hold in the clear to match on: the id itself stays in the sealed state.
   */
  webhookMark(id: string): string {
    return createHash('sha256').update(`webhook-mark:${id}`).digest('base64url');
  }

  /** What an adapter needs to talk to this server. */
  providerServer(server: DeliveryServerEntity, credentials = this.credentials(server)): ProviderServer {
    return { id: server.id, provider: server.provider, credentials, ipPool: server.ipPool, senderAddress: server.senderAddress };
  }
}

/** A `secret=` value in a webhook URL (Elastic Email's), or in a text quoting the URL (up to the punctuation after it). */
// A secret is base64url: a '.' after it ends a sentence quoting the URL.
const URL_SECRET = /([?&]secret=)[^&#\s)"'<>,;.]*/gi;
/** What stands for the secret in a stored or shown webhook URL. */
export const MASKED_SECRET = '****';
const MASKED_URL_SECRET = /([?&]secret=)\*\*\*\*(?=[&#\s)"'<>,;.]|$)/gi;

/** The text with every URL secret in it masked (`secret=****`): how `webhook` stores and shows it. */
export function maskWebhookSecret(text: string | null): string | null {
  return text === null ? null : text.replace(URL_SECRET, `$1${MASKED_SECRET}`);
}

/** A masked text with the secret put back (from the sealed webhook state), for its owner to paste. */
export function unmaskWebhookSecret(text: string | null, secret: string): string | null {
  return text === null ? null : text.replace(MASKED_URL_SECRET, (_match, prefix: string) => `${prefix}${secret}`);
}
