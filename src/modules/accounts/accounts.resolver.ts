import { Args, Context, ID, Int, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { CurrentViewer } from '../../infra/auth/current-viewer.decorator';
import type { Viewer } from '../../infra/auth/viewer';
import type { Connection } from '../../infra/graphql/pagination';
import { Addon } from './account.entity';
import { AccountConnection, AccountModel } from './account.model';
import { AccountsService } from './accounts.service';
import { toAccountModel } from './accounts.mapper';
import { CreateAccountInput, UpdateAccountInput } from './dto/account.inputs';
import { TenantScope } from './tenant-scope.service';

@Resolver(() => AccountModel)
export class AccountsResolver {
  constructor(
    private readonly service: AccountsService,
    private readonly scope: TenantScope,
  ) {}

  @Query(() => AccountModel, { nullable: true })
  async account(@CurrentViewer() viewer: Viewer, @Args('id', { type: () => ID }) id: string): Promise<AccountModel> {
    return toAccountModel(await this.service.get(viewer, id));
  }

  @Query(() => AccountConnection, { description: 'Every account the caller reaches; search matches name or id.' })
  accounts(
    @CurrentViewer() viewer: Viewer,
    @Args('search', { nullable: true }) search?: string,
    @Args('first', { type: () => Int, nullable: true }) first?: number,
    @Args('after', { nullable: true }) after?: string,
  ): Promise<Connection<AccountModel>> {
    return this.service.list(viewer, { search, first, after }, toAccountModel);
  }

  @Mutation(() => AccountModel)
  async createAccount(@CurrentViewer() viewer: Viewer, @Args('input') input: CreateAccountInput): Promise<AccountModel> {
    return toAccountModel(await this.service.create(viewer, input));
  }

  @Mutation(() => AccountModel)
  async updateAccount(
    @CurrentViewer() viewer: Viewer,
    @Args('id', { type: () => ID }) id: string,
    @Args('input') input: UpdateAccountInput,
  ): Promise<AccountModel> {
    return toAccountModel(await this.service.update(viewer, id, input));
  }

  @Mutation(() => AccountModel, { description: 'ADMIN only: replaces the account\'s add-ons (the plan or add-on purchase of the platform).' })
  async setAccountAddons(
    @CurrentViewer() viewer: Viewer,
    @Args('accountId', { type: () => ID }) accountId: string,
    @Args('addons', { type: () => [Addon] }) addons: Addon[],
  ): Promise<AccountModel> {
    return toAccountModel(await this.service.setAddons(viewer, accountId, addons));
  }

  /** null when the caller does not reach the agency (a sub-account's own token). */
  @ResolveField(() => AccountModel, { nullable: true })
  async parent(@Parent() account: AccountModel, @CurrentViewer() viewer: Viewer, @Context() ctx: object): Promise<AccountModel | null> {
    if (!account.parentId) return null;
    const parent = await this.service.byId(ctx, account.parentId);
    return parent && this.scope.canReach(viewer, parent) ? toAccountModel(parent) : null;
  }

  @ResolveField(() => [AccountModel])
  async subAccounts(@Parent() account: AccountModel, @CurrentViewer() viewer: Viewer, @Context() ctx: object): Promise<AccountModel[]> {
    if (account.parentId) return [];
    return (await this.service.subAccounts(ctx, account.id)).filter((sub) => this.scope.canReach(viewer, sub)).map(toAccountModel);
  }

  @ResolveField(() => [Addon], { description: "The add-ons in force: the account's own and its agency's." })
  effectiveAddons(@Parent() account: AccountModel, @Context() ctx: object): Promise<Addon[]> {
    return this.service.effectiveAddons(ctx, account);
  }
}
