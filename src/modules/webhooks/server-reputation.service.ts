import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../../config/configuration';
import { DeliveryServerStatus } from '../delivery-servers/delivery-server.entity';
import { DeliveryServersService } from '../delivery-servers/delivery-servers.service';

/** The window bounce and complaint rates are computed over. */
export const REPUTATION_WINDOW_MS = 24 * 60 * 60 * 1000;

/** How a server's mail fared over the window: messages it sent since `since`, and how many of those bounced or were reported. */
export interface ServerReputation {
  serverId: string;
  sent: number;
  bounced: number;
  complained: number;
  bounceRate: number;
  complaintRate: number;
  since: Date;
}

interface ReputationRow {
  server_id: string;
  sent: number;
  bounced: number;
  complained: number;
}

/**
 * Per-server bounce and complaint rates over the last 24 hours, and the automatic pause of a
 * server whose complaint rate goes above COMPLAINT_PAUSE_RATE once it has sent at least
 * COMPLAINT_PAUSE_MIN_SENT messages in the window (so one complaint on three sends pauses nothing).
 */
@Injectable()
export class ServerReputationService {
  private readonly logger = new Logger(ServerReputationService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly servers: DeliveryServersService,
  ) {}

  /**
   * One grouped query for all `serverIds`, answered in their order. Counted over messages the
   * server sent in the window: bounced = a HARD_BOUNCE event (status BOUNCED also follows a soft
   * bounce the provider gave up on, which says nothing of the list or the server), complained =
   * status COMPLAINED or a COMPLAINT event (each message counted once, so a rate never exceeds 1).
   */
  async forServers(serverIds: readonly string[], now: Date = new Date()): Promise<ServerReputation[]> {
    const since = new Date(now.getTime() - REPUTATION_WINDOW_MS);
    const rows = serverIds.length
      ? await this.dataSource.query<ReputationRow[]>(
          `SELECT m.server_id,
                  count(*)::int AS sent,
                  count(*) FILTER (WHERE EXISTS (SELECT 1 FROM message_events e WHERE e.message_id = m.id AND e.type = 'HARD_BOUNCE'))::int AS bounced,
                  count(*) FILTER (WHERE m.status = 'COMPLAINED'
                    OR EXISTS (SELECT 1 FROM message_events e WHERE e.message_id = m.id AND e.type = 'COMPLAINT'))::int AS complained
             FROM messages m
            WHERE m.server_id = ANY($1::uuid[]) AND m.sent_at >= $2
            GROUP BY m.server_id`,
          [[...new Set(serverIds)], since.toISOString()],
        )
      : [];
    const byServer = new Map(rows.map((r) => [r.server_id, r]));
    return serverIds.map((serverId) => {
      const { sent, bounced, complained } = byServer.get(serverId) ?? { sent: 0, bounced: 0, complained: 0 };
      return { serverId, sent, bounced, complained, bounceRate: rate(bounced, sent), complaintRate: rate(complained, sent), since };
    });
  }

  /**
   * After complaints were applied for an ACTIVE server: pause it when its 24 h complaint rate is
   * above the threshold with enough volume. Returns whether it was paused. The reason is shown
   * as the server's pausedReason; activateDeliveryServer resumes it.
   *
   * Runs on every post with a complaint, so it reads what the answer needs, not the window:
   * the complained messages first (few, from two partial indexes), then the sent ones counted
   * only as far as could still put the rate above the threshold (rate > r needs sent < complained / r).
   * The numbers are forServers' (same definitions), exact whenever the server is paused.
   */
  async pauseOnComplaints(serverId: string, status: DeliveryServerStatus): Promise<boolean> {
    if (status !== DeliveryServerStatus.ACTIVE) return false;
    const { complaintPauseRate, complaintPauseMinSent } = this.config.webhooks;
    const since = new Date(Date.now() - REPUTATION_WINDOW_MS);
    const complained = await this.complainedSince(serverId, since);
    if (complained === 0) return false;
    // Any count from here on has a rate at or below the threshold (+1: clear of float rounding).
    const enough = complaintPauseRate > 0 ? Math.ceil(complained / complaintPauseRate) + 1 : null;
    const sent = await this.sentSince(serverId, since, enough);
    if (enough !== null && sent >= enough) return false;
    const complaintRate = rate(complained, sent);
    if (sent < complaintPauseMinSent || complaintRate <= complaintPauseRate) return false;
    const reason =
      `Paused automatically: complaint rate ${percent(complaintRate)} (${complained} of ${sent} messages sent in the last 24 h) ` +
      `is above the ${percent(complaintPauseRate)} limit; clean the list, then activate the server again`;
    await this.servers.pauseForProblem(serverId, reason.slice(0, 500));
    this.logger.warn(`Delivery server ${serverId} paused: complaint rate ${percent(complaintRate)} (${complained}/${sent} in 24 h) above ${percent(complaintPauseRate)}`);
    return true;
  }

  /**
   * Messages the server sent since `since` that complained: status COMPLAINED
   * (IDX_messages_server_complained) or a COMPLAINT event (IDX_message_events_server_complaints).
   * Events are looked up from one window before `since` on: a complaint is reported after the
   * mail was sent, so older events belong to older messages (the join checks sent_at anyway).
   */
  private async complainedSince(serverId: string, since: Date): Promise<number> {
    const [row] = await this.dataSource.query<{ complained: number }[]>(
      `SELECT count(*)::int AS complained FROM (
         SELECT m.id FROM messages m
          WHERE m.server_id = $1 AND m.sent_at >= $2 AND m.status = 'COMPLAINED'
         UNION
         SELECT m.id FROM message_events e JOIN messages m ON m.id = e.message_id
          WHERE e.server_id = $1 AND e.type = 'COMPLAINT' AND e.occurred_at >= $3
            AND m.server_id = $1 AND m.sent_at >= $2
       ) c`,
      [serverId, since.toISOString(), new Date(since.getTime() - REPUTATION_WINDOW_MS).toISOString()],
    );
    return row?.complained ?? 0;
  }

  /** Messages the server sent since `since`, counted up to `limit` (null: all); an index-only count on IDX_messages_server_sent. */
  private async sentSince(serverId: string, since: Date, limit: number | null): Promise<number> {
    const [row] = await this.dataSource.query<{ sent: number }[]>(
      `SELECT count(*)::int AS sent FROM (SELECT 1 FROM messages WHERE server_id = $1 AND sent_at >= $2 LIMIT $3) s`,
      [serverId, since.toISOString(), limit],
    );
    return row?.sent ?? 0;
  }
}

function rate(count: number, sent: number): number {
  return sent > 0 ? count / sent : 0;
}

function percent(value: number): string {
  return `${Number((value * 100).toFixed(2))}%`;
}
