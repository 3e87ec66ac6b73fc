import { type DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AccountsModule } from '../accounts/accounts.module';
import { MessagesCoreModule } from '../messages/messages-core.module';
import { QuotaModule } from '../quota/quota.module';
import { RoutingModule } from '../routing/routing.module';
import { SuppressionsModule } from '../suppressions/suppressions.module';
import { CampaignEntity, CampaignRecipientEntity } from './campaign.entity';
import { CampaignProgressModule } from './campaign-progress.module';
import { CampaignsResolver, MessageCampaignResolver } from './campaigns.resolver';
import { CampaignsService } from './campaigns.service';
import { LaunchRecovery } from './launch-recovery';

/**
 * Campaigns: a DRAFT audience turned into messages on start, paused and resumed as a whole.
 * The dispatch queue comes from MessagesCoreModule (one queue handle, the worker's settings);
 * this module only adds jobs. Message rows are written by MessageStore.accept, like sendEmail's.
 */
@Module({})
export class CampaignsModule {
  /** Worker processes also finish launches cut short (LaunchRecovery). */
  static forRoot(options: { worker: boolean }): DynamicModule {
    return {
      module: CampaignsModule,
      imports: [
        TypeOrmModule.forFeature([CampaignEntity, CampaignRecipientEntity]),
        MessagesCoreModule,
        CampaignProgressModule,
        AccountsModule,
        RoutingModule,
        SuppressionsModule,
        QuotaModule,
      ],
      providers: [CampaignsService, CampaignsResolver, MessageCampaignResolver, ...(options.worker ? [LaunchRecovery] : [])],
      exports: [CampaignsService],
    };
  }
}
