import { Args, Context, ID, Int, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { CurrentViewer } from '../../infra/auth/current-viewer.decorator';
import type { Viewer } from '../../infra/auth/viewer';
import type { Connection } from '../../infra/graphql/pagination';
import { AccountModel } from '../accounts/account.model';
import { toAccountModel } from '../accounts/accounts.mapper';
import { AccountsService } from '../accounts/accounts.service';
import { MessageModel } from '../messages/message.model';
import { CampaignStatus } from './campaign.entity';
import { CampaignConnection, CampaignModel, CampaignStatsModel } from './campaign.model';
import { toCampaignModel } from './campaigns.mapper';
import { CampaignsService } from './campaigns.service';
import { CreateCampaignInput } from './dto/create-campaign.input';

@Resolver(() => CampaignModel)
export class CampaignsResolver {
  constructor(
    private readonly service: CampaignsService,
    private readonly accounts: AccountsService,
  ) {}

  @Query(() => CampaignModel, { nullable: true })
  async campaign(@CurrentViewer() viewer: Viewer, @Args('id', { type: () => ID }) id: string): Promise<CampaignModel> {
    return toCampaignModel(await this.service.get(viewer, id));
  }

  @Query(() => CampaignConnection)
  async campaigns(
    @CurrentViewer() viewer: Viewer,
    @Args('accountId', { type: () => ID }) accountId: string,
    @Args('status', { type: () => CampaignStatus, nullable: true }) status?: CampaignStatus,
    @Args('first', { type: () => Int, nullable: true }) first?: number,
    @Args('after', { nullable: true }) after?: string,
  ): Promise<Connection<CampaignModel>> {
    const page = await this.service.list(viewer, accountId, { status, first, after });
    return { ...page, edges: page.edges.map((e) => ({ cursor: e.cursor, node: toCampaignModel(e.node) })) };
  }

  @Mutation(() => CampaignModel)
  async createCampaign(@CurrentViewer() viewer: Viewer, @Args('input') input: CreateCampaignInput): Promise<CampaignModel> {
    return toCampaignModel(await this.service.create(viewer, input));
  }

  @Mutation(() => CampaignModel, { description: "DRAFT campaigns only: adds recipients in batches (validated and de-duplicated like createCampaign's)." })
  async addCampaignRecipients(
    @CurrentViewer() viewer: Viewer,
    @Args('id', { type: () => ID }) id: string,
    @Args('recipients', { type: () => [String] }) recipients: string[],
  ): Promise<CampaignModel> {
    return toCampaignModel(await this.service.addRecipients(viewer, id, recipients));
  }

  @Mutation(() => CampaignModel, { description: 'Routes first: NO_ROUTE or SENDER_NOT_VERIFIED leave the campaign PAUSED with pauseCode and pauseReason.' })
  async startCampaign(@CurrentViewer() viewer: Viewer, @Args('id', { type: () => ID }) id: string): Promise<CampaignModel> {
    return toCampaignModel(await this.service.start(viewer, id));
  }

  @Mutation(() => CampaignModel)
  async pauseCampaign(@CurrentViewer() viewer: Viewer, @Args('id', { type: () => ID }) id: string): Promise<CampaignModel> {
    return toCampaignModel(await this.service.pause(viewer, id));
  }

  @Mutation(() => CampaignModel, { description: 'Re-checks the route first: still refused, the campaign stays PAUSED with the new pauseCode and pauseReason.' })
  async resumeCampaign(@CurrentViewer() viewer: Viewer, @Args('id', { type: () => ID }) id: string): Promise<CampaignModel> {
    return toCampaignModel(await this.service.resume(viewer, id));
  }

  @ResolveField(() => AccountModel)
  async account(@Parent() campaign: CampaignModel, @Context() ctx: object): Promise<AccountModel> {
    return toAccountModel((await this.accounts.byId(ctx, campaign.accountId))!);
  }

  @ResolveField(() => CampaignStatsModel)
  stats(@Parent() campaign: CampaignModel, @Context() ctx: object): Promise<CampaignStatsModel> {
    return this.service.stats(ctx, campaign);
  }
}

/** Message.campaign: the message was already reached by the viewer, and its campaign is of the same account. */
@Resolver(() => MessageModel)
export class MessageCampaignResolver {
  constructor(private readonly service: CampaignsService) {}

  @ResolveField(() => CampaignModel, { nullable: true })
  async campaign(@Parent() message: MessageModel, @Context() ctx: object): Promise<CampaignModel | null> {
    const campaign = message.campaignId ? await this.service.byId(ctx, message.campaignId) : null;
    return campaign && toCampaignModel(campaign);
  }
}
