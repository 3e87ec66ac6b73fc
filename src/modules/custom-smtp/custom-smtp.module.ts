import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ProvidersModule } from '../../providers/providers.module';
import { AccountsModule } from '../accounts/accounts.module';
import { DeliveryServerEntity } from '../delivery-servers/delivery-server.entity';
import { DeliveryServersModule } from '../delivery-servers/delivery-servers.module';
import { CustomSmtpResolver } from './custom-smtp.resolver';
import { CustomSmtpService } from './custom-smtp.service';

@Module({
  imports: [TypeOrmModule.forFeature([DeliveryServerEntity]), AccountsModule, DeliveryServersModule, ProvidersModule],
  providers: [CustomSmtpService, CustomSmtpResolver],
})
export class CustomSmtpModule {}
