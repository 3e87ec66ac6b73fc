import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ProvidersModule } from '../../providers/providers.module';
import { AccountEntity } from '../accounts/account.entity';
import { AccountsModule } from '../accounts/accounts.module';
import { MessagesCoreModule } from '../messages/messages-core.module';
import { QuotaModule } from '../quota/quota.module';
import { AccountServersResolver } from './account-servers.resolver';
import { DeliveryServerEntity, ServerAssignmentEntity } from './delivery-server.entity';
import { DeliveryServersResolver } from './delivery-servers.resolver';
import { DeliveryServersService } from './delivery-servers.service';
import { ServerDefaultsService } from './server-defaults.service';
import { ServerTestsService } from './server-tests.service';
import { ServerVault } from './server-vault';
import { ServerVisibility } from './server-visibility';
import { WebhookRegistrar } from './webhook-registrar';

@Module({
  imports: [TypeOrmModule.forFeature([DeliveryServerEntity, ServerAssignmentEntity, AccountEntity]), AccountsModule, ProvidersModule, QuotaModule, MessagesCoreModule],
  providers: [DeliveryServersService, ServerDefaultsService, ServerTestsService, ServerVault, WebhookRegistrar, ServerVisibility, DeliveryServersResolver, AccountServersResolver],
  exports: [DeliveryServersService, ServerVault, ServerVisibility, WebhookRegistrar],
})
export class DeliveryServersModule {}
