import type { DeliveryErrorCode } from '../../providers/provider.enums';
import type { CampaignEntity } from './campaign.entity';
import type { CampaignModel } from './campaign.model';

/** Bodies (html, text) and the recipient list stay out of the API's Campaign. */
export function toCampaignModel(c: CampaignEntity): CampaignModel {
  return {
    id: c.id,
    accountId: c.accountId,
    name: c.name,
    from: c.from,
    subject: c.subject,
    status: c.status,
    pauseReason: c.pauseReason,
    pauseCode: c.pauseCode as DeliveryErrorCode | null,
    createdAt: c.createdAt,
    startedAt: c.startedAt,
    completedAt: c.completedAt,
  };
}
