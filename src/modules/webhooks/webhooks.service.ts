import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, Repository } from 'typeorm';
import { AheadOfRegistrationError, DeliveryError, WrongWebhookKeyError } from '../../providers/delivery-error';
import { DeliveryErrorCode, DeliveryProvider, WebhookStatus } from '../../providers/provider.enums';
import { ProviderGateway } from '../../providers/provider-gateway';
import type { IncomingWebhookRequest, ParsedWebhookEvent } from '../../providers/provider.types';
import { DeliveryServerEntity } from '../delivery-servers/delivery-server.entity';
import { ServerVault } from '../delivery-servers/server-vault';
import { WebhookRegistrar } from '../delivery-servers/webhook-registrar';
import { MessageStatus } from '../messages/message.entity';
import { MessageStore, providerEventKey, type ProviderMessageMatch, type StatusOutcome } from '../messages/message-store';
import { SuppressionReason } from '../suppressions/suppression.entity';
import { SuppressionsService } from '../suppressions/suppressions.service';
import {
  candidateIds,
  clip,
  bareAddress,
  clipDetail,
  eventTypeOf,
  externalIdOf,
  isSnsSubscriptionConfirmation,
  isSparkPostPing,
  isUuid,
  mailgunSignature,
  providerForSlug,
  providerOutcomeError,
  suppressionAddress,
} from './webhook-events';
import { ServerReputationService } from './server-reputation.service';
import { WebhookReplayGuard } from './webhook-replay-guard';
import { WebhookStateRefresh } from './webhook-state-refresh';
import { WebhookError, WebhookErrorCode } from './webhooks.errors';
import { storableOrNull, storableText } from '../../infra/database/storable-text';

/** What one post did, answered to the provider: events parsed, newly stored, already stored, for no known message (kept in webhook_events_unmatched). */
export interface WebhookOutcome {
  received: number;
  stored: number;
  duplicates: number;
  unknown: number;
}

interface Matched {
  event: ParsedWebhookEvent;
  message: ProviderMessageMatch;
}

/**
 * Ingests provider webhooks: finds the server, lets its adapter authenticate and parse the post,
 * then records each event on its message (once per provider event id), moves the message's
 * status and suppresses hard-bounced and complaining addresses for the message's account;
 * complaints may pause the server (ServerReputationService).
 */
@Injectable()
export class WebhooksService {
  private readonly logger = new Logger(WebhooksService.name);

  constructor(
    @InjectRepository(DeliveryServerEntity) private readonly servers: Repository<DeliveryServerEntity>,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly vault: ServerVault,
    private readonly gateway: ProviderGateway,
    private readonly suppressions: SuppressionsService,
    private readonly replays: WebhookReplayGuard,
    private readonly reputation: ServerReputationService,
    private readonly store: MessageStore,
    private readonly registrar: WebhookRegistrar,
    private readonly stateRefresh: WebhookStateRefresh,
  ) {}

