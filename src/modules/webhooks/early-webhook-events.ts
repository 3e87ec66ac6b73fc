import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, In, Repository } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../../config/configuration';
import type { ParsedWebhookEvent, WebhookEventKind } from '../../providers/provider.types';
import { DeliveryServerEntity } from '../delivery-servers/delivery-server.entity';
import { WebhooksService } from './webhooks.service';

/**
 * How far back an unmatched event may still find its message: a SENT record (which stores the
 * provider's id) can be written up to an hour after the provider's accept while the database is
 * away (DispatchService's SENT_RECORD_DEADLINE_MS), plus slack.
 */
export const EARLY_EVENT_WINDOW_MS = 2 * 60 * 60_000;
/** Events adopted per pass; a longer backlog is worked through over the next passes. */
const ADOPT_BATCH = 500;

interface EarlyEventRow {
  id: string;
  server_id: string;
  kind: WebhookEventKind;
  provider_message_id: string;
  recipient: string | null;
  external_id: string;
  occurred_at: Date;
  detail: string | null;
}

/**
 * Events a provider posted before their message's SENT record was written (the record follows
 * the accept in groups, and late while the database is away) found no message and were kept as
 * unmatched. Every sweep interval, the ones of the last two hours whose provider id now names a
 * message are applied as if just posted (stored once, status forward, suppression) and leave the
 * unmatched table. Several API processes may adopt the same event at once: applying is idempotent.
 */
@Injectable()
export class EarlyWebhookEvents implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(EarlyWebhookEvents.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;

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
    this.running = this.adopt().finally(() => (this.running = undefined));
    await this.running.catch((err: unknown) => this.logger.warn(`Adopting early webhook events failed: ${err instanceof Error ? err.message : 'error'}`));
  }

  /** Applies the unmatched events whose message is now known; returns how many were adopted. */
  async adopt(now: Date = new Date()): Promise<number> {
    const rows = await this.dataSource.query<EarlyEventRow[]>(EARLY_EVENTS_SQL, [new Date(now.getTime() - EARLY_EVENT_WINDOW_MS).toISOString(), ADOPT_BATCH]);
    if (!rows.length) return 0;
    const servers = await this.servers.findBy({ id: In([...new Set(rows.map((r) => r.server_id))]) });
    const adopted: string[] = [];
    for (const server of servers) {
      const mine = rows.filter((r) => r.server_id === server.id);
      const matched = await this.webhooks.applyEvents(server, mine.map(toParsedEvent));
      // Only those applied to a message leave the table (the rest stay for the next pass).
      adopted.push(...mine.filter((r) => matched.has(r.external_id)).map((r) => r.id));
    }
    if (!adopted.length) return 0;
    await this.dataSource.query(`DELETE FROM webhook_events_unmatched WHERE id = ANY($1::bigint[])`, [adopted]);
    this.logger.log(`Applied ${adopted.length} webhook event(s) that had arrived before their message's SENT record`);
    return adopted.length;
  }
}

/**
 * Recent unmatched events whose provider id now names a message of their server, compared as
 * candidateIds does: without angle brackets or with them, and for SendGrid also the part
 * before the first dot of sg_message_id.
 */
const EARLY_EVENTS_SQL = `
  SELECT u.id, u.server_id, u.kind, u.provider_message_id, u.recipient, u.external_id, u.occurred_at, u.detail
    FROM webhook_events_unmatched u
    CROSS JOIN LATERAL (SELECT btrim(u.provider_message_id, '<> ') AS bare) b
    CROSS JOIN LATERAL (SELECT CASE WHEN u.provider = 'SENDGRID' THEN split_part(b.bare, '.', 1) ELSE b.bare END AS head) h
   WHERE u.received_at >= $1 AND b.bare <> ''
     AND EXISTS (SELECT 1 FROM messages m
                  WHERE m.server_id = u.server_id
                    AND m.provider_message_id IN (b.bare, '<' || b.bare || '>', h.head, '<' || h.head || '>'))
   ORDER BY u.id
   LIMIT $2`;

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
