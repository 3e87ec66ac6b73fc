import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { ObjectLiteral, Repository, SelectQueryBuilder } from 'typeorm';
import { isAdmin, Viewer } from '../../infra/auth/viewer';
import { NotFoundError } from '../../infra/errors/domain-error';
import { AccountEntity } from './account.entity';
import { isUuid } from '../../infra/validation';


/**
 * The one place tenant isolation is decided. ADMIN reaches everything; an account token reaches
 * its own account, and an agency's token also its sub-accounts. What a caller cannot reach
 * answers NOT_FOUND, exactly like what does not exist, so ids of other tenants leak nothing.
 */
@Injectable()
export class TenantScope {
  constructor(@InjectRepository(AccountEntity) private readonly accounts: Repository<AccountEntity>) {}

  canReach(viewer: Viewer, account: Pick<AccountEntity, 'id' | 'parentId'>): boolean {
    if (isAdmin(viewer)) return true;
    return account.id === viewer.accountId || (viewer.isAgency && account.parentId === viewer.accountId);
  }

  /** The account with this id if the viewer reaches it; NOT_FOUND otherwise. */
  async account(viewer: Viewer, id: string): Promise<AccountEntity> {
    const account = isUuid(id) ? await this.accounts.findOneBy({ id }) : null;
    if (!account || !this.canReach(viewer, account)) throw new NotFoundError('Account', id);
    return account;
  }

  /** Restricts a query to rows whose `accountColumn` (e.g. "server.accountId") the viewer reaches. */
  restrict<E extends ObjectLiteral>(qb: SelectQueryBuilder<E>, viewer: Viewer, accountColumn: string): SelectQueryBuilder<E> {
    if (isAdmin(viewer)) return qb;
    if (!viewer.isAgency) return qb.andWhere(`${accountColumn} = :scopeAccountId`, { scopeAccountId: viewer.accountId });
    return qb.andWhere(`(${accountColumn} = :scopeAccountId OR ${accountColumn} IN (SELECT a.id FROM accounts a WHERE a.parent_id = :scopeAccountId))`, {
      scopeAccountId: viewer.accountId,
    });
  }
}