  async ingest(slug: string, serverId: string, request: IncomingWebhookRequest): Promise<WebhookOutcome> {
    const server = await this.serverFor(slug, serverId);
    const events = await this.parse(server, request);
    if (events === null) return { received: 0, stored: 0, duplicates: 0, unknown: 0 };

    const mailgun = server.provider === DeliveryProvider.MAILGUN ? mailgunSignature(request.rawBody) : null;
    const claim = mailgun ? await this.replays.claim(mailgun.signature) : null;
    if (claim?.state === 'applied') {
      // Applied once already: a retry whose first 200 was lost, or a replay. 200 with nothing
      // stored, as for any duplicate: Mailgun retries anything else for hours.
      this.logger.log(`Webhook ${server.provider} server ${server.id}: a post already applied (same signature) was ignored`);
      return { received: events.length, stored: 0, duplicates: events.length, unknown: 0 };
    }
    if (claim?.state === 'applying') {
      // The same post is being applied right now and may yet fail: a 200 would stop Mailgun's retries.
      throw new WebhookError(WebhookErrorCode.RETRY_LATER, 'The same post is being applied: retry later', 'Mailgun post with a signature being applied');
    }
    try {
      if (server.provider === DeliveryProvider.AMAZON_SES && isSnsSubscriptionConfirmation(request.rawBody)) {
        await this.markSubscriptionConfirmed(server);
      }
      const { outcome } = await this.apply(server, events);
      // Not remembered (Redis failing) only means a later replay is applied again: its events are
      // stored once (by their ids) regardless.
      if (mailgun) await this.replays.applied(mailgun.signature, mailgun.timestamp).catch(() => this.logger.warn(`Webhook ${server.provider} server ${server.id}: could not remember an applied post's signature`));
      this.logger.log(
        `Webhook ${server.provider} server ${server.id}: ${outcome.received} event(s), ${outcome.stored} stored, ${outcome.duplicates} duplicate(s), ${outcome.unknown} for unknown messages`,
      );
      return outcome;
    } catch (err) {
      // Let Mailgun's retry of this very post through: it was never applied.
      if (mailgun && claim?.state === 'first') await this.replays.release(mailgun.signature, claim.hold).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Applies events as if just posted (EarlyWebhookEvents: events kept unmatched because they came
   * before their message's SENT record); returns the ids of those that found their message.
   */
  async applyEvents(server: DeliveryServerEntity, events: ParsedWebhookEvent[]): Promise<Set<string>> {
    const { matched } = await this.apply(server, events);
    return new Set(matched.map((m) => m.event.eventId));
  }

  private async serverFor(slug: string, serverId: string): Promise<DeliveryServerEntity> {
    const provider = providerForSlug(slug);
    const server = provider && isUuid(serverId) ? await this.servers.findOneBy({ id: serverId }) : null;
    if (!server || server.provider !== provider) throw new WebhookError(WebhookErrorCode.NOT_FOUND, 'Unknown webhook endpoint');
    return server;
  }

  /**
   * The adapter's events; null for a SparkPost test ping, which is answered without authentication.
   * A post refused for its signature alone (WrongWebhookKeyError) is checked once more against the
   * state the provider holds now, when that changed without us (WebhookStateRefresh).
   */
  private async parse(server: DeliveryServerEntity, request: IncomingWebhookRequest, state = this.vault.webhookState(server), refreshed = false): Promise<ParsedWebhookEvent[] | null> {
    try {
      const events = await this.gateway.adapterFor(server.provider).parseWebhook(this.vault.providerServer(server), request, state);
      // Authenticated, not cleaned: a NUL in any field would fail the batch's writes on every retry.
      return events.map((e) => ({
        ...e,
        eventId: storableText(e.eventId),
        providerMessageId: storableOrNull(e.providerMessageId),
        recipient: storableOrNull(e.recipient),
        detail: storableOrNull(e.detail),
      }));
    } catch (err) {
      if (!(err instanceof DeliveryError)) throw err;
      if (err.code === DeliveryErrorCode.AUTH_FAILED && !err.transient) {
        // SparkPost pings a target with the credentials it is about to store, before we have them.
        if (server.provider === DeliveryProvider.SPARKPOST && isSparkPostPing(request.rawBody)) return null;
        const current = refreshed || !(err instanceof WrongWebhookKeyError) ? null : await this.stateRefresh.changedAtProvider(server);
        if (current) return this.parse(server, request, current, true);
        throw new WebhookError(WebhookErrorCode.UNAUTHORIZED, 'Webhook signature rejected', err.message);
      }
      if (err.code === DeliveryErrorCode.MESSAGE_REJECTED) throw new WebhookError(WebhookErrorCode.MALFORMED, 'Malformed webhook body', err.message);
      if (err.transient) {
        // A subscription confirmation ahead of its registration's record waits only while that
        // registration runs: otherwise it is a confirmation no registration of ours asked for.
        if (err instanceof AheadOfRegistrationError && !(await this.registrationMoved(server))) {
          throw new WebhookError(WebhookErrorCode.UNAUTHORIZED, 'Webhook signature rejected', 'subscription confirmation for no registration under way');
        }
        throw new WebhookError(WebhookErrorCode.RETRY_LATER, 'Webhook cannot be checked now: retry later', err.message);
      }
      throw err;
    }
  }

  /**
   * Whether the server's registration is running, or has recorded something since `read` (it may
   * have ended while the post was being checked): then a post ahead of it is worth a retry.
   */
  private async registrationMoved(read: DeliveryServerEntity): Promise<boolean> {
    if (await this.registrar.isRegistering(read.id)) return true;
    const now = await this.servers.findOneBy({ id: read.id });
    return Boolean(now) && JSON.stringify(now?.sealedWebhookState ?? null) !== JSON.stringify(read.sealedWebhookState ?? null);
  }

  /**
   * SNS has confirmed our subscription to the topic of the stored registration (`server` as read
   * for the post, whose topic the adapter checked): the SES registration is complete. Recorded on
   * `webhook` by the topic's digest (confirmedTopic, confirmedAt) and the subscription's
   * (confirmedSubscription: the one the stored registration made), so a registration of that topic
   * still under way, which SNS answered before it recorded its outcome, records REGISTERED too
   * (WebhookRegistrar). A PENDING registration becomes REGISTERED only if it is for that topic
   * (rows recorded before `topic` was stored: any), as it is when the statement runs.
   */
  private async markSubscriptionConfirmed(server: DeliveryServerEntity): Promise<void> {
    const { topicArn, subscriptionArn } = this.vault.webhookState(server);
    if (!topicArn) return;
    await this.dataSource.query(
      `UPDATE delivery_servers
          SET webhook = webhook
                || jsonb_build_object('confirmedTopic', $2::text, 'confirmedAt', $3::text)
                || jsonb_strip_nulls(jsonb_build_object('confirmedSubscription', $6::text))
                || CASE WHEN webhook->>'status' = $4 AND COALESCE(webhook->>'topic', $2) = $2
                        THEN jsonb_build_object('status', $5::text, 'registeredAt', $3::text, 'error', NULL)
                        ELSE '{}'::jsonb END
        WHERE id = $1`,
      [server.id, this.vault.webhookMark(topicArn), new Date().toISOString(), WebhookStatus.PENDING, WebhookStatus.REGISTERED, subscriptionArn ? this.vault.webhookMark(subscriptionArn) : null],
    );
  }

  /**
   * One transaction per post: events inserted once (ON CONFLICT on the message's external id),
   * events for no known message kept for audit (once per server and external id), statuses
   * moved forward only, and the suppressions of the hard bounces and complaints it stored. In
   * the same transaction, so an event is never stored without its suppression (a retry finds it
   * stored and changes nothing); an event already stored suppresses nothing again, so a replayed
   * post cannot put back an address its account removed from the list.
   */
  private async apply(server: DeliveryServerEntity, events: ParsedWebhookEvent[]): Promise<{ outcome: WebhookOutcome; matched: Matched[] }> {
    if (events.length === 0) return { outcome: { received: 0, stored: 0, duplicates: 0, unknown: 0 }, matched: [] };
    const { matched, stored } = await this.dataSource.transaction(async (manager) => {
      const ids = [...new Set(events.flatMap((e) => candidateIds(server.provider, e.providerMessageId)))];
      const rows = await this.store.findByProviderIds(manager, server.id, ids);
      const matched: Matched[] = [];
      const unmatched: ParsedWebhookEvent[] = [];
      for (const event of events) {
        const message = pickMessage(rows, candidateIds(server.provider, event.providerMessageId), event.recipient);
        if (message) matched.push({ event, message });
        else unmatched.push(event);
      }
      await keepUnmatched(manager.query.bind(manager), server, unmatched);
      if (matched.length === 0) return { matched, stored: 0 };

      const storedNow = await this.store.recordProviderEvents(
        manager,
        matched.map((m) => ({
          messageId: m.message.id,
          type: eventTypeOf(m.event.kind),
          occurredAt: occurredAtOf(m.event),
          detail: clipDetail(m.event.detail),
          serverId: server.id,
          externalId: externalIdOf(m.event.eventId),
        })),
      );
      // Forward only, and never back. From SENT: DELIVERED, FAILED (the provider rejected it) and
      // BOUNCED by a soft bounce; from SENT or DELIVERED (an asynchronous bounce, a complaint):
      // BOUNCED by a hard bounce and COMPLAINED. A soft bounce after delivery ends nothing; a
      // delivery, hard bounce or complaint posted after a soft bounce (out of order) outranks it.
      const advance = (kind: ParsedWebhookEvent['kind'], to: MessageStatus, from: MessageStatus[]) =>
        this.store.advanceStatus(manager, outcomesOf(matched, kind), to, from);
      const afterSoftBounce = (kind: ParsedWebhookEvent['kind'], to: MessageStatus, hardBouncesNow: 0 | 1) =>
        this.store.afterSoftBounce(manager, outcomesOf(matched, kind), to, hardBouncesNow);
      await advance('DELIVERED', MessageStatus.DELIVERED, [MessageStatus.SENT]);
      await afterSoftBounce('DELIVERED', MessageStatus.DELIVERED, 0);
      await advance('REJECTED', MessageStatus.FAILED, [MessageStatus.SENT]);
      await advance('HARD_BOUNCE', MessageStatus.BOUNCED, [MessageStatus.SENT, MessageStatus.DELIVERED]);
      await afterSoftBounce('HARD_BOUNCE', MessageStatus.BOUNCED, 1);
      await advance('SOFT_BOUNCE', MessageStatus.BOUNCED, [MessageStatus.SENT]);
      await advance('COMPLAINT', MessageStatus.COMPLAINED, [MessageStatus.SENT, MessageStatus.DELIVERED]);
      await afterSoftBounce('COMPLAINT', MessageStatus.COMPLAINED, 0);

      const done = new Set<string>();
      for (const { event, message } of matched) {
        if (event.kind !== 'HARD_BOUNCE' && event.kind !== 'COMPLAINT') continue;
        if (!storedNow.has(providerEventKey(message.id, externalIdOf(event.eventId)))) continue;
        const email = suppressionAddress(event.recipient, message.to_address);
        const key = `${message.account_id} ${email ?? ''}`;
        if (!email || done.has(key)) continue;
        done.add(key);
        await this.suppressions.suppress(message.account_id, email, event.kind === 'HARD_BOUNCE' ? SuppressionReason.HARD_BOUNCE : SuppressionReason.COMPLAINT, manager);
      }
      return { matched, stored: storedNow.size };
    });

    // Complaints (new or repeated, so a retry after a failure here still checks) may pause the server.
    if (matched.some((m) => m.event.kind === 'COMPLAINT')) await this.reputation.pauseOnComplaints(server.id, server.status);
    return { outcome: { received: events.length, stored, duplicates: matched.length - stored, unknown: events.length - matched.length }, matched };
  }
}

type Query = (sql: string, parameters: unknown[]) => Promise<unknown>;

function occurredAtOf(event: ParsedWebhookEvent): string {
  return (Number.isNaN(event.occurredAt.getTime()) ? new Date() : event.occurredAt).toISOString();
}

/** Events for no known message: kept (once per server and provider event id) for audit, and for EarlyWebhookEvents. */
async function keepUnmatched(query: Query, server: DeliveryServerEntity, events: ParsedWebhookEvent[]): Promise<void> {
  if (!events.length) return;
  await query(
    // Due for another look at once (EarlyWebhookEvents) when it names a provider id: its message
    // may be one whose SENT record is not written yet.
    `INSERT INTO webhook_events_unmatched (server_id, provider, kind, provider_message_id, recipient, external_id, occurred_at, detail, recheck_at)
     SELECT $1::uuid, $2::delivery_provider, e.*, CASE WHEN btrim(btrim(e.provider_message_id, E' \t\r\n'), '<>') <> '' THEN now() END
       FROM unnest($3::message_event_type[], $4::varchar[], $5::varchar[], $6::varchar[], $7::timestamptz[], $8::varchar[])
            AS e(kind, provider_message_id, recipient, external_id, occurred_at, detail)
     ON CONFLICT (server_id, external_id) DO NOTHING`,
    [
      server.id,
      server.provider,
      events.map((e) => eventTypeOf(e.kind)),
      events.map((e) => clip(e.providerMessageId, 255)),
      events.map((e) => clip(e.recipient, 320)),
      events.map((e) => externalIdOf(e.eventId)),
      events.map(occurredAtOf),
      events.map((e) => clipDetail(e.detail)),
    ],
  );
}

/** The messages an event kind moves (the first such event of a message wins), with the error it leaves. */
function outcomesOf(matched: Matched[], kind: ParsedWebhookEvent['kind']): StatusOutcome[] {
  const byMessage = new Map<string, StatusOutcome>();
  for (const { event, message } of matched) {
    if (event.kind !== kind || byMessage.has(message.id)) continue;
    byMessage.set(message.id, { id: message.id, error: providerOutcomeError(kind, event.detail) });
  }
  return [...byMessage.values()];
}

/** The message an event belongs to; when a provider id is shared (it should not be), the one sent to the event's recipient. */
function pickMessage(rows: ProviderMessageMatch[], candidates: string[], recipient: string | null): ProviderMessageMatch | undefined {
  const mine = rows.filter((r) => candidates.includes(r.provider_message_id));
  if (mine.length <= 1) return mine[0];
  const to = recipient?.trim().toLowerCase();
  return mine.find((r) => to && bareAddress(r.to_address).toLowerCase() === to) ?? mine[0];
}
