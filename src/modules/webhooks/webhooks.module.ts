import { type MiddlewareConsumer, Module, type NestModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ProvidersModule } from '../../providers/providers.module';
import { DeliveryServerEntity } from '../delivery-servers/delivery-server.entity';
import { DeliveryServersModule } from '../delivery-servers/delivery-servers.module';
import { MessagesCoreModule } from '../messages/messages-core.module';
import { SuppressionsModule } from '../suppressions/suppressions.module';
import { EarlyWebhookEvents } from './early-webhook-events';
import { ServerReputationResolver } from './server-reputation.resolver';
import { ServerReputationService } from './server-reputation.service';
import { WebhookBodyMiddleware } from './webhook-body.middleware';
import { WebhookReplayGuard } from './webhook-replay-guard';
import { WebhookStateRefresh } from './webhook-state-refresh';
import { WebhooksController } from './webhooks.controller';
import { WebhooksService } from './webhooks.service';

/** POST /webhooks/{provider}/{serverId}: provider events in, message statuses and suppressions out; DeliveryServer.reputation and the complaint auto-pause. */
@Module({
  imports: [TypeOrmModule.forFeature([DeliveryServerEntity]), DeliveryServersModule, ProvidersModule, SuppressionsModule, MessagesCoreModule],
  controllers: [WebhooksController],
  providers: [WebhooksService, WebhookReplayGuard, WebhookStateRefresh, ServerReputationService, ServerReputationResolver, EarlyWebhookEvents],
})
export class WebhooksModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(WebhookBodyMiddleware).forRoutes(WebhooksController);
  }
}
