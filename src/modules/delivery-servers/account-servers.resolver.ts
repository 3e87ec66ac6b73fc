import { Context, Parent, ResolveField, Resolver } from '@nestjs/graphql';
import { AccountModel } from '../accounts/account.model';
import { DeliveryServerModel } from './delivery-server.model';
import { toDeliveryServerModel } from './delivery-servers.mapper';
import { DeliveryServersService } from './delivery-servers.service';

/** Account.deliveryServers: the servers the account owns (the account itself was already scope-checked). */
@Resolver(() => AccountModel)
export class AccountServersResolver {
  constructor(private readonly servers: DeliveryServersService) {}

  @ResolveField(() => [DeliveryServerModel])
  async deliveryServers(@Parent() account: AccountModel, @Context() ctx: object): Promise<DeliveryServerModel[]> {
    return (await this.servers.ownedBy(ctx, account.id)).map(toDeliveryServerModel);
  }
}
