import { Args, Context, ID, Int, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { CurrentViewer } from '../../infra/auth/current-viewer.decorator';
import type { Viewer } from '../../infra/auth/viewer';
import type { Connection } from '../../infra/graphql/pagination';
import { MemoizedResponse, memoRequestOf } from '../../infra/graphql/response-memo';
import { AccountModel } from '../accounts/account.model';
import { toAccountModel } from '../accounts/accounts.mapper';
import { AccountsService } from '../accounts/accounts.service';
import { DeliveryServerModel } from '../delivery-servers/delivery-server.model';
import { DeliveryServersService } from '../delivery-servers/delivery-servers.service';
import { ServerVisibility } from '../delivery-servers/server-visibility';
import { SendEmailInput } from './dto/send-email.input';
import { MessageStatus } from './message.entity';
import { MessageConnection, MessageEventModel, MessageModel } from './message.model';
import { toEventModel, toMessageModel } from './messages.mapper';
import { MessagesService } from './messages.service';

@Resolver(() => MessageModel)
export class MessagesResolver {
  constructor(
    private readonly service: MessagesService,
    private readonly accounts: AccountsService,
    private readonly servers: DeliveryServersService,
    private readonly visibility: ServerVisibility,
  ) {}

  @Mutation(() => MessageModel)
  async sendEmail(@CurrentViewer() viewer: Viewer, @Args('input') input: SendEmailInput): Promise<MessageModel> {
    return toMessageModel(await this.service.send(viewer, input));
  }

  @Query(() => MessageModel, { nullable: true })
  async message(@CurrentViewer() viewer: Viewer, @Args('id', { type: () => ID }) id: string): Promise<MessageModel> {
    return toMessageModel(await this.service.get(viewer, id));
  }

  @Query(() => MessageConnection, { description: 'to: exact recipient; since/until bound createdAt.' })
  // A page is served again while its rows are the same row versions (paginate).
  @MemoizedResponse({})
  async messages(
    @CurrentViewer() viewer: Viewer,
    @Context() ctx: object,
    @Args('accountId', { type: () => ID }) accountId: string,
    @Args('status', { type: () => MessageStatus, nullable: true }) status?: MessageStatus,
    @Args('campaignId', { type: () => ID, nullable: true }) campaignId?: string,
    @Args('to', { nullable: true }) to?: string,
    @Args('since', { nullable: true }) since?: Date,
    @Args('until', { nullable: true }) until?: Date,
    @Args('first', { type: () => Int, nullable: true }) first?: number,
    @Args('after', { nullable: true }) after?: string,
  ): Promise<Connection<MessageModel>> {
    const page = await this.service.list(viewer, accountId, { status, campaignId, to, since, until, first, after }, memoRequestOf(ctx));
    return { ...page, edges: page.edges.map((e) => ({ cursor: e.cursor, node: toMessageModel(e.node) })) };
  }

  @ResolveField(() => AccountModel)
  async account(@Parent() message: MessageModel, @Context() ctx: object): Promise<AccountModel> {
    return toAccountModel((await this.accounts.byId(ctx, message.accountId))!);
  }

  @ResolveField(() => DeliveryServerModel, { nullable: true })
  async server(@Parent() message: MessageModel, @CurrentViewer() viewer: Viewer, @Context() ctx: object): Promise<DeliveryServerModel | null> {
    const server = message.serverId ? await this.servers.byId(ctx, message.serverId) : null;
    return server && this.visibility.modelFor(viewer, ctx, server);
  }

  @ResolveField(() => [MessageEventModel])
  async events(@Parent() message: MessageModel, @Context() ctx: object): Promise<MessageEventModel[]> {
    return (await this.service.eventsOf(ctx, message.id)).map(toEventModel);
  }
}

@Resolver(() => MessageEventModel)
export class MessageEventsResolver {
  constructor(
    private readonly servers: DeliveryServersService,
    private readonly visibility: ServerVisibility,
  ) {}

  @ResolveField(() => DeliveryServerModel, { nullable: true })
  async server(@Parent() event: MessageEventModel, @CurrentViewer() viewer: Viewer, @Context() ctx: object): Promise<DeliveryServerModel | null> {
    const server = event.serverId ? await this.servers.byId(ctx, event.serverId) : null;
    return server && this.visibility.modelFor(viewer, ctx, server);
  }
}
