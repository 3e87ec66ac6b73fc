import { Query, Resolver } from '@nestjs/graphql';
import { CurrentViewer } from '../../infra/auth/current-viewer.decorator';
import { isAdmin, Viewer } from '../../infra/auth/viewer';
import { ViewerModel } from './account.model';
import { AccountsService } from './accounts.service';
import { toAccountModel } from './accounts.mapper';

@Resolver(() => ViewerModel)
export class ViewerResolver {
  constructor(private readonly accounts: AccountsService) {}

  @Query(() => ViewerModel)
  async viewer(@CurrentViewer() viewer: Viewer): Promise<ViewerModel> {
    if (isAdmin(viewer)) return { role: viewer.role, account: null };
    return { role: viewer.role, account: toAccountModel(await this.accounts.get(viewer, viewer.accountId)) };
  }
}
