import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, QueryFailedError, Repository } from 'typeorm';
import type { Viewer } from '../../infra/auth/viewer';
import { BadUserInputError, DomainError, ErrorCode, NotFoundError } from '../../infra/errors/domain-error';
import { type Connection, paginate } from '../../infra/graphql/pagination';
import { requestLoader } from '../../infra/graphql/request-loaders';
import { DeliveryErrorCode } from '../../providers/provider.enums';
import { TenantScope } from '../accounts/tenant-scope.service';
import { RoutingService } from '../routing/routing.service';
import { SuppressionsService } from '../suppressions/suppressions.service';
import type { SendEmailInput } from './dto/send-email.input';
import { MessageEntity, MessageEventEntity, MessageSource, MessageStatus } from './message.entity';
import { type AcceptedMessage, type MessageContent, MessageStore } from './message-store';
import type { MemoRequest } from '../../infra/graphql/response-memo';
import { isUuid } from '../../infra/validation';
import { withTimeout } from '../../infra/with-timeout';
import { domainOf } from '../../providers/shared/adapter-helpers';

/** How long sendEmail waits for its job to be queued before answering anyway (the sweeper adds a missing job). */
const ENQUEUE_WAIT_MS = 2_000;

/** Headers the platform sets itself; a caller's own would conflict or spoof them. */
const RESERVED_HEADERS = new Set(['from', 'to', 'cc', 'bcc', 'subject', 'reply-to', 'message-id', 'date', 'sender', 'return-path', 'content-type', 'content-transfer-encoding', 'mime-version']);
/**
 * Headers providers read as instructions, not as mail: over their SMTP relays (SES's
 * configuration set, Mailgun's and SparkPost's options and IP pools, SendGrid's X-SMTPAPI) and
 * at their HTTP APIs (SendGrid's subuser impersonation, the API key). A sender on a shared server
 * could move its events, pool or reputation, or act as another account.
 */
const PROVIDER_CONTROL_HEADER = /^(x-ses-.*|x-mailgun-.*|x-msys-.*|x-smtpapi|x-mc-.*|x-mailroute-.*|on-behalf-of|authorization)$/i;
const reservedHeader = (name: string): boolean => RESERVED_HEADERS.has(name.toLowerCase()) || PROVIDER_CONTROL_HEADER.test(name);

export interface MessageFilter {
  status?: MessageStatus | null;
  campaignId?: string | null;
  to?: string | null;
  since?: Date | null;
  until?: Date | null;
  first?: number | null;
  after?: string | null;
}

@Injectable()
export class MessagesService {
  private readonly logger = new Logger(MessagesService.name);

  constructor(
    @InjectRepository(MessageEntity) private readonly messages: Repository<MessageEntity>,
    @InjectRepository(MessageEventEntity) private readonly events: Repository<MessageEventEntity>,
    private readonly scope: TenantScope,
    private readonly routing: RoutingService,
    private readonly suppressions: SuppressionsService,
    private readonly store: MessageStore,
  ) {}

