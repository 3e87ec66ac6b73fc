import { BullModule } from '@nestjs/bull';
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AccountsModule } from '../accounts/accounts.module';
import { DISPATCH_QUEUE, DispatchQueue } from '../messages/dispatch-queue';
import { RoutingModule } from '../routing/routing.module';
import { SuppressionsModule } from '../suppressions/suppressions.module';
import { CampaignEntity, CampaignRecipientEntity } from './campaign.entity';
import { CampaignsResolver, MessageCampaignResolver } from './campaigns.resolver';
import { CampaignsService } from './campaigns.service';

/**
 * Campaigns: a DRAFT audience turned into messages on start, paused and resumed as a whole.
 *
 * MessagesModule is a dynamic module (`forRoot({ worker })`) that AppModule registers once;
 * importing it here again would build a second instance (resolvers included). DispatchQueue is
 * provided locally instead, over a handle on the same Bull queue (same name and prefix, so the
 * same Redis queue, same deterministic job ids). This module only adds jobs; the worker of
 * MessagesModule processes them. Message rows are written by campaign-messages.ts, in the shape
 * MessageStore.accept writes, for bulk speed.
 */
@Module({
  imports: [
    TypeOrmModule.forFeature([CampaignEntity, CampaignRecipientEntity]),
    BullModule.registerQueue({ name: DISPATCH_QUEUE }),
    AccountsModule,
    RoutingModule,
    SuppressionsModule,
  ],
  providers: [DispatchQueue, CampaignsService, CampaignsResolver, MessageCampaignResolver],
  exports: [CampaignsService],
})
export class CampaignsModule {}
