import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CampaignEntity } from './campaign.entity';
import { CampaignProgress } from './campaign-progress';

/** CampaignProgress alone: the campaigns module uses it, and so does the dispatch side (campaign-progress.ts says why not all of CampaignsModule). */
@Module({
  imports: [TypeOrmModule.forFeature([CampaignEntity])],
  providers: [CampaignProgress],
  exports: [CampaignProgress],
})
export class CampaignProgressModule {}
