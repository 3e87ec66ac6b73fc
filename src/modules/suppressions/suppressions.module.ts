import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AccountsModule } from '../accounts/accounts.module';
import { SuppressionEntity } from './suppression.entity';
import { SuppressionsResolver } from './suppressions.resolver';
import { SuppressionsService } from './suppressions.service';

@Module({
  imports: [TypeOrmModule.forFeature([SuppressionEntity]), AccountsModule],
  providers: [SuppressionsService, SuppressionsResolver],
  exports: [SuppressionsService],
})
export class SuppressionsModule {}
