import type { AccountEntity } from './account.entity';
import type { ApiTokenEntity } from './api-token.entity';
import { AccountKind, type AccountModel } from './account.model';
import type { ApiTokenModel } from './api-token.model';

export function toAccountModel(e: AccountEntity): AccountModel {
  return {
    id: e.id,
    name: e.name,
    timezone: e.timezone,
    kind: e.parentId ? AccountKind.SUB_ACCOUNT : AccountKind.AGENCY,
    onQuotaExhausted: e.onQuotaExhausted,
    addons: [...e.addons].sort(),
    createdAt: e.createdAt,
    parentId: e.parentId,
  };
}

/** Never carries the token hash. */
export function toApiTokenModel(e: ApiTokenEntity): ApiTokenModel {
  return { id: e.id, name: e.name, role: e.role, createdAt: e.createdAt, lastUsedAt: e.lastUsedAt, accountId: e.accountId };
}
