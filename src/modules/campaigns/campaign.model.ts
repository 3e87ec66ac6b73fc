import { Field, ID, Int, ObjectType, registerEnumType } from '@nestjs/graphql';
import { ConnectionType } from '../../infra/graphql/pagination';
import { DeliveryErrorCode } from '../../providers/provider.enums';
import { CampaignStatus } from './campaign.entity';

registerEnumType(CampaignStatus, { name: 'CampaignStatus' });

/** Every message of a campaign counted once, by its current status (the buckets add up to total). */
@ObjectType('CampaignStats', {
  description:
    "Each message is counted once, by its current status. Before start, total is the number of recipients and the rest are 0. The providers' webhooks keep moving sent messages after the campaign is COMPLETED.",
})
export class CampaignStatsModel {
  @Field(() => Int) total!: number;
  @Field(() => Int, { description: 'Waiting to be sent, or being sent now.' }) queued!: number;
  @Field(() => Int) deferred!: number;
  @Field(() => Int, { description: 'Accepted by the provider, with no later word from it yet.' }) sent!: number;
  @Field(() => Int) delivered!: number;
  @Field(() => Int, { description: 'Refused for good (by the provider when sending or after accepting, or for lack of a route).' }) failed!: number;
  @Field(() => Int, { description: 'Hard bounces, and soft bounces the provider gave up on (DeliveryServer.reputation counts hard bounces only).' })
  bounced!: number;
  @Field(() => Int) complained!: number;
  @Field(() => Int) suppressed!: number;
}

@ObjectType('Campaign')
export class CampaignModel {
  @Field(() => ID) id!: string;
  @Field() name!: string;
  @Field() from!: string;
  @Field() subject!: string;
  @Field(() => CampaignStatus) status!: CampaignStatus;
  @Field(() => String, { nullable: true, description: 'Why the campaign is PAUSED, e.g. the sender is not verified for the routed server.' })
  pauseReason!: string | null;
  @Field(() => DeliveryErrorCode, { nullable: true }) pauseCode!: DeliveryErrorCode | null;
  @Field() createdAt!: Date;
  @Field(() => Date, { nullable: true }) startedAt!: Date | null;
  @Field(() => Date, { nullable: true }) completedAt!: Date | null;

  /** Resolved to `account`; `stats` resolves from the messages (or recipients before start). */
  accountId!: string;
}

export const CampaignConnection = ConnectionType(CampaignModel, 'Campaign');
