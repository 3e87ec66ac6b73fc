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
   * server sent in the window: bounced = status BOUNCED or a HARD_BOUNCE event, complained =
   * status COMPLAINED or a COMPLAINT event (each message counted once, so a rate never exceeds 1).
   */
  async forServers(serverIds: readonly string[], now: Date = new Date()): Promise<ServerReputation[]> {
    const since = new Date(now.getTime() - REPUTATION_WINDOW_MS);
    const rows = serverIds.length
      ? await this.dataSource.query<ReputationRow[]>(
          `SELECT m.server_id,
                  count(*)::int AS sent,
                  count(*) FILTER (WHERE m.status = 'BOUNCED'
                    OR EXISTS (SELECT 1 FROM message_events e WHERE e.message_id = m.id AND e.type = 'HARD_BOUNCE'))::int AS bounced,
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
   */
  async pauseOnComplaints(serverId: string, status: DeliveryServerStatus): Promise<boolean> {
    if (status !== DeliveryServerStatus.ACTIVE) return false;
    const { complaintPauseRate, complaintPauseMinSent } = this.config.webhooks;
    const [r] = await this.forServers([serverId]);
    if (r.sent < complaintPauseMinSent || r.complaintRate <= complaintPauseRate) return false;
    const reason =
      `Paused automatically: complaint rate ${percent(r.complaintRate)} (${r.complained} of ${r.sent} messages sent in the last 24 h) ` +
      `is above the ${percent(complaintPauseRate)} limit; clean the list, then activate the server again`;
    await this.servers.pauseForProblem(serverId, reason.slice(0, 500));
    this.logger.warn(`Delivery server ${serverId} paused: complaint rate ${percent(r.complaintRate)} (${r.complained}/${r.sent} in 24 h) above ${percent(complaintPauseRate)}`);
    return true;
  }
}

function rate(count: number, sent: number): number {
  return sent > 0 ? count / sent : 0;
}

function percent(value: number): string {
  return `${Number((value * 100).toFixed(2))}%`;
}
