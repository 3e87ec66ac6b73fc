import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type Redis from 'ioredis';
import { Repository } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../../config/configuration';
import { REDIS } from '../../infra/redis/redis.module';
import { WebhookStatus } from '../../providers/provider.enums';
import { ProviderGateway } from '../../providers/provider-gateway';
import { DeliveryServerEntity } from '../delivery-servers/delivery-server.entity';
import { ServerVault } from '../delivery-servers/server-vault';
import { WebhookRegistrar } from '../delivery-servers/webhook-registrar';

/** How often one server's webhook state may be asked of its provider, across processes. */
export const WEBHOOK_STATE_REFRESH_MS = 10 * 60_000;

/**
 * A registered webhook whose posts stop verifying may have changed at the provider: SendGrid
 * gives a webhook a new signing key whenever signing is turned off and on in its dashboard, and
 * every post after that failed with 401 until someone ran registerWebhooks again (SendGrid gives
 * up on a post after retrying it for 24 hours). On such a failure the provider is asked for the
 * state it holds now; a new one is stored for the posts that follow. Bounded: anyone can post a
 * bad signature, so each server's provider is asked at most once per WEBHOOK_STATE_REFRESH_MS.
 */
@Injectable()
export class WebhookStateRefresh {
  private readonly logger = new Logger(WebhookStateRefresh.name);

  constructor(
    @InjectRepository(DeliveryServerEntity) private readonly servers: Repository<DeliveryServerEntity>,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly vault: ServerVault,
    private readonly gateway: ProviderGateway,
    private readonly registrar: WebhookRegistrar,
  ) {}

  /** The state the provider holds now for `server`'s registration, when it is not the stored one (then stored); else null. */
  async changedAtProvider(server: DeliveryServerEntity): Promise<Record<string, string> | null> {
    const adapter = this.gateway.adapterFor(server.provider);
    if (!adapter.currentWebhookState || server.webhook?.status !== WebhookStatus.REGISTERED || !server.sealedWebhookState) return null;
    // A registration under way stores a state of its own.
    if (await this.registrar.isRegistering(server.id)) return null;
    const key = `${this.config.redis.prefix}:webhook-state-refresh:${server.id}`;
    if ((await this.redis.set(key, '1', 'PX', WEBHOOK_STATE_REFRESH_MS, 'NX').catch(() => null)) !== 'OK') return null;
    let current: Record<string, string> | null;
    try {
      current = await adapter.currentWebhookState(this.vault.providerServer(server), this.vault.webhookState(server));
    } catch (err) {
      this.logger.warn(`Webhook ${server.provider} server ${server.id}: could not ask the provider for its webhook state (${err instanceof Error ? err.message : 'error'})`);
      return null;
    }
    if (!current) return null;
    // Only over the state this post was checked with: a registration that stored one meanwhile wins.
    const stored = await this.servers.query(`UPDATE delivery_servers SET sealed_webhook_state = $1::jsonb WHERE id = $2 AND sealed_webhook_state = $3::jsonb`, [
      JSON.stringify(this.vault.sealWebhookState(server.id, current)),
      server.id,
      JSON.stringify(server.sealedWebhookState),
    ]);
    const changed = Array.isArray(stored) ? Number(stored[1] ?? 0) : 0;
    this.logger.log(`Webhook ${server.provider} server ${server.id}: its webhook changed at the provider (${changed ? 'stored' : 'a registration stored another meanwhile'})`);
    return current;
  }
}
