import { Inject, Injectable, Logger } from '@nestjs/common';
import { logUnexpected } from '../../infra/errors/unexpected-error';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { APP_CONFIG, type AppConfig } from '../../config/configuration';
import type Redis from 'ioredis';
import { NotFoundError } from '../../infra/errors/domain-error';
import { REDIS } from '../../infra/redis/redis.module';
import { RedisMutexTimeout, RedisMutexUnavailable, withRedisMutex } from '../../infra/redis/redis-mutex';
import { DeliveryError } from '../../providers/delivery-error';
import { DeliveryProvider, WebhookStatus } from '../../providers/provider.enums';
import { ProviderGateway } from '../../providers/provider-gateway';
import type { ProviderServer, ServerCredentials, SesCredentials, WebhookRegistrationResult } from '../../providers/provider.types';
import { DeliveryServerEntity, type StoredWebhook } from './delivery-server.entity';
import { apiCredentialsChanged } from './server-credentials';
import { maskWebhookSecret, ServerVault } from './server-vault';

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
 *
 * `webhook` holds no secret: a `secret=` in the URL (Elastic Email's) or in an error quoting it is
 * stored masked, the secret itself only in the sealed state (the API puts it back where the owner
 * must paste the URL, DeliveryServersService.webhookSecret).
 *
 * SES completes when SNS's SubscriptionConfirmation is handled (WebhooksService), which SNS posts as
 * soon as it has made the subscription: possibly before the registration that asked for it has
 * recorded its outcome. So `webhook` also carries digests (ServerVault.webhookMark) of the SNS topic
 * the registration subscribed to (`topic`) and of the one whose confirmation was handled last
 * (`confirmedTopic`, with `confirmedAt`). A confirmation makes a PENDING registration of its topic
 * REGISTERED; a PENDING outcome is written as REGISTERED when its topic's confirmation was handled
 * while it ran. Either order ends REGISTERED.
 */
@Injectable()
export class WebhookRegistrar {
  private readonly logger = new Logger(WebhookRegistrar.name);

  constructor(
    @InjectRepository(DeliveryServerEntity) private readonly servers: Repository<DeliveryServerEntity>,
    private readonly vault: ServerVault,
    private readonly gateway: ProviderGateway,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS) private readonly redis: Redis,
  ) {}

  urlFor(server: Pick<DeliveryServerEntity, 'id' | 'provider'>): string {
    return `${this.config.publicUrl}/webhooks/${WEBHOOK_SLUG[server.provider]}/${server.id}`;
  }

  /**
   * Registers under the server's registration lock, from the row as it is once the lock is held:
   * two registrations at once (create and registerWebhooks, an update's) would each generate a
   * SparkPost password or an Elastic Email secret, and only one could be stored.
   */
  async register(server: DeliveryServerEntity): Promise<DeliveryServerEntity> {
    return this.exclusively(
      server.id,
      async () => {
        const current = await this.servers.findOneBy({ id: server.id });
        if (!current) throw new NotFoundError('Delivery server', server.id);
        return this.registerNow(current);
      },
      // Like any failed registration: recorded, never failing the save that asked for it.
      () => this.recordBusy(server),
    );
  }

  /** FAILED as busy, unless a registration (the one that held the lock) has recorded an outcome since `read`. */
  private async recordBusy(read: DeliveryServerEntity): Promise<DeliveryServerEntity> {
    const write = this.servers
      .createQueryBuilder()
      .update()
      .set({ webhook: () => `webhook || jsonb_build_object('status', CAST(:failed AS text), 'error', CAST(:busy AS text), 'registeredAt', NULL)` })
      .where('id = :id', { id: read.id })
      .setParameters({ failed: WebhookStatus.FAILED, busy: BUSY_ERROR });
    // Compared by the outcome's stamp alone: a confirmation SNS posted meanwhile changes `webhook`
    // too, without recording any registration.
    write.andWhere(`(webhook->>'recordedAt') IS NOT DISTINCT FROM CAST(:recordedAt AS text)`, { recordedAt: read.webhook?.recordedAt ?? null });
    await write.execute();
    const server = await this.servers.findOneBy({ id: read.id });
    if (!server) throw new NotFoundError('Delivery server', read.id);
    return server;
  }

  private async registerNow(server: DeliveryServerEntity): Promise<DeliveryServerEntity> {
    const url = this.urlFor(server);
    const credentials = this.vault.credentials(server);
    const previousState = this.vault.webhookState(server);
    const confirmedBefore = confirmedAtOf(server.webhook);
    // Registered at another URL before (PUBLIC_URL moved): that registration goes first. Adapters
    // find their webhook by URL, so it would stay at the provider beside the new one, posting
    // where nobody listens, taking one of the account's few webhooks (Mailgun: of an event's
    // three URLs), and no later removal would look for it.
    // (Compared without the query: Elastic Email's stored URL carries its secret there.)
    const withoutQuery = (u: string): string => u.split('?')[0];
    // Not SES: its removal deletes the configuration set the server's sends name (they would fail
    // until the new registration made it again); registering again reuses set, topic and
    // destination, and only the old endpoint's subscription stays on the topic.
    const moved = Boolean(server.webhook?.url) && withoutQuery(server.webhook?.url ?? '') !== withoutQuery(url);
    if (moved && server.provider !== DeliveryProvider.AMAZON_SES) await this.removeNow(server);
    let result: WebhookRegistrationResult;
    try {
      const target = this.vault.providerServer(server, registrationCredentials(server.provider, credentials, previousState));
      result = await this.atProvider(target, () => this.gateway.adapterFor(server.provider).registerWebhooks(target, url, previousState));
    } catch (err) {
      const error = err instanceof DeliveryError ? err.message : `Registration failed unexpectedly (error id ${logUnexpected(this.logger, `Webhook registration of server ${server.id} failed`, err)})`;
      result = { status: WebhookStatus.FAILED, url, events: [], error };
    }
    const subscription = result.state?.subscriptionArn;
    const subscriptionConfirmed = Boolean(subscription) && server.webhook?.confirmedSubscription === this.vault.webhookMark(subscription as string);
    return this.record(server, credentials, outcomeOf(server, previousState, result, subscriptionConfirmed), result, confirmedBefore);
  }

  /**
   * Stores a registration's outcome, only over credentials whose API block is still the one it
   * registered with (webhook state for other keys, region or domain would be wrong for them; the
   * update that stored them registers again). Every write names the credentials it read, so an
   * update saved meanwhile is never undone: then the row is read again and the outcome merged into
   * it, up to RECORD_ATTEMPTS times.
   *
   * `webhook` is decided by the statement itself, from the row as it is then: a PENDING SES outcome
   * becomes REGISTERED when a confirmation of its topic was handled since the registration read the
   * server (`confirmedBefore`: the confirmedAt it read), and the confirmation marks are kept.
   */
  private async record(
    read: DeliveryServerEntity,
    registeredWith: ServerCredentials,
    webhook: StoredWebhook,
    result: WebhookRegistrationResult,
    confirmedBefore: string | null,
  ): Promise<DeliveryServerEntity> {
    const ses = read.provider === DeliveryProvider.AMAZON_SES;
    // SES publishes events only for sends that name the configuration set: sends must use ours. A
    // failed registration's set (what it made before failing, kept for removal) is not given.
    const configurationSetName = ses && result.status !== WebhookStatus.FAILED ? result.state?.configurationSetName : undefined;
    const topic = ses && result.status !== WebhookStatus.FAILED && result.state?.topicArn ? this.vault.webhookMark(result.state.topicArn) : null;
    // recordedAt: which registration's outcome this is (recordBusy checks it).
    const recorded: StoredWebhook = { ...webhook, ...(topic ? { topic } : {}), recordedAt: new Date().toISOString() };
    const parameters = {
      recordedWebhook: JSON.stringify(recorded),
      pendingTopic: result.status === WebhookStatus.PENDING ? topic : null,
      confirmedBefore,
      registered: WebhookStatus.REGISTERED,
    };
    let server: DeliveryServerEntity | null = read;
    for (let attempt = 1; server; attempt++) {
      const stored = this.vault.credentials(server);
      if (!stillRegisteredWith(server.provider, registeredWith, stored, configurationSetName)) {
        this.logger.log(`Webhook registration of server ${server.id} not recorded: its ${server.provider} credentials changed while it ran`);
        return server;
      }
      // A failed attempt never replaces stored state: the provider may still hold, and call with,
      // what the last registration gave it (Elastic Email's URL secret). With nothing stored, what a
      // failed attempt returns is kept, in case the provider took it before the failure.
      const keepStored = result.status === WebhookStatus.FAILED && Boolean(server.sealedWebhookState);
      const newState = !keepStored && result.state && Object.keys(result.state).length ? this.vault.sealWebhookState(server.id, result.state) : null;
      // Stored state kept is not written back: the blob read before the registration may have been
      // sealed again under a new key meanwhile (npm run credentials:reseal), and must stay so.
      const columns: QueryDeepPartialEntity<DeliveryServerEntity> = { webhook: () => RECORDED_WEBHOOK, ...(newState ? { sealedWebhookState: newState } : {}) };
      if (configurationSetName && stored.ses && stored.ses.configurationSetName !== configurationSetName) {
        columns.sealedCredentials = this.vault.sealCredentials(server.id, { ...stored, ses: { ...stored.ses, configurationSetName } });
      }
      const written = await this.servers
        .createQueryBuilder()
        .update()
        .set(columns)
        .where('id = :id', { id: server.id })
        .andWhere('sealed_credentials = CAST(:read AS jsonb)', { read: JSON.stringify(server.sealedCredentials) })
        .setParameters(parameters)
        .execute();
      if (written.affected) return (await this.servers.findOneBy({ id: server.id })) ?? server;
      if (attempt === RECORD_ATTEMPTS) {
        this.logger.warn(`Webhook registration of server ${server.id} not recorded: its credentials kept changing while it was written`);
        return (await this.servers.findOneBy({ id: server.id })) ?? server;
      }
      server = await this.servers.findOneBy({ id: server.id }); // null: deleted meanwhile
    }
    // Deleted while this registration ran: its removal could not see what this one made there.
    await this.removeResult(read, registeredWith, result);
    throw new NotFoundError('Delivery server', read.id);
  }

  /** Whether a registration of this server holds its lock now (true when Redis cannot say). */
  async isRegistering(serverId: string): Promise<boolean> {
    return (await this.redis.exists(this.lockKey(serverId)).catch(() => 1)) === 1;
  }

  private lockKey(serverId: string): string {
    return `${this.config.redis.prefix}:webhook-registration:${serverId}`;
  }

  /**
   * One registration (or removal) of a server at a time, across processes; `onBusy` when another
   * still holds it after REGISTRATION_LOCK.waitMs. When Redis does not answer the first try the
   * lock cannot be had: `fn` runs anyway, since registering matters more than the race it closes.
   */
  private async exclusively<T>(serverId: string, fn: () => Promise<T>, onBusy: () => Promise<T>): Promise<T> {
    const onLost = () => this.logger.warn(`The webhook registration lock of server ${serverId} was lost while held`);
    try {
      return await withRedisMutex(this.redis, this.lockKey(serverId), { ...REGISTRATION_LOCK, onLost }, fn);
    } catch (err) {
      if (err instanceof RedisMutexTimeout) return onBusy();
      if (!(err instanceof RedisMutexUnavailable)) throw err;
      this.logger.warn(`Webhook registration of server ${serverId} runs without its lock (Redis: ${err.reason})`);
      return fn();
    }
  }

  /**
   * Mailgun keeps one list of URLs per domain and event, which registration and removal read and
   * then replace whole (PUT): two servers on one domain, each under its own lock, would drop each
   * other's URL. Their calls at Mailgun take turns per domain (and region); other providers keep
   * one webhook per URL and need no turn. Without Redis, or after waiting the lock's wait, the call
   * goes ahead, as registrations do.
   */
  private async atProvider<T>(target: ProviderServer, call: () => Promise<T>, state?: Record<string, string>): Promise<T> {
    const mailgun = target.provider === DeliveryProvider.MAILGUN ? target.credentials.mailgun : null;
    if (!mailgun) return call();
    // A removal works on the domain its registration used (the credentials may name another since).
    const domain = state?.domain || mailgun.domain;
    const key = `${this.config.redis.prefix}:webhook-registration:mailgun:${(mailgun.region ?? 'US').toUpperCase()}:${domain.toLowerCase()}`;
    try {
      return await withRedisMutex(this.redis, key, { ...REGISTRATION_LOCK, onLost: () => this.logger.warn(`The Mailgun domain lock ${domain} was lost while held`) }, call);
    } catch (err) {
      if (!(err instanceof RedisMutexTimeout) && !(err instanceof RedisMutexUnavailable)) throw err;
      this.logger.warn(`Webhook calls for Mailgun domain ${domain} run without their turn (${err instanceof RedisMutexTimeout ? 'another still holds it' : `Redis: ${err.reason}`})`);
      return call();
    }
  }

  /** Best effort: what one registration made at the provider, for a server deleted meanwhile. */
  private async removeResult(server: DeliveryServerEntity, credentials: ServerCredentials, result: WebhookRegistrationResult): Promise<void> {
    try {
      const target = this.vault.providerServer(server, credentials);
      await this.atProvider(target, () => this.gateway.adapterFor(server.provider).removeWebhooks(target, { ...result, state: result.state ?? {} }), result.state);
    } catch (err) {
      if (err instanceof DeliveryError) this.logger.warn(`Could not remove the webhooks of deleted server ${server.id} at ${server.provider}: ${err.message}`);
      else logUnexpected(this.logger, `Could not remove the webhooks of deleted server ${server.id} at ${server.provider}`, err);
    }
  }

  /**
   * Removes whatever a registration left at the provider, whatever its outcome: REGISTERED, PENDING
   * (SES made its set, topic and subscription before SNS's confirmation) or FAILED half way (its
   * state says what it made; adapters also find their own webhook by URL). Only a server no
   * registration has recorded anything for is skipped. Best effort: a provider that cannot be
   * reached, or a registration it no longer knows, must not keep a server from being deleted.
   */
  async remove(read: DeliveryServerEntity, then: () => Promise<void> = async () => undefined): Promise<void> {
    await this.exclusively(
      read.id,
      // After a registration still running: what it made is in the row once it has ended; `then`
      // (the row's deletion) runs before the lock is let go, so no registration starts in between.
      async () => {
        await this.removeNow((await this.servers.findOneBy({ id: read.id })) ?? read);
        await then();
      },
      async () => {
        this.logger.warn(`Removing the webhooks of server ${read.id} without waiting for its registration, still running`);
        await this.removeNow(read);
        await then(); // the registration, when it ends, finds the row gone and removes what it made
      },
    );
  }

  private async removeNow(server: DeliveryServerEntity): Promise<void> {
    const webhook = server.webhook;
    if (webhook?.status !== WebhookStatus.REGISTERED && !webhook?.url && !server.sealedWebhookState) return;
    try {
      const target = this.vault.providerServer(server);
      const registration = {
        status: webhook?.status ?? WebhookStatus.PENDING,
        url: webhook?.url ?? null,
        events: webhook?.events ?? [],
        error: webhook?.error ?? null,
        state: this.vault.webhookState(server),
      };
      await this.atProvider(target, () => this.gateway.adapterFor(server.provider).removeWebhooks(target, registration), registration.state);
    } catch (err) {
      if (err instanceof DeliveryError) this.logger.warn(`Could not remove the webhooks of server ${server.id} at ${server.provider}: ${err.message}`);
      else logUnexpected(this.logger, `Could not remove the webhooks of server ${server.id} at ${server.provider}`, err);
    }
  }
}

