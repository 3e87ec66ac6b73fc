import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CampaignEntity } from './campaign.entity';
import { CampaignProgress } from './campaign-progress';

/** CampaignProgress alone, for the dispatch side (campaign-progress.ts says why not CampaignsModule). */
@Module({
  imports: [TypeOrmModule.forFeature([CampaignEntity])],
  providers: [CampaignProgress],
  exports: [CampaignProgress],
})
export class CampaignProgressModule {}
