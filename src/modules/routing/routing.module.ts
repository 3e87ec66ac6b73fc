import { Module } from '@nestjs/common';
import { ProvidersModule } from '../../providers/providers.module';
import { AccountsModule } from '../accounts/accounts.module';
import { DeliveryServersModule } from '../delivery-servers/delivery-servers.module';
import { QuotaModule } from '../quota/quota.module';
import { CircuitBreaker } from './circuit-breaker';
import { RoutingResolver } from './routing.resolver';
import { RoutingService } from './routing.service';

@Module({
  imports: [AccountsModule, DeliveryServersModule, QuotaModule, ProvidersModule],
  providers: [RoutingService, RoutingResolver, CircuitBreaker],
  exports: [RoutingService, CircuitBreaker],
})
export class RoutingModule {}