/**
 * The registration lock: extended while its holder runs (a holder that stopped lets it lapse after
 * ttlMs), waited for at most ten seconds (a GraphQL request waits on it; a proxy's time-out is
 * often a minute).
 */
const REGISTRATION_LOCK = { ttlMs: 180_000, waitMs: 10_000 };
const BUSY_ERROR = 'Another webhook registration of this server was still running: run registerWebhooks again in a minute';

/** Tries of recording a registration while updates keep replacing the server's credentials. */
const RECORD_ATTEMPTS = 3;

/**
 * The `webhook` a registration writes (see record): its outcome, the confirmation marks of the row
 * as it is, and REGISTERED (since that confirmation) when the outcome is PENDING for a topic whose
 * confirmation was handled after the registration read the server.
 */
const RECORDED_WEBHOOK = `CAST(:recordedWebhook AS jsonb)
  || jsonb_strip_nulls(jsonb_build_object('confirmedTopic', webhook->'confirmedTopic', 'confirmedAt', webhook->'confirmedAt', 'confirmedSubscription', webhook->'confirmedSubscription'))
  || CASE WHEN webhook->>'confirmedTopic' = CAST(:pendingTopic AS text) AND webhook->>'confirmedAt' IS DISTINCT FROM CAST(:confirmedBefore AS text)
          THEN jsonb_build_object('status', CAST(:registered AS text), 'error', NULL, 'registeredAt', webhook->'confirmedAt')
          ELSE CAST('{}' AS jsonb) END`;

