import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { TOKEN_AUTHENTICATOR } from '../../infra/auth/viewer';
import { MessagesCoreModule } from '../messages/messages-core.module';
import { QuotaModule } from '../quota/quota.module';
import { AccountEntity } from './account.entity';
import { AccountsResolver } from './accounts.resolver';
import { AccountsService } from './accounts.service';
import { ApiTokenEntity } from './api-token.entity';
import { ApiTokensResolver } from './api-tokens.resolver';
import { ApiTokensService } from './api-tokens.service';
import { TenantScope } from './tenant-scope.service';
import { ViewerResolver } from './viewer.resolver';

@Module({
  imports: [TypeOrmModule.forFeature([AccountEntity, ApiTokenEntity]), QuotaModule, MessagesCoreModule],
  providers: [
    AccountsService,
    ApiTokensService,
    TenantScope,
    { provide: TOKEN_AUTHENTICATOR, useExisting: ApiTokensService },
    AccountsResolver,
    ApiTokensResolver,
    ViewerResolver,
  ],
  exports: [AccountsService, TenantScope, TOKEN_AUTHENTICATOR],
})
export class AccountsModule {}
