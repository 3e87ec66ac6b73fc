import { Context, Parent, ResolveField, Resolver } from '@nestjs/graphql';
import { type RequestWithViewer, viewerOf } from '../../infra/auth/current-viewer.decorator';
import { requestLoader } from '../../infra/graphql/request-loaders';
import { DeliveryServerModel } from '../delivery-servers/delivery-server.model';
import { ServerVisibility } from '../delivery-servers/server-visibility';
import { ServerReputationModel } from './server-reputation.model';
import { type ServerReputation, ServerReputationService } from './server-reputation.service';

/** DeliveryServer.reputation: one grouped query for every server of a request. */
@Resolver(() => DeliveryServerModel)
export class ServerReputationResolver {
  constructor(
    private readonly reputations: ServerReputationService,
    private readonly visibility: ServerVisibility,
  ) {}

  @ResolveField(() => ServerReputationModel, {
    nullable: true,
    description:
      "Bounce and complaint rates over the last 24 hours. Null on a server the viewer reached without managing it (an agency's server seen by its sub-account, a platform server): its counts are other accounts' traffic.",
  })
  async reputation(@Parent() server: DeliveryServerModel, @Context() ctx: { req: RequestWithViewer }): Promise<ServerReputationModel | null> {
    if (!(await this.visibility.manages(viewerOf(ctx.req), ctx, server))) return null;
    return requestLoader<string, ServerReputation>(ctx, 'server.reputation', (ids) => this.reputations.forServers(ids)).load(server.id);
  }
}