/** When the last SNS confirmation was handled for the server (WebhooksService writes it on `webhook`). */
function confirmedAtOf(webhook: StoredWebhook | null | undefined): string | null {
  const confirmedAt = webhook?.confirmedAt;
  return typeof confirmedAt === 'string' ? confirmedAt : null;
}

/**
 * The credentials a registration uses. A configuration set mailroute created (the last
 * registration says so) is given to the adapter as none, so that it creates it again where the
 * keys now point (idempotent: the same name, AlreadyExists is fine): keys of another AWS account
 * would otherwise find no such set, and SES would refuse every send naming it.
 */
function registrationCredentials(provider: DeliveryProvider, credentials: ServerCredentials, previousState: Record<string, string>): ServerCredentials {
  const ses = credentials.ses;
  if (provider !== DeliveryProvider.AMAZON_SES || !ses?.configurationSetName) return credentials;
  if (previousState.createdConfigurationSet !== 'true' || previousState.configurationSetName !== ses.configurationSetName) return credentials;
  return { ...credentials, ses: { ...ses, configurationSetName: null } };
}

/**
 * What `webhook` records (a URL secret masked). SES: SNS answers a subscription it has already confirmed with the same
 * ARN and sends no new confirmation, so registering onto it again (a key rotation in the same
 * account and region) leaves it REGISTERED rather than PENDING for good.
 */
