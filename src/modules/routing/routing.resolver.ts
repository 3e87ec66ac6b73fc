import { Args, Context, ID, Query, Resolver } from '@nestjs/graphql';
import { CurrentViewer } from '../../infra/auth/current-viewer.decorator';
import type { Viewer } from '../../infra/auth/viewer';
import { BadUserInputError } from '../../infra/errors/domain-error';
import { TenantScope } from '../accounts/tenant-scope.service';
import { ServerVisibility } from '../delivery-servers/server-visibility';
import { RouteDecisionModel } from './route-decision.model';
import { RoutingService } from './routing.service';
import { isEmailAddress } from '../../infra/validation';


@Resolver(() => RouteDecisionModel)
export class RoutingResolver {
  constructor(
    private readonly routing: RoutingService,
    private readonly scope: TenantScope,
    private readonly visibility: ServerVisibility,
  ) {}

  @Query(() => RouteDecisionModel, { description: 'The decision the worker would take for this From now, with every candidate and why.' })
  async routePreview(
    @CurrentViewer() viewer: Viewer,
    @Args('accountId', { type: () => ID }) accountId: string,
    @Args('from') from: string,
    @Context() ctx: object,
  ): Promise<RouteDecisionModel> {
    const account = await this.scope.account(viewer, accountId);
    const address = from.trim().toLowerCase();
    if (!isEmailAddress(address)) throw BadUserInputError.field('from', 'must be an email address such as "news@example.com"');
    const r = await this.routing.route(account.id, address);
    return {
      from: r.from,
      effectiveFrom: r.effectiveFrom,
      // An agency's or the platform's server shows to a sub-account only as far as routing needs.
      server: r.server && (await this.visibility.modelFor(viewer, ctx, r.server)),
      reason: r.reason,
      onQuotaExhausted: r.onQuotaExhausted,
      code: r.code,
      waitUntil: r.waitUntil,
      candidates: await Promise.all(
        r.candidates.map(async (c) => ({ server: await this.visibility.modelFor(viewer, ctx, c.server), rank: c.rank, via: c.via, eligible: c.eligible, reason: c.reason })),
      ),
    };
  }
}
