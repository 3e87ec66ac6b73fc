import { BullModule } from '@nestjs/bull';
import { type DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ProvidersModule } from '../../providers/providers.module';
import { AccountsModule } from '../accounts/accounts.module';
import { CampaignEntity } from '../campaigns/campaign.entity';
import { DeliveryServersModule } from '../delivery-servers/delivery-servers.module';
import { QuotaModule } from '../quota/quota.module';
import { RoutingModule } from '../routing/routing.module';
import { SuppressionsModule } from '../suppressions/suppressions.module';
import { DISPATCH_QUEUE, DispatchQueue } from './dispatch-queue';
import { DispatchService } from './dispatch.service';
import { DispatchWorker } from './dispatch.worker';
import { MessageEntity, MessageEventEntity } from './message.entity';
import { MessageStore } from './message-store';
import { MessageEventsResolver, MessagesResolver } from './messages.resolver';
import { MessagesService } from './messages.service';
import { Sweeper } from './sweeper';

/**
 * Messages: sendEmail and the record of every message, the dispatch queue, and (in processes
 * that run workers) the worker and the sweeper.
 */
@Module({})
export class MessagesModule {
  static forRoot(options: { worker: boolean }): DynamicModule {
    return {
      module: MessagesModule,
      imports: [
        TypeOrmModule.forFeature([MessageEntity, MessageEventEntity, CampaignEntity]),
        BullModule.registerQueue({
          name: DISPATCH_QUEUE,
          // The lock outlasts the slowest send (provider timeouts are well under a minute), so a
          // job in progress is never handed to a second worker.
          settings: { lockDuration: 120_000, lockRenewTime: 30_000, stalledInterval: 30_000, maxStalledCount: 2 },
        }),
        AccountsModule,
        DeliveryServersModule,
        RoutingModule,
        QuotaModule,
        ProvidersModule,
        SuppressionsModule,
      ],
      providers: [DispatchQueue, MessageStore, MessagesService, DispatchService, Sweeper, MessagesResolver, MessageEventsResolver, ...(options.worker ? [DispatchWorker] : [])],
      exports: [MessagesService, MessageStore, Sweeper, DispatchQueue],
    };
  }
}
