import { Injectable } from '@nestjs/common';
import { isAdmin, type Viewer } from '../../infra/auth/viewer';
import { AccountsService } from '../accounts/accounts.service';
import { TenantScope } from '../accounts/tenant-scope.service';
import type { DeliveryServerView } from './delivery-server.entity';
import type { DeliveryServerModel } from './delivery-server.model';
import { toDeliveryServerModel, toSharedServerModel } from './delivery-servers.mapper';

/**
 * What a viewer sees of a server it reached without asking for it by id: the server its mail went
 * through (Message.server, MessageEvent.server) or one routing weighs for it (routePreview). Its
 * own servers and its sub-accounts' show in full; an agency's server seen by a sub-account, and a
 * platform server seen by anyone but ADMIN, show only what explains routing (toSharedServerModel).
 */
@Injectable()
export class ServerVisibility {
  constructor(
    private readonly accounts: AccountsService,
    private readonly scope: TenantScope,
  ) {}

  /** Whether the viewer may see and manage this server (the rule of DeliveryServersService.getManageable). */
  async manages(viewer: Viewer, ctx: object, server: Pick<DeliveryServerView, 'accountId'>): Promise<boolean> {
    if (isAdmin(viewer)) return true;
    if (!server.accountId) return false;
    const owner = await this.accounts.byId(ctx, server.accountId);
    return owner !== null && this.scope.canReach(viewer, owner);
  }

  async modelFor(viewer: Viewer, ctx: object, server: DeliveryServerView): Promise<DeliveryServerModel> {
    return (await this.manages(viewer, ctx, server)) ? toDeliveryServerModel(server) : toSharedServerModel(server);
  }
}
