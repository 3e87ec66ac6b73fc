import { Injectable } from '@nestjs/common';
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

  /** What an adapter needs to talk to this server. */
  providerServer(server: DeliveryServerEntity, credentials = this.credentials(server)): ProviderServer {
    return { id: server.id, provider: server.provider, credentials, ipPool: server.ipPool, senderAddress: server.senderAddress };
  }
}
