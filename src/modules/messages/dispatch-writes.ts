import { Inject, Injectable } from "@nestjs/common";
import { APP_CONFIG, type AppConfig } from "../../config/configuration";
import { InjectDataSource } from "@nestjs/typeorm";
import { DataSource } from "typeorm";
import { Batcher } from "../../infra/batching/batcher";
import {
  isTransientDbError,
  retryTransientDb,
} from "../../infra/database/transient-db-error";
import type { CampaignStatus } from "../campaigns/campaign.entity";
import type { MessageEntity } from "./message.entity";
import type { AttemptRecord } from "./message-store";

/** A claimed message with what the worker needs to know of its campaign. */
export type ClaimedMessage = MessageEntity & {
  campaignStatus: CampaignStatus | null;
  /** The recipient is suppressed for the account now (suppressed after the message was accepted). */
  suppressed: boolean;
};

export interface SentRecord {
  messageId: string;
  /** The attempt that succeeded: counted, with its ROUTED event, in the same statement as SENT. */
  attempt: AttemptRecord;
  transport: MessageEntity["transport"];
  providerMessageId: string;
  detail: string;
}

/**
 * Group commit. Every statement has a fixed cost far above its per-row cost (about 1.3 ms against
 * 0.08 ms per row on the bench machine: planning, the commit, two wake-ups), so writes wait for
 * company, and at most two batches are in flight while the next one collects. A claim holds up
 * its job, so it waits 20 ms at most; a SENT record holds up nothing (the job has ended, see
 * UnrecordedSends), so it waits 50 ms. Measured with bench/dispatch (docs/performance.md): 10 ms
 * for both made about 2.3 times the statements; 50 ms for claims left the SMTP connections idle.
 */
const BATCH = {
  maxBatch: 500,
  maxConcurrent: 2,
  isolateFailures: (err: unknown) => !isTransientDbError(err),
};
const CLAIM_LINGER_MS = 20;
const SENT_LINGER_MS = 50;
/** A claim waits this long for a restarting database before the job gives up (the sweeper re-queues it). */
const CLAIM_RETRY_MS = 30_000;
/**
 * A send that the provider accepted must be recorded, or the message would be sent again: the
 * record is retried this long while the database is away (the job's lock is renewed meanwhile).
 */
const SENT_RETRY_MS = 10 * 60_000;

/** Every column the worker reads, named as the entity names them. */
const MESSAGE_COLUMNS = `c.id, c.account_id AS "accountId", c.campaign_id AS "campaignId", c.source, c.from_address AS "from",
  c.to_address AS "to", c.reply_to AS "replyTo", c.subject, c.headers, c.status, c.server_id AS "serverId",
  c.transport, c.provider_message_id AS "providerMessageId", c.attempts, c.dispatch_seq AS "dispatchSeq",
  c.next_attempt_at AS "nextAttemptAt", c.error, c.idempotency_key AS "idempotencyKey", c.created_at AS "createdAt",
  c.sent_at AS "sentAt", c.updated_at AS "updatedAt"`;

/**
 * The worker's hot-path writes — the claim, and SENT with its attempt — grouped across the jobs running at the
 * same moment (group commit): fifty concurrent jobs cost one statement and one commit per step
 * instead of fifty. Each item keeps the semantics of a single-row write; every status change
 * writes its MessageEvent in the same statement.
 */
