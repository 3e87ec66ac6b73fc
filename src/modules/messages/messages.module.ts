import { type DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ProvidersModule } from '../../providers/providers.module';
import { AccountsModule } from '../accounts/accounts.module';
import { CampaignProgressModule } from '../campaigns/campaign-progress.module';
import { DeliveryServersModule } from '../delivery-servers/delivery-servers.module';
import { QuotaModule } from '../quota/quota.module';
import { RoutingModule } from '../routing/routing.module';
import { SuppressionsModule } from '../suppressions/suppressions.module';
import { DispatchService } from './dispatch.service';
import { DispatchWrites } from './dispatch-writes';
import { UnrecordedSends } from './unrecorded-sends';
import { DispatchWorker } from './dispatch.worker';
import { MessageEntity, MessageEventEntity } from './message.entity';
import { MessagesCoreModule } from './messages-core.module';
import { MessageEventsResolver, MessagesResolver } from './messages.resolver';
import { MessagesService } from './messages.service';

/**
 * Messages: sendEmail and the record of every message, the dispatch queue, and (in processes
 * that run workers) the worker and the sweeper. Modules that only create messages import
 * MessagesCoreModule instead.
 */
@Module({})
export class MessagesModule {
  static forRoot(options: { worker: boolean }): DynamicModule {
    return {
      module: MessagesModule,
      imports: [
        TypeOrmModule.forFeature([MessageEntity, MessageEventEntity]),
        CampaignProgressModule,
        MessagesCoreModule,
        AccountsModule,
        DeliveryServersModule,
        RoutingModule,
        QuotaModule,
        ProvidersModule,
        SuppressionsModule,
      ],
      providers: [MessagesService, DispatchService, DispatchWrites, UnrecordedSends, MessagesResolver, MessageEventsResolver, ...(options.worker ? [DispatchWorker] : [])],
      exports: [MessagesService, MessagesCoreModule],
    };
  }
}
