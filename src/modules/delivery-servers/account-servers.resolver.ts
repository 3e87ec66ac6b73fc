import { Context, Parent, ResolveField, Resolver } from '@nestjs/graphql';
import { CurrentViewer } from '../../infra/auth/current-viewer.decorator';
import type { Viewer } from '../../infra/auth/viewer';
import { AccountModel } from '../accounts/account.model';
import { TenantScope } from '../accounts/tenant-scope.service';
import { DeliveryServerModel } from './delivery-server.model';
import { toDeliveryServerModel } from './delivery-servers.mapper';
import { DeliveryServersService } from './delivery-servers.service';

/** Account.deliveryServers: the servers the account owns, for a viewer that reaches the account. */
@Resolver(() => AccountModel)
export class AccountServersResolver {
  constructor(
    private readonly servers: DeliveryServersService,
    private readonly scope: TenantScope,
  ) {}

  @ResolveField(() => [DeliveryServerModel])
  async deliveryServers(@Parent() account: AccountModel, @CurrentViewer() viewer: Viewer, @Context() ctx: object): Promise<DeliveryServerModel[]> {
    // Every path to an Account already checks the viewer reaches it; this one does not rely on that.
    if (!this.scope.canReach(viewer, account)) return [];
    return (await this.servers.ownedBy(ctx, account.id)).map(toDeliveryServerModel);
  }
}
