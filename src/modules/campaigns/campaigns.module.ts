import { BullModule } from '@nestjs/bull';
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AccountsModule } from '../accounts/accounts.module';
import { DISPATCH_QUEUE, DispatchQueue } from '../messages/dispatch-queue';
import { MessageStore } from '../messages/message-store';
import { RoutingModule } from '../routing/routing.module';
import { SuppressionsModule } from '../suppressions/suppressions.module';
import { CampaignEntity, CampaignRecipientEntity } from './campaign.entity';
import { CampaignsResolver, MessageCampaignResolver } from './campaigns.resolver';
import { CampaignsService } from './campaigns.service';

/**
 * Campaigns: a DRAFT audience turned into messages on start, paused and resumed as a whole.
 *
 * MessagesModule is a dynamic module (`forRoot({ worker })`) that AppModule registers once;
 * importing it here again would build a second instance (resolvers included). Its two stateless
 * writers are provided locally instead: MessageStore over the shared DataSource, and DispatchQueue
 * over a handle on the same Bull queue (same name and prefix, so the same Redis queue). This
 * module only adds jobs; the worker of MessagesModule processes them.
 */
@Module({
  imports: [
    TypeOrmModule.forFeature([CampaignEntity, CampaignRecipientEntity]),
    BullModule.registerQueue({ name: DISPATCH_QUEUE }),
    AccountsModule,
    RoutingModule,
    SuppressionsModule,
  ],
  providers: [DispatchQueue, MessageStore, CampaignsService, CampaignsResolver, MessageCampaignResolver],
  exports: [CampaignsService],
})
export class CampaignsModule {}
