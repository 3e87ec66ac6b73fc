import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Repository } from 'typeorm';
import { isAdmin, Viewer } from '../../infra/auth/viewer';
import { BadUserInputError, ForbiddenError } from '../../infra/errors/domain-error';
import { Connection, paginate } from '../../infra/graphql/pagination';
import { requestLoader } from '../../infra/graphql/request-loaders';
import { AccountEntity, Addon, QuotaExhaustedAction } from './account.entity';
import type { CreateAccountInput, UpdateAccountInput } from './dto/account.inputs';
import { TenantScope } from './tenant-scope.service';
import { QuotaService } from '../quota/quota.service';
import { MessageStore } from '../messages/message-store';
import { isUuid } from '../../infra/validation';


@Injectable()
export class AccountsService {
  private readonly logger = new Logger(AccountsService.name);

  constructor(
    @InjectRepository(AccountEntity) private readonly accounts: Repository<AccountEntity>,
    private readonly scope: TenantScope,
    private readonly quota: QuotaService,
    private readonly messages: MessageStore,
  ) {}

  get(viewer: Viewer, id: string): Promise<AccountEntity> {
    return this.scope.account(viewer, id);
  }

  async create(viewer: Viewer, input: CreateAccountInput): Promise<AccountEntity> {
    let parentId: string | null = null;
    if (input.parentId) {
      const parent = await this.scope.account(viewer, input.parentId);
      if (parent.parentId) throw BadUserInputError.field('parentId', 'is a sub-account, and a sub-account cannot have sub-accounts');
      if (!isAdmin(viewer) && parent.id !== viewer.accountId) throw new ForbiddenError('Only the agency itself or an ADMIN can add sub-accounts to it');
      parentId = parent.id;
    } else if (!isAdmin(viewer)) {
      throw new ForbiddenError('Only an ADMIN can create an agency; give parentId to create a sub-account');
    }
    return this.accounts.save(
      this.accounts.create({
        name: input.name,
        timezone: input.timezone,
        parentId,
        onQuotaExhausted: input.onQuotaExhausted ?? QuotaExhaustedAction.WAIT,
        addons: [],
      }),
    );
  }

  async update(viewer: Viewer, id: string, input: UpdateAccountInput): Promise<AccountEntity> {
    const account = await this.scope.account(viewer, id);
    const changes: Partial<Pick<AccountEntity, 'name' | 'timezone' | 'onQuotaExhausted'>> = {};
    if (input.name !== undefined) changes.name = input.name;
    if (input.timezone !== undefined) changes.timezone = input.timezone;
    if (input.onQuotaExhausted !== undefined) changes.onQuotaExhausted = input.onQuotaExhausted;
    const saved = await this.write(account.id, changes);
    const clockChanged = changes.timezone !== undefined && changes.timezone !== account.timezone;
    if (clockChanged) await this.clockChanged(account.id, [account.timezone, changes.timezone as string]);
    // Mail waiting for a window on the old clock, or under WAIT for a full server that FAILOVER
    // would leave, would otherwise keep waiting for the reset it was told.
    if (clockChanged || (changes.onQuotaExhausted !== undefined && changes.onQuotaExhausted !== account.onQuotaExhausted)) this.messages.rerouteWaitersOf(account.id);
    return saved;
  }

  /**
   * Its servers count quota on the account's clock: their current windows on the old and the new
   * clock are counted again from the sends recorded (QuotaService.forgetCurrentWindows).
   */
  private async clockChanged(accountId: string, zones: string[]): Promise<void> {
    const servers = (await this.accounts.manager.query('SELECT id FROM delivery_servers WHERE account_id = $1', [accountId])) as { id: string }[];
    // The change is saved: Redis trouble here is logged, not answered as a failed update.
    await this.quota.forgetCurrentWindows(servers.map((s) => s.id), zones).catch((err: unknown) => {
      this.logger.warn(`Account ${accountId}: its servers' quota counters could not be rebuilt after the timezone change (${err instanceof Error ? err.message : 'error'})`);
    });
  }

