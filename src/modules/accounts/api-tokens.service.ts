import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { IsNull, Repository } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../../config/configuration';
import { isAdmin, Role, TokenAuthenticator, Viewer } from '../../infra/auth/viewer';
import { ForbiddenError, NotFoundError } from '../../infra/errors/domain-error';
import { ApiTokenEntity } from './api-token.entity';
import type { CreateApiTokenInput } from './dto/account.inputs';
import { TenantScope } from './tenant-scope.service';
import { isUuid } from '../../infra/validation';

const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');
/** lastUsedAt is written at most once a minute per token, not on every request. */
const LAST_USED_RESOLUTION_MS = 60_000;

@Injectable()
export class ApiTokensService implements TokenAuthenticator {
  private readonly adminTokenHash: Buffer | null;

  constructor(
    @InjectRepository(ApiTokenEntity) private readonly tokens: Repository<ApiTokenEntity>,
    private readonly scope: TenantScope,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.adminTokenHash = config.auth.adminToken ? Buffer.from(hashToken(config.auth.adminToken), 'hex') : null;
  }

  async authenticate(token: string): Promise<Viewer | null> {
    const hash = hashToken(token);
    if (this.adminTokenHash && timingSafeEqual(Buffer.from(hash, 'hex'), this.adminTokenHash)) return { role: Role.ADMIN, tokenId: null };
    // One round trip on every request: raw SQL, since findOne with a relation costs two queries.
    const [row] = (await this.tokens.query(
      `SELECT t.id, t.role, t.last_used_at AS "lastUsedAt", a.id AS "accountId", a.parent_id AS "parentId"
       FROM api_tokens t LEFT JOIN accounts a ON a.id = t.account_id
       WHERE t.token_hash = $1 AND t.revoked_at IS NULL`,
      [hash],
    )) as { id: string; role: Role; lastUsedAt: Date | null; accountId: string | null; parentId: string | null }[];
    if (!row) return null;
    if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
      await this.tokens.update({ id: row.id }, { lastUsedAt: new Date() });
    }
    if (row.role === Role.ADMIN) return { role: Role.ADMIN, tokenId: row.id };
    if (!row.accountId) return null;
    return { role: Role.ACCOUNT, tokenId: row.id, accountId: row.accountId, isAgency: row.parentId === null };
  }

  /** Returns the token once; only its hash is stored. */
  async create(viewer: Viewer, input: CreateApiTokenInput): Promise<{ token: string; row: ApiTokenEntity }> {
    let accountId: string | null = null;
    if (input.accountId) accountId = (await this.scope.account(viewer, input.accountId)).id;
    else if (!isAdmin(viewer)) throw new ForbiddenError('Only an ADMIN can create ADMIN tokens; give accountId for an account token');
    const token = `mr_${randomBytes(32).toString('base64url')}`;
    const row = await this.tokens.save(
      this.tokens.create({ name: input.name, role: accountId ? Role.ACCOUNT : Role.ADMIN, accountId, tokenHash: hashToken(token) }),
    );
    return { token, row };
  }

  async revoke(viewer: Viewer, id: string): Promise<boolean> {
    const row = isUuid(id) ? await this.tokens.findOneBy({ id, revokedAt: IsNull() }) : null;
    if (!row) throw new NotFoundError('API token', id);
    if (!isAdmin(viewer)) {
      if (!row.accountId) throw new NotFoundError('API token', id);
      await this.scope.account(viewer, row.accountId).catch(() => {
        throw new NotFoundError('API token', id);
      });
    }
    await this.tokens.update({ id }, { revokedAt: new Date() });
    return true;
  }

  /** Live tokens only, newest first. */
  async list(viewer: Viewer, accountId?: string | null): Promise<ApiTokenEntity[]> {
    if (isAdmin(viewer) && !accountId) return this.tokens.find({ where: { revokedAt: IsNull() }, order: { createdAt: 'DESC', id: 'DESC' } });
    const account = await this.scope.account(viewer, accountId ?? (isAdmin(viewer) ? '' : viewer.accountId));
    return this.tokens.find({ where: { accountId: account.id, revokedAt: IsNull() }, order: { createdAt: 'DESC', id: 'DESC' } });
  }
}
