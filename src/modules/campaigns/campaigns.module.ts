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
 * provided locally instead, over the same Redis queue (see the registration below), so job ids
 * and job options are exactly the ones the worker and the sweeper use. This module only adds
 * jobs; the worker of MessagesModule processes them. Message rows are written by
 * campaign-messages.ts, in the shape MessageStore.accept writes, for bulk speed.
 */
@Module({
  imports: [
    TypeOrmModule.forFeature([CampaignEntity, CampaignRecipientEntity]),
    // A second handle on the same Redis queue, registered with MessagesModule's exact settings:
    // @nestjs/bull binds the dispatch worker to whichever registered handle of this name it finds
    // first (a non-strict lookup), so both must carry the lock settings the worker relies on.
    BullModule.registerQueue({
      name: DISPATCH_QUEUE,
      settings: { lockDuration: 120_000, lockRenewTime: 30_000, stalledInterval: 30_000, maxStalledCount: 2 },
    }),
    AccountsModule,
    RoutingModule,
    SuppressionsModule,
  ],
  providers: [DispatchQueue, CampaignsService, CampaignsResolver, MessageCampaignResolver],
  exports: [CampaignsService],
})
export class CampaignsModule {}
