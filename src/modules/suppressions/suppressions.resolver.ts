import { Args, ID, Int, Mutation, Query, Resolver } from '@nestjs/graphql';
import { CurrentViewer } from '../../infra/auth/current-viewer.decorator';
import type { Viewer } from '../../infra/auth/viewer';
import type { Connection } from '../../infra/graphql/pagination';
import type { SuppressionEntity } from './suppression.entity';
import { SuppressionConnection, SuppressionModel } from './suppression.model';
import { SuppressionsService } from './suppressions.service';

const toModel = (e: SuppressionEntity): SuppressionModel => ({ email: e.email, reason: e.reason, createdAt: e.createdAt });

@Resolver(() => SuppressionModel)
export class SuppressionsResolver {
  constructor(private readonly service: SuppressionsService) {}

  @Query(() => SuppressionConnection, { description: 'search: a substring of the email.' })
  async suppressions(
    @CurrentViewer() viewer: Viewer,
    @Args('accountId', { type: () => ID }) accountId: string,
    @Args('search', { nullable: true }) search?: string,
    @Args('first', { type: () => Int, nullable: true }) first?: number,
    @Args('after', { nullable: true }) after?: string,
  ): Promise<Connection<SuppressionModel>> {
    const page = await this.service.list(viewer, accountId, { search, first, after });
    return { ...page, edges: page.edges.map((e) => ({ cursor: e.cursor, node: toModel(e.node) })) };
  }

  @Mutation(() => SuppressionModel)
  async addSuppression(@CurrentViewer() viewer: Viewer, @Args('accountId', { type: () => ID }) accountId: string, @Args('email') email: string): Promise<SuppressionModel> {
    return toModel(await this.service.add(viewer, accountId, email));
  }

  @Mutation(() => Boolean)
  removeSuppression(@CurrentViewer() viewer: Viewer, @Args('accountId', { type: () => ID }) accountId: string, @Args('email') email: string): Promise<boolean> {
    return this.service.remove(viewer, accountId, email);
  }
}
