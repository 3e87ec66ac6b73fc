import { DynamicModule, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AppConfigModule } from './config/app-config.module';
import type { AppConfig } from './config/configuration';
import { BearerAuthGuard } from './infra/auth/bearer-auth.guard';
import { DatabaseModule } from './infra/database/database.module';
import { AppGraphQLModule } from './infra/graphql/graphql.module';
import { HealthModule } from './infra/health/health.module';
import { LoggingModule } from './infra/logging/logging.module';
import { QueueModule, runsWorkers, servesApi } from './infra/queue/queue.module';
import { RedisModule } from './infra/redis/redis.module';
import { CryptoModule } from './infra/crypto/crypto.module';
import { AccountsModule } from './modules/accounts/accounts.module';
import { CustomSmtpModule } from './modules/custom-smtp/custom-smtp.module';
import { DeliveryServersModule } from './modules/delivery-servers/delivery-servers.module';
import { CampaignsModule } from './modules/campaigns/campaigns.module';
import { MessagesModule } from './modules/messages/messages.module';
import { SendLedgerModule } from './modules/messages/pg-send-ledger';
import { RoutingModule } from './modules/routing/routing.module';
import { SuppressionsModule } from './modules/suppressions/suppressions.module';
import { WebhooksModule } from './modules/webhooks/webhooks.module';

@Module({})
export class AppModule {
  /** ROLE decides what this process does: the API (GraphQL), the queue workers, or both. */
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(config),
        LoggingModule,
        DatabaseModule,
        RedisModule,
        QueueModule,
        HealthModule,
        CryptoModule,
        AccountsModule,
        DeliveryServersModule,
        CustomSmtpModule,
        RoutingModule,
        SuppressionsModule,
        SendLedgerModule,
        ...(servesApi(config) ? [WebhooksModule] : []),
        MessagesModule.forRoot({ worker: runsWorkers(config) }),
        CampaignsModule.forRoot({ worker: runsWorkers(config) }),
        ...(servesApi(config) ? [AppGraphQLModule] : []),
      ],
      providers: [{ provide: APP_GUARD, useClass: BearerAuthGuard }],
    };
  }
}
