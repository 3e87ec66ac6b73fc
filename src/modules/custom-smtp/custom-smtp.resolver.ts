import { Args, Mutation, Resolver } from '@nestjs/graphql';
import { CurrentViewer } from '../../infra/auth/current-viewer.decorator';
import type { Viewer } from '../../infra/auth/viewer';
import { DeliveryServerModel } from '../delivery-servers/delivery-server.model';
import { toDeliveryServerModel } from '../delivery-servers/delivery-servers.mapper';
import { AddCustomSmtpInput } from './custom-smtp.inputs';
import { CustomSmtpService } from './custom-smtp.service';

@Resolver(() => DeliveryServerModel)
export class CustomSmtpResolver {
  constructor(private readonly customSmtp: CustomSmtpService) {}

  @Mutation(() => DeliveryServerModel)
  async addCustomSmtp(@CurrentViewer() viewer: Viewer, @Args('input') input: AddCustomSmtpInput): Promise<DeliveryServerModel> {
    return toDeliveryServerModel(await this.customSmtp.add(viewer, input));
  }
}
