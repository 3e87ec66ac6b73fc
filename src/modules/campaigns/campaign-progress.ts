import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { setTimeout as delay } from 'node:timers/promises';
import { Repository } from 'typeorm';
import { CoalescedTasks } from '../../infra/batching/batcher';
import { CampaignEntity, CampaignStatus } from './campaign.entity';

/** The jobs of a campaign finishing within this window share one COMPLETED check. */
const COMPLETION_DELAY_MS = 200;

const COMPLETE = `UPDATE campaigns c SET status = 'COMPLETED', completed_at = now(), updated_at = now()`;
/** All its messages written (no launch cursor) and none pending. */
const NOTHING_LEFT = `c.launch_cursor IS NULL
     AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.campaign_id = c.id AND m.status IN ('QUEUED', 'DEFERRED', 'SENDING'))`;

/** Every campaign still SENDING with nothing left: COMPLETED (the workers' sweep). */
export const COMPLETE_CAMPAIGNS_SQL = `${COMPLETE} WHERE c.status = 'SENDING' AND ${NOTHING_LEFT}`;
/**
 * One campaign ($1) with nothing left: COMPLETED, a PAUSED one too if it had started. Its last
 * messages were in flight when it paused (a worker's pause hands its message back, so that one
 * stays pending): there is nothing left to resume, and it would otherwise show PAUSED for good.
 */
export const COMPLETE_CAMPAIGN_SQL = `${COMPLETE} WHERE c.id = $1 AND (c.status = 'SENDING' OR (c.status = 'PAUSED' AND c.started_at IS NOT NULL)) AND ${NOTHING_LEFT}`;

/**
 * What sending does to a campaign: pause it when its route fails under it, tell whether it is
 * paused, and mark it COMPLETED once nothing of it is pending. The dispatch side (DispatchService,
 * DispatchWorker) reaches campaigns only through this, in CampaignProgressModule: CampaignsModule
 * would bring its service, resolvers and launch recovery into MessagesModule as well.
 */
@Injectable()
export class CampaignProgress {
  private readonly logger = new Logger(CampaignProgress.name);
  private readonly completions = new CoalescedTasks();

  constructor(@InjectRepository(CampaignEntity) private readonly campaigns: Repository<CampaignEntity>) {}

  async isPaused(campaignId: string): Promise<boolean> {
    const campaign = await this.campaigns.findOne({ where: { id: campaignId }, select: { id: true, status: true } });
    return campaign?.status === CampaignStatus.PAUSED;
  }

  /**
   * A campaign whose route failed (NO_ROUTE, SENDER_NOT_VERIFIED) pauses with the reason, if it is
   * still in status `from` (SENDING for the worker; DRAFT or PAUSED when a start or resume finds
   * no route); its mail waits. True when this call paused it.
   */
  async pause(campaignId: string, code: string, reason: string, from = CampaignStatus.SENDING): Promise<boolean> {
    const result = await this.campaigns.update({ id: campaignId, status: from }, { status: CampaignStatus.PAUSED, pauseCode: code, pauseReason: reason.slice(0, 1000) });
    return (result.affected ?? 0) > 0;
  }

  /**
   * COMPLETED once no message of the campaign is pending (a partial index makes the check cheap).
   * The caller does not wait for it: the check runs COMPLETION_DELAY_MS later, once for every
   * message of the campaign that finished meanwhile, and the workers' sweep (completeFinished)
   * catches a campaign whose last check died with its process.
   */
  completeSoon(campaignId: string | null): void {
    if (!campaignId) return;
    this.completions
      .request(campaignId, async () => {
        await delay(COMPLETION_DELAY_MS);
        await this.campaigns.query(COMPLETE_CAMPAIGN_SQL, [campaignId]);
      })
      .catch((err: unknown) => this.logger.warn(`Completion check of campaign ${campaignId} failed: ${err instanceof Error ? err.message : 'error'}`));
  }

  /** Every SENDING campaign with nothing pending becomes COMPLETED. */
  async completeFinished(): Promise<void> {
    await this.campaigns.query(COMPLETE_CAMPAIGNS_SQL);
  }
}
