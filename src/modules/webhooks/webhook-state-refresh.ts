import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type Redis from 'ioredis';
import { Repository } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../../config/configuration';
import { REDIS } from '../../infra/redis/redis.module';
import { DeliveryError } from '../../providers/delivery-error';
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

  /**
   * The state the provider holds now for `server`'s registration, when it is not the stored one
   * (then stored); else null. Only for a post refused for its signature alone (WrongWebhookKeyError):
   * no other key would let a post without signature headers or with a stale timestamp through.
   */
  async changedAtProvider(server: DeliveryServerEntity): Promise<Record<string, string> | null> {
    const adapter = this.gateway.adapterFor(server.provider);
    // Any status with a stored registration: one recorded FAILED (its reply lost, say) keeps the
    // state it had, which may be just as out of date.
    if (!adapter.currentWebhookState || !server.sealedWebhookState || server.webhook?.status === WebhookStatus.NOT_SUPPORTED) return null;
    // A registration under way stores a state of its own.
    if (await this.registrar.isRegistering(server.id)) return null;
    const slot = `${this.config.redis.prefix}:webhook-state-refresh:${server.id}`;
    if ((await this.redis.set(slot, '1', 'PX', WEBHOOK_STATE_REFRESH_MS, 'NX').catch(() => null)) !== 'OK') return null;
    const checked = this.vault.webhookState(server);
    let current: Record<string, string> | null;
    try {
      current = await adapter.currentWebhookState(this.vault.providerServer(server), checked);
    } catch (err) {
      this.logger.warn(`Webhook ${server.provider} server ${server.id}: could not ask the provider for its webhook state (${err instanceof Error ? err.message : 'error'})`);
      // A passing failure (a 5xx, a 429, the network) holds the next ask back a minute, not ten.
      if (err instanceof DeliveryError && err.transient) await this.redis.pexpire(slot, TRANSIENT_FAILURE_HOLD_MS).catch(() => undefined);
      return null;
    }
    if (!current) return null;
    const outcome = (await this.store(server, checked, current)) ? 'stored' : 'not stored: a registration stored another meanwhile';
    this.logger.log(`Webhook ${server.provider} server ${server.id}: its webhook changed at the provider (${outcome})`);
    return current;
  }

  /**
   * Stores `current` only over the state the post was checked with: a registration that stored
   * another meanwhile wins. The same state sealed anew (credentials:reseal) is still that state.
   */
  private async store(server: DeliveryServerEntity, checked: Record<string, string>, current: Record<string, string>): Promise<boolean> {
    let sealed = server.sealedWebhookState;
    for (let attempt = 0; attempt < 3 && sealed; attempt++) {
      const result: unknown = await this.servers.query(`UPDATE delivery_servers SET sealed_webhook_state = $1::jsonb WHERE id = $2 AND sealed_webhook_state = $3::jsonb`, [
        JSON.stringify(this.vault.sealWebhookState(server.id, current)),
        server.id,
        JSON.stringify(sealed),
      ]);
      if (Array.isArray(result) && Number(result[1]) > 0) return true;
      const now = await this.servers.findOne({ where: { id: server.id }, select: { id: true, sealedWebhookState: true } });
      sealed = now?.sealedWebhookState && sameState(this.vault.webhookState(now), checked) ? now.sealedWebhookState : null;
    }
    return false;
  }
}

/** How long a failed ask of the provider holds the next one back, when the failure may pass. */
const TRANSIENT_FAILURE_HOLD_MS = 60_000;

const sameState = (a: Record<string, string>, b: Record<string, string>): boolean =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);
