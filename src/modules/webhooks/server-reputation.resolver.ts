import { Context, Parent, ResolveField, Resolver } from '@nestjs/graphql';
import { requestLoader } from '../../infra/graphql/request-loaders';
import { DeliveryServerModel } from '../delivery-servers/delivery-server.model';
import { ServerReputationModel } from './server-reputation.model';
import { type ServerReputation, ServerReputationService } from './server-reputation.service';

/** DeliveryServer.reputation: one grouped query for every server of a request. */
@Resolver(() => DeliveryServerModel)
export class ServerReputationResolver {
  constructor(private readonly reputations: ServerReputationService) {}

  @ResolveField(() => ServerReputationModel, { description: 'Bounce and complaint rates over the last 24 hours.' })
  reputation(@Parent() server: DeliveryServerModel, @Context() ctx: object): Promise<ServerReputationModel> {
    return requestLoader<string, ServerReputation>(ctx, 'server.reputation', (ids) => this.reputations.forServers(ids)).load(server.id);
  }
}