  async setAddons(viewer: Viewer, id: string, addons: Addon[]): Promise<AccountEntity> {
    if (!isAdmin(viewer)) throw new ForbiddenError('Only an ADMIN can change add-ons');
    const account = await this.scope.account(viewer, id);
    const next = [...new Set(addons)].sort();
    const saved = await this.write(account.id, { addons: next });
    // Custom SMTPs of the account (an agency's: of its sub-accounts too) left or joined routing.
    if (next.join() !== [...account.addons].sort().join()) this.messages.rerouteWaitersOf(account.id);
    return saved;
  }

  /**
   * Writes only the columns given, then reads the row: saving the whole entity read before would
   * put back any column another request changed meanwhile (a tenant's rename undoing an ADMIN's
   * removal of an add-on).
   */
  private async write(id: string, changes: Partial<Pick<AccountEntity, 'name' | 'timezone' | 'onQuotaExhausted' | 'addons'>>): Promise<AccountEntity> {
    if (Object.keys(changes).length) await this.accounts.update({ id }, changes);
    return this.accounts.findOneByOrFail({ id });
  }

  list<N>(viewer: Viewer, args: { search?: string | null; first?: number | null; after?: string | null }, map: (e: AccountEntity) => N): Promise<Connection<N>> {
    const qb = this.accounts.createQueryBuilder('account');
    this.scope.restrict(qb, viewer, 'account.id');
    const search = args.search?.trim();
    if (search) {
      if (search.length > 200) throw BadUserInputError.field('search', 'must be at most 200 characters');
      const byName = "account.name ILIKE :pattern ESCAPE '\\'";
      const pattern = `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      if (isUuid(search)) qb.andWhere(`(${byName} OR account.id = :searchId)`, { pattern, searchId: search });
      else qb.andWhere(byName, { pattern });
    }
    return paginate(qb, args, map);
  }

  /** For internal callers (routing, workers) that already decided access: the account and its agency, one query. */
  withParent(id: string): Promise<AccountEntity | null> {
    // A query builder, not findOne: findOne with a relation costs a second (DISTINCT ids) query.
    return this.accounts.createQueryBuilder('account').leftJoinAndSelect('account.parent', 'parent').where('account.id = :id', { id }).getOne();
  }

  /** Batched per request: the accounts with these ids (null where missing). */
  byId(ctx: object, id: string): Promise<AccountEntity | null> {
    return this.byIdLoader(ctx).load(id);
  }

  /** An account this request already read (e.g. through TenantScope): byId answers it without a query. */
  prime(ctx: object, account: AccountEntity): void {
    this.byIdLoader(ctx).prime(account.id, account);
  }

  private byIdLoader(ctx: object) {
    return requestLoader<string, AccountEntity | null>(ctx, 'account.byId', async (ids) => {
      const rows = await this.accounts.findBy({ id: In([...ids]) });
      const map = new Map(rows.map((r) => [r.id, r]));
      return ids.map((i) => map.get(i) ?? null);
    });
  }

  /** Batched per request: an agency's sub-accounts, oldest first. */
  subAccounts(ctx: object, parentId: string): Promise<AccountEntity[]> {
    return requestLoader<string, AccountEntity[]>(ctx, 'account.subAccounts', async (ids) => {
      const rows = await this.accounts.find({ where: { parentId: In([...ids]) }, order: { createdAt: 'ASC', id: 'ASC' } });
      return ids.map((i) => rows.filter((r) => r.parentId === i));
    }).load(parentId);
  }

  /** The add-ons in force for an account: its own and its agency's. */
  async effectiveAddons(ctx: object, account: Pick<AccountEntity, 'addons' | 'parentId'>): Promise<Addon[]> {
    const parent = account.parentId ? await this.byId(ctx, account.parentId) : null;
    return [...new Set([...account.addons, ...(parent?.addons ?? [])])].sort();
  }
}
