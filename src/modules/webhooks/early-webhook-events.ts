import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, In, Repository } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../../config/configuration';
import type { ParsedWebhookEvent, WebhookEventKind } from '../../providers/provider.types';
import { DeliveryServerEntity } from '../delivery-servers/delivery-server.entity';
import { WebhooksService } from './webhooks.service';

/**
 * How long an unmatched event may still find its message: a SENT record (which stores the
 * provider's id) can be written up to an hour after the provider's accept while the database is
 * away (DispatchService's SENT_RECORD_DEADLINE_MS), plus slack. Older ones are kept for audit only.
 */
export const EARLY_EVENT_WINDOW_MS = 2 * 60 * 60_000;
/** Events claimed per statement; a pass claims again while a statement comes back full, up to a bound. */
const CLAIM_BATCH = 500;
const MAX_CLAIMS_PER_PASS = 20;
/** The longest gap between two looks at one event, so one whose SENT record lands late is applied soon after. */
const MAX_RECHECK_GAP_MS = 10 * 60_000;
/** Old unmatched events are deleted this often, a bounded number per statement and pass (up to 6M an hour per API process). */
const PURGE_EVERY_MS = 10 * 60_000;
const PURGE_BATCH = 5_000;
const MAX_PURGES_PER_PASS = 200;

interface EarlyEventRow {
  id: string;
  server_id: string;
  kind: WebhookEventKind;
  provider_message_id: string | null;
  recipient: string | null;
  external_id: string;
  occurred_at: Date;
  detail: string | null;
  /** Whether its provider id now names a message of its server. */
  known: boolean;
}

/**
 * Events a provider posted before their message's SENT record was written (the record follows
 * the accept in groups, and late while the database is away) found no message and were kept as
 * unmatched, due for another look at once (`recheck_at`). Every sweep interval the due ones are
 * claimed and each moved to its next look (after as long again as its age, between a sweep
 * interval and ten minutes; none after two hours). The claim itself tells which now name a
 * message (an index probe each), and only those are applied as if just posted (stored once, status
 * forward, suppression) and leave the table. A claim is one statement with SKIP LOCKED, so API
 * processes never take the same events; a pass claims again while claims come back full; a
 * server whose events fail to apply does not hold up the others.
 */
@Injectable()
export class EarlyWebhookEvents implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(EarlyWebhookEvents.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;
  private lastPurgeAt = 0;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectRepository(DeliveryServerEntity) private readonly servers: Repository<DeliveryServerEntity>,
    private readonly webhooks: WebhooksService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.adoptOnce(), this.config.dispatch.sweepIntervalMs);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One pass unless one is running (a slow pass is not stacked on). */
  private async adoptOnce(): Promise<void> {
    if (this.running) return;
    this.running = this.adopt()
      .then(async (adopted) => {
        if (Date.now() - this.lastPurgeAt < PURGE_EVERY_MS) return adopted;
        this.lastPurgeAt = Date.now();
        await this.purgeOld();
        return adopted;
      })
      .finally(() => (this.running = undefined));
    await this.running.catch((err: unknown) => this.logger.warn(`Adopting early webhook events failed: ${err instanceof Error ? err.message : 'error'}`));
  }

  /** Claims the due events and applies those whose message is now known; returns how many were. */
  async adopt(): Promise<number> {
    let adopted = 0;
    for (let claims = 0; claims < MAX_CLAIMS_PER_PASS; claims++) {
      const rows = await this.dataSource.query<EarlyEventRow[]>(CLAIM_DUE_SQL, [
        CLAIM_BATCH,
        EARLY_EVENT_WINDOW_MS / 1000,
        this.config.dispatch.sweepIntervalMs / 1000,
        MAX_RECHECK_GAP_MS / 1000,
      ]);
      adopted += await this.apply(rows.filter((r) => r.known));
      if (rows.length < CLAIM_BATCH) break;
    }
    if (adopted) this.logger.log(`Applied ${adopted} webhook event(s) that had arrived before their message's SENT record`);
    return adopted;
  }

  /**
   * Deletes unmatched events older than UNMATCHED_EVENT_RETENTION_DAYS (kept until then for
   * audit): SendGrid posts a whole account's events to each of its webhooks, so a provider account
   * shared with other senders fills the table with events that never match. Oldest first by id
   * (ids follow arrival) among those that may go, so a row still due for a look does not hold the
   * purge up; the primary key serves the order (no index on the arrival time: the scan that finds
   * a batch short reads on through the newer rows, once per pass). Returns how many were deleted.
   */
  async purgeOld(): Promise<number> {
    const days = this.config.webhooks.unmatchedRetentionDays;
    if (!days) return 0;
    let deleted = 0;
    for (let batch = 0; batch < MAX_PURGES_PER_PASS; batch++) {
      // A bare DELETE … RETURNING answers TypeORM's [rows, count] pair.
      const [, count] = await this.dataSource.query<[unknown[], number]>(
        `DELETE FROM webhook_events_unmatched
          WHERE id IN (SELECT id FROM webhook_events_unmatched
                        WHERE recheck_at IS NULL AND received_at < now() - make_interval(days => $2::int)
                        ORDER BY id LIMIT $1)
          RETURNING id`,
        [PURGE_BATCH, days],
      );
      deleted += count;
      if (count < PURGE_BATCH) break;
    }
    if (deleted) this.logger.log(`Deleted ${deleted} unmatched webhook event(s) older than ${days} days`);
    return deleted;
  }

  private async apply(rows: EarlyEventRow[]): Promise<number> {
    if (!rows.length) return 0;
    const servers = await this.servers.findBy({ id: In([...new Set(rows.map((r) => r.server_id))]) });
    let adopted = 0;
    for (const server of servers) {
      const mine = rows.filter((r) => r.server_id === server.id);
      try {
        const matched = await this.webhooks.applyEvents(server, mine.map(toParsedEvent));
        const ids = mine.filter((r) => matched.has(r.external_id)).map((r) => r.id);
        if (ids.length) await this.dataSource.query(`DELETE FROM webhook_events_unmatched WHERE id = ANY($1::bigint[])`, [ids]);
        adopted += ids.length;
      } catch (err) {
        // Claimed already: they are looked at again at their next time.
        this.logger.warn(`Early webhook events of server ${server.id} not applied: ${err instanceof Error ? err.message : 'error'}`);
      }
    }
    return adopted;
  }
}