function outcomeOf(server: DeliveryServerEntity, previousState: Record<string, string>, result: WebhookRegistrationResult, subscriptionConfirmed: boolean): StoredWebhook {
  const previous = server.webhook;
  const subscription = result.state?.subscriptionArn;
  const url = maskWebhookSecret(result.url);
  const sameSubscription = result.status === WebhookStatus.PENDING && Boolean(subscription) && subscription === previousState.subscriptionArn;
  if (sameSubscription && previous?.status === WebhookStatus.REGISTERED && url === maskWebhookSecret(previous.url)) {
    return { status: WebhookStatus.REGISTERED, url, events: result.events, error: null, registeredAt: previous.registeredAt };
  }
  // The same subscription, whose own confirmation was handled before, though a failed
  // registration was recorded since (FAILED keeps the stored state and the confirmation marks).
  const confirmedAt = confirmedAtOf(previous);
  if (sameSubscription && subscriptionConfirmed && confirmedAt) {
    return { status: WebhookStatus.REGISTERED, url, events: result.events, error: null, registeredAt: confirmedAt };
  }
  return {
    status: result.status,
    url,
    events: result.events,
    error: maskWebhookSecret(result.error ?? null),
    registeredAt: result.status === WebhookStatus.REGISTERED ? new Date().toISOString() : null,
  };
}

/**
 * Whether `stored` still holds the API block a registration used (`used`). SES's configuration set
 * apart, which the registration itself writes: stored may name none, the one it used, or the one
 * it gave (`givenSet`); another is the owner's choice saved meanwhile.
 */
function stillRegisteredWith(provider: DeliveryProvider, used: ServerCredentials, stored: ServerCredentials, givenSet: string | undefined): boolean {
  if (!apiCredentialsChanged(provider, used, stored)) return true;
  if (provider !== DeliveryProvider.AMAZON_SES || !used.ses || !stored.ses) return false;
  const storedSet = stored.ses.configurationSetName;
  const withoutSet = (ses: SesCredentials): ServerCredentials => ({ ses: { ...ses, configurationSetName: null } });
  return !apiCredentialsChanged(provider, withoutSet(used.ses), withoutSet(stored.ses)) && (!storedSet || storedSet === used.ses.configurationSetName || storedSet === givenSet);
}
