import { type BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { DataSource, type EntityManager } from 'typeorm';
import { DispatchQueue } from './dispatch-queue';
import { DeliveryErrorCode } from '../../providers/provider.enums';
import { MessageEntity, MessageEventEntity, MessageEventType, MessageStatus, type StoredDeliveryError } from './message.entity';

/** A deferred message waiting for a quota window or a pacing turn, not out a failed attempt's backoff (which stores its error). */
const QUOTA_OR_PACING_WAIT = 'error IS NULL AND next_attempt_at > now()';
/** Messages routed again per statement and queue call (a server's or an account's waiting mail can be a large backlog). */
const REROUTE_PAGE = 2_000;

/** What the messages of one accept share: sent once per statement, not once per row. */
export type MessageContent = Pick<MessageEntity, 'accountId' | 'campaignId' | 'source' | 'from' | 'replyTo' | 'subject' | 'html' | 'text' | 'headers'>;

/** What differs per message: the recipient, and whether it is refused at once. */
export interface MessageRecipient {
  to: string;
  idempotencyKey?: string | null;
  /** Stored SUPPRESSED (error SUPPRESSED, a REJECTED event) and never queued. */
  suppressed?: boolean;
}

/** A message a provider event moves, and the error it leaves (null: the message's stays). */
export interface StatusOutcome {
  id: string;
  error: StoredDeliveryError | null;
}

/** A sent message a provider event may be about (matched by the provider's id for it). */
export interface ProviderMessageMatch {
  id: string;
  account_id: string;
  to_address: string;
  provider_message_id: string;
}

/** A provider's event on one of our messages (a webhook), stored once per external id. */
export interface ProviderEventRecord {
  messageId: string;
  type: MessageEventType;
  occurredAt: string;
  detail: string | null;
  serverId: string;
  externalId: string;
}

export type AcceptedMessage = Pick<MessageEntity, 'id' | 'dispatchSeq'> & { status: MessageStatus.QUEUED | MessageStatus.SUPPRESSED };

/**
 * An attempt through a server, written with its outcome: attempts + 1 and a ROUTED event, dated
 * on the database's clock like every other event (now, less the time since `at`), so a worker's
 * clock skew cannot reorder a message's events.
 */
export interface AttemptRecord {
  serverId: string;
  detail: string;
  at: Date;
}

/**
 * The worker's hold on a message: its id and the schedule (dispatch_seq) its job belongs to.
 * The worker's outcomes apply only while that claim stands (status SENDING, same seq), so a job
 * that overlaps another (a lost lock, a stalled job run again) cannot overwrite the other's.
 */
export type Claim = Pick<MessageEntity, 'id' | 'dispatchSeq'>;

/** The error of a message not sent because its recipient is suppressed (the accept writes the same in SQL). */
export function suppressedError(to: string): StoredDeliveryError {
  return { code: DeliveryErrorCode.SUPPRESSED, message: `${to} is suppressed for this account`, transport: null, smtpResponseCode: null, providerStatus: null, step: null };
}

/** Messages per INSERT: the per-row values travel as a few arrays (unnest), the shared ones once. */
const INSERT_BATCH = 1_000;

/**
 * Writes of message state, shared by the API (accept), the worker's less frequent transitions
 * (defer, finish, release), the sweeper and provider webhooks; the worker's hot path (claim;
 * SENT with its attempt) is grouped across jobs in DispatchWrites. Every change of status records its MessageEvent in the
 * same statement batch.
 */
@Injectable()
export class MessageStore implements BeforeApplicationShutdown {
  private readonly logger = new Logger(MessageStore.name);
  /** Account-wide re-routes still running (rerouteWaitersOf): shutdown waits for them. */
  private readonly rerouting = new Set<Promise<void>>();
  /** The account (or '*': every account) whose re-route runs, and whether another pass was asked for. */
  private readonly accountReroutes = new Map<string, { again: boolean }>();
  private stopping = false;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly queue: DispatchQueue,
  ) {}

  /**
   * The one writer of new messages (sendEmail, campaign launches): QUEUED with a QUEUED event,
   * or SUPPRESSED with error SUPPRESSED and a REJECTED event. Outbox: the rows are committed
   * first (in `manager`'s transaction when given), then their jobs are added (`enqueue`); a crash
   * between the two leaves QUEUED rows without jobs, which the sweeper re-queues. An idempotency
   * key already used by the account fails the insert with a unique violation (23505).
   */
  async accept(content: MessageContent, recipients: MessageRecipient[], manager?: EntityManager): Promise<AcceptedMessage[]> {
    const rows = recipients.map((r) => ({ ...r, id: randomUUID(), status: r.suppressed ? (MessageStatus.SUPPRESSED as const) : (MessageStatus.QUEUED as const) }));
    const write = async (tx: EntityManager): Promise<void> => {
      for (let i = 0; i < rows.length; i += INSERT_BATCH) {
        const batch = rows.slice(i, i + INSERT_BATCH);
        // Each event's foreign-key check looks its message up with a plan PostgreSQL caches per
        // connection: after five custom plans it keeps a generic one, made for the table's size
        // at that moment. On a table analysed while (nearly) empty that is a sequential scan,
        // and a campaign launch would then scan the growing table once per message (quadratic:
        // 1.6 s per 1,000 rows at 20,000). Invalidating the cached plans before each multi-row
        // batch makes the check plan again for the table as it is now (docs/performance.md,
        // "An empty table analysed").
        if (batch.length > 1) await tx.query('DISCARD PLANS');
        // One statement per batch: the messages, and each one's first event from the row as written.
        await tx.query(
          `WITH written AS (
             INSERT INTO messages (id, account_id, campaign_id, source, from_address, reply_to, subject, html, text, headers, to_address, idempotency_key, status, error, attempts, dispatch_seq)
             SELECT r.id, $1, $2, $3::message_source, $4, $5, $6, $7, $8, $9::jsonb, r.to_address, r.idempotency_key, r.status::message_status,
                    CASE WHEN r.status = 'SUPPRESSED' THEN jsonb_build_object(
                      'code', $14::text, 'message', r.to_address || ' is suppressed for this account',
                      'transport', NULL, 'smtpResponseCode', NULL, 'providerStatus', NULL, 'step', NULL) END,
                    0, 0
               FROM unnest($10::uuid[], $11::text[], $12::text[], $13::text[]) AS r(id, to_address, idempotency_key, status)
             RETURNING id, status, error)
           INSERT INTO message_events (message_id, type, detail)
           SELECT id, CASE WHEN status = 'QUEUED' THEN 'QUEUED' ELSE 'REJECTED' END::message_event_type, error->>'message'
             FROM written`,
          [
            content.accountId,
            content.campaignId,
            content.source,
            content.from,
            content.replyTo,
            content.subject,
            content.html,
            content.text,
            content.headers ? JSON.stringify(content.headers) : null,
            batch.map((r) => r.id),
            batch.map((r) => r.to),
            batch.map((r) => r.idempotencyKey ?? null),
            batch.map((r) => r.status),
            DeliveryErrorCode.SUPPRESSED,
          ],
        );
      }
    };
    if (manager) await write(manager);
    else await this.dataSource.transaction(write);
    return rows.map((r) => ({ id: r.id, dispatchSeq: 0, status: r.status }));
  }

  /**
   * Messages sent through `serverId` that the provider knows by one of `providerIds`, locked for
   * the rest of the webhook's transaction (in id order, so overlapping batches cannot deadlock).
   * Two posts about one message apply one after the other: without the lock, a delivery posted
   * while a hard bounce was being applied judged "soft-bounced only" from a snapshot that could
   * not see that bounce, and overwrote it. FOR NO KEY UPDATE, not FOR UPDATE: it conflicts with
   * itself and with every UPDATE of the row, which is all the serialising needs, but not with the
   * FOR KEY SHARE lock each message_events insert takes on its message through the foreign key:
   * another transaction recording an event for a locked message does not wait for the webhook.
   */
  findByProviderIds(tx: EntityManager, serverId: string, providerIds: string[]): Promise<ProviderMessageMatch[]> {
    if (!providerIds.length) return Promise.resolve([]);
    return tx.query<ProviderMessageMatch[]>(
      `SELECT id, account_id, to_address, provider_message_id FROM messages WHERE server_id = $1 AND provider_message_id = ANY($2::varchar[]) ORDER BY id FOR NO KEY UPDATE`,
      [serverId, providerIds],
    );
  }

  /** Provider events, each once per message and external id (a repeat is skipped); returns how many were new. */
  /** Stores the events not stored before; answers the (message id, external id) of those it stored. */
  async recordProviderEvents(tx: EntityManager, events: ProviderEventRecord[]): Promise<Set<string>> {
    if (!events.length) return new Set();
    const inserted = await tx.query<{ message_id: string; external_id: string }[]>(
      `INSERT INTO message_events (message_id, type, occurred_at, detail, server_id, external_id)
       SELECT * FROM unnest($1::uuid[], $2::message_event_type[], $3::timestamptz[], $4::varchar[], $5::uuid[], $6::varchar[])
       ON CONFLICT DO NOTHING
       RETURNING message_id, external_id`,
      [
        events.map((e) => e.messageId),
        events.map((e) => e.type),
        events.map((e) => e.occurredAt),
        events.map((e) => e.detail),
        events.map((e) => e.serverId),
        events.map((e) => e.externalId),
      ],
    );
    return new Set(inserted.map((row) => providerEventKey(row.message_id, row.external_id)));
  }

  /**
   * Moves messages to `to`, only those now in one of `from` (provider events move status forward
   * only), storing each one's error when it has one (one message once in `outcomes`).
   */
  async advanceStatus(tx: EntityManager, outcomes: StatusOutcome[], to: MessageStatus, from: MessageStatus[]): Promise<void> {
    if (!outcomes.length) return;
    await tx.query(
      `UPDATE messages m SET status = $3::message_status, error = COALESCE(o.error, m.error), updated_at = now()
         FROM unnest($1::uuid[], $2::jsonb[]) AS o(id, error)
        WHERE m.id = o.id AND m.status = ANY($4::message_status[])`,
      [outcomes.map((o) => o.id), outcomes.map((o) => (o.error ? JSON.stringify(o.error) : null)), to, from],
    );
  }

  /**
   * Moves messages a soft bounce had ended BOUNCED: providers do not post in order, and a
   * delivery, a complaint or a hard bounce outranks a soft bounce. A message is soft-bounced when
   * it holds no HARD_BOUNCE event besides the `hardBouncesNow` this post has just stored (1 when
   * moving to a hard bounce), so a second hard bounce never rewrites the first's error. `error`
   * becomes each outcome's (none for a delivery or a complaint).
   */
  async afterSoftBounce(tx: EntityManager, outcomes: StatusOutcome[], to: MessageStatus, hardBouncesNow: 0 | 1): Promise<void> {
    if (!outcomes.length) return;
    await tx.query(
      `UPDATE messages m SET status = $3::message_status, error = o.error, updated_at = now()
         FROM unnest($1::uuid[], $2::jsonb[]) AS o(id, error)
        WHERE m.id = o.id AND m.status = 'BOUNCED'
          AND (SELECT count(*) FROM message_events e WHERE e.message_id = m.id AND e.type = 'HARD_BOUNCE') = $4`,
      [outcomes.map((o) => o.id), outcomes.map((o) => (o.error ? JSON.stringify(o.error) : null)), to, hardBouncesNow],
    );
  }

  /** Jobs for accepted rows (call after the transaction that inserted them has committed). */
  enqueue(rows: Pick<MessageEntity, 'id' | 'dispatchSeq' | 'status'>[]): Promise<void> {
    return this.queue.add(rows.filter((r) => r.status === MessageStatus.QUEUED).map((r) => ({ messageId: r.id, seq: r.dispatchSeq })));
  }

  /**
   * A final failure: FAILED (the provider refused; with the attempt that failed), REJECTED (no
   * route, sender not allowed) or SUPPRESSED (the recipient suppressed since the accept; a
   * REJECTED event, as at the accept).
   */
  async finish(claim: Claim, status: MessageStatus.FAILED | MessageStatus.REJECTED | MessageStatus.SUPPRESSED, error: StoredDeliveryError, serverId: string | null, attempt?: AttemptRecord): Promise<void> {
    const messageId = claim.id;
    await this.dataSource.transaction(async (tx) => {
      // Only under this claim: a message another path has finished or rescheduled stays as it is.
      const result = await tx.update(
        MessageEntity,
        { id: messageId, status: MessageStatus.SENDING, dispatchSeq: claim.dispatchSeq },
        { status, error, nextAttemptAt: null, ...(serverId ? { serverId } : {}), ...(attempt ? { attempts: () => 'attempts + 1' } : {}) },
      );
      if (!result.affected) return;
      if (attempt) await this.insertRouted(tx, messageId, attempt);
      await tx.insert(MessageEventEntity, {
        messageId,
        type: status === MessageStatus.FAILED ? MessageEventType.FAILED : MessageEventType.REJECTED,
        detail: error.message.slice(0, 1000),
        serverId,
      });
    });
  }

  /**
   * Schedules the next attempt: a new seq (so any older job is void) and a delayed job. With
   * `attempt`, the attempt that just failed is counted, with its ROUTED event. The job runs at
   * `notBefore`, or at `runAt` when given (later: a spread that is not the message's to show).
   */
  async defer(
    claim: Claim,
    notBefore: Date,
    detail: string | null,
    error: StoredDeliveryError | null = null,
    serverId: string | null = null,
    options: { attempt?: AttemptRecord; clearError?: boolean; runAt?: Date } = {},
  ): Promise<void> {
    const messageId = claim.id;
    const seq = await this.dataSource.transaction(async (tx) => {
      const result = await tx
        .createQueryBuilder()
        .update(MessageEntity)
        .set({
          status: MessageStatus.DEFERRED,
          nextAttemptAt: notBefore,
          dispatchSeq: () => 'dispatch_seq + 1',
          ...(options.attempt ? { attempts: () => 'attempts + 1' } : {}),
          // The server it waits for: if that server is paused or deleted meanwhile, the message is routed again at once.
          ...(serverId ? { serverId } : {}),
          ...(error ? { error } : options.clearError ? { error: null } : {}),
        })
        // Only under this claim: never turns a SENT message back into pending, nor another job's claim.
        .where('id = :messageId AND status = :sending AND dispatch_seq = :seq', { messageId, sending: MessageStatus.SENDING, seq: claim.dispatchSeq })
        .returning('dispatch_seq')
        .execute();
      const row = (result.raw as { dispatch_seq: number }[])[0];
      if (!row) return null;
      if (options.attempt) await this.insertRouted(tx, messageId, options.attempt);
      if (detail !== null) await tx.insert(MessageEventEntity, { messageId, type: MessageEventType.DEFERRED, detail: detail.slice(0, 1000), serverId });
      return row.dispatch_seq;
    });
    if (seq !== null) await this.queue.add([{ messageId, seq, notBefore: options.runAt ?? notBefore }]);
  }

  private async insertRouted(tx: EntityManager, messageId: string, attempt: AttemptRecord): Promise<void> {
    await tx.insert(MessageEventEntity, { messageId, type: MessageEventType.ROUTED, detail: attempt.detail.slice(0, 1000), serverId: attempt.serverId, occurredAt: () => `now() - make_interval(secs => ${Math.max(0, Date.now() - attempt.at.getTime()) / 1000})` });
  }

  /**
   * Pending messages that wait for this server (their attempt or their quota wait is on it).
   * `forQuotaOnly`: those waiting for a quota window (deferred without an error), not out a failed
   * attempt's backoff (which stores the attempt's error).
   */
  async waitingFor(serverId: string, options: { forQuotaOnly?: boolean } = {}): Promise<string[]> {
    const query = this.dataSource
      .getRepository(MessageEntity)
      .createQueryBuilder('m')
      .select('m.id', 'id')
      .where('m.server_id = :serverId AND m.status IN (:...waiting)', { serverId, waiting: [MessageStatus.QUEUED, MessageStatus.DEFERRED] });
    if (options.forQuotaOnly) query.andWhere('m.error IS NULL');
    const rows = await query.getRawMany<{ id: string }>();
    return rows.map((r) => r.id);
  }

  /**
   * Mail of an account (with its sub-accounts when it is an agency; every account for `null`) that
   * waits for a quota window to reset or for a pacing turn, not out a failed attempt's backoff.
   * After a change to what its routes can be (defaults, assignments, add-ons, the quota action, the
   * clock, a server activated) a route with room may exist now: it is routed again at once, in
   * the background (a platform server's activation can concern every account's waiting mail, which
   * the mutation's answer should not wait for). Never throws: the change is saved either way, and
   * the mail still comes back when its wait ends.
   */
  rerouteWaitersOf(accountId: string | null): void {
    const key = accountId ?? '*';
    const current = this.accountReroutes.get(key);
    // One at a time per account: a change made while its re-route runs asks for one more pass.
    if (current) {
      current.again = true;
      return;
    }
    const state = { again: false };
    this.accountReroutes.set(key, state);
    const running: Promise<void> = (async () => {
      try {
        do {
          state.again = false;
          await this.rerouteAccountWaiters(accountId);
        } while (state.again && !this.stopping);
      } finally {
        // Here, not after: a change arriving once the last pass has ended starts a new one.
        this.accountReroutes.delete(key);
      }
    })()
      .catch((err: unknown) => {
        this.logger.warn(`Waiting mail of ${accountId ? `account ${accountId}` : 'every account'} could not be routed again after a change (${err instanceof Error ? err.message : 'error'})`);
      })
      .finally(() => this.rerouting.delete(running));
    this.rerouting.add(running);
  }

  /**
   * Runs a re-route in the background, tracked with the account-wide ones (shutdown waits for it,
   * reroutesDone too), for a caller that must not wait for it: a provider's webhook request whose
   * complaints paused the server. Never throws: the mail still comes back when its wait ends.
   */
  rerouteInBackground(what: string, run: () => Promise<void>): void {
    const running: Promise<void> = run()
      .catch((err: unknown) => this.logger.warn(`${what} could not be routed again (${err instanceof Error ? err.message : 'error'})`))
      .finally(() => this.rerouting.delete(running));
    this.rerouting.add(running);
  }

  /** Resolves when the re-routes started so far have ended (shutdown; tests). */
  async reroutesDone(): Promise<void> {
    await Promise.all([...this.rerouting]);
  }

  /** A re-route in progress stops after its current chunk (see reroute): the rest still comes back when its wait ends. */
  beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    return this.reroutesDone();
  }

  /**
   * The waiting mail is found once (no index serves paging through it in order), then moved a
   * chunk per statement, each row only while it still waits as it did (a waiter that woke and
   * failed meanwhile keeps its backoff).
   */
  private async rerouteAccountWaiters(accountId: string | null): Promise<void> {
    const waiting = await this.dataSource.query<{ id: string }[]>(
      `SELECT id FROM messages
        WHERE status = 'DEFERRED' AND ${QUOTA_OR_PACING_WAIT}
          AND ($1::uuid IS NULL OR account_id IN (SELECT id FROM accounts WHERE id = $1 OR parent_id = $1))`,
      [accountId],
    );
    await this.reroute(waiting.map((r) => r.id), { onlyWaiters: true });
  }

  /** The campaign's mail waiting for a server, by server (to give up their places in its waiting line). */
  async waitingOfCampaign(campaignId: string): Promise<Map<string, string[]>> {
    const rows = await this.dataSource.query<{ server_id: string; ids: string[] }[]>(
      `SELECT server_id, array_agg(id) AS ids FROM messages
        WHERE campaign_id = $1 AND status = 'DEFERRED' AND server_id IS NOT NULL
        GROUP BY server_id`,
      [campaignId],
    );
    return new Map(rows.map((r) => [r.server_id, r.ids]));
  }

  /**
   * Mail waiting for a server that was just paused or deleted is routed again now rather than
   * when its wait ends: a new seq voids the old delayed job, and the new ones route afresh (a
   * routing answer held from before the change would still name the server), sharing their
   * lookups among themselves.
   */
  async reroute(messageIds: string[], options: { onlyWaiters?: boolean } = {}): Promise<void> {
    if (!messageIds.length) return;
    // `onlyWaiters`: only mail that still waits for a window or a pacing turn (found a while ago,
    // it may have woken and failed since: it keeps its backoff).
    const still = options.onlyWaiters ? `status = 'DEFERRED' AND ${QUOTA_OR_PACING_WAIT}` : `status IN ('QUEUED', 'DEFERRED')`;
    // One move, one id: its jobs share routing lookups among themselves.
    const rerouteId = randomUUID();
    // A chunk per statement and per queue call: a server paused with a backlog of hundreds of
    // thousands would otherwise be one long transaction and one Redis transaction of that size.
    // At shutdown it stops after the chunk in progress: the rest comes back when its wait ends.
    for (let i = 0; i < messageIds.length && !this.stopping; i += REROUTE_PAGE) {
      // An UPDATE … RETURNING comes back from TypeORM's postgres driver as [rows, affected].
      const [rows] = await this.dataSource.query<[{ id: string; seq: number }[], number]>(
        `UPDATE messages SET status = 'QUEUED', next_attempt_at = NULL, dispatch_seq = dispatch_seq + 1, updated_at = now()
          WHERE id = ANY($1::uuid[]) AND ${still} RETURNING id, dispatch_seq AS seq`,
        [messageIds.slice(i, i + REROUTE_PAGE)],
      );
      if (rows.length) await this.queue.add(rows.map((r) => ({ messageId: r.id, seq: r.seq, rerouteId })));
    }
  }

  /** Hands a claimed message back untouched (its campaign was paused): resume schedules it again. */
  async release(claim: Claim): Promise<void> {
    await this.dataSource.query(`UPDATE messages SET status = 'QUEUED', updated_at = now() WHERE id = $1 AND status = 'SENDING' AND dispatch_seq = $2`, [claim.id, claim.dispatchSeq]);
  }
}

/** One provider event of one message, as recordProviderEvents answers what it stored. */
export const providerEventKey = (messageId: string, externalId: string): string => `${messageId} ${externalId}`;
