import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { type EntityManager, Repository } from 'typeorm';
import type { Viewer } from '../../infra/auth/viewer';
import { BadUserInputError } from '../../infra/errors/domain-error';
import { type Connection, paginate } from '../../infra/graphql/pagination';
import { TenantScope } from '../accounts/tenant-scope.service';
import { SuppressionEntity, SuppressionReason } from './suppression.entity';
import { isEmailAddress } from '../../infra/validation';


/** Addresses an account must not send to. Keys are lower-cased addresses. */
@Injectable()
export class SuppressionsService {
  constructor(
    @InjectRepository(SuppressionEntity) private readonly suppressions: Repository<SuppressionEntity>,
    private readonly scope: TenantScope,
  ) {}

  async add(viewer: Viewer, accountId: string, email: string): Promise<SuppressionEntity> {
    const account = await this.scope.account(viewer, accountId);
    return this.suppress(account.id, normalise(email), SuppressionReason.MANUAL);
  }

  /**
   * Idempotent: suppressing an address twice keeps the first reason and date. One statement that
   * answers the row either way: an insert skipped on conflict and then read back could find the
   * row removed in between (a removal racing the add) and fail.
   */
  async suppress(accountId: string, email: string, reason: SuppressionReason, tx: EntityManager = this.suppressions.manager): Promise<SuppressionEntity> {
    const rows = await tx.query<{ account_id: string; email: string; reason: SuppressionReason; created_at: Date }[]>(
      `INSERT INTO suppressions (account_id, email, reason) VALUES ($1, $2, $3)
       ON CONFLICT (account_id, email) DO UPDATE SET reason = suppressions.reason
       RETURNING account_id, email, reason, created_at`,
      [accountId, email.toLowerCase(), reason],
    );
    const [row] = rows;
    return this.suppressions.create({ accountId: row.account_id, email: row.email, reason: row.reason, createdAt: row.created_at });
  }

  async remove(viewer: Viewer, accountId: string, email: string): Promise<boolean> {
    const account = await this.scope.account(viewer, accountId);
    const result = await this.suppressions.delete({ accountId: account.id, email: normalise(email) });
    return (result.affected ?? 0) > 0;
  }

  isSuppressed(accountId: string, email: string): Promise<boolean> {
    return this.suppressions.existsBy({ accountId, email: email.toLowerCase() });
  }

  /** Which of these addresses are suppressed for the account (one query, for campaigns). */
  async suppressedAmong(accountId: string, emails: string[]): Promise<Set<string>> {
    if (!emails.length) return new Set();
    const rows = await this.suppressions
      .createQueryBuilder('s')
      .select('s.email', 'email')
      .where('s.account_id = :accountId', { accountId })
      .andWhere('s.email = ANY(:emails)', { emails })
      .getRawMany<{ email: string }>();
    return new Set(rows.map((r) => r.email));
  }

  async list(viewer: Viewer, accountId: string, args: { search?: string | null; first?: number | null; after?: string | null }): Promise<Connection<SuppressionEntity>> {
    const account = await this.scope.account(viewer, accountId);
    const qb = this.suppressions.createQueryBuilder('suppression').where('suppression.accountId = :accountId', { accountId: account.id });
    const search = args.search?.trim().toLowerCase();
    if (search) qb.andWhere("suppression.email LIKE :pattern ESCAPE '\\'", { pattern: `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%` });
    // Suppressions have no id column: the email stands in for it in the cursor order.
    return paginate(qb, args, (row) => row, { tieBreaker: 'email' });
  }
}

function normalise(email: string): string {
  const value = email.trim().toLowerCase();
  if (!isEmailAddress(value)) throw BadUserInputError.field('email', 'must be an email address such as "jane@example.com"');
  return value;
}