  /** Routes before accepting: a message that could not be sent is refused, and nothing is stored. */
  async send(viewer: Viewer, input: SendEmailInput): Promise<MessageEntity> {
    const account = await this.scope.account(viewer, input.accountId);
    if (input.idempotencyKey) {
      const existing = await this.messages.findOneBy({ accountId: account.id, idempotencyKey: input.idempotencyKey });
      if (existing) return existing;
    }
    const bad = (input.headers ?? []).filter((h) => reservedHeader(h.name));
    if (bad.length) throw BadUserInputError.field('headers', `must not set ${bad.map((h) => h.name).join(', ')}: mailroute and the delivery server set these themselves`);
    if (!input.html && !input.text) throw new BadUserInputError('Give html or text (or both)', ['html', 'text']);
    const source = input.source ?? MessageSource.ONE_OFF;
    const from = input.from ?? (source === MessageSource.REMINDER ? await this.reminderFrom(account.id) : null);
    if (!from) throw BadUserInputError.field('from', 'is required (only a REMINDER may leave it out, when a server routes for the account)');

    const route = await this.routing.route(account.id, from);
    if (route.code === DeliveryErrorCode.NO_ROUTE) throw new DomainError(ErrorCode.NO_ROUTE, route.reason);
    if (route.code === DeliveryErrorCode.SENDER_NOT_VERIFIED) throw new DomainError(ErrorCode.SENDER_NOT_VERIFIED, route.reason);

    const suppressed = await this.suppressions.isSuppressed(account.id, input.to);
    const content: MessageContent = {
      accountId: account.id,
      campaignId: null,
      source,
      from,
      replyTo: input.replyTo ?? null,
      subject: input.subject,
      html: input.html ?? null,
      text: input.text ?? null,
      headers: input.headers?.map((h) => ({ name: h.name, value: h.value })) ?? null,
    };
    let accepted: AcceptedMessage[];
    try {
      accepted = await this.store.accept(content, [{ to: input.to, idempotencyKey: input.idempotencyKey ?? null, suppressed }]);
    } catch (err) {
      // Two requests with one idempotency key at once: the second finds the first's message.
      if (input.idempotencyKey && err instanceof QueryFailedError && (err.driverError as { code?: string }).code === '23505') {
        return this.messages.findOneByOrFail({ accountId: account.id, idempotencyKey: input.idempotencyKey });
      }
      throw err;
    }
    // Read before the job exists: the answer is the message as accepted, not wherever a fast worker has taken it since.
    const stored = await this.messages.findOneByOrFail({ id: accepted[0].id });
    // The message is accepted once committed: a queue failure (Redis away) must not answer an
    // error the client would retry into a second message. The sweeper adds the missing job once
    // Redis answers again.
    // Nor may a slow one (Bull's client reconnecting) hold the answer past a client's time-out: a
    // job that lands later is harmless (its seq still matches, and the sweeper adds one only when
    // it is missing).
    await withTimeout(this.store.enqueue(accepted), ENQUEUE_WAIT_MS, () => new Error(`no answer within ${ENQUEUE_WAIT_MS} ms`)).catch((err: unknown) => {
      this.logger.warn(`Message ${stored.id}: adding its job failed (${err instanceof Error ? err.message : 'error'}); the sweeper will add it`);
    });
    return stored;
  }

  /**
   * REMINDER without a From: the testEmail of the server that routes for the account, the first
   * candidate not kept out (a server pinned to a sending domain counts: the From is not known
   * yet). A server further down is not asked for its address: the mail would go through the first
   * one From another server's verified sender.
   */
  private async reminderFrom(accountId: string): Promise<string | null> {
    const probe = await this.routing.route(accountId, 'reminder@reminder.invalid');
    const routed = probe.candidates.find((c) => c.blocker === null || c.blocker === 'DOMAIN');
    if (!routed) return null;
    // Its testEmail, else the senderAddress it forces on every message anyway; either only when on
    // the server's own sending domain (routing the REMINDER From another domain would leave it).
    const fits = (address: string | null): address is string => !!address && (!routed.server.sendingDomain || domainOf(address) === routed.server.sendingDomain);
    const from = [routed.server.testEmail, routed.server.senderAddress].find(fits) ?? null;
    if (!from) throw BadUserInputError.field('from', `is required: ${routed.server.name}, the server a REMINDER routes to, has no testEmail`);
    return from;
  }

  async get(viewer: Viewer, id: string): Promise<MessageEntity> {
    const message = isUuid(id) ? await this.messages.findOneBy({ id }) : null;
    if (!message) throw new NotFoundError('Message', id);
    await this.scope.account(viewer, message.accountId).catch(() => {
      throw new NotFoundError('Message', id);
    });
    return message;
  }

  async list(viewer: Viewer, accountId: string, filter: MessageFilter, memo: MemoRequest | null = null): Promise<Connection<MessageEntity>> {
    const account = await this.scope.account(viewer, accountId);
    const qb = this.messages.createQueryBuilder('message').where('message.accountId = :accountId', { accountId: account.id });
    if (filter.status) qb.andWhere('message.status = :status', { status: filter.status });
    if (filter.campaignId) {
      if (!isUuid(filter.campaignId)) throw BadUserInputError.field('campaignId', 'is not a campaign id');
      qb.andWhere('message.campaignId = :campaignId', { campaignId: filter.campaignId });
    }
    if (filter.to) qb.andWhere('message.to = :to', { to: filter.to.trim().toLowerCase() });
    if (filter.since) qb.andWhere('message.createdAt >= :since', { since: filter.since });
    if (filter.until) qb.andWhere('message.createdAt < :until', { until: filter.until });
    return paginate(qb, filter, (row) => row, { memo });
  }

  /** Batched per request: each message's events, in order. */
  eventsOf(ctx: object, messageId: string): Promise<MessageEventEntity[]> {
    return requestLoader<string, MessageEventEntity[]>(ctx, 'message.events', async (ids) => {
      const rows = await this.events.find({ where: { messageId: In([...ids]) }, order: { id: 'ASC' } });
      return ids.map((i) => rows.filter((r) => r.messageId === i));
    }).load(messageId);
  }
}
