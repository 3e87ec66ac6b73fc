import { Args, Context, ID, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { CurrentViewer } from '../../infra/auth/current-viewer.decorator';
import type { Viewer } from '../../infra/auth/viewer';
import { AccountModel } from './account.model';
import { AccountsService } from './accounts.service';
import { toAccountModel, toApiTokenModel } from './accounts.mapper';
import { ApiTokenModel, CreatedApiTokenModel } from './api-token.model';
import { ApiTokensService } from './api-tokens.service';
import { CreateApiTokenInput } from './dto/account.inputs';

@Resolver(() => ApiTokenModel)
export class ApiTokensResolver {
  constructor(
    private readonly tokens: ApiTokensService,
    private readonly accounts: AccountsService,
  ) {}

  @Query(() => [ApiTokenModel], { description: "ADMIN: every token, or one account's; an account token: its own account's." })
  async apiTokens(@CurrentViewer() viewer: Viewer, @Args('accountId', { type: () => ID, nullable: true }) accountId?: string): Promise<ApiTokenModel[]> {
    return (await this.tokens.list(viewer, accountId)).map(toApiTokenModel);
  }

  @Mutation(() => CreatedApiTokenModel)
  async createApiToken(@CurrentViewer() viewer: Viewer, @Args('input') input: CreateApiTokenInput): Promise<CreatedApiTokenModel> {
    const { token, row } = await this.tokens.create(viewer, input);
    return { token, apiToken: toApiTokenModel(row) };
  }

  @Mutation(() => Boolean)
  revokeApiToken(@CurrentViewer() viewer: Viewer, @Args('id', { type: () => ID }) id: string): Promise<boolean> {
    return this.tokens.revoke(viewer, id);
  }

  @ResolveField(() => AccountModel, { nullable: true })
  async account(@Parent() token: ApiTokenModel, @Context() ctx: object): Promise<AccountModel | null> {
    const account = token.accountId ? await this.accounts.byId(ctx, token.accountId) : null;
    return account && toAccountModel(account);
  }
}