/**
 * Claims the events due for a look, moving each to its next look (after as long again as its age,
 * between $3 and $4 seconds) or to none once older than the window, and tells which now name a
 * message of their server, compared as candidateIds does: without angle brackets or with them, and
 * for SendGrid also the part before the first dot of sg_message_id. SKIP LOCKED: a row another
 * process is claiming is left to it. (A WITH … SELECT answers the rows; a bare UPDATE … RETURNING
 * answers TypeORM's [rows, count] pair.)
 */
const CLAIM_DUE_SQL = `
  WITH due AS (
    SELECT id FROM webhook_events_unmatched
     WHERE recheck_at <= now()
     ORDER BY recheck_at
     LIMIT $1
     FOR UPDATE SKIP LOCKED),
  claimed AS (
    UPDATE webhook_events_unmatched u
       SET recheck_at = CASE WHEN u.received_at < now() - make_interval(secs => $2) THEN NULL
                             ELSE now() + LEAST(make_interval(secs => $4), GREATEST(make_interval(secs => $3), now() - u.received_at)) END
      FROM due
     WHERE u.id = due.id
    RETURNING u.id, u.server_id, u.provider, u.kind, u.provider_message_id, u.recipient, u.external_id, u.occurred_at, u.detail)
  SELECT c.id, c.server_id, c.kind, c.provider_message_id, c.recipient, c.external_id, c.occurred_at, c.detail,
         EXISTS (SELECT 1 FROM messages m
                  WHERE m.server_id = c.server_id
                    AND m.provider_message_id IN (b.bare, '<' || b.bare || '>', h.head, '<' || h.head || '>')) AS known
    FROM claimed c
    CROSS JOIN LATERAL (SELECT btrim(btrim(c.provider_message_id, E' \t\r\n'), '<>') AS bare) b
    CROSS JOIN LATERAL (SELECT CASE WHEN c.provider = 'SENDGRID' AND strpos(b.bare, '.') > 1 THEN split_part(b.bare, '.', 1) ELSE b.bare END AS head) h`;

function toParsedEvent(row: EarlyEventRow): ParsedWebhookEvent {
  return {
    kind: row.kind,
    eventId: row.external_id,
    providerMessageId: row.provider_message_id,
    recipient: row.recipient,
    occurredAt: new Date(row.occurred_at),
    ...(row.detail ? { detail: row.detail } : {}),
  };
}
