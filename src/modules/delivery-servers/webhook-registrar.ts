import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../../config/configuration';
import { DeliveryError } from '../../providers/delivery-error';
import { DeliveryProvider, WebhookStatus } from '../../providers/provider.enums';
import { ProviderGateway } from '../../providers/provider-gateway';
import type { WebhookRegistrationResult } from '../../providers/provider.types';
import { DeliveryServerEntity } from './delivery-server.entity';
import { ServerVault } from './server-vault';

/** The path segment of each provider's webhook endpoint: POST /webhooks/{slug}/{serverId}. */
export const WEBHOOK_SLUG: Record<DeliveryProvider, string> = {
  [DeliveryProvider.AMAZON_SES]: 'ses',
  [DeliveryProvider.SENDGRID]: 'sendgrid',
  [DeliveryProvider.MAILGUN]: 'mailgun',
  [DeliveryProvider.SPARKPOST]: 'sparkpost',
  [DeliveryProvider.ELASTIC_EMAIL]: 'elasticemail',
  [DeliveryProvider.SMTP]: 'smtp',
};

/**
 * Registers a server's bounce and complaint webhooks with its provider at PUBLIC_URL and records
 * the outcome on the server. Adapters touch only what mailroute created, so a retry is safe.
 */
@Injectable()
export class WebhookRegistrar {
  private readonly logger = new Logger(WebhookRegistrar.name);

  constructor(
    @InjectRepository(DeliveryServerEntity) private readonly servers: Repository<DeliveryServerEntity>,
    private readonly vault: ServerVault,
    private readonly gateway: ProviderGateway,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  urlFor(server: Pick<DeliveryServerEntity, 'id' | 'provider'>): string {
    return `${this.config.publicUrl}/webhooks/${WEBHOOK_SLUG[server.provider]}/${server.id}`;
  }

  async register(server: DeliveryServerEntity): Promise<DeliveryServerEntity> {
    const url = this.urlFor(server);
    let result: WebhookRegistrationResult;
    try {
      result = await this.gateway.adapterFor(server.provider).registerWebhooks(this.vault.providerServer(server), url, this.vault.webhookState(server));
    } catch (err) {
      result = { status: WebhookStatus.FAILED, url, events: [], error: err instanceof DeliveryError ? err.message : 'Registration failed unexpectedly' };
    }
    server.webhook = {
      status: result.status,
      url: result.url,
      events: result.events,
      error: result.error ?? null,
      registeredAt: result.status === WebhookStatus.REGISTERED ? new Date().toISOString() : null,
    };
    // A failed attempt never replaces stored state: the provider may still hold, and call with,
    // what the last registration gave it (Elastic Email's URL secret). With nothing stored, what a
    // failed attempt returns is kept, in case the provider took it before the failure.
    const keepStored = result.status === WebhookStatus.FAILED && Boolean(server.sealedWebhookState);
    if (!keepStored && result.state && Object.keys(result.state).length) {
      server.sealedWebhookState = this.vault.sealWebhookState(server.id, result.state);
    }
    // SES publishes events only for sends that name the configuration set: sends must use ours.
    const configurationSetName = server.provider === DeliveryProvider.AMAZON_SES ? result.state?.configurationSetName : undefined;
    const credentials = configurationSetName ? this.vault.credentials(server) : null;
    const useSet = Boolean(credentials?.ses && configurationSetName && credentials.ses.configurationSetName !== configurationSetName);
    await this.servers.update({ id: server.id }, { webhook: server.webhook, sealedWebhookState: server.sealedWebhookState });
    if (useSet && credentials?.ses) {
      // Only over the credentials this registration read: credentials saved meanwhile are not put
      // back (an update keeps a stored set; the set's name is stable, so registering again adds it).
      const sealed = this.vault.sealCredentials(server.id, { ...credentials, ses: { ...credentials.ses, configurationSetName } });
      const written = await this.servers
        .createQueryBuilder()
        .update()
        .set({ sealedCredentials: sealed })
        .where('id = :id', { id: server.id })
        .andWhere('sealed_credentials = CAST(:read AS jsonb)', { read: JSON.stringify(server.sealedCredentials) })
        .execute();
      if (written.affected) server.sealedCredentials = sealed;
    }
    return server;
  }

  /** Best effort: a provider that cannot be reached must not keep a server from being deleted. */
  async remove(server: DeliveryServerEntity): Promise<void> {
    if (server.webhook?.status !== WebhookStatus.REGISTERED) return;
    try {
      await this.gateway.adapterFor(server.provider).removeWebhooks(this.vault.providerServer(server), {
        status: server.webhook.status,
        url: server.webhook.url,
        events: server.webhook.events,
        error: server.webhook.error,
        state: this.vault.webhookState(server),
      });
    } catch (err) {
      this.logger.warn(`Could not remove the webhooks of server ${server.id} at ${server.provider}: ${err instanceof DeliveryError ? err.message : 'unexpected error'}`);
    }
  }
}
