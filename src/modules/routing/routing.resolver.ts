import { Args, ID, Query, Resolver } from '@nestjs/graphql';
import { CurrentViewer } from '../../infra/auth/current-viewer.decorator';
import type { Viewer } from '../../infra/auth/viewer';
import { BadUserInputError } from '../../infra/errors/domain-error';
import { TenantScope } from '../accounts/tenant-scope.service';
import { toDeliveryServerModel } from '../delivery-servers/delivery-servers.mapper';
import { RouteDecisionModel } from './route-decision.model';
import { RoutingService } from './routing.service';
import { isEmailAddress } from '../../infra/validation';


@Resolver(() => RouteDecisionModel)
export class RoutingResolver {
  constructor(
    private readonly routing: RoutingService,
    private readonly scope: TenantScope,
  ) {}

  @Query(() => RouteDecisionModel, { description: 'The decision the worker would take for this From now, with every candidate and why.' })
  async routePreview(
    @CurrentViewer() viewer: Viewer,
    @Args('accountId', { type: () => ID }) accountId: string,
    @Args('from') from: string,
  ): Promise<RouteDecisionModel> {
    const account = await this.scope.account(viewer, accountId);
    const address = from.trim().toLowerCase();
    if (!isEmailAddress(address)) throw BadUserInputError.field('from', 'must be an email address such as "news@example.com"');
    const r = await this.routing.route(account.id, address);
    return {
      from: r.from,
      effectiveFrom: r.effectiveFrom,
      server: r.server && toDeliveryServerModel(r.server),
      reason: r.reason,
      onQuotaExhausted: r.onQuotaExhausted,
      code: r.code,
      waitUntil: r.waitUntil,
      candidates: r.candidates.map((c) => ({ server: toDeliveryServerModel(c.server), rank: c.rank, via: c.via, eligible: c.eligible, reason: c.reason })),
    };
  }
}