@Injectable()
export class DispatchWrites {
  private readonly claims: Batcher<{ id: string; seq: number }, ClaimedMessage | null>;
  private readonly sent = new Batcher<SentRecord, void>(
    (items) => this.sentBatch(items),
    { ...BATCH, lingerMs: SENT_LINGER_MS },
  );

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    // Each job claims one message at a time: once every job of this worker waits for its claim,
    // none can join the batch, so it goes at once (a worker with few slots would otherwise
    // wait out the linger for every message).
    this.claims = new Batcher((items) => this.claimBatch(items), { ...BATCH, lingerMs: CLAIM_LINGER_MS, flushAt: config.workerConcurrency });
  }

  /**
   * Claims a message for one job: only the job of the current schedule may, and only while the
   * message is pending. SENDING is included: a job redelivered after a worker died mid-send
   * resumes it (the one window where a duplicate can happen). Null: done already, a newer
   * schedule owns it, or its campaign is paused.
   */
  claim(id: string, seq: number): Promise<ClaimedMessage | null> {
    return this.claims.submit({ id, seq });
  }

  /** SENT, with the attempt counted and its ROUTED and SENT events. */
  markSent(record: SentRecord): Promise<void> {
    return this.sent.submit({
      ...record,
      attempt: {
        ...record.attempt,
        detail: record.attempt.detail.slice(0, 1000),
      },
      providerMessageId: record.providerMessageId.slice(0, 255),
      detail: record.detail.slice(0, 1000),
    });
  }

  private async claimBatch(
    items: { id: string; seq: number }[],
  ): Promise<(ClaimedMessage | null)[]> {
    const rows = await retryTransientDb(
      () =>
        this.dataSource.query<ClaimedMessage[]>(
          // The claim commits without waiting for its WAL flush (synchronous_commit off for this
          // statement alone): it only marks the message as in flight. Visibility to other
          // workers is immediate as ever; should PostgreSQL crash and lose it, the message is
          // pending again and the sweeper re-queues it, exactly as after a worker crash. SENT,
          // the record that must survive, is written with the usual durable commit.
          `WITH async_commit AS (SELECT set_config('synchronous_commit', 'off', true)),
                claimed AS (
             UPDATE messages m SET status = 'SENDING', updated_at = now()
               FROM unnest($1::uuid[], $2::int[]) AS j(id, seq), async_commit
              WHERE m.id = j.id AND m.dispatch_seq = j.seq AND m.status IN ('QUEUED', 'DEFERRED', 'SENDING')
                -- A paused campaign's pending mail is left as it is (resume queues it again under a
                -- new seq): its jobs end here without writing anything.
                AND (m.campaign_id IS NULL OR m.status = 'SENDING'
                     OR NOT EXISTS (SELECT 1 FROM campaigns p WHERE p.id = m.campaign_id AND p.status = 'PAUSED'))
             RETURNING m.*)
           SELECT ${MESSAGE_COLUMNS}, camp.status AS "campaignStatus",
                  -- A campaign's messages carry no body of their own: the campaign's is theirs.
                  CASE WHEN c.campaign_id IS NULL THEN c.html ELSE coalesce(c.html, camp.html) END AS html,
                  CASE WHEN c.campaign_id IS NULL THEN c.text ELSE coalesce(c.text, camp.text) END AS text,
                  EXISTS (SELECT 1 FROM suppressions s WHERE s.account_id = c.account_id AND s.email = lower(c.to_address)) AS suppressed
             FROM claimed c LEFT JOIN campaigns camp ON camp.id = c.campaign_id`,
          [items.map((i) => i.id), items.map((i) => i.seq)],
        ),
      CLAIM_RETRY_MS,
    );
    const byKey = new Map(rows.map((r) => [`${r.id}:${r.dispatchSeq}`, r]));
    // The same job twice in one batch: only the first copy gets the message.
    return items.map((i) => {
      const key = `${i.id}:${i.seq}`;
      const row = byKey.get(key) ?? null;
      byKey.delete(key);
      return row;
    });
  }

  private async sentBatch(items: SentRecord[]): Promise<void[]> {
    // A server deleted by a transaction that commits while this statement runs fails the foreign
    // key once; run again, the statement sees it gone and records no server.
    const write = (): Promise<unknown> =>
      this.sentStatement(items).catch((err: unknown) =>
        foreignKeyViolation(err)
          ? this.sentStatement(items)
          : Promise.reject(err),
      );
    await retryTransientDb(write, SENT_RETRY_MS);
    return items.map(() => undefined);
  }

  /**
   * The last resort for a SENT record the batched write could not make: the status, the server
   * and the provider's id (webhooks find the message by both), no events. Nothing here can fail:
   * a server deleted meanwhile is recorded as none, as in the batched write.
   */
  async markSentAlone(record: SentRecord): Promise<void> {
    await this.dataSource.query(
      `UPDATE messages SET status = 'SENT', attempts = attempts + 1, sent_at = now() - make_interval(secs => $5::float8 / 1000), error = NULL, next_attempt_at = NULL,
              server_id = (SELECT d.id FROM delivery_servers d WHERE d.id = $4::uuid),
              transport = $2::transport_kind, provider_message_id = $3, updated_at = now()
        WHERE id = $1 AND status IN ('QUEUED', 'DEFERRED', 'SENDING')`,
      [record.messageId, record.transport, record.providerMessageId.slice(0, 255), record.attempt.serverId, Math.max(0, Date.now() - record.attempt.at.getTime())],
    );
  }

  private sentStatement(items: SentRecord[]): Promise<unknown> {
    return this.dataSource.query(
      // A server deleted while its send ran is recorded as none (server_id NULL), not refused:
      // the message did go out, and its SENT must be written.
      `WITH x AS (SELECT u.id, d.id AS server_id, u.transport, u.provider_message_id, u.detail, u.routed_detail, u.routed_ago_ms
                        FROM unnest($1::uuid[], $2::uuid[], $3::transport_kind[], $4::text[], $5::text[], $6::text[], $7::float8[])
                             AS u(id, server_id, transport, provider_message_id, detail, routed_detail, routed_ago_ms)
                        LEFT JOIN delivery_servers d ON d.id = u.server_id),
                sent AS (
                  -- sent_at: when the attempt began (its quota unit was taken), on the database's clock. The
                  -- ledger that rebuilds lost quota counters counts by it (PgSendLedger, QuotaService.reconcile).
                  UPDATE messages m SET status = 'SENT', attempts = m.attempts + 1, sent_at = now() - make_interval(secs => x.routed_ago_ms / 1000),
                         error = NULL, next_attempt_at = NULL,
                         server_id = x.server_id, transport = x.transport, provider_message_id = x.provider_message_id, updated_at = now()
                    -- Pending only: a retry after a lost reply (or a webhook already past SENT) changes nothing.
                    FROM x WHERE m.id = x.id AND m.status IN ('QUEUED', 'DEFERRED', 'SENDING')
                  RETURNING m.id, x.server_id, x.detail, x.routed_detail, x.routed_ago_ms)
           INSERT INTO message_events (message_id, type, detail, server_id, occurred_at)
           SELECT s.id, e.type::message_event_type, CASE e.type WHEN 'ROUTED' THEN s.routed_detail ELSE s.detail END, s.server_id,
                  -- ROUTED on the database's clock too: now, less the time since the worker routed it.
                  CASE e.type WHEN 'ROUTED' THEN now() - make_interval(secs => s.routed_ago_ms / 1000) ELSE now() END
             FROM sent s CROSS JOIN (VALUES (1, 'ROUTED'), (2, 'SENT')) AS e(ord, type)
            ORDER BY s.id, e.ord`,
      [
        items.map((i) => i.messageId),
        items.map((i) => i.attempt.serverId),
        items.map((i) => i.transport),
        items.map((i) => i.providerMessageId),
        items.map((i) => i.detail),
        items.map((i) => i.attempt.detail),
        items.map((i) => Math.max(0, Date.now() - i.attempt.at.getTime())),
      ],
    );
  }
}

function foreignKeyViolation(err: unknown): boolean {
  const code =
    (err as { code?: unknown; driverError?: { code?: unknown } } | null)
      ?.code ??
    (err as { driverError?: { code?: unknown } } | null)?.driverError?.code;
  return code === "23503";
}
